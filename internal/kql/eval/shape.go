package eval

import (
	"strings"

	"breakglass/internal/kql/value"
)

// conform returns row with every value in its column's schema type, so a
// rule reads a record by its columns' documented types whatever shape the
// decoder (or a new export format) handed a value over in: a dynamic column
// that arrives as JSON text (Log Analytics exports carry dynamic columns so)
// is parsed; a string column that arrives as a number or a dynamic string
// is its text; a datetime, bool or number that arrives as text is
// converted. A value that does not convert is left as it came (string
// operators still see its text), never dropped. row itself is not changed:
// a copy is made only when some value is off its type.
func conform(cols []value.Column, row []value.Value) []value.Value {
	var out []value.Value
	for i, v := range row {
		if i >= len(cols) {
			break
		}
		t := cols[i].Type
		if v.T == t && (t != value.Dynamic || !jsonText(v)) {
			continue
		}
		if v.IsNull() {
			if v.T == t {
				continue
			}
			v = value.NullOf(t)
		} else if t == value.Dynamic {
			switch {
			case v.T == value.String:
				v = value.ParseJSON(v.S)
			case jsonText(v):
				v = value.ParseJSON(v.D.(string))
			default:
				v = value.NewDynamic(v.Dynamic())
			}
		} else if c := convert(v, t); !c.IsNull() || t == value.String {
			v = c
		} else {
			continue
		}
		if out == nil {
			out = append([]value.Value(nil), row...)
		}
		out[i] = v
	}
	if out == nil {
		return row
	}
	return out
}

// jsonText reports a dynamic string that holds a JSON object or array.
func jsonText(v value.Value) bool {
	if v.T != value.Dynamic {
		return false
	}
	s, ok := v.D.(string)
	if !ok {
		return false
	}
	s = strings.TrimSpace(s)
	return len(s) >= 2 && (s[0] == '{' && s[len(s)-1] == '}' || s[0] == '[' && s[len(s)-1] == ']')
}
