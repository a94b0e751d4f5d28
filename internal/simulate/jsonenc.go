package simulate

import (
	"strconv"
	"time"
)

// enc appends compact JSON to a byte slice. The generator writes hundreds of
// megabytes per run, and encoding/json's reflection over maps and structs
// dominated profiles, so records are written field by field instead. enc
// does no validation: callers pair every begin with its end.
type enc struct {
	b     []byte
	comma bool // a value was just written, so the next one needs a separator
}

func (e *enc) reset() { e.b = e.b[:0]; e.comma = false }

func (e *enc) sep() {
	if e.comma {
		e.b = append(e.b, ',')
	}
}

func (e *enc) obj()    { e.sep(); e.b = append(e.b, '{'); e.comma = false }
func (e *enc) endObj() { e.b = append(e.b, '}'); e.comma = true }
func (e *enc) arr()    { e.sep(); e.b = append(e.b, '['); e.comma = false }
func (e *enc) endArr() { e.b = append(e.b, ']'); e.comma = true }

// key writes an object key; keys are program constants and never need
// escaping.
func (e *enc) key(k string) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
	e.comma = false
}

func (e *enc) str(s string)   { e.sep(); e.b = appendJSONString(e.b, s); e.comma = true }
func (e *enc) num(n int64)    { e.sep(); e.b = strconv.AppendInt(e.b, n, 10); e.comma = true }
func (e *enc) boolean(v bool) { e.sep(); e.b = strconv.AppendBool(e.b, v); e.comma = true }
func (e *enc) null()          { e.sep(); e.b = append(e.b, "null"...); e.comma = true }
func (e *enc) float(f float64) {
	e.sep()
	e.b = strconv.AppendFloat(e.b, f, 'f', -1, 64)
	e.comma = true
}

func (e *enc) guid(g guid) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = g.append(e.b)
	e.b = append(e.b, '"')
	e.comma = true
}

// time writes t with layout as a JSON string.
func (e *enc) time(t time.Time, layout string) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = t.AppendFormat(e.b, layout)
	e.b = append(e.b, '"')
	e.comma = true
}

func (e *enc) kstr(k, v string)       { e.key(k); e.str(v) }
func (e *enc) knum(k string, n int64) { e.key(k); e.num(n) }
func (e *enc) kbool(k string, v bool) { e.key(k); e.boolean(v) }
func (e *enc) kguid(k string, g guid) { e.key(k); e.guid(g) }
func (e *enc) knull(k string)         { e.key(k); e.null() }

// kstrOrNull writes null for an empty value, as Graph does for unset
// optional strings.
func (e *enc) kstrOrNull(k, v string) {
	e.key(k)
	if v == "" {
		e.null()
		return
	}
	e.str(v)
}

// emptyArr writes an empty array under k.
func (e *enc) emptyArr(k string) { e.key(k); e.b = append(e.b, '[', ']'); e.comma = true }

// strArr writes a JSON array of strings under k.
func (e *enc) strArr(k string, vs ...string) {
	e.key(k)
	e.arr()
	for _, v := range vs {
		e.str(v)
	}
	e.endArr()
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string. Input is always valid UTF-8
// (it comes from the generator's own tables), so only control characters,
// quotes and backslashes need escaping.
func appendJSONString[T ~string | ~[]byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
