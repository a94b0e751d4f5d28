// Package scrub removes credentials from text that crosses a trust
// boundary: error messages, log lines and alerts. Servers echo requests
// back in their error bodies (a token endpoint repeating the form it got,
// client_secret included; a proxy repeating the Authorization header), and
// those bodies end up in errors. Every error path of the Graph client, its
// credentials and the sources passes through one Scrubber, so that what a
// server echoes never reaches a log.
//
// Two layers: patterns that recognise credentials by their shape (form and
// JSON fields such as client_secret, Authorization: Bearer …, JWTs), and the
// literal values a caller knows to be secret (the configured client secret,
// the token just sent), in their plain, URL- and JSON-escaped spellings.
package scrub

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// jsonKeys are the names of fields whose values are credentials, in OAuth
// forms, query strings and JSON bodies; formKeys adds the query parameters
// that carry credentials in URLs (Azure Functions' code=, SAS sig=), which
// in JSON are ordinary fields (Graph's error "code").
const (
	jsonKeys = `client_secret|client_assertion|assertion|access_token|refresh_token|id_token|password|passwd|pwd|secret|signature|api[_-]?key|token`
	formKeys = jsonKeys + `|code|sig`
)

var (
	// key=value in forms and query strings (value up to a separator).
	formRE = regexp.MustCompile(`(?i)\b(` + formKeys + `)=([^&\s"',;<>]+)`)
	// "key": "value" in JSON, also with escaped quotes (JSON in a JSON string).
	jsonRE = regexp.MustCompile(`(?i)(\\?"(?:` + jsonKeys + `)\\?"\s*:\s*\\?")((?:[^"\\]|\\[^"])*)`)
	// Authorization schemes followed by their credential.
	authRE = regexp.MustCompile(`(?i)\b(bearer|basic|negotiate|sharedaccesssignature)(\s+|=)[A-Za-z0-9\-._~+/=%]+`)
	// A header line "Authorization: anything" up to the end of the line.
	headerRE = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|x-api-key|api-key|ocp-apim-subscription-key|cookie|set-cookie)(\s*[:=]\s*)[^\r\n"]+`)
	// JWTs (access and id tokens, client assertions): three base64url
	// parts, the first a JSON header ("eyJ" is `{"`).
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
)

// Scrubber masks known secret values and anything shaped like a
// credential. The zero value and nil mask patterns only. Safe for
// concurrent use.
type Scrubber struct {
	secrets []string // as given, for With
	lits    *strings.Replacer
}

// MinLen is the shortest value New masks literally. Real secrets and
// tokens are far longer; masking every "t" of a message because a test
// token is "t" would make errors unreadable. Shorter values are still
// masked where they appear as a credential (client_secret=…, Bearer …).
const MinLen = 6

// New returns a Scrubber that also masks the given secret values (those
// shorter than MinLen are ignored), in every spelling an echo may use.
func New(secrets ...string) *Scrubber {
	sc := &Scrubber{}
	var spell []string
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < MinLen {
			continue
		}
		sc.secrets = append(sc.secrets, s)
		j, _ := json.Marshal(s)
		spell = append(spell, s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(j), `"`))
	}
	if len(spell) == 0 {
		return sc
	}
	// Longest first, so a secret containing another is masked whole.
	slices.SortFunc(spell, func(a, b string) int { return len(b) - len(a) })
	spell = slices.Compact(spell)
	pairs := make([]string, 0, 2*len(spell))
	for _, s := range spell {
		pairs = append(pairs, s, Mask)
	}
	sc.lits = strings.NewReplacer(pairs...)
	return sc
}

// With returns a Scrubber that masks s's values and the given ones.
func (s *Scrubber) With(secrets ...string) *Scrubber {
	if s == nil {
		return New(secrets...)
	}
	return New(append(slices.Clone(s.secrets), secrets...)...)
}

// String returns text with every secret masked.
func (s *Scrubber) String(text string) string {
	if s != nil && s.lits != nil {
		text = s.lits.Replace(text)
	}
	text = jwtRE.ReplaceAllString(text, Mask)
	text = headerRE.ReplaceAllString(text, "${1}${2}"+Mask)
	text = authRE.ReplaceAllString(text, "${1}${2}"+Mask)
	text = jsonRE.ReplaceAllString(text, "${1}"+Mask)
	text = formRE.ReplaceAllString(text, "${1}="+Mask)
	return text
}

// Error returns an error whose text is err's with every secret masked, or
// nil for nil. It deliberately does not unwrap to err: whoever unwrapped it
// could print the unscrubbed text. Callers that classify errors do so
// before scrubbing.
func (s *Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbed{msg: s.String(err.Error())}
}

// Clean returns err itself when its text holds nothing to mask, so that
// errors.Is and errors.As keep working on it, and else Error(err).
func Clean(s *Scrubber, err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); s.String(msg) != msg {
		return &scrubbed{msg: s.String(msg)}
	}
	return err
}

type scrubbed struct{ msg string }

func (e *scrubbed) Error() string { return e.msg }

// String masks credential-shaped text (no known values).
func String(text string) string { return (*Scrubber)(nil).String(text) }

// Error is Scrubber.Error with patterns only.
func Error(err error) error { return (*Scrubber)(nil).Error(err) }
