package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// TokenPrefix starts every API token, so a leaked one is recognisable (by
// secret scanners too) and a mistyped header is told apart from a token.
const TokenPrefix = "bgt_"

// secretBytes is the entropy of tokens and session ids: 256 bits.
const secretBytes = 32

// newSecret returns a random 256-bit value, base64url without padding.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewToken returns a new API token and the hash the store keeps of it.
func NewToken() (token, hash string, err error) {
	s, err := newSecret()
	if err != nil {
		return "", "", err
	}
	t := TokenPrefix + s
	return t, HashToken(t), nil
}

// HashToken is the stored form of a token or session id: hex SHA-256. A
// 256-bit random value needs no salt or slow hash.
func HashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// secretLen is the length of the base64url encoding of secretBytes.
var secretLen = base64.RawURLEncoding.EncodedLen(secretBytes)

// wellFormed reports whether s is a value newSecret could have made (after
// prefix): checked before any store lookup, so junk costs nothing.
func wellFormed(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	s = s[len(prefix):]
	if len(s) != secretLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// ParseBearer extracts the token of an Authorization header value
// "Bearer TOKEN" (the scheme case-insensitively, one space or more). ok is
// false when the header is not a bearer credential of the shape of ours.
func ParseBearer(h string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	t := strings.TrimLeft(rest, " ")
	if !wellFormed(t, TokenPrefix) {
		return "", false
	}
	return t, true
}

// csrfFor derives a session's CSRF token from its id: the page can carry
// it without the store keeping another secret, and it reveals nothing of
// the id (a one-way hash under its own label).
func csrfFor(sessionID string) string {
	h := sha256.Sum256([]byte("breakglass-csrf-v1\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
