// Package ack lets people acknowledge alerts from outside the command line:
// signed links in every message (GET shows the alert and a form, POST
// acknowledges), and the webhooks PagerDuty and Opsgenie call when someone
// acknowledges there. An acknowledgement stops escalation; it is recorded
// with who, how and when (store.ChangeAlertState). Every refusal is a clear
// page or message and a 4xx, never an acknowledgement.
package ack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Why a link is refused. Verify's errors wrap one of these.
var (
	ErrMalformed    = errors.New("not a complete acknowledge link")
	ErrBadSignature = errors.New("the link's signature does not match: it was altered, or signed with another secret")
	ErrExpired      = errors.New("the link has expired")
)

// sigVersion is signed into every link, so a later link format can never
// be mistaken for this one.
const sigVersion = "breakglass-ack-v1"

// maxIDLen bounds an alert id in a link; ids are 32 hex digits.
const maxIDLen = 128

// Signer makes and checks acknowledge links: BaseURL/ack/ID?exp=UNIX&sig=S,
// where S is the HMAC-SHA256 under the secret of the alert id and the
// expiry. It is safe for concurrent use.
type Signer struct {
	key  []byte
	base string
	ttl  time.Duration
	now  func() time.Time
}

// NewSigner returns a signer for links under baseURL (no trailing slash
// needed) that expire ttl after they are made. now is the clock (nil:
// time.Now).
func NewSigner(secret []byte, baseURL string, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) == 0 {
		return nil, errors.New("acknowledge links need a secret")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("link lifetime %v must be positive", ttl)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an http or https URL", baseURL)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: append([]byte(nil), secret...), base: strings.TrimRight(baseURL, "/"), ttl: ttl, now: now}, nil
}

// URL returns the acknowledge link of an alert, valid for the signer's
// lifetime from now. It has the shape of notify.RenderOptions.AckURL.
func (s *Signer) URL(alertID string) string {
	exp := strconv.FormatInt(s.now().Add(s.ttl).Unix(), 10)
	return s.base + "/ack/" + url.PathEscape(alertID) + "?exp=" + exp + "&sig=" + s.sign(alertID, exp)
}

func (s *Signer) sign(alertID, exp string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(sigVersion + "\n" + alertID + "\n" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ValidID reports whether id can be an alert id in a link: 1 to 128
// letters, digits, '.', '_' or '-'.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Verify checks the link of alertID whose query string is rawQuery and
// returns its expiry. The signature is checked before the expiry (in
// constant time), so an altered expiry is ErrBadSignature, not a new
// lifetime; a link whose signature holds but whose time has passed is
// ErrExpired.
func (s *Signer) Verify(alertID, rawQuery string) (time.Time, error) {
	if !ValidID(alertID) {
		return time.Time{}, fmt.Errorf("%w: the alert id is missing or has characters no alert id has", ErrMalformed)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: the query cannot be read", ErrMalformed)
	}
	exps, sigs := q["exp"], q["sig"]
	if len(exps) != 1 || len(sigs) != 1 {
		return time.Time{}, fmt.Errorf("%w: it needs exactly one exp and one sig (was it cut short when copied?)", ErrMalformed)
	}
	exp, sig := exps[0], sigs[0]
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || unix <= 0 || strconv.FormatInt(unix, 10) != exp {
		return time.Time{}, fmt.Errorf("%w: exp is not a time", ErrMalformed)
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: sig is not a signature", ErrMalformed)
	}
	want, _ := base64.RawURLEncoding.DecodeString(s.sign(alertID, exp))
	if !hmac.Equal(got, want) {
		return time.Time{}, ErrBadSignature
	}
	expires := time.Unix(unix, 0).UTC()
	if !s.now().Before(expires) {
		return expires, fmt.Errorf("%w (at %s)", ErrExpired, expires.Format("2006-01-02 15:04 UTC"))
	}
	return expires, nil
}
