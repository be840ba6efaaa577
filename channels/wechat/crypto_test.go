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
	if ref, appID := officialDecryptFn(t, officialAESKey, officialEncrypt); !bytes.Equal(ref, msg) || appID != officialAppID {
		t.Errorf("the step-by-step decryption of the official sample disagrees: %q for %q", ref, appID)
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

// officialDecryptFn undoes officialEncryptFn step by step, checking
// what the platform checks: a whole number of 32-byte blocks, PKCS#7
// padding of 1 to 32 equal bytes, then random(16) + length(4, network
// order) + message + AppID. It returns the message and the AppID.
func officialDecryptFn(t *testing.T, aesKey, b64 string) (msg []byte, appID string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(aesKey + "=")
	if err != nil || len(key) != 32 {
		t.Fatal("bad key")
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 || len(data)%32 != 0 {
		t.Fatalf("ciphertext of %d bytes (%v), want a positive multiple of 32", len(data), err)
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		t.Fatalf("bad PKCS#7 padding to 32 bytes: %x", plain[len(plain)-min(len(plain), 32):])
	}
	plain = plain[:len(plain)-pad]
	n := int(binary.BigEndian.Uint32(plain[16:20]))
	if 20+n > len(plain) {
		t.Fatalf("length %d beyond the %d bytes", n, len(plain))
	}
	return plain[20 : 20+n], string(plain[20+n:])
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
		if back, appID := officialDecryptFn(t, officialAESKey, got); string(back) != msg || appID != officialAppID {
			t.Errorf("official decryption of Encrypt(%q) = %q for %q", msg, back, appID)
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
