package logs

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Find returns the index into Needles of a needle that occurs in rec, or -1.
// Unlike Match it is exact: JSON \u escapes are undone first (so that an
// escaped id is found, and an escape that hides nothing is not a hit), and
// then every needle is searched for with the prefilter's ASCII case
// folding. It decides whether input that could not be read must still
// alert (bg.unparsed), so it runs only on such input, never on the fast path.
func (p *Prefilter) Find(rec []byte) int {
	if len(p.needles) == 0 {
		return -1
	}
	if bytes.Contains(rec, escU) {
		rec = UnescapeU(rec)
	}
	lower := lowerASCII(nil, rec)
	for i, n := range p.needles {
		if bytes.Contains(lower, n) {
			return i
		}
	}
	return -1
}

// Needles returns the prefilter's needles, folded, in Find's numbering.
func (p *Prefilter) Needles() []string {
	out := make([]string, len(p.needles))
	for i, n := range p.needles {
		out[i] = string(n)
	}
	return out
}

// MaxNeedle is the length of the longest needle: a caller that searches a
// stream in chunks must overlap them by this much less one.
func (p *Prefilter) MaxNeedle() int {
	m := 0
	for _, n := range p.needles {
		m = max(m, len(n))
	}
	return m
}

// UnescapeU returns b with every JSON \uXXXX escape (surrogate pairs
// included) replaced by its UTF-8 encoding. Other escapes are copied as
// they are, so `\\u0041` stays a backslash followed by "u0041", as a JSON
// decoder reads it. Input need not be valid JSON.
func UnescapeU(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			i++
			continue
		}
		if b[i+1] != 'u' {
			out = append(out, c, b[i+1])
			i += 2
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			out = append(out, c, 'u')
			i += 2
			continue
		}
		i += 6
		if utf16.IsSurrogate(r) {
			if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
				if r2, ok := hex4(b, i+2); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
			}
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
