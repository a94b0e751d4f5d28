package accountlist

import (
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
)

// jsonWalk reads a JSON document token by token, so that every problem is
// reported at its line and column and only the parts the format defines
// are decoded: the rest of a tool's configuration file is skipped unread.
// Keys are matched case-insensitively, as PowerShell reads them, and a key
// given twice (in any case) is an error rather than a silent last-wins.
type jsonWalk struct {
	data  []byte
	dec   *json.Decoder
	e     *errs
	lines lineIndex
}

func (p *jsonWalk) lineCol(off int64) (int, int) {
	if p.lines.data == nil {
		p.lines.data = p.data
	}
	return p.lines.lineCol(off)
}

// pos is where the next token starts.
func (p *jsonWalk) pos() (int, int) {
	off := p.dec.InputOffset()
	for off < int64(len(p.data)) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return p.lineCol(off)
}

var badCharRE = regexp.MustCompile(`^invalid character '(.+?)'`)

// syntax records a decoding error at its position.
func (p *jsonWalk) syntax(err error) {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Depending on the call, the offset is at the offending byte or
		// just after it; the message names the byte.
		off := se.Offset
		if m := badCharRE.FindStringSubmatch(se.Error()); m != nil && len(m[1]) == 1 {
			if (off >= int64(len(p.data)) || p.data[off] != m[1][0]) && off > 0 && off <= int64(len(p.data)) && p.data[off-1] == m[1][0] {
				off--
			}
			if m[1] == "/" {
				defer func() { p.e.list[len(p.e.list)-1].Msg += " (comments are not JSON; remove them)" }()
			}
		}
		line, col := p.lineCol(off)
		p.e.add(line, col, "", "invalid JSON: %s", se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		line, col := p.lineCol(int64(len(p.data)))
		if strings.TrimSpace(string(p.data)) == "" {
			p.e.add(0, 0, "", "file is empty")
			return
		}
		p.e.add(line, col, "", "invalid JSON: the file ends in the middle of the document")
	default:
		line, col := p.pos()
		p.e.add(line, col, "", "invalid JSON: %v", err)
	}
}

func describeToken(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a value"
}

// skipRest consumes the rest of an object or array whose opening token was
// just read, without recursion, however deep it is.
func (p *jsonWalk) skipRest() bool {
	for depth := 1; depth > 0; {
		t, err := p.dec.Token()
		if err != nil {
			p.syntax(err)
			return false
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// mismatch records a value of the wrong kind and consumes it. It returns
// false when the document cannot be read on.
func (p *jsonWalk) mismatch(line, col int, field, want string, t json.Token) bool {
	p.e.add(line, col, field, "expected %s, got %s", want, describeToken(t))
	if d, ok := t.(json.Delim); ok && (d == '{' || d == '[') {
		return p.skipRest()
	}
	return true
}

// object reads an object, calling fn with each key; fn must consume the
// value. It returns false when the document cannot be read on.
func (p *jsonWalk) object(field string, fn func(key string, line, col int) bool) bool {
	line, col := p.pos()
	t, err := p.dec.Token()
	if err != nil {
		p.syntax(err)
		return false
	}
	if t != json.Delim('{') {
		return p.mismatch(line, col, field, "an object", t)
	}
	first := map[string]int{}
	for p.dec.More() {
		kline, kcol := p.pos()
		t, err := p.dec.Token()
		if err != nil {
			p.syntax(err)
			return false
		}
		key, _ := t.(string)
		kf := key
		if field != "" {
			kf = field + "." + key
		}
		if l, dup := first[strings.ToLower(key)]; dup {
			p.e.add(kline, kcol, kf, "duplicate key (first at line %d); keys are compared ignoring case", l)
			if !p.skip() {
				return false
			}
			continue
		}
		first[strings.ToLower(key)] = kline
		if !fn(key, kline, kcol) {
			return false
		}
	}
	if _, err := p.dec.Token(); err != nil { // the closing brace
		p.syntax(err)
		return false
	}
	return true
}

// array reads an array, calling fn for each element; fn must consume it.
func (p *jsonWalk) array(field string, fn func(i, line, col int) bool) bool {
	line, col := p.pos()
	t, err := p.dec.Token()
	if err != nil {
		p.syntax(err)
		return false
	}
	if t != json.Delim('[') {
		return p.mismatch(line, col, field, "an array", t)
	}
	for i := 0; p.dec.More(); i++ {
		eline, ecol := p.pos()
		if !fn(i, eline, ecol) {
			return false
		}
	}
	if _, err := p.dec.Token(); err != nil {
		p.syntax(err)
		return false
	}
	return true
}

// skip consumes one value unread.
func (p *jsonWalk) skip() bool {
	t, err := p.dec.Token()
	if err != nil {
		p.syntax(err)
		return false
	}
	if d, ok := t.(json.Delim); ok && (d == '{' || d == '[') {
		return p.skipRest()
	}
	return true
}

// stringOrNull reads a value that must be a string or null. isStr is false
// for null and for a value of the wrong kind (which is recorded).
func (p *jsonWalk) stringOrNull(field string) (v string, isStr, ok bool) {
	line, col := p.pos()
	t, err := p.dec.Token()
	if err != nil {
		p.syntax(err)
		return "", false, false
	}
	switch s := t.(type) {
	case string:
		return s, true, true
	case nil:
		return "", false, true
	}
	return "", false, p.mismatch(line, col, field, "a string", t)
}

// end checks that nothing follows the document.
func (p *jsonWalk) end() {
	line, col := p.pos()
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		p.e.add(line, col, "", "unexpected data after the JSON document")
	}
}
