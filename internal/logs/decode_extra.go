package logs

import (
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
	OperationName   text            `json:"operationName"`
	ResultType      text            `json:"resultType"`
	ResultSignature text            `json:"resultSignature"`
	CallerIPAddress text            `json:"callerIpAddress"`
	CorrelationID   text            `json:"correlationId"`
	Identity        text            `json:"identity"`
	Properties      json.RawMessage `json:"properties"`
}

// splitDiagnostic decodes a diagnostic record's envelope and returns its
// properties object (unwrapped when it is JSON text).
func splitDiagnostic(rec []byte) (envelope, []byte, error) {
	var d envelope
	if err := unmarshal(rec, &d); err != nil {
		return d, nil, err
	}
	props := []byte(d.Properties)
	if len(props) > 0 && props[0] == '"' {
		var s string
		if json.Unmarshal(props, &s) == nil {
			props = []byte(s)
		}
	}
	if len(props) == 0 || props[0] != '{' {
		return d, nil, badField("properties: expected an object")
	}
	return d, props, nil
}

// firstTime parses the first non-empty timestamp of several candidates and
// names the field that failed when none parses.
func firstTime(ev *entra.Event, cands ...[2]string) error {
	var firstErr error
	for _, c := range cands {
		if strings.TrimSpace(c[1]) == "" {
			continue
		}
		t, err := ParseTime(c[1])
		if err == nil {
			ev.Time = t
			return nil
		}
		if firstErr == nil {
			firstErr = badField("%s: %v", c[0], err)
		}
	}
	if firstErr == nil {
		firstErr = badField("%s: empty timestamp", cands[0][0])
	}
	return firstErr
}
