package tables

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/value"
	"breakglass/internal/logs"
)

// Row returns the record's table and its row, in Schema(table) order. The
// row is built from two sources: the decoder's normalised event
// (logs.Columns: the identity, time and result the built-in rules judge by)
// and the record's own bytes (rec.Raw), read in the vocabulary of the shape
// it came in, for every column the event does not carry. A Log Analytics
// row is already in the tables' vocabulary, so its own values come first
// there; for Graph objects and diagnostic-settings records the event's
// values come first and structured (dynamic) columns come from the bytes,
// which hold them whole.
//
// A column neither source has, or whose value cannot be read as the
// column's type, is the null of that type ("" for strings). A record of a
// table that is not one of Names gives that table's name and a nil row.
func Row(rec *detect.Record) (string, []value.Value) {
	if rec == nil {
		return "", nil
	}
	name := rec.Table
	if name == "" && rec.Event != nil {
		name = entra.TableOf(rec.Event.Category)
	}
	t, ok := schemas[name]
	if !ok {
		return name, nil
	}
	var cols map[string]any
	if rec.Event != nil {
		cols = rec.Row()
	}
	shape := rawShape(rec.Raw)
	src := newRawSource(rec.Raw, shape, t)
	row := make([]value.Value, len(t.cols))
	for i, c := range t.cols {
		row[i] = column(c, cols, src, shape == shapeLA)
	}
	if i, ok := t.index["Type"]; ok {
		row[i] = value.NewString(name)
	}
	// _TimeReceived is when the record reached the workspace: here, when
	// breakglass read it (rec.Now), unless the record says.
	if i, ok := t.index["_TimeReceived"]; ok && row[i].IsNull() && !rec.Now.IsZero() {
		row[i] = value.NewDateTime(rec.Now)
	}
	return name, row
}

// derived are the string and dynamic columns whose values the decoder may
// make up rather than copy from the record (the table's name, Graph
// sign-ins' "Sign-in activity" and category, audit results normalised
// from numbers, "city, state" locations, a "0" result for a success, the
// status rebuilt from it): their text need not occur in the raw bytes.
var derived = map[string]bool{
	"Type": true, "OperationName": true, "Category": true, "Result": true,
	"Location": true, "ResultType": true, "Status": true,
}

// Verbatim reports whether a string or dynamic column's text (a dynamic
// column's string leaves) is always copied from the record's bytes, up to
// JSON escaping and case, never made up: what internal/kql/eval needs to
// derive prefilter literals soundly from conditions on it.
func Verbatim(table, column string) bool {
	t, ok := schemas[table]
	if !ok {
		return false
	}
	i, ok := t.index[column]
	if !ok {
		return false
	}
	ty := t.cols[i].Type
	return (ty == value.String || ty == value.Dynamic) && !derived[column]
}

// The shapes whose bytes Row reads: their vocabularies are known. Other
// shapes (the admin center's downloads, Defender's tables) name things
// differently, sometimes with the same words (Defender's ResourceId is an
// application id); their rows come from the decoded event alone.
const (
	shapeNone = iota
	shapeLA
	shapeDiagnostic
	shapeGraph
)

func rawShape(raw []byte) int {
	if len(raw) == 0 || len(raw) > maxRawRecord {
		return shapeNone
	}
	switch logs.Classify(raw).Shape {
	case logs.ShapeLogAnalytics:
		return shapeLA
	case logs.ShapeDiagnostic:
		return shapeDiagnostic
	case logs.ShapeGraphSignIn, logs.ShapeGraphAudit:
		return shapeGraph
	}
	return shapeNone
}

// column chooses one column's value from the event's columns and the raw
// record.
func column(c value.Column, cols map[string]any, src *rawSource, rawFirst bool) value.Value {
	raw, hasRaw := src.get(c.Name)
	ev, hasEv := cols[c.Name]
	if hasEv && ev == nil {
		hasEv = false
	}
	if rawFirst && hasRaw {
		if v, ok := fromRaw(c.Type, raw); ok {
			return v
		}
	}
	if hasEv {
		// The event rebuilds structured columns from the fields it
		// decoded; the record's own object, when it has one, is whole.
		if structured(ev) && hasRaw && isContainer(raw) {
			if v, ok := fromRaw(c.Type, raw); ok {
				return v
			}
		}
		if v, ok := fromGo(c.Type, ev); ok {
			return v
		}
	}
	if hasRaw {
		if v, ok := fromRaw(c.Type, raw); ok {
			return v
		}
	}
	return value.NullOf(c.Type)
}

