package tables

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
		row[i] = column(i, c, cols, src, shape == shapeLA)
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
func column(i int, c value.Column, cols map[string]any, src *rawSource, rawFirst bool) value.Value {
	raw, hasRaw := src.get(i)
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
	// cols holds each column's raw value by position (nil: none), filled
	// once from the record's keys in the precedence of its shape: each
	// source (pass) fills only what earlier ones left empty; within one,
	// a duplicated key's last value counts, as for encoding/json.
	cols []json.RawMessage
	from []uint8 // the pass that set cols[i]
	pass uint8
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
	s := &rawSource{cols: make([]json.RawMessage, len(t.cols)), from: make([]uint8, len(t.cols))}
	if shape == shapeNone {
		return s
	}
	switch shape {
	case shapeLA:
		// Exact names first, then other casings and the _dynamic/_string
		// suffixes some exports add.
		s.pass = 1
		eachMember(raw, func(k string, v []byte) {
			if i, ok := t.index[k]; ok {
				s.set(i, v)
			}
		})
		s.pass = 2
		eachMember(raw, func(k string, v []byte) {
			s.put(t, strings.TrimSuffix(strings.TrimSuffix(k, "_dynamic"), "_string"), v)
		})
	case shapeDiagnostic:
		var props []byte
		eachMember(raw, func(k string, v []byte) {
			if k == "properties" && props == nil {
				props = v
			}
		})
		s.pass = 1
		eachMember(props, func(k string, v []byte) { s.alias(t, graphAliases, k, v) })
		s.pass = 2
		eachMember(raw, func(k string, v []byte) {
			if k != "properties" {
				s.alias(t, envelopeAliases, k, v)
			}
		})
	default:
		s.pass = 1
		eachMember(raw, func(k string, v []byte) { s.alias(t, graphAliases, k, v) })
	}
	return s
}

// alias records v under the column an alias names, else under k's column.
func (s *rawSource) alias(t *table, aliases map[string][]string, k string, v []byte) {
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

// put records v for the column named k in any casing, unless an earlier
// source gave that column a value.
func (s *rawSource) put(t *table, k string, v []byte) {
	i, ok := t.index[k]
	if !ok {
		if i, ok = t.fold[strings.ToLower(k)]; !ok {
			return
		}
	}
	s.set(i, v)
}

func (s *rawSource) set(i int, v []byte) {
	if s.from[i] == 0 || s.from[i] == s.pass {
		s.cols[i], s.from[i] = v, s.pass
	}
}

func (s *rawSource) get(i int) (json.RawMessage, bool) {
	v := s.cols[i]
	return v, v != nil
}

// eachMember calls fn for each member of the JSON object in b, or of the
// object a JSON string in b holds as text (diagnostic records sometimes
// carry properties so); nothing when b is neither. It does not validate:
// the values fn gets are validated where they are read (fromRaw). Keys
// with escapes are unescaped; a malformed object ends the walk.
func eachMember(b []byte, fn func(key string, v []byte)) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return
		}
		b = bytes.TrimSpace([]byte(s))
	}
	if len(b) < 2 || b[0] != '{' {
		return
	}
	i := 1
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return // '}' or malformed
		}
		kend := skipString(b, i)
		if kend < 0 {
			return
		}
		key, ok := unquote(b[i:kend])
		if !ok {
			return
		}
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return
		}
		fn(key, b[i:vend])
		i = skipSpace(b, vend)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'),
// or -1 when it does not end.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or
// -1 when it does not end. Brackets are counted, strings skipped.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// unquote returns a JSON string's text; without escapes it only slices.
func unquote(q []byte) (string, bool) {
	if len(q) < 2 {
		return "", false
	}
	body := q[1 : len(q)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		if !utf8.Valid(body) {
			return strings.ToValidUTF8(string(body), "\uFFFD"), true
		}
		return string(body), true
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return "", false
	}
	return s, true
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
		if len(b) < 2 || b[len(b)-1] != '"' {
			return value.Value{}, false
		}
		s, ok := unquote(b)
		if !ok {
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
