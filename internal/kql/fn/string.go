package fn

import (
	"encoding/base64"
	"math"
	"math/bits"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"breakglass/internal/kql/value"
)

// String functions (https://learn.microsoft.com/kusto/query/string-functions).
// Indexes and lengths count Unicode characters, not bytes.

func init() {
	Register(
		&Scalar{Name: "tolower", Min: 1, Max: 1, Result: sig(value.String, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return str(strings.ToLower(text(a[0]))) }},
		&Scalar{Name: "toupper", Min: 1, Max: 1, Result: sig(value.String, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return str(strings.ToUpper(text(a[0]))) }},
		&Scalar{Name: "strlen", Min: 1, Max: 1, Result: sig(value.Long, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return long(int64(utf8.RuneCountInString(text(a[0])))) }},
		&Scalar{Name: "string_size", Min: 1, Max: 1, Result: sig(value.Long, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return long(int64(len(text(a[0])))) }},
		&Scalar{Name: "substring", Min: 2, Max: 3, Result: sig(value.String, kAny, kInt, kInt), Call: substring},
		&Scalar{Name: "indexof", Min: 2, Max: 5, Const: []int{4}, Result: sig(value.Long, kAny, kAny, kInt, kInt, kInt), Call: indexOf},
		&Scalar{Name: "strcat", Min: 1, Max: 64, Result: sig(value.String, kAny), Call: strcat},
		&Scalar{Name: "strcat_delim", Min: 3, Max: 65, Result: sig(value.String, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return joinValues(a[1:], text(a[0])) }},
		&Scalar{Name: "strcat_array", Min: 2, Max: 2, Result: sig(value.String, kDyn, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				arr, ok := a[0].D.([]any)
				if !ok || a[0].IsNull() {
					return str("")
				}
				vs := make([]value.Value, len(arr))
				for i, e := range arr {
					vs[i] = value.FromDynamic(e)
				}
				return joinValues(vs, text(a[1]))
			}},
		&Scalar{Name: "split", Min: 2, Max: 3, Result: sig(value.Dynamic, kAny, kStr, kInt), Call: split},
		&Scalar{Name: "replace_string", Min: 3, Max: 3, Result: sig(value.String, kStr, kStr, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				s, old, repl := text(a[0]), text(a[1]), text(a[2])
				if old == "" {
					return str(s)
				}
				// bound the result before building it: a short lookup and
				// a long rewrite could otherwise grow without limit
				if n := strings.Count(s, old); len(repl) > len(old) && n > (maxOut-len(s))/(len(repl)-len(old)+1) {
					return str(boundedReplace(s, old, repl))
				}
				return str(strings.ReplaceAll(s, old, repl))
			}},
		&Scalar{Name: "replace_regex", Min: 3, Max: 3, Result: sig(value.String, kStr, kStr, kStr), Const: []int{1, 2},
			ResultConst: regexChecked(1, plain(sig(value.String, kStr, kStr, kStr)), nil),
			Call:        func(_ *Ctx, a []value.Value) value.Value { return replaceRegex(text(a[0]), text(a[1]), text(a[2])) }},
		// replace is the older replace_regex, with the source last.
		&Scalar{Name: "replace", Min: 3, Max: 3, Result: sig(value.String, kStr, kStr, kStr), Const: []int{0, 1},
			ResultConst: regexChecked(0, plain(sig(value.String, kStr, kStr, kStr)), nil),
			Call:        func(_ *Ctx, a []value.Value) value.Value { return replaceRegex(text(a[2]), text(a[0]), text(a[1])) }},
		&Scalar{Name: "extract", Min: 3, Max: 4, Const: []int{0, 1, 3}, Result: extractType, ResultConst: regexChecked(0, extractTypeConst, nil), Call: extract},
		&Scalar{Name: "extract_all", Min: 2, Max: 3, Const: []int{0, 1}, Result: extractAllType, ResultConst: regexChecked(0, plain(extractAllType), nil), Call: extractAll},
		&Scalar{Name: "trim", Min: 2, Max: 2, Const: []int{0}, Result: sig(value.String, kStr, kStr), ResultConst: regexChecked(0, plain(sig(value.String, kStr, kStr)), nil),
			Call: func(_ *Ctx, a []value.Value) value.Value { return trimRegex(text(a[0]), text(a[1]), true, true) }},
		&Scalar{Name: "trim_start", Min: 2, Max: 2, Const: []int{0}, Result: sig(value.String, kStr, kStr), ResultConst: regexChecked(0, plain(sig(value.String, kStr, kStr)), nil),
			Call: func(_ *Ctx, a []value.Value) value.Value { return trimRegex(text(a[0]), text(a[1]), true, false) }},
		&Scalar{Name: "trim_end", Min: 2, Max: 2, Const: []int{0}, Result: sig(value.String, kStr, kStr), ResultConst: regexChecked(0, plain(sig(value.String, kStr, kStr)), nil),
			Call: func(_ *Ctx, a []value.Value) value.Value { return trimRegex(text(a[0]), text(a[1]), false, true) }},
		&Scalar{Name: "countof", Min: 2, Max: 3, Const: []int{2}, Result: sig(value.Long, kStr, kStr, kStr),
			ResultConst: regexChecked(1, plain(sig(value.Long, kStr, kStr, kStr)), func(c []value.Value) bool { return len(c) > 2 && c[2].S == "regex" }), Call: countOf},
		&Scalar{Name: "reverse", Min: 1, Max: 1, Result: sig(value.String, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				r := []rune(text(a[0]))
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				return str(string(r))
			}},
		&Scalar{Name: "isascii", Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				s := text(a[0])
				for i := 0; i < len(s); i++ {
					if s[i] >= 0x80 {
						return boolean(false)
					}
				}
				return boolean(true)
			}},
		&Scalar{Name: "isutf8", Min: 1, Max: 1, Result: sig(value.Bool, kAny),
			Call: func(_ *Ctx, a []value.Value) value.Value { return boolean(utf8.ValidString(text(a[0]))) }},
		&Scalar{Name: "strrep", Min: 2, Max: 3, Result: sig(value.String, kAny, kInt, kAny), Call: strrep},
		&Scalar{Name: "translate", Min: 3, Max: 3, Result: sig(value.String, kStr, kStr, kStr), Call: translate},
		&Scalar{Name: "hash", Min: 1, Max: 2, Result: sig(value.Long, kScalar, kInt), Call: hash},
		&Scalar{Name: "base64_encode_tostring", Aliases: []string{"base64_encodestring"}, Min: 1, Max: 1, Result: sig(value.String, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				return str(base64.StdEncoding.EncodeToString([]byte(text(a[0]))))
			}},
		&Scalar{Name: "base64_decode_tostring", Aliases: []string{"base64_decodestring"}, Min: 1, Max: 1, Result: sig(value.String, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				b, err := base64.StdEncoding.DecodeString(text(a[0]))
				if err != nil || !utf8.Valid(b) {
					return str("")
				}
				return str(string(b))
			}},
		&Scalar{Name: "url_decode", Min: 1, Max: 1, Result: sig(value.String, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				s, err := url.QueryUnescape(text(a[0]))
				if err != nil {
					return str("")
				}
				return str(s)
			}},
		&Scalar{Name: "url_encode", Min: 1, Max: 1, Result: sig(value.String, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return str(url.QueryEscape(text(a[0]))) }},
		&Scalar{Name: "url_encode_component", Min: 1, Max: 1, Result: sig(value.String, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value { return str(url.PathEscape(text(a[0]))) }},
		&Scalar{Name: "tohex", Min: 1, Max: 2, Result: sig(value.String, kInt, kInt), Call: tohex},
	)
}

