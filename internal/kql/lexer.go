// Package kql parses the Kusto Query Language (KQL) as Entra detections and
// Sentinel hunting queries use it: let statements, tabular pipelines and
// scalar expressions, into an AST that an evaluator and a result-schema
// checker can walk. It only parses; it never evaluates.
//
// Errors carry line:col and say what was expected. A construct that is valid
// KQL but that breakglass does not support is reported as an
// *UnsupportedError, distinct from a *SyntaxError, so that callers can tell
// "fix your query" from "this engine cannot run it".
package kql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxQueryBytes bounds the text one Parse call accepts: a detection is a few
// kilobytes; a megabyte is hostile or a mistake.
const MaxQueryBytes = 1 << 20

// TokKind is the kind of a lexical token.
type TokKind int

// Token kinds.
const (
	TokEOF      TokKind = iota
	TokIdent            // name, keyword or $left/$right
	TokInt              // 123, 0x1f
	TokReal             // 1.5, 1e3
	TokTimespan         // 1h, 100ms, 1.5d
	TokString           // any string literal form; Text is the decoded value
	TokBracket          // ['name'] or ["name"]; Text is the decoded name
	TokTypedLit         // datetime(...), timespan(...), guid(...), bool(...), int(...), ...: Text is the raw inside
	TokPunct            // operators and punctuation; Text is the symbol
)

// Token is one lexical token. Off is the byte offset of its first byte;
// End the offset just after it.
type Token struct {
	Kind TokKind
	Text string // decoded text (identifier, string value, symbol, raw literal inside)
	Lit  string // for TokTypedLit: the literal's type word (lower case); for TokTimespan: the unit
	Off  int
	End  int
}

// typedLiterals are the words that, followed by '(', open a literal whose
// inside is read raw up to the matching ')'.
var typedLiterals = map[string]bool{
	"datetime": true, "date": true, "time": true, "timespan": true, "guid": true,
	"bool": true, "boolean": true, "int": true, "long": true, "real": true, "double": true, "decimal": true,
}

// timespanUnits maps every unit suffix KQL accepts to its canonical name.
var timespanUnits = map[string]string{
	"d": "d", "day": "d", "days": "d",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"m": "m", "min": "m", "minute": "m", "minutes": "m",
	"s": "s", "sec": "s", "second": "s", "seconds": "s",
	"ms": "ms", "milli": "ms", "millis": "ms", "millisec": "ms", "millisecond": "ms", "milliseconds": "ms",
	"microsec": "us", "microsecond": "us", "microseconds": "us", "micro": "us", "micros": "us",
	"nanosec": "ns", "nanosecond": "ns", "nanoseconds": "ns", "nano": "ns", "nanos": "ns",
	"tick": "tick", "ticks": "tick",
}

// The symbols, longest first so that the lexer matches greedily. '!' before
// a word (!has, !in~) is joined by the parser, not here.
var punct3 = []string{"!==", "<|>"}
var punct2 = []string{"==", "!=", "<>", "<=", ">=", "=~", "!~", "..", "=>"}
var punct1 = "|()[]{},;.=<>+-*/%!:~?@$"

// lexer turns text into tokens.
type lexer struct {
	src  string
	pos  int
	toks []Token
}

// Lex splits src into tokens. The error, if any, is a *SyntaxError.
func Lex(src string) ([]Token, error) {
	if len(src) > MaxQueryBytes {
		return nil, &SyntaxError{Pos: Pos{Line: 1, Col: 1}, Msg: fmt.Sprintf("the query is %d bytes; the limit is %d", len(src), MaxQueryBytes)}
	}
	lx := &lexer{src: src}
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		lx.toks = append(lx.toks, t)
		if t.Kind == TokEOF {
			return lx.toks, nil
		}
	}
}

