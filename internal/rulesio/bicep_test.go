package rulesio

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// There is no bicep CLI here, so the tests read the Bicep output back with
// this parser of the subset Export writes (params with decorators,
// resources, objects, arrays, strings, integers, booleans, identifiers,
// member access and calls). It is strict: an unknown escape, a ${ that is
// not escaped, a duplicate key, an undeclared name or an unbalanced
// bracket is an error. parseBicep returns the template as the ARM JSON
// that Bicep would compile it to (minus dependsOn, which Bicep derives),
// so the test can compare it with Export's ARM output.

type btok struct {
	kind byte // 'i' ident, 's' string, 'n' integer, 'p' punctuation, 'l' newline
	text string
	line int
}

func lexBicep(src string) ([]btok, error) {
	var out []btok
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			out = append(out, btok{'l', "\n", line})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\'':
			if strings.HasPrefix(src[i:], "'''") {
				return nil, fmt.Errorf("line %d: multi-line strings are not written by Export", line)
			}
			var b strings.Builder
			i++
			for {
				if i >= len(src) || src[i] == '\n' {
					return nil, fmt.Errorf("line %d: unterminated string", line)
				}
				if src[i] == '\'' {
					i++
					break
				}
				if strings.HasPrefix(src[i:], "${") {
					return nil, fmt.Errorf("line %d: unescaped ${ (interpolation)", line)
				}
				if src[i] == '\\' {
					if i+1 >= len(src) {
						return nil, fmt.Errorf("line %d: dangling backslash", line)
					}
					switch src[i+1] {
					case '\\', '\'', '$':
						b.WriteByte(src[i+1])
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					case 't':
						b.WriteByte('\t')
					case 'u':
						j := strings.IndexByte(src[i:], '}')
						if !strings.HasPrefix(src[i:], `\u{`) || j < 0 {
							return nil, fmt.Errorf("line %d: bad \\u escape", line)
						}
						r, err := strconv.ParseUint(src[i+3:i+j], 16, 32)
						if err != nil {
							return nil, fmt.Errorf("line %d: bad \\u escape", line)
						}
						b.WriteRune(rune(r))
						i += j + 1
						continue
					default:
						return nil, fmt.Errorf("line %d: unknown escape \\%c", line, src[i+1])
					}
					i += 2
					continue
				}
				r, n := utf8.DecodeRuneInString(src[i:])
				b.WriteRune(r)
				i += n
			}
			out = append(out, btok{'s', b.String(), line})
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			out = append(out, btok{'n', src[i:j], line})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			out = append(out, btok{'i', src[i:j], line})
			i = j
		case strings.ContainsRune("{}[]():=@.,-", rune(c)):
			out = append(out, btok{'p', string(c), line})
			i++
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", line, c)
		}
	}
	out = append(out, btok{'l', "\n", line}, btok{'e', "", line})
	return out, nil
}

type bparser struct {
	t      []btok
	i      int
	params map[string]bool
	res    map[string][2]string // symbol -> type, name
	refs   map[string]bool      // symbols referenced by the resource being read
}

func (p *bparser) peek() btok { return p.t[p.i] }
func (p *bparser) next() btok { t := p.t[p.i]; p.i++; return t }
func (p *bparser) errf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.peek().line, fmt.Sprintf(format, args...))
}
func (p *bparser) punct(s string) error {
	if t := p.next(); t.kind != 'p' || t.text != s {
		p.i--
		return p.errf("want %q, got %q", s, t.text)
	}
	return nil
}
func (p *bparser) newline() error {
	if t := p.next(); t.kind != 'l' {
		p.i--
		return p.errf("want a line break, got %q", t.text)
	}
	return nil
}
func (p *bparser) skipNewlines() {
	for p.peek().kind == 'l' {
		p.i++
	}
}

var armTypeAPI = regexp.MustCompile(`^([A-Za-z.]+/[A-Za-z/]+)@(\d{4}-\d{2}-\d{2}(-preview)?)$`)

