package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
)

// The official sample of WeChat's message encryption (WXBizMsgCrypt,
// shipped with the platform's documentation in every language).
const (
	officialToken     = "spamtest"
	officialAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	officialAppID     = "wx2c2769f8efd9abc2"
	officialTimestamp = "1409735669"
	officialNonce     = "1320562132"
	officialMsgSig    = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	officialEncrypt   = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)

func TestSignatureOfficialVectors(t *testing.T) {
	if got := Signature("789", "456", "123"); got != "f7c3bc1d808e04732adf679965ccc34ca7ae3441" {
		t.Errorf("URL signature = %s", got)
	}
	if got := Signature(officialToken, officialTimestamp, officialNonce, officialEncrypt); got != officialMsgSig {
		t.Errorf("msg_signature = %s", got)
	}
}

func TestDecryptOfficialVector(t *testing.T) {
	c, err := NewCipher(officialAESKey, officialAppID)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Decrypt(officialEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>",
		"<Content><![CDATA[abcdteT]]></Content>", "<MsgId>6054768590064713728</MsgId>"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("decrypted message lacks %s:\n%s", want, msg)
		}
	}
	other, _ := NewCipher(officialAESKey, "wxsomeoneelse")
	if _, err := other.Decrypt(officialEncrypt); err != ErrWrongAppID {
		t.Errorf("another AppID: %v", err)
	}
}

// officialEncrypt is the algorithm written out step by step, as the
// platform documents it, independently of Cipher.
func officialEncryptFn(t *testing.T, aesKey, appID string, random, msg []byte) string {
	key, err := base64.StdEncoding.DecodeString(aesKey + "=")
	if err != nil || len(key) != 32 {
		t.Fatal("bad key")
	}
	plain := append([]byte{}, random...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, appID...)
	pad := 32 - len(plain)%32
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func TestCipherMatchesTheOfficialAlgorithm(t *testing.T) {
	random := []byte("0123456789abcdef")
	for _, msg := range []string{"", "a", "<xml><Content><![CDATA[你好，退货要多久？]]></Content></xml>", strings.Repeat("x", 64-16-4-18)} {
		c, _ := NewCipher(officialAESKey, officialAppID)
		c.rand = bytes.NewReader(random)
		got, err := c.Encrypt([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if want := officialEncryptFn(t, officialAESKey, officialAppID, random, []byte(msg)); got != want {
			t.Errorf("Encrypt(%q) = %s, want %s", msg, got, want)
		}
		back, err := c.Decrypt(got)
		if err != nil || string(back) != msg {
			t.Errorf("Decrypt(Encrypt(%q)) = %q, %v", msg, back, err)
		}
	}
}

func TestDecryptRejectsGarbage(t *testing.T) {
	c, _ := NewCipher(officialAESKey, officialAppID)
	for _, in := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("short")),
		base64.StdEncoding.EncodeToString(make([]byte, 32))} {
		if _, err := c.Decrypt(in); err == nil {
			t.Errorf("Decrypt(%q) accepted", in)
		}
	}
	if _, err := NewCipher("tooshort", "x"); err != ErrBadAESKey {
		t.Errorf("short key: %v", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	f.Add(officialEncrypt)
	f.Add("AAAA")
	c, _ := NewCipher(officialAESKey, "")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = c.Decrypt(s) // must not panic
	})
}
