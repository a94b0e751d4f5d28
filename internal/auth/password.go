package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32
	Threads   uint8
}

// DefaultParams are those of every new hash: RFC 9106's second
// recommended option (t=3, 64 MiB, 4 lanes), about 0.1 s on one core of a
// small server. Verification uses the parameters stored in the hash, so
// raising these later leaves existing hashes valid. At most maxHashing
// hashes run at once (hashSlots), so a burst of logins cannot exhaust
// memory.
var DefaultParams = Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

const (
	saltLen = 16
	keyLen  = 32
	// maxHashing bounds concurrent argon2id computations: each takes
	// MemoryKiB of memory.
	maxHashing = 4
)

var hashSlots = make(chan struct{}, maxHashing)

// Password rules.
const (
	MinPasswordRunes = 12
	MaxPasswordBytes = 1024
)

// CheckPassword says why a password cannot be used, or nil.
func CheckPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("the password is empty")
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8")
	case len(pw) > MaxPasswordBytes:
		return fmt.Errorf("the password is longer than %d bytes", MaxPasswordBytes)
	case strings.IndexFunc(pw, unicode.IsControl) >= 0:
		return errors.New("the password contains control characters")
	case utf8.RuneCountInString(pw) < MinPasswordRunes:
		return fmt.Errorf("the password is shorter than %d characters: use a long passphrase, kept in the break-glass safe", MinPasswordRunes)
	case strings.TrimSpace(pw) == "":
		return errors.New("the password is only spaces")
	}
	return nil
}

// HashPassword checks pw (CheckPassword) and hashes it with DefaultParams.
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return HashPasswordParams(pw, DefaultParams)
}

// HashPasswordParams hashes pw with p, in the PHC string format
// $argon2id$v=19$m=MEM,t=TIME,p=THREADS$SALT$KEY (unpadded base64). It does
// not check pw.
func HashPasswordParams(pw string, p Params) (string, error) {
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) {
		return "", fmt.Errorf("argon2id parameters t=%d m=%d p=%d are not valid", p.Time, p.MemoryKiB, p.Threads)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("random salt: %w", err)
	}
	key := derive(pw, salt, p, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

func derive(pw string, salt []byte, p Params, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, n)
}

// Bounds on the parameters a stored hash may ask for: a hash written into
// the store by hand must not make each login take a minute or a gigabyte.
const (
	maxTime      = 16
	maxMemoryKiB = 1 << 20 // 1 GiB
)

// errBadHash is returned for a stored hash that is not one of ours.
var errBadHash = errors.New("stored password hash is not an argon2id hash this version reads")

// parseHash reads a PHC argon2id string.
func parseHash(h string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &threads); err != nil || n != 3 {
		return p, nil, nil, errBadHash
	}
	if p.Time == 0 || p.Time > maxTime || threads == 0 || threads > 255 || p.MemoryKiB < 8*threads || p.MemoryKiB > maxMemoryKiB {
		return p, nil, nil, errBadHash
	}
	p.Threads = uint8(threads)
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// VerifyPassword reports whether pw matches the encoded hash, comparing in
// constant time. A hash it cannot read is an error (and no match).
func VerifyPassword(encoded, pw string) (bool, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	got := derive(pw, salt, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