func parseBicep(src string) (map[string]any, error) {
	toks, err := lexBicep(src)
	if err != nil {
		return nil, err
	}
	p := &bparser{t: toks, params: map[string]bool{}, res: map[string][2]string{}}
	params := map[string]any{}
	var resources []any
	for {
		p.skipNewlines()
		if p.peek().kind == 'e' {
			break
		}
		decor := map[string][]any{}
		for p.peek().kind == 'p' && p.peek().text == "@" {
			p.next()
			name := p.next()
			if name.kind != 'i' {
				return nil, p.errf("want a decorator name")
			}
			args, err := p.call()
			if err != nil {
				return nil, err
			}
			decor[name.text] = args
			if err := p.newline(); err != nil {
				return nil, err
			}
		}
		kw := p.next()
		switch {
		case kw.kind == 'i' && kw.text == "param":
			name, typ := p.next(), p.next()
			if name.kind != 'i' || typ.kind != 'i' {
				return nil, p.errf("want param NAME TYPE")
			}
			if p.params[name.text] || p.res[name.text] != [2]string{} {
				return nil, p.errf("%s declared twice", name.text)
			}
			pm := map[string]any{}
			t := typ.text
			if _, ok := decor["secure"]; ok {
				if t != "string" {
					return nil, p.errf("@secure() on %s", t)
				}
				t = "securestring"
			}
			pm["type"] = t
			if p.peek().kind == 'p' && p.peek().text == "=" {
				p.next()
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				pm["defaultValue"] = v
			}
			if d, ok := decor["description"]; ok && len(d) == 1 {
				pm["metadata"] = map[string]any{"description": d[0]}
			}
			p.params[name.text] = true
			params[name.text] = pm
		case kw.kind == 'i' && kw.text == "resource":
			sym, typ := p.next(), p.next()
			if sym.kind != 'i' || typ.kind != 's' {
				return nil, p.errf("want resource SYMBOL 'TYPE@VERSION'")
			}
			m := armTypeAPI.FindStringSubmatch(typ.text)
			if m == nil {
				return nil, p.errf("bad resource type %q", typ.text)
			}
			if err := p.punct("="); err != nil {
				return nil, err
			}
			p.refs = map[string]bool{}
			body, err := p.expr()
			if err != nil {
				return nil, err
			}
			bm, ok := body.(map[string]any)
			if !ok {
				return nil, p.errf("resource body is not an object")
			}
			name, _ := bm["name"].(string)
			if name == "" {
				return nil, p.errf("resource %s has no name", sym.text)
			}
			if p.params[sym.text] || p.res[sym.text] != [2]string{} {
				return nil, p.errf("%s declared twice", sym.text)
			}
			p.res[sym.text] = [2]string{m[1], name}
			r := map[string]any{"type": m[1], "apiVersion": m[2]}
			for k, v := range bm {
				r[k] = v
			}
			var deps []string
			for s := range p.refs {
				deps = append(deps, s)
			}
			r["$refs"] = deps
			resources = append(resources, r)
		default:
			return nil, p.errf("want param or resource, got %q", kw.text)
		}
		if err := p.newline(); err != nil {
			return nil, err
		}
	}
	return map[string]any{"parameters": params, "resources": resources}, nil
}

// call reads (args) after a name.
func (p *bparser) call() ([]any, error) {
	if err := p.punct("("); err != nil {
		return nil, err
	}
	var args []any
	for !(p.peek().kind == 'p' && p.peek().text == ")") {
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, v)
		if p.peek().kind == 'p' && p.peek().text == "," {
			p.next()
		}
	}
	p.next()
	return args, nil
}

// expr returns the value as ARM JSON would hold it: expressions become
// "[...]" strings.
func (p *bparser) expr() (any, error) {
	t := p.next()
	switch {
	case t.kind == 's':
		if strings.HasPrefix(t.text, "[") {
			return "[" + t.text, nil // ARM's escape for a literal [
		}
		return t.text, nil
	case t.kind == 'n':
		return strconv.ParseFloat(t.text, 64)
	case t.kind == 'p' && t.text == "-":
		n := p.next()
		if n.kind != 'n' {
			return nil, p.errf("want a number after -")
		}
		f, err := strconv.ParseFloat(n.text, 64)
		return -f, err
	case t.kind == 'p' && t.text == "{":
		m := map[string]any{}
		if p.peek().kind == 'p' && p.peek().text == "}" {
			p.next()
			return m, nil
		}
		if err := p.newline(); err != nil {
			return nil, err
		}
		for {
			p.skipNewlines()
			if p.peek().kind == 'p' && p.peek().text == "}" {
				p.next()
				return m, nil
			}
			k := p.next()
			if k.kind != 'i' && k.kind != 's' {
				return nil, p.errf("want a key, got %q", k.text)
			}
			if _, dup := m[k.text]; dup {
				return nil, p.errf("key %s twice", k.text)
			}
			if err := p.punct(":"); err != nil {
				return nil, err
			}
			v, err := p.expr()
			if err != nil {
				return nil, err
			}
			m[k.text] = v
			if err := p.newline(); err != nil {
				return nil, err
			}
		}
	case t.kind == 'p' && t.text == "[":
		a := []any{}
		if p.peek().kind == 'p' && p.peek().text == "]" {
			p.next()
			return a, nil
		}
		if err := p.newline(); err != nil {
			return nil, err
		}
		for {
			p.skipNewlines()
			if p.peek().kind == 'p' && p.peek().text == "]" {
				p.next()
				return a, nil
			}
			v, err := p.expr()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			if err := p.newline(); err != nil {
				return nil, err
			}
		}
	case t.kind == 'i':
		switch t.text {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "json":
			args, err := p.call()
			if err != nil || len(args) != 1 {
				return nil, p.errf("json() takes one string")
			}
			s, _ := args[0].(string)
			return strconv.ParseFloat(s, 64)
		case "resourceGroup":
			if _, err := p.call(); err != nil {
				return nil, err
			}
			if err := p.punct("."); err != nil {
				return nil, err
			}
			if f := p.next(); f.text != "location" {
				return nil, p.errf("resourceGroup().%s", f.text)
			}
			return "[resourceGroup().location]", nil
		}
		if p.params[t.text] {
			return "[parameters('" + t.text + "')]", nil
		}
		if r, ok := p.res[t.text]; ok {
			if err := p.punct("."); err != nil {
				return nil, err
			}
			if f := p.next(); f.text != "id" {
				return nil, p.errf("%s.%s", t.text, f.text)
			}
			p.refs[t.text] = true
			return fmt.Sprintf("[resourceId(%s, %s)]", armQuote(r[0]), armQuote(r[1])), nil
		}
		return nil, p.errf("undeclared name %s", t.text)
	}
	return nil, p.errf("unexpected %q", t.text)
}
