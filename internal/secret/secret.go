// Package secret holds the Secret type: a configuration value (API token,
// password, webhook URL with its key) that every common way of printing
// redacts. It is a leaf package so that config and the channel types in
// notify, which own their own configuration structs, share it.
package secret

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a Secret prints as.
const Redacted = "<redacted>"

// Secret is a configuration value that must never be printed: API tokens,
// client secrets, webhook headers. Every way Go commonly turns a value into
// text (fmt verbs, JSON, YAML, text marshalling, log/slog) yields
// "<redacted>"; only Reveal returns the value, so each use of the real value
// is explicit and easy to audit.
//
// fmt cannot call methods on unexported struct fields, so a Secret held in
// an unexported field is printed raw by %v on the enclosing struct. Keep
// Secret fields exported.
type Secret string

// Reveal returns the secret value, for handing to the one API that needs it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string { return Redacted }

// GoString covers %#v.
func (s Secret) GoString() string { return Redacted }

// Format takes precedence over String, so verbs such as %x or %d, which
// would otherwise print the bytes, redact too.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// MarshalYAML redacts the value in YAML output, such as Config.Redacted.
func (s Secret) MarshalYAML() (any, error) { return Redacted, nil }

// MarshalJSON redacts the value in JSON output, including slog's JSON
// handler when a struct holding a Secret is logged.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText covers encoders that prefer encoding.TextMarshaler, such as
// encoding/xml. (encoding/json map keys of string type bypass it, so never
// use a Secret as a map key.)
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue redacts the value when it is logged directly with log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
