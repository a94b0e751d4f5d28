package config

import (
	"strconv"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in a scalar value and turns
// $$ into $. A $ followed by anything else is kept, so that values such as
// passwords or regular expressions containing a lone $ need no escaping.
// The default is taken literally and an expanded value is not expanded
// again, so the environment cannot inject further references.
//
// Problems are recorded against field; ok is false if there were any.
// Messages name the variable but never carry a value.
func (d *decoder) expand(s, field string, line int) (_ string, ok bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	var b strings.Builder
	ok = true
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(s[i])
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			d.errorf(line, field, "unterminated ${ (write $$ for a literal $)")
			return "", false
		}
		expr := s[i+2 : i+2+end]
		i += 2 + end + 1
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			d.errorf(line, field, "invalid environment variable name %s in ${...} (use letters, digits and _, not starting with a digit)", quoteShort(name))
			ok = false
			continue
		}
		val, set := d.env(name)
		switch {
		case set && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			d.errorf(line, field, "environment variable %s is not set (use ${%s:-default} to give a fallback)", name, name)
			ok = false
		}
	}
	if !ok {
		return "", false
	}
	return b.String(), true
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// quoteShort quotes text taken from the file for a message, shortened so a
// stray brace cannot turn one message into a page.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}