func capStr(s string) string {
	if len(s) <= maxOut {
		return s
	}
	i := maxOut
	for i > 0 && !utf8.RuneStart(s[i]) { // do not cut a character in two
		i--
	}
	return s[:i]
}

func intArg(v value.Value) (int64, bool) {
	if v.IsNull() {
		return 0, false
	}
	return toLong(v)
}

// substring: https://learn.microsoft.com/kusto/query/substring-function
// (substring("123456", 1) is "23456", substring("ABCD", 0, 2) "AB"); a
// negative start counts from the end: substring("123456", -2, 2) is "56".
func substring(_ *Ctx, a []value.Value) value.Value {
	r := []rune(text(a[0]))
	start, ok := intArg(a[1])
	if !ok {
		return str("")
	}
	if start < 0 {
		start = max(0, start+int64(len(r)))
	}
	if start > int64(len(r)) {
		return str("")
	}
	end := int64(len(r))
	if len(a) > 2 {
		n, ok := intArg(a[2])
		if !ok {
			return str("")
		}
		if n < 0 {
			n = 0
		}
		if n < end-start {
			end = start + n
		}
	}
	return str(string(r[start:end]))
}

// indexOf: https://learn.microsoft.com/kusto/query/indexof-function
// (indexof("abcdefg","cde") is 2; not found -1; a start past the end null).
func indexOf(_ *Ctx, a []value.Value) value.Value {
	r := []rune(text(a[0]))
	look := []rune(text(a[1]))
	start, length, occ := int64(0), int64(-1), int64(1)
	var ok bool
	if len(a) > 2 {
		if start, ok = intArg(a[2]); !ok {
			return nullLong
		}
	}
	if len(a) > 3 {
		if length, ok = intArg(a[3]); !ok {
			return nullLong
		}
	}
	if len(a) > 4 {
		if occ, ok = intArg(a[4]); !ok || occ <= 0 {
			return nullLong
		}
	}
	if start < 0 {
		start += int64(len(r))
		if start < 0 {
			start = 0
		}
	}
	if start > int64(len(r)) || length < -1 {
		return nullLong
	}
	// Each occurrence is searched for in a window of length characters
	// from just after the previous one, as the docs' example shows:
	// indexof("abcdefgabcdefg", "cde", 1, 10, 2) is 9.
	for found := int64(0); ; {
		if start > int64(len(r)) {
			return long(-1)
		}
		end := int64(len(r))
		if length >= 0 && length < end-start {
			end = start + length
		}
		i := runeIndex(r[start:end], look)
		if i < 0 {
			return long(-1)
		}
		if found++; found == occ {
			return long(start + int64(i))
		}
		start += int64(i) + 1
	}
}

