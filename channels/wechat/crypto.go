package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Signature is WeChat's signature of a request: the hex SHA-1 of the
// parts (token, timestamp, nonce, and in safe mode the encrypted
// message) sorted as strings and concatenated.
func Signature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	h := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(h[:])
}

func checkSignature(want string, parts ...string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(want)), []byte(Signature(parts...))) == 1
}

// Cipher encrypts and decrypts safe-mode messages: AES-256-CBC with the
// key base64-decoded from the 43-character EncodingAESKey (plus "="),
// the key's first 16 bytes as IV, PKCS#7 padding to 32-byte blocks,
// over random(16) + length(4 bytes, network order) + message + AppID.
type Cipher struct {
	key   []byte
	appID string
	rand  io.Reader
}

// Errors of safe mode.
var (
	ErrBadAESKey  = errors.New("wechat: EncodingAESKey must be 43 characters of base64")
	ErrBadMessage = errors.New("wechat: encrypted message is malformed")
	ErrWrongAppID = errors.New("wechat: encrypted message is for another AppID")
)

// NewCipher returns a Cipher for an account's EncodingAESKey and AppID.
func NewCipher(encodingAESKey, appID string) (*Cipher, error) {
	if len(encodingAESKey) != 43 {
		return nil, ErrBadAESKey
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, ErrBadAESKey
	}
	return &Cipher{key: key, appID: appID, rand: rand.Reader}, nil
}

const padBlock = 32

// Encrypt returns msg encrypted and base64-encoded.
func (c *Cipher) Encrypt(msg []byte) (string, error) {
	var buf bytes.Buffer
	var random [16]byte
	if _, err := io.ReadFull(c.rand, random[:]); err != nil {
		return "", fmt.Errorf("wechat: random: %w", err)
	}
	buf.Write(random[:])
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(msg)))
	buf.Write(n[:])
	buf.Write(msg)
	buf.WriteString(c.appID)
	pad := padBlock - buf.Len()%padBlock
	buf.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, err := aes.NewCipher(c.key)
	if err != nil {
		return "", err
	}
	out := make([]byte, buf.Len())
	cipher.NewCBCEncrypter(block, c.key[:16]).CryptBlocks(out, buf.Bytes())
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt returns the message inside a base64 ciphertext, checking the
// AppID it carries.
func (c *Cipher) Decrypt(b64 string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, ErrBadMessage
	}
	block, err := aes.NewCipher(c.key)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, c.key[:16]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > padBlock || pad > len(plain) {
		return nil, ErrBadMessage
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, ErrBadMessage
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, ErrBadMessage
	}
	msg, appID := plain[20:20+n], string(plain[20+n:])
	if c.appID != "" && appID != c.appID {
		return nil, ErrWrongAppID
	}
	return msg, nil
}
