package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// errShort means the buffer ended before the value did: the caller should
// read more input and scan again from the value's start.
var errShort = errors.New("unexpected end of input")

// syntaxError is a JSON grammar error at an offset within the scanned slice.
type syntaxError struct {
	off  int
	msg  string
	deep bool // nesting beyond MaxDepth
}

func (e *syntaxError) Error() string { return e.msg }

func badByte(b []byte, i int, want string) error {
	c := b[i]
	var got string
	switch {
	case c >= 0x20 && c < 0x7f:
		got = fmt.Sprintf("%q", rune(c))
	default:
		got = fmt.Sprintf("byte 0x%02x", c)
	}
	return &syntaxError{off: i, msg: fmt.Sprintf("invalid JSON: %s, expected %s", got, want)}
}

// isSpace reports JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string whose opening quote is
// at b[i]. Most of a log record's bytes are inside strings, and most strings
// are short, so it looks for the closing quote eight bytes at a time rather
// than paying a function call per string.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := indexQuote(b[j:])
		if k < 0 {
			return 0, errShort
		}
		j += k
		// The quote is escaped only if preceded by an odd run of backslashes.
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// indexQuote is bytes.IndexByte(b, '"') for short distances: a word-at-a-time
// zero-byte test, falling back to IndexByte for long strings.
func indexQuote(b []byte) int {
	const q = '"' * ones
	i := 0
	for ; i+8 <= len(b) && i < 64; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ q
		if z := (x - ones) &^ x & high; z != 0 {
			return i + bits.TrailingZeros64(z)/8
		}
	}
	if k := bytes.IndexByte(b[i:], '"'); k >= 0 {
		return i + k
	}
	return -1
}

// literal tables: which bytes may continue a number or literal.
var scalarByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eEtruefalsn") {
		t[c] = true
	}
	return
}()

func skipScalar(b []byte, i int) (int, error) {
	j := i
	for j < len(b) && scalarByte[b[j]] {
		j++
	}
	if j == len(b) {
		return 0, errShort
	}
	lit := b[i:j]
	switch b[i] {
	case 't':
		if string(lit) != "true" {
			return 0, &syntaxError{off: i, msg: "invalid JSON literal"}
		}
	case 'f':
		if string(lit) != "false" {
			return 0, &syntaxError{off: i, msg: "invalid JSON literal"}
		}
	case 'n':
		if string(lit) != "null" {
			return 0, &syntaxError{off: i, msg: "invalid JSON literal"}
		}
	default:
		if !validNumber(lit) {
			return 0, &syntaxError{off: i, msg: "invalid JSON number"}
		}
	}
	return j, nil
}

func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i == len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

// scanner states for skipValue.
const (
	stValue      = iota // expecting a value
	stObjKey            // just after '{' : key or '}'
	stObjNextKey        // after ',' in object: key required
	stObjColon          // after key: ':'
	stObjComma          // after value in object: ',' or '}'
	stArrFirst          // just after '[' : value or ']'
	stArrComma          // after value in array: ',' or ']'
)

// skipValue validates the JSON value starting at b[i] (after optional
// whitespace) and returns the index just past it. It checks the grammar but
// not string contents or escapes; records that can match an account are
// decoded fully by encoding/json, which checks the rest. stack is scratch
// space reused across calls to avoid allocation.
func skipValue(b []byte, i int, stack []byte) (int, []byte, error) {
	stack = stack[:0]
	st := stValue
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, stack, errShort
		}
		c := b[i]
		switch st {
		case stValue, stArrFirst:
			if st == stArrFirst && c == ']' {
				i++
				goto closed
			}
			switch c {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return 0, stack, &syntaxError{off: i, msg: fmt.Sprintf("invalid JSON: nesting deeper than %d levels", MaxDepth), deep: true}
				}
			}
			switch c {
			case '{':
				stack = append(stack, '{')
				st = stObjKey
				i++
				continue
			case '[':
				stack = append(stack, '[')
				st = stArrFirst
				i++
				continue
			case '"':
				j, err := skipString(b, i)
				if err != nil {
					return 0, stack, err
				}
				i = j
			default:
				if !scalarByte[c] {
					return 0, stack, badByte(b, i, "a value")
				}
				j, err := skipScalar(b, i)
				if err != nil {
					return 0, stack, err
				}
				i = j
			}
			goto afterValue
		case stObjKey, stObjNextKey:
			if c == '}' && st == stObjKey {
				i++
				goto closed
			}
			if c != '"' {
				return 0, stack, badByte(b, i, "an object key")
			}
			j, err := skipString(b, i)
			if err != nil {
				return 0, stack, err
			}
			i = j
			st = stObjColon
		case stObjColon:
			if c != ':' {
				return 0, stack, badByte(b, i, "':'")
			}
			i++
			st = stValue
		case stObjComma:
			switch c {
			case ',':
				i++
				st = stObjNextKey
			case '}':
				i++
				goto closed
			default:
				return 0, stack, badByte(b, i, "',' or '}'")
			}
		case stArrComma:
			switch c {
			case ',':
				i++
				st = stValue
			case ']':
				i++
				goto closed
			default:
				return 0, stack, badByte(b, i, "',' or ']'")
			}
		}
		continue
	closed:
		// The byte just consumed closed the innermost container; check it
		// matches what opened it.
		if open := stack[len(stack)-1]; (open == '{') != (b[i-1] == '}') {
			return 0, stack, &syntaxError{off: i - 1, msg: "invalid JSON: mismatched bracket"}
		}
		stack = stack[:len(stack)-1]
	afterValue:
		if len(stack) == 0 {
			return i, stack, nil
		}
		if stack[len(stack)-1] == '{' {
			st = stObjComma
		} else {
			st = stArrComma
		}
	}
}

// structural marks the bytes skipBalanced must look at.
var structural = func() (t [256]bool) {
	for _, c := range []byte(`"{}[]`) {
		t[c] = true
	}
	return
}()

// skipBalanced finds the end of the object or array at b[i] by tracking
// strings and bracket depth only. It is the element splitter for machine-
// written payloads ({"records":[...]}): like the NDJSON line path it leaves
// the grammar to encoding/json, which decodes every record that can match an
// account. Brackets must still pair up (checked to a depth of 64), which
// catches most truncation. It does not allocate.
func skipBalanced(b []byte, i int) (int, error) {
	var kinds uint64 // bit d set: level d is an object
	depth := 0
	for i < len(b) {
		c := b[i]
		if !structural[c] {
			i++
			continue
		}
		switch c {
		case '"':
			j, err := skipString(b, i)
			if err != nil {
				return 0, err
			}
			i = j
			continue
		case '{', '[':
			if depth < 64 {
				kinds &^= 1 << depth
				if c == '{' {
					kinds |= 1 << depth
				}
			}
			depth++
		default: // '}' or ']'
			depth--
			if depth < 0 || (depth < 64 && (kinds>>depth&1 == 1) != (c == '}')) {
				return 0, &syntaxError{off: i, msg: "invalid JSON: mismatched bracket"}
			}
			if depth == 0 {
				return i + 1, nil
			}
		}
		i++
	}
	return 0, errShort
}

// skipAny skips the value at b[i] without checking its grammar: the
// classifier walks records whose boundaries are already known.
func skipAny(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errShort
	}
	switch b[i] {
	case '{', '[':
		return skipBalanced(b, i)
	case '"':
		return skipString(b, i)
	}
	j := i
	for j < len(b) && scalarByte[b[j]] {
		j++
	}
	if j == i {
		return 0, badByte(b, i, "a value")
	}
	return j, nil
}