func (lx *lexer) errAt(off int, format string, args ...any) error {
	return &SyntaxError{Pos: PosOf(lx.src, off), Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (lx *lexer) skipSpace() {
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			lx.pos++
		case c == '/' && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '/':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(lx.src[lx.pos:])
			if !unicode.IsSpace(r) && r != '\uFEFF' {
				return
			}
			lx.pos += n
		default:
			return
		}
	}
}

func (lx *lexer) next() (Token, error) {
	lx.skipSpace()
	start := lx.pos
	if lx.pos >= len(lx.src) {
		return Token{Kind: TokEOF, Off: start, End: start}, nil
	}
	c := lx.src[lx.pos]
	r, _ := utf8.DecodeRuneInString(lx.src[lx.pos:])
	switch {
	case c == '\'' || c == '"':
		s, err := lx.quoted(c, false)
		if err != nil {
			return Token{}, err
		}
		return Token{Kind: TokString, Text: s, Off: start, End: lx.pos}, nil
	case c == '@' && lx.pos+1 < len(lx.src) && (lx.src[lx.pos+1] == '\'' || lx.src[lx.pos+1] == '"'):
		lx.pos++
		s, err := lx.quoted(lx.src[lx.pos], true)
		if err != nil {
			return Token{}, err
		}
		return Token{Kind: TokString, Text: s, Off: start, End: lx.pos}, nil
	case (c == 'h' || c == 'H') && lx.pos+1 < len(lx.src) && (lx.src[lx.pos+1] == '\'' || lx.src[lx.pos+1] == '"' ||
		(lx.src[lx.pos+1] == '@' && lx.pos+2 < len(lx.src) && (lx.src[lx.pos+2] == '\'' || lx.src[lx.pos+2] == '"'))):
		// Obfuscated string h"..." / h@"...": the value is the same; only logging differs.
		lx.pos++
		verbatim := false
		if lx.src[lx.pos] == '@' {
			verbatim = true
			lx.pos++
		}
		s, err := lx.quoted(lx.src[lx.pos], verbatim)
		if err != nil {
			return Token{}, err
		}
		return Token{Kind: TokString, Text: s, Off: start, End: lx.pos}, nil
	case strings.HasPrefix(lx.src[lx.pos:], "```") || strings.HasPrefix(lx.src[lx.pos:], "~~~"):
		fence := lx.src[lx.pos : lx.pos+3]
		end := strings.Index(lx.src[lx.pos+3:], fence)
		if end < 0 {
			return Token{}, lx.errAt(start, "unterminated multi-line string: expected a closing %s", fence)
		}
		s := lx.src[lx.pos+3 : lx.pos+3+end]
		lx.pos += 3 + end + 3
		return Token{Kind: TokString, Text: s, Off: start, End: lx.pos}, nil
	case c == '[' && lx.bracketName():
		if t, err := lx.bracketToken(start); err == nil {
			return t, nil
		}
		// ['a', 'b'] is an array (in dynamic(...) or datatable values), not a name.
		lx.pos = start + 1
		return Token{Kind: TokPunct, Text: "[", Off: start, End: lx.pos}, nil
	case c >= '0' && c <= '9' || (c == '.' && lx.pos+1 < len(lx.src) && isDigit(lx.src[lx.pos+1]) && !lx.prevIsOperand()):
		return lx.number(start)
	case c == '$' && lx.pos+1 < len(lx.src) && isIdentStartByte(lx.src[lx.pos+1:]):
		lx.pos++
		lx.ident()
		return Token{Kind: TokIdent, Text: lx.src[start:lx.pos], Off: start, End: lx.pos}, nil
	case isIdentStart(r):
		lx.ident()
		word := lx.src[start:lx.pos]
		lw := strings.ToLower(word)
		if typedLiterals[lw] {
			// datetime(...) etc.: the inside is raw text (2015-12-31 23:59:59.9, 1.2:00:00, a guid).
			p := lx.pos
			for p < len(lx.src) && (lx.src[p] == ' ' || lx.src[p] == '\t') {
				p++
			}
			if p < len(lx.src) && lx.src[p] == '(' {
				end := strings.IndexByte(lx.src[p+1:], ')')
				if end < 0 {
					return Token{}, lx.errAt(p, "unterminated %s(...) literal: expected )", lw)
				}
				inner := lx.src[p+1 : p+1+end]
				if strings.ContainsAny(inner, "(\n") {
					// not a plain literal (e.g. a call spread over lines): leave it to the parser
					return Token{Kind: TokIdent, Text: word, Off: start, End: lx.pos}, nil
				}
				lx.pos = p + 1 + end + 1
				return Token{Kind: TokTypedLit, Text: strings.TrimSpace(inner), Lit: lw, Off: start, End: lx.pos}, nil
			}
		}
		return Token{Kind: TokIdent, Text: word, Off: start, End: lx.pos}, nil
	}
	for _, p := range punct3 {
		if strings.HasPrefix(lx.src[lx.pos:], p) {
			lx.pos += len(p)
			return Token{Kind: TokPunct, Text: p, Off: start, End: lx.pos}, nil
		}
	}
	for _, p := range punct2 {
		if strings.HasPrefix(lx.src[lx.pos:], p) {
			lx.pos += len(p)
			return Token{Kind: TokPunct, Text: p, Off: start, End: lx.pos}, nil
		}
	}
	if strings.IndexByte(punct1, c) >= 0 {
		lx.pos++
		return Token{Kind: TokPunct, Text: string(c), Off: start, End: lx.pos}, nil
	}
	return Token{}, lx.errAt(start, "unexpected character %q", r)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStartByte(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isIdentStart(r)
}

// prevIsOperand reports whether the previous token ends an operand, so that
// ".5" after a name is member access, not a number.
func (lx *lexer) prevIsOperand() bool {
	if len(lx.toks) == 0 {
		return false
	}
	t := lx.toks[len(lx.toks)-1]
	return t.End == lx.pos && (t.Kind != TokPunct || t.Text == ")" || t.Text == "]")
}

func (lx *lexer) ident() {
	for lx.pos < len(lx.src) {
		r, n := utf8.DecodeRuneInString(lx.src[lx.pos:])
		if !isIdentPart(r) {
			return
		}
		lx.pos += n
	}
}

// bracketName reports whether '[' at pos opens a quoted name: [ 'x' ] or [ "x" ] or [@"x"].
func (lx *lexer) bracketName() bool {
	p := lx.pos + 1
	for p < len(lx.src) && (lx.src[p] == ' ' || lx.src[p] == '\t') {
		p++
	}
	if p < len(lx.src) && lx.src[p] == '@' {
		p++
	}
	return p < len(lx.src) && (lx.src[p] == '\'' || lx.src[p] == '"')
}

func (lx *lexer) bracketToken(start int) (Token, error) {
	lx.pos++
	lx.skipBlanks()
	verbatim := false
	if lx.src[lx.pos] == '@' {
		verbatim = true
		lx.pos++
	}
	s, err := lx.quoted(lx.src[lx.pos], verbatim)
	if err != nil {
		return Token{}, err
	}
	lx.skipBlanks()
	if lx.pos >= len(lx.src) || lx.src[lx.pos] != ']' {
		// Not a name after all (e.g. d['a', 'b'] is not KQL; d['a'] + 1 is): report it plainly.
		return Token{}, lx.errAt(lx.pos, "expected ] after the quoted name")
	}
	lx.pos++
	return Token{Kind: TokBracket, Text: s, Off: start, End: lx.pos}, nil
}

func (lx *lexer) skipBlanks() {
	for lx.pos < len(lx.src) && (lx.src[lx.pos] == ' ' || lx.src[lx.pos] == '\t') {
		lx.pos++
	}
}

// quoted reads a string literal whose opening quote q is at pos. Regular
// strings take backslash escapes; verbatim (@) strings take doubled quotes.
func (lx *lexer) quoted(q byte, verbatim bool) (string, error) {
	start := lx.pos
	lx.pos++
	var b strings.Builder
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == q:
			if verbatim && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == q {
				b.WriteByte(q)
				lx.pos += 2
				continue
			}
			lx.pos++
			return b.String(), nil
		case c == '\n' && !verbatim:
			return "", lx.errAt(start, "unterminated string: expected a closing %c before the end of the line", q)
		case c == '\\' && !verbatim:
			if lx.pos+1 >= len(lx.src) {
				return "", lx.errAt(start, "unterminated string: expected a closing %c", q)
			}
			e := lx.src[lx.pos+1]
			lx.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'u':
				if lx.pos+4 <= len(lx.src) {
					var v rune
					if _, err := fmt.Sscanf(lx.src[lx.pos:lx.pos+4], "%04x", &v); err == nil {
						b.WriteRune(v)
						lx.pos += 4
						continue
					}
				}
				return "", lx.errAt(lx.pos-2, "bad \\u escape: expected four hex digits")
			default:
				// KQL keeps unknown escapes (common in regexes written without @).
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			lx.pos++
		}
	}
	return "", lx.errAt(start, "unterminated string: expected a closing %c", q)
}

