package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxKeyFile bounds what is read of a key file: a PEM key is a few hundred
// bytes, so anything larger is the wrong file.
const maxKeyFile = 64 << 10

// OpenSSLKeygen documents how to make a signing key without breakglass.
const OpenSSLKeygen = "openssl genpkey -algorithm ed25519 -out evidence-key.pem && openssl pkey -in evidence-key.pem -pubout -out evidence-key.pub.pem"

// ParsePrivateKey reads an Ed25519 private key: PEM "PRIVATE KEY" (PKCS#8,
// as openssl genpkey writes it), or the raw 32-byte seed, as bytes or as
// hex or base64 text. Errors never quote the input: it is the key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(data); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block %q is not a PKCS#8 private key (want \"PRIVATE KEY\", e.g. from: openssl genpkey -algorithm ed25519)", blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, errors.New("PKCS#8 private key cannot be parsed")
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not Ed25519", k)
		}
		return ek, nil
	}
	if len(data) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(data), nil
	}
	if seed, ok := decodeKeyText(data, ed25519.SeedSize); ok {
		return ed25519.NewKeyFromSeed(seed), nil
	}
	return nil, fmt.Errorf("not an Ed25519 private key (%d bytes): want PEM PKCS#8 or a 32-byte seed (raw, hex or base64)", len(data))
}

// ParsePublicKey reads an Ed25519 public key: PEM "PUBLIC KEY" (PKIX, as
// openssl pkey -pubout writes it), or the raw 32 bytes as hex or base64
// text (what keygen prints and heads carry).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(data); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q is not a public key (want \"PUBLIC KEY\")", blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key cannot be parsed: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not Ed25519", k)
		}
		return ek, nil
	}
	if b, ok := decodeKeyText(data, ed25519.PublicKeySize); ok {
		return ed25519.PublicKey(b), nil
	}
	return nil, errors.New("not an Ed25519 public key: want PEM \"PUBLIC KEY\" or 32 bytes as hex or base64")
}

func decodeKeyText(data []byte, size int) ([]byte, bool) {
	s := strings.TrimSpace(string(data))
	if b, err := hex.DecodeString(s); err == nil && len(b) == size {
		return b, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == size {
			return b, true
		}
	}
	return nil, false
}

// LoadPrivateKey reads ParsePrivateKey's input from a file.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads ParsePublicKey's input from a file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a key file", path, maxKeyFile)
	}
	return data, nil
}

// GenerateKey makes a signing key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// PrivateKeyPEM encodes k as PEM PKCS#8, the form openssl writes.
func PrivateKeyPEM(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeyPEM encodes k as PEM PKIX, the form openssl pkey -pubout writes.
func PublicKeyPEM(k ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// KeyText is the base64 form of a public key that heads carry.
func KeyText(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