func structured(x any) bool {
	switch x.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// isContainer reports whether raw is a JSON object or array, or JSON text
// holding one (Log Analytics exports write dynamic columns as text).
func isContainer(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return false
	}
	if b[0] == '{' || b[0] == '[' {
		return true
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			s = strings.TrimSpace(s)
			return s != "" && (s[0] == '{' || s[0] == '[') && json.Valid([]byte(s))
		}
	}
	return false
}

// rawSource finds a column's value in the record's bytes.
type rawSource struct {
	// cols maps a column's name to its raw value, filled once from the
	// record's keys in the precedence of its shape.
	cols map[string]json.RawMessage
}

// Aliases from Graph's camelCase names (also the properties of
// diagnostic-settings records) to columns whose names differ by more than
// case. Each lists candidates; the first the table has is used.
var graphAliases = map[string][]string{
	"location":                         {"LocationDetails", "Location"},
	"appliedConditionalAccessPolicies": {"ConditionalAccessPolicies"},
	"resourceId":                       {"ResourceIdentity"},
	"operationType":                    {"AADOperationType"},
	"tenantId":                         {"AADTenantId"},
	"createdDateTime":                  {"CreatedDateTime"},
}

// envelopeAliases: the diagnostic-settings envelope's own fields.
var envelopeAliases = map[string][]string{
	"time":            {"TimeGenerated"},
	"callerIpAddress": {"IPAddress"},
	"tenantId":        {"AADTenantId"},
}

// maxRawRecord bounds the bytes Row parses; splitters bound records far
// below it, so it only guards a caller that builds records by hand.
const maxRawRecord = 64 << 20

func newRawSource(raw []byte, shape int, t *table) *rawSource {
	s := &rawSource{cols: map[string]json.RawMessage{}}
	if shape == shapeNone {
		return s
	}
	top := objectOf(raw)
	if top == nil {
		return s
	}
	switch shape {
	case shapeLA:
		// Exact names first, then other casings and the _dynamic/_string
		// suffixes some exports add.
		for k, v := range top {
			if _, ok := t.index[k]; ok {
				s.cols[k] = v
			}
		}
		for k, v := range top {
			base := strings.TrimSuffix(strings.TrimSuffix(k, "_dynamic"), "_string")
			s.put(t, base, v)
		}
	case shapeDiagnostic:
		if p, ok := top["properties"]; ok {
			for k, v := range objectOf(p) {
				s.alias(t, graphAliases, k, v)
			}
		}
		for k, v := range top {
			if k != "properties" {
				s.alias(t, envelopeAliases, k, v)
			}
		}
	default:
		for k, v := range top {
			s.alias(t, graphAliases, k, v)
		}
	}
	return s
}

// alias records v under the column an alias names, else under k's column.
func (s *rawSource) alias(t *table, aliases map[string][]string, k string, v json.RawMessage) {
	if cands, ok := aliases[k]; ok {
		for _, c := range cands {
			if _, ok := t.fold[strings.ToLower(c)]; ok {
				s.put(t, c, v)
				return
			}
		}
		return
	}
	s.put(t, k, v)
}

// put records v for the column named k in any casing, unless that column
// already has a value (earlier sources take precedence).
func (s *rawSource) put(t *table, k string, v json.RawMessage) {
	i, ok := t.fold[strings.ToLower(k)]
	if !ok {
		return
	}
	name := t.cols[i].Name
	if _, done := s.cols[name]; !done {
		s.cols[name] = v
	}
}

func (s *rawSource) get(name string) (json.RawMessage, bool) {
	v, ok := s.cols[name]
	return v, ok
}

