package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"breakglass/internal/entra"
)

// This file routes the categories beyond sign-ins and audits, the admin
// center downloads and the legacy audit format to their decoders
// (decode_*.go). Decode calls extraDecoder first; nil means the core
// decoders in decode.go handle the record.

type decodeFunc func(rec []byte, c Class, ev *entra.Event) error

func extraDecoder(c Class) decodeFunc {
	switch {
	case c.Shape == ShapePortal:
		return decodePortal
	case c.Shape == ShapeDefender || c.Shape == ShapeDefenderStream:
		return decodeDefender
	case c.Category == entra.CategoryGraphActivity:
		return decodeGraphActivity
	case c.Category == entra.CategoryUserRiskEvents:
		return decodeRiskEvent
	case c.Category == entra.CategoryRiskyUsers:
		return decodeRiskyUser
	case c.Category == entra.CategoryProvisioning:
		return decodeProvisioning
	case c.Category == entra.CategoryLegacyAudit:
		return decodeLegacyAudit
	}
	return nil
}

// decodeErr gives every error of the decoders in this file's family a
// reason, as Decode does for the core decoders.
func decodeErr(err error) error {
	if err == nil {
		return nil
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &DecodeError{Reason: ReasonInvalidJSON, Err: fmt.Errorf("invalid JSON at byte %d of record: %w", se.Offset, err)}
	}
	return &DecodeError{Reason: ReasonBadField, Err: err}
}

// envelope is the diagnostic-settings record around properties, for the
// categories decoded here.
type envelope struct {
	Time            text            `json:"time"`
	Category        ident           `json:"category"`
	OperationName   text            `json:"operationName"`
	ResultType      text            `json:"resultType"`
	ResultSignature text            `json:"resultSignature"`
	CallerIPAddress text            `json:"callerIpAddress"`
	CorrelationID   text            `json:"correlationId"`
	Identity        text            `json:"identity"`
	Properties      json.RawMessage `json:"properties"`
}

// body returns what the decoders of this family read: a diagnostic record's
// properties object (unwrapped when it is JSON text), or the record itself
// in every other shape. It returns nil when a diagnostic record has no
// usable properties; the identity is then unknown (noted), the time is the
// envelope's, and the record fails closed (bg.unparsed) if it mentions an
// account, as decodeDiagnostic does.
func body(rec []byte, c Class, ev *entra.Event, n notes) (envelope, []byte, error) {
	var d envelope
	if c.Shape != ShapeDiagnostic {
		return d, rec, nil
	}
	if err := unmarshal(rec, &d, n, ""); err != nil {
		return d, nil, err
	}
	if len(d.Category.Dup) > 0 {
		n.identity("category", fmt.Sprintf("duplicate key with different values (%q, %q)", d.Category.V, d.Category.Dup[0]))
	}
	props := bytes.TrimSpace(d.Properties)
	if len(props) > 0 && props[0] == '"' {
		var s string
		if json.Unmarshal(props, &s) == nil {
			props = bytes.TrimSpace([]byte(s))
		}
	}
	if len(props) == 0 || props[0] != '{' || !json.Valid(props) {
		why := "missing"
		if len(props) > 0 {
			why = "expected an object, got " + describe(props) + " " + quoteHead(props)
		}
		n.identity("properties", why)
		n.time(timeField{"time", d.Time})
		ev.Operation = strings.TrimSpace(string(d.OperationName))
		ev.CorrelationID = string(d.CorrelationID)
		return d, nil, nil
	}
	return d, props, nil
}

// noIdentity notes a record of these categories that names no one where its
// schema puts who it concerns.
func noIdentity(n notes, field string, ids ...string) {
	for _, id := range ids {
		if id != "" {
			return
		}
	}
	if n.ev.IdentityUnknown == "" {
		n.identity(field, "the record names no user")
	}
}