// number reads an integer, real or timespan literal.
func (lx *lexer) number(start int) (Token, error) {
	s := lx.src
	p := lx.pos
	kind := TokInt
	if strings.HasPrefix(s[p:], "0x") || strings.HasPrefix(s[p:], "0X") {
		p += 2
		for p < len(s) && strings.IndexByte("0123456789abcdefABCDEF", s[p]) >= 0 {
			p++
		}
		if p < len(s) && isIdentStartByte(s[p:]) {
			// 0x1fand is a name for Microsoft's lexer, as 10abc is below
			for p < len(s) {
				r, n := utf8.DecodeRuneInString(s[p:])
				if !isIdentPart(r) {
					break
				}
				p += n
			}
			lx.pos = p
			return Token{Kind: TokIdent, Text: s[start:p], Off: start, End: p}, nil
		}
		lx.pos = p
		return Token{Kind: TokInt, Text: s[start:p], Off: start, End: p}, nil
	}
	for p < len(s) && isDigit(s[p]) {
		p++
	}
	if p+1 < len(s) && s[p] == '.' && isDigit(s[p+1]) {
		kind = TokReal
		p++
		for p < len(s) && isDigit(s[p]) {
			p++
		}
	} else if p < len(s) && s[p] == '.' && !(p+1 < len(s) && s[p+1] == '.') && !(p+1 < len(s) && isIdentStartByte(s[p+1:])) {
		// "1." is a real
		kind = TokReal
		p++
	}
	if p < len(s) && (s[p] == 'e' || s[p] == 'E') {
		q := p + 1
		if q < len(s) && (s[q] == '+' || s[q] == '-') {
			q++
		}
		if q < len(s) && isDigit(s[q]) {
			for q < len(s) && isDigit(s[q]) {
				q++
			}
			p = q
			kind = TokReal
		}
	}
	num := s[start:p]
	if p < len(s) && isIdentStartByte(s[p:]) {
		q := p
		for q < len(s) {
			r, n := utf8.DecodeRuneInString(s[q:])
			if !isIdentPart(r) {
				break
			}
			q += n
		}
		unit, ok := timespanUnits[strings.ToLower(s[p:q])]
		if !ok {
			// Like Microsoft's lexer: 10abc is a name (one that names nothing
			// known, which name resolution reports), not a bad number.
			lx.pos = q
			return Token{Kind: TokIdent, Text: s[start:q], Off: start, End: q}, nil
		}
		lx.pos = q
		return Token{Kind: TokTimespan, Text: num, Lit: unit, Off: start, End: q}, nil
	}
	lx.pos = p
	return Token{Kind: kind, Text: num, Off: start, End: p}, nil
}