// objectOf decodes the top level of a JSON object, or of JSON text holding
// one (diagnostic records sometimes carry properties as text); nil when it
// is neither.
func objectOf(raw []byte) map[string]json.RawMessage {
	b := bytes.TrimSpace(raw)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		b = bytes.TrimSpace([]byte(s))
	}
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// fromRaw reads a JSON value as a column of type t; false when it is null
// or cannot be read as t.
func fromRaw(t value.Type, raw json.RawMessage) (value.Value, bool) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || string(b) == "null" {
		return value.Value{}, false
	}
	switch b[0] {
	case '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return value.Value{}, false
		}
		return fromText(t, s)
	case '{', '[':
		switch t {
		case value.Dynamic:
			v := value.ParseJSON(string(b))
			return v, !v.IsNull()
		case value.String:
			var buf bytes.Buffer
			if json.Compact(&buf, b) != nil {
				return value.Value{}, false
			}
			return value.NewString(buf.String()), true
		}
		return value.Value{}, false
	case 't', 'f':
		var x bool
		if json.Unmarshal(b, &x) != nil {
			return value.Value{}, false
		}
		return fromGo(t, x)
	default:
		if !json.Valid(b) {
			return value.Value{}, false
		}
		if t == value.Dynamic {
			v := value.ParseJSON(string(b))
			return v, !v.IsNull()
		}
		return fromText(t, string(b)) // a number, as written
	}
}

// fromText reads text as a column of type t (CSV exports and string
// fields carry every type as text).
func fromText(t value.Type, s string) (value.Value, bool) {
	switch t {
	case value.String:
		return value.NewString(s), true
	case value.Dynamic:
		trimmed := strings.TrimSpace(s)
		if trimmed == "" {
			return value.Value{}, false
		}
		if (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid([]byte(trimmed)) {
			v := value.ParseJSON(trimmed)
			return v, !v.IsNull()
		}
		return value.NewDynamic(s), true
	case value.Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1":
			return value.NewBool(true), true
		case "false", "0":
			return value.NewBool(false), true
		}
	case value.Int, value.Long:
		s = strings.TrimSpace(s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return integer(t, n)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return integer(t, int64(f))
		}
	case value.Real, value.Decimal:
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return value.Value{T: t, F: f}, true
		}
	case value.DateTime:
		if tm, err := logs.ParseTime(s); err == nil {
			return value.NewDateTime(tm), true
		}
	case value.Guid:
		return value.NewGuid(s)
	case value.TimeSpan:
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
			return value.NewTimeSpan(d), true
		}
	}
	return value.Value{}, false
}

func integer(t value.Type, n int64) (value.Value, bool) {
	if t == value.Int {
		if n < math.MinInt32 || n > math.MaxInt32 {
			return value.Value{}, false
		}
		return value.NewInt(int32(n)), true
	}
	return value.NewLong(n), true
}

// fromGo reads one of logs.Columns' values (string, time.Time, bool, int,
// map[string]any, []any) as a column of type t.
func fromGo(t value.Type, x any) (value.Value, bool) {
	switch v := x.(type) {
	case nil:
		return value.Value{}, false
	case string:
		return fromText(t, v)
	case time.Time:
		switch t {
		case value.DateTime:
			if v.IsZero() {
				return value.Value{}, false
			}
			return value.NewDateTime(v), true
		case value.String:
			return value.NewString(value.NewDateTime(v).String()), true
		case value.Dynamic:
			return value.NewDynamic(value.NewDateTime(v).String()), true
		}
	case bool:
		switch t {
		case value.Bool:
			return value.NewBool(v), true
		case value.String:
			return value.NewString(strconv.FormatBool(v)), true
		case value.Dynamic:
			return value.NewDynamic(v), true
		case value.Int, value.Long:
			n := int64(0)
			if v {
				n = 1
			}
			return integer(t, n)
		}
	case int:
		switch t {
		case value.Int, value.Long:
			return integer(t, int64(v))
		case value.Real, value.Decimal:
			return value.Value{T: t, F: float64(v)}, true
		case value.String:
			return value.NewString(strconv.Itoa(v)), true
		case value.Dynamic:
			return value.NewDynamic(v), true
		}
	case int64:
		return fromGo(t, int(v))
	case float64:
		if t == value.Dynamic {
			return value.NewDynamic(v), true
		}
		return fromText(t, strconv.FormatFloat(v, 'g', -1, 64))
	case map[string]any, []any:
		switch t {
		case value.Dynamic:
			return value.NewDynamic(v), true
		case value.String:
			return value.NewString(value.JSON(value.NewDynamic(v).D)), true
		}
	}
	return value.Value{}, false
}
