package value

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// normalise turns a Go value into the dynamic model: nil, bool, int64,
// float64, string, []any, map[string]any.
func normalise(x any) any {
	switch t := x.(type) {
	case nil, bool, int64, float64, string:
		return t
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case uint32:
		return int64(t)
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t)
		}
		return float64(t)
	case float32:
		return float64(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalise(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalise(e)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	case Value:
		return t.Dynamic()
	}
	return fmt.Sprint(x)
}

// ParseJSON decodes text as Kusto's parse_json()/todynamic() does: JSON
// text becomes the dynamic value; text that is not JSON becomes a dynamic
// string holding the text.
func ParseJSON(s string) Value {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil || dec.More() {
		return Value{T: Dynamic, D: s}
	}
	if x == nil {
		return Value{T: Dynamic, Null: true}
	}
	return Value{T: Dynamic, D: normalise(x)}
}

// Dynamic returns the value as a dynamic Go value (for packing into a bag
// or an array): scalars keep their JSON form (datetimes and timespans as
// their tostring text, as Kusto does when it packs them).
func (v Value) Dynamic() any {
	if v.IsNull() {
		return nil
	}
	switch v.T {
	case Bool:
		return v.I != 0
	case Int, Long:
		return v.I
	case Real, Decimal:
		return v.F
	case Dynamic:
		return v.D
	}
	return v.String()
}

// JSON renders a dynamic Go value as compact JSON with sorted keys.
func JSON(x any) string {
	var b bytes.Buffer
	writeJSON(&b, x)
	return b.String()
}

func writeJSON(b *bytes.Buffer, x any) {
	switch t := x.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			bs, _ := json.Marshal(FormatReal(t))
			b.Write(bs)
			return
		}
		b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
	case string:
		bs, _ := json.Marshal(t)
		b.Write(bs)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			bs, _ := json.Marshal(k)
			b.Write(bs)
			b.WriteByte(':')
			writeJSON(b, t[k])
		}
		b.WriteByte('}')
	default:
		bs, _ := json.Marshal(fmt.Sprint(t))
		b.Write(bs)
	}
}

// FromDynamic returns the scalar a dynamic element holds, typed as Kusto
// types it when it is used as a scalar (a JSON string is a string, an
// integral number a long, a fractional one a real, a bool a bool); arrays
// and bags stay dynamic.
func FromDynamic(x any) Value {
	switch t := x.(type) {
	case nil:
		return Value{T: Dynamic, Null: true}
	case bool:
		return NewBool(t)
	case int64:
		return NewLong(t)
	case float64:
		return NewReal(t)
	case string:
		return NewString(t)
	}
	return Value{T: Dynamic, D: x}
}
