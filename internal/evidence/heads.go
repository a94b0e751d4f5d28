package evidence

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/store"
)

// SignedHead is a published head of the evidence log: the newest entry's
// Seq and Hash when it was published, and, when a signing key is
// configured, an Ed25519 signature over Statement by Key. One line of the
// heads file is one SignedHead as JSON.
type SignedHead struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
	Key  string    `json:"key,omitempty"` // base64 public key (KeyText)
	Sig  string    `json:"sig,omitempty"` // base64 signature of Statement
}

// Ref is the head's chain position.
func (h SignedHead) Ref() HeadRef { return HeadRef{h.Seq, h.Hash} }

// Statement is what a head's signature covers: a fixed text, so that the
// signature can be checked with any Ed25519 tool (openssl pkeyutl -verify
// -rawin).
func (h SignedHead) Statement() []byte {
	return fmt.Appendf(nil, "breakglass evidence head v1\nseq: %d\nhash: %s\nat: %s\n", h.Seq, h.Hash, h.At.UTC().Format(time.RFC3339Nano))
}

// Sign returns h signed by k (At is kept as given, in UTC).
func (h SignedHead) Sign(k ed25519.PrivateKey) SignedHead {
	h.At = h.At.UTC()
	h.Key = KeyText(k.Public().(ed25519.PublicKey))
	h.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(k, h.Statement()))
	return h
}

// Signed reports whether h carries a signature.
func (h SignedHead) Signed() bool { return h.Sig != "" }

// ErrUnsigned is CheckSignature's error for a head without a signature.
var ErrUnsigned = errors.New("the head is not signed")

// CheckSignature checks h's signature. With trusted set, the head must be
// signed by that key; with trusted nil, by the key it names, which only
// proves it was not changed since (anyone can sign with a key of their
// own).
func (h SignedHead) CheckSignature(trusted ed25519.PublicKey) error {
	if h.Sig == "" {
		return ErrUnsigned
	}
	key := trusted
	if h.Key != "" {
		named, err := base64.StdEncoding.DecodeString(h.Key)
		if err != nil || len(named) != ed25519.PublicKeySize {
			return errors.New("the head's key is not a base64 Ed25519 public key")
		}
		if trusted != nil && !bytes.Equal(named, trusted) {
			return fmt.Errorf("the head was signed by key %s, not by the trusted key %s", h.Key, KeyText(trusted))
		}
		key = named
	}
	if key == nil {
		return errors.New("the head names no key: give the public key")
	}
	sig, err := base64.StdEncoding.DecodeString(h.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("the head's signature is not a base64 Ed25519 signature")
	}
	if !ed25519.Verify(key, h.Statement(), sig) {
		return errors.New("the head's signature does not verify: the head was changed or signed by another key")
	}
	return nil
}

// ParseHeadRef parses a head as given on the command line: SEQ:HASH, the
// hash 64 hex digits (as the daemon logs it).
func ParseHeadRef(s string) (HeadRef, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return HeadRef{}, errors.New("want SEQ:HASH (e.g. 42:3f2a…, as the daemon logs it)")
	}
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil || seq < 1 {
		return HeadRef{}, errors.New("SEQ must be a whole number of at least 1")
	}
	if err := checkHash(hash); err != nil {
		return HeadRef{}, err
	}
	return HeadRef{seq, strings.ToLower(hash)}, nil
}

func checkHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("HASH must be 64 hex digits, got %d characters", len(h))
	}
	if _, err := hex.DecodeString(h); err != nil {
		return errors.New("HASH must be 64 hex digits")
	}
	return nil
}

// maxHeadLine bounds one line of a heads file.
const maxHeadLine = 4 << 10

// ParseHead parses one heads-file line strictly: every field known and
// well-formed.
func ParseHead(line []byte) (SignedHead, error) {
	var h SignedHead
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return SignedHead{}, fmt.Errorf("not a head: %w", err)
	}
	if dec.More() {
		return SignedHead{}, errors.New("not a head: more than one JSON value")
	}
	if h.Seq < 1 {
		return SignedHead{}, errors.New("seq must be at least 1")
	}
	if err := checkHash(h.Hash); err != nil {
		return SignedHead{}, fmt.Errorf("hash: %w", err)
	}
	h.Hash = strings.ToLower(h.Hash)
	if h.At.IsZero() {
		return SignedHead{}, errors.New("at is missing")
	}
	if h.Key != "" && h.Sig == "" {
		return SignedHead{}, errors.New("key without sig")
	}
	return h, nil
}

// HeadsError is a heads file that is damaged: a line that is not a head.
type HeadsError struct {
	Name string
	Line int
	Err  error
}

func (e *HeadsError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err) }
func (e *HeadsError) Unwrap() error { return e.Err }

// ReadHeads reads a heads file: one head per line, blank lines ignored.
// A damaged line is a *HeadsError naming name:line; the heads before it
// are returned with it.
func ReadHeads(r io.Reader, name string) ([]SignedHead, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxHeadLine)
	var out []SignedHead
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		h, err := ParseHead(line)
		if err != nil {
			return out, &HeadsError{name, n, err}
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return out, &HeadsError{name, n + 1, fmt.Errorf("line longer than %d bytes: not a heads file", maxHeadLine)}
		}
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// LoadHeads reads the heads file at path; a missing file is no heads and
// os.ErrNotExist.
func LoadHeads(path string) ([]SignedHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadHeads(f, path)
}

// AppendHead appends h to the heads file at path (created 0644 if
// missing) and syncs it, so a published head survives a crash.
func AppendHead(path string, h SignedHead) error {
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening heads file: %w", err)
	}
	// A line torn by a crash stays one damaged line: the new head starts
	// a line of its own.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing heads file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing heads file %s: %w", path, err)
	}
	return f.Close()
}

// HeadReader is the read Head needs (store.EvidenceLog.LogHead).
type HeadReader interface {
	LogHead(ctx context.Context) (store.LogEntry, bool, error)
}

// Head returns the log's head now, signed by key when key is not nil, for
// whoever publishes it (the daemon, a notification, an export). ok is false
// for an empty log.
func Head(ctx context.Context, log HeadReader, key ed25519.PrivateKey, now time.Time) (h SignedHead, ok bool, err error) {
	e, ok, err := log.LogHead(ctx)
	if err != nil || !ok {
		return SignedHead{}, ok, err
	}
	h = SignedHead{Seq: e.Seq, Hash: e.Hash, At: now.UTC()}
	if key != nil {
		h = h.Sign(key)
	}
	return h, true, nil
}