func runeIndex(hay, look []rune) int {
	for i := 0; i+len(look) <= len(hay); i++ {
		match := true
		for j := range look {
			if hay[i+j] != look[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

func strcat(_ *Ctx, a []value.Value) value.Value { return joinValues(a, "") }

func joinValues(vs []value.Value, sep string) value.Value {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(v.String())
		if b.Len() > maxOut {
			return str(capStr(b.String()))
		}
	}
	return str(b.String())
}

// split: https://learn.microsoft.com/kusto/query/split-function
// (split("aa_bb", "_") is ["aa","bb"]; split("", "_") is [""]; an index
// out of range gives []).
func split(_ *Ctx, a []value.Value) value.Value {
	s, sep := text(a[0]), text(a[1])
	var parts []string
	if sep == "" {
		parts = []string{s}
	} else {
		parts = strings.SplitN(s, sep, 1<<16)
	}
	if len(a) > 2 {
		i, ok := intArg(a[2])
		if !ok {
			return nullDyn
		}
		if i < 0 || i >= int64(len(parts)) {
			return dyn([]any{})
		}
		return dyn([]any{parts[i]})
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return dyn(out)
}

// rewriteToGo turns a Kusto rewrite pattern (\1 for a group) into Go's
// ($ is literal in Kusto).
func rewriteToGo(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			b.WriteString("${" + string(r[i+1]) + "}")
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// boundedReplace is strings.ReplaceAll that stops at maxOut bytes.
func boundedReplace(s, old, repl string) string {
	var b strings.Builder
	for b.Len() < maxOut {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s = s[i+len(old):]
	}
	return capStr(b.String())
}

// replaceRegex: https://learn.microsoft.com/kusto/query/replace-regex-function
// (replace_regex("Number is 1", @"is (\d+)", @"was: \1") is "Number was:
// 1"). The result is built match by match and stops at maxOut bytes.
func replaceRegex(s, pattern, rewrite string) value.Value {
	re, err := compileRegex(pattern)
	if err != nil {
		return str("")
	}
	tmpl := rewriteToGo(rewrite)
	var b []byte
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		b = append(b, s[last:m[0]]...)
		b = re.ExpandString(b, tmpl, s, m)
		last = m[1]
		if len(b) > maxOut {
			return str(capStr(string(b)))
		}
	}
	b = append(b, s[last:]...)
	return str(capStr(string(b)))
}

func extractType(args []value.Type) (value.Type, error) {
	return extractTypeConst(args, make([]value.Value, len(args)))
}

func extractTypeConst(args []value.Type, consts []value.Value) (value.Type, error) {
	if err := check(args, kStr, kInt, kStrOnly|kDyn, kStr); err != nil {
		return value.String, err
	}
	if len(consts) > 3 && consts[3].T == value.String && consts[3].S != "" {
		t, ok := value.ParseType(consts[3].S)
		if !ok {
			return value.String, errorf("argument 4: unknown type %q", consts[3].S)
		}
		return t, nil
	}
	return value.String, nil
}

// extract: https://learn.microsoft.com/kusto/query/extract-function
// (extract("x=([0-9.]+)", 1, "hello x=45.6|wo") is "45.6"; group 0 is the
// whole match; no match or a failed cast gives the type's null).
func extract(_ *Ctx, a []value.Value) value.Value {
	want := value.String
	if len(a) > 3 {
		if t, ok := value.ParseType(text(a[3])); ok {
			want = t
		}
	}
	re, err := compileRegex(text(a[0]))
	g, ok := intArg(a[1])
	if err != nil || !ok || g < 0 || g > int64(re.NumSubexp()) {
		return value.NullOf(want)
	}
	m := re.FindStringSubmatchIndex(text(a[2]))
	if m == nil || m[2*g] < 0 {
		return value.NullOf(want)
	}
	return convertText(text(a[2])[m[2*g]:m[2*g+1]], want)
}

// convertText casts extracted text to a type (extract's typeof, parse's
// typed columns).
func convertText(s string, t value.Type) value.Value {
	sv := str(s)
	switch t {
	case value.String:
		return sv
	case value.Long:
		if i, ok := toLong(sv); ok {
			return long(i)
		}
	case value.Int:
		if i, ok := toLong(sv); ok && i == int64(int32(i)) {
			return value.NewInt(int32(i))
		}
	case value.Real, value.Decimal:
		if f, ok := toReal(sv); ok {
			return value.Value{T: t, F: f}
		}
	case value.Bool:
		if b, ok := toBool(sv); ok {
			return boolean(b)
		}
	case value.DateTime:
		return toDateTime(sv)
	case value.TimeSpan:
		return toTimeSpan(sv)
	case value.Guid:
		g, _ := value.NewGuid(s)
		return g
	case value.Dynamic:
		return value.ParseJSON(s)
	}
	return value.NullOf(t)
}

// ConvertText casts text to a type as extract(..., typeof(T)) and parse's
// typed columns do (a failed cast is the type's null).
func ConvertText(s string, t value.Type) value.Value { return convertText(s, t) }

func extractAllType(args []value.Type) (value.Type, error) {
	if len(args) == 3 {
		return value.Dynamic, check(args, kStr, kDyn, kStr)
	}
	return value.Dynamic, check(args, kStr, kStr)
}

// extractAll: https://learn.microsoft.com/kusto/query/extract-all-function
// (one group: an array of strings; several: an array of arrays; no match:
// null). The number of matches is bounded.
func extractAll(_ *Ctx, a []value.Value) value.Value {
	re, err := compileRegex(text(a[0]))
	if err != nil {
		return nullDyn
	}
	src := a[len(a)-1]
	var groups []int
	if len(a) == 3 {
		arr, ok := a[1].D.([]any)
		if !ok {
			return nullDyn
		}
		for _, e := range arr {
			i, ok := toLong(value.FromDynamic(e))
			if !ok || i < 0 || i > int64(re.NumSubexp()) {
				return nullDyn
			}
			groups = append(groups, int(i))
		}
	} else {
		for i := 1; i <= re.NumSubexp(); i++ {
			groups = append(groups, i)
		}
		if len(groups) == 0 {
			groups = []int{0}
		}
	}
	s := text(src)
	ms := re.FindAllStringSubmatchIndex(s, 100000)
	if len(ms) == 0 {
		return nullDyn
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		get := func(g int) any {
			if m[2*g] < 0 {
				return ""
			}
			return s[m[2*g]:m[2*g+1]]
		}
		if len(groups) == 1 {
			out = append(out, get(groups[0]))
			continue
		}
		row := make([]any, len(groups))
		for i, g := range groups {
			row[i] = get(g)
		}
		out = append(out, row)
	}
	return dyn(out)
}

// trimRegex: https://learn.microsoft.com/kusto/query/trim-function
// (trim("--", "--https://www.ex.com--") is "https://www.ex.com").
func trimRegex(pattern, s string, start, end bool) value.Value {
	if start {
		re, err := compileRegex(`^(?:` + pattern + `)`)
		if err != nil {
			return str(s)
		}
		for s != "" {
			loc := re.FindStringIndex(s)
			if loc == nil || loc[1] == 0 {
				break
			}
			s = s[loc[1]:]
		}
	}
	if end {
		re, err := compileRegex(`(?:` + pattern + `)$`)
		if err != nil {
			return str(s)
		}
		for s != "" {
			loc := re.FindStringIndex(s)
			if loc == nil || loc[0] == len(s) {
				break
			}
			s = s[:loc[0]]
		}
	}
	return str(s)
}

// countOf: https://learn.microsoft.com/kusto/query/countof-function
// (countof("aaa", "a") is 3; plain search counts overlapping matches,
// countof("aaaa", "aa") is 3; kind "regex" does not, 2).
func countOf(_ *Ctx, a []value.Value) value.Value {
	s, look := text(a[0]), text(a[1])
	if len(a) > 2 && text(a[2]) == "regex" {
		re, err := compileRegex(look)
		if err != nil {
			return nullLong
		}
		return long(int64(len(re.FindAllStringIndex(s, -1))))
	}
	if look == "" {
		return long(0)
	}
	n := int64(0)
	for i := 0; i+len(look) <= len(s); {
		j := strings.Index(s[i:], look)
		if j < 0 {
			break
		}
		n++
		_, w := utf8.DecodeRuneInString(s[i+j:])
		i += j + w
	}
	return long(n)
}

func strrep(_ *Ctx, a []value.Value) value.Value {
	n, ok := intArg(a[1])
	if !ok || n < 0 {
		return str("")
	}
	s, sep := text(a[0]), ""
	if len(a) > 2 {
		sep = text(a[2])
	}
	if unit := int64(len(s) + len(sep) + 1); n > maxOut/unit {
		n = maxOut / unit // Kusto caps strings; this never allocates past it
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = s
	}
	return str(strings.Join(parts, sep))
}

// translate: https://learn.microsoft.com/kusto/query/translate-function
// (translate("abc", "x", "abc") is "xxx"; an empty replacement list
// deletes).
func translate(_ *Ctx, a []value.Value) value.Value {
	from, to := []rune(text(a[0])), []rune(text(a[1]))
	m := map[rune]int{}
	for i, r := range from {
		if _, ok := m[r]; !ok {
			m[r] = i
		}
	}
	var b strings.Builder
	for _, r := range text(a[2]) {
		i, ok := m[r]
		switch {
		case !ok:
			b.WriteRune(r)
		case len(to) == 0:
		case i < len(to):
			b.WriteRune(to[i])
		default:
			b.WriteRune(to[len(to)-1])
		}
	}
	return str(b.String())
}

// hash: https://learn.microsoft.com/kusto/query/hash-function
// (xxhash64 of the value; hash("World") is 1846988464401551951,
// hash("World", 100) 51, hash(datetime("2015-01-01"))
// 1380966698541616202). Strings hash their UTF-8 bytes, datetimes their
// .NET ticks as 8 little-endian bytes (both as the docs show); numbers,
// timespans and bools are taken the same way (8 bytes), and dynamic
// values by their JSON text: those forms are not documented.
func hash(_ *Ctx, a []value.Value) value.Value {
	v := a[0]
	if v.IsNull() && v.T != value.String {
		return nullLong
	}
	var b []byte
	le := func(u uint64) []byte {
		return []byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24), byte(u >> 32), byte(u >> 40), byte(u >> 48), byte(u >> 56)}
	}
	switch v.T {
	case value.DateTime:
		b = le(uint64(v.I/100 + unixEpochTicks))
	case value.TimeSpan:
		b = le(uint64(v.I / 100))
	case value.Int, value.Long, value.Bool:
		b = le(uint64(v.I))
	case value.Real, value.Decimal:
		b = le(math.Float64bits(v.F))
	default:
		b = []byte(text(v))
	}
	h := int64(xxh64(b))
	if len(a) > 1 {
		m, ok := intArg(a[1])
		if !ok || m <= 0 {
			return nullLong
		}
		r := uint64(h) % uint64(m)
		return long(int64(r))
	}
	return long(h)
}

const (
	p1 uint64 = 11400714785074694791
	p2 uint64 = 14029467366897019727
	p3 uint64 = 1609587929392839161
	p4 uint64 = 9650029242287828579
	p5 uint64 = 2870177450012600261
)

func xxRound(acc, in uint64) uint64 {
	acc += in * p2
	acc = bits.RotateLeft64(acc, 31)
	return acc * p1
}

func xxMerge(acc, v uint64) uint64 {
	acc ^= xxRound(0, v)
	return acc*p1 + p4
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func le32(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
}

// xxh64 is XXH64 with seed 0.
func xxh64(b []byte) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		var prime1 = p1
		v1, v2, v3, v4 := prime1+p2, p2, uint64(0), -prime1
		for len(b) >= 32 {
			v1 = xxRound(v1, le64(b[0:]))
			v2 = xxRound(v2, le64(b[8:]))
			v3 = xxRound(v3, le64(b[16:]))
			v4 = xxRound(v4, le64(b[24:]))
			b = b[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMerge(h, v1)
		h = xxMerge(h, v2)
		h = xxMerge(h, v3)
		h = xxMerge(h, v4)
	} else {
		h = p5
	}
	h += uint64(n)
	for len(b) >= 8 {
		h ^= xxRound(0, le64(b))
		h = bits.RotateLeft64(h, 27)*p1 + p4
		b = b[8:]
	}
	if len(b) >= 4 {
		h ^= le32(b) * p1
		h = bits.RotateLeft64(h, 23)*p2 + p3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * p5
		h = bits.RotateLeft64(h, 11) * p1
	}
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	h ^= h >> 32
	return h
}

// tohex: https://learn.microsoft.com/kusto/query/tohex-function
// (tohex(256) is "100", tohex(-546) "fffffffffffffdde", an int's
// two's complement is 32-bit: tohex(toint(-546)) "fffffdde").
func tohex(_ *Ctx, a []value.Value) value.Value {
	if a[0].IsNull() {
		return str("")
	}
	var s string
	if a[0].T == value.Int {
		s = strconv.FormatUint(uint64(uint32(int32(a[0].I))), 16)
	} else {
		s = strconv.FormatUint(uint64(a[0].I), 16)
	}
	if len(a) > 1 {
		if w, ok := intArg(a[1]); ok && w > int64(len(s)) && w <= 64 {
			s = strings.Repeat("0", int(w)-len(s)) + s
		}
	}
	return str(s)
}
