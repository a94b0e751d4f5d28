package fn

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"breakglass/internal/kql/value"
)

// kinds is a set of accepted argument types, one bit per value.Type.
type kinds uint16

func kindOf(ts ...value.Type) kinds {
	var k kinds
	for _, t := range ts {
		k |= 1 << t
	}
	return k
}

func (k kinds) has(t value.Type) bool { return k&(1<<t) != 0 }

func (k kinds) String() string {
	var names []string
	for t := value.Dynamic; t <= value.Guid; t++ {
		if k.has(t) {
			names = append(names, t.String())
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return "one of " + strings.Join(names, ", ")
}

// The argument kinds Microsoft's analyser checks. Most string parameters
// also take a dynamic (its text is used); a few (extract's source, the
// parse_* functions) take a string only.
var (
	kAny     = kinds(0xFFFF)
	kStr     = kindOf(value.String, value.Dynamic)
	kStrOnly = kindOf(value.String)
	kNum     = kindOf(value.Int, value.Long, value.Real, value.Decimal)
	kInt     = kindOf(value.Int, value.Long)
	kReal    = kindOf(value.Int, value.Long, value.Real)
	kBool    = kindOf(value.Bool)
	kDT      = kindOf(value.DateTime)
	kTS      = kindOf(value.TimeSpan)
	kDyn     = kindOf(value.Dynamic)
	kScalar  = kAny &^ kDyn
	kBinVal  = kNum | kindOf(value.DateTime, value.TimeSpan)
	kBinSize = kNum | kindOf(value.TimeSpan)
)

// check verifies args against ks; the last kind repeats for the rest of a
// variadic call.
func check(args []value.Type, ks ...kinds) error {
	for i, t := range args {
		if len(ks) == 0 {
			break
		}
		k := ks[len(ks)-1]
		if i < len(ks) {
			k = ks[i]
		}
		if !k.has(t) {
			return fmt.Errorf("argument %d: expected %s, got %s", i+1, k, t)
		}
	}
	return nil
}

// sig returns a Result that checks the argument kinds and gives ret.
func sig(ret value.Type, ks ...kinds) func([]value.Type) (value.Type, error) {
	return func(args []value.Type) (value.Type, error) {
		if err := check(args, ks...); err != nil {
			return ret, err
		}
		return ret, nil
	}
}

// numRank orders the numeric types by how Kusto widens them.
func numRank(t value.Type) int {
	switch t {
	case value.Int:
		return 1
	case value.Long:
		return 2
	case value.Real:
		return 3
	case value.Decimal:
		return 4
	}
	return 0
}

// common returns the type that values of all ts share, as iff and case
// type their branches: dynamic branches take the others' type, numbers
// widen (int, long, real, decimal), anything else mixed is dynamic
// (iff(c, "a", 1) is dynamic, iff(c, d, 1) long in Microsoft's analyser).
func common(ts []value.Type) value.Type {
	t, _ := unify(ts, true)
	return t
}

// unify is common; with looseDynamic false a dynamic mixed with another
// type, or two unrelated types, is an error (coalesce, min_of, max_of).
func unify(ts []value.Type, loose bool) (value.Type, bool) {
	out, have := value.Dynamic, false
	for _, t := range ts {
		switch {
		case t == value.Dynamic && loose:
		case !have:
			out, have = t, true
		case t == out:
		case numRank(t) > 0 && numRank(out) > 0:
			if numRank(t) > numRank(out) {
				out = t
			}
		default:
			return value.Dynamic, false
		}
	}
	if !loose && have && out != value.Dynamic {
		for _, t := range ts {
			if t == value.Dynamic {
				return value.Dynamic, false
			}
		}
	}
	return out, true
}

// castTo converts v to t the way Kusto carries a value into a wider
// column (iff and case branches, coalesce, min_of).
func castTo(v value.Value, t value.Type) value.Value {
	if v.T == t {
		return v
	}
	if v.IsNull() {
		return value.NullOf(t)
	}
	switch t {
	case value.Long:
		if i, ok := toLong(v); ok {
			return value.NewLong(i)
		}
	case value.Int:
		if i, ok := toLong(v); ok {
			return value.NewInt(int32(i))
		}
	case value.Real, value.Decimal:
		if f, ok := toReal(v); ok {
			return value.Value{T: t, F: f}
		}
	case value.Dynamic:
		return value.NewDynamic(v.Dynamic())
	case value.String:
		return value.NewString(v.String())
	}
	return value.NullOf(t)
}

// text returns the string a string parameter sees: a string's text, a
// dynamic's tostring, "" for null.
func text(v value.Value) string { return v.String() }

// regexCache holds compiled patterns: a query usually has a handful of
// constant patterns, but a pattern taken from a column could vary per row,
// so the cache is bounded and simply reset when full.
var regexCache = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

// netOnly lists .NET regex features that RE2 lacks; a pattern using one
// is refused with a clear error instead of silently matching differently.
var netOnly = []struct{ seq, what string }{
	{"(?=", "lookahead (?=...)"},
	{"(?!", "negative lookahead (?!...)"},
	{"(?<=", "lookbehind (?<=...)"},
	{"(?<!", "negative lookbehind (?<!...)"},
	{"(?>", "atomic group (?>...)"},
}

// compileRegex compiles a KQL regex (RE2 syntax, as Kusto documents).
func compileRegex(p string) (*regexp.Regexp, error) {
	regexCache.Lock()
	re, ok := regexCache.m[p]
	regexCache.Unlock()
	if ok {
		return re, nil
	}
	for _, n := range netOnly {
		if strings.Contains(p, n.seq) {
			return nil, fmt.Errorf("regex %q uses %s, a .NET feature RE2 (Kusto's regex engine) does not have", p, n.what)
		}
	}
	// .NET named groups (?<name>...) are RE2's (?P<name>...).
	q := convertNamedGroups(p)
	re, err := regexp.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", p, err)
	}
	regexCache.Lock()
	if len(regexCache.m) >= 512 {
		regexCache.m = map[string]*regexp.Regexp{}
	}
	regexCache.m[p] = re
	regexCache.Unlock()
	return re, nil
}

func convertNamedGroups(p string) string {
	if !strings.Contains(p, "(?<") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			b.WriteString(p[i : i+2])
			i++
			continue
		}
		if strings.HasPrefix(p[i:], "(?<") && i+3 < len(p) && p[i+3] != '=' && p[i+3] != '!' {
			b.WriteString("(?P<")
			i += 2
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// regexChecked makes a ResultConst that also compiles the constant
// pattern at argument pos, so a bad pattern or a .NET-only feature is a
// compile-time error naming it, not a rule that silently never matches.
// when, if set, says whether the call uses a regex at all (countof's
// kind).
func regexChecked(pos int, base func([]value.Type, []value.Value) (value.Type, error), when func([]value.Value) bool) func([]value.Type, []value.Value) (value.Type, error) {
	return func(args []value.Type, consts []value.Value) (value.Type, error) {
		t, err := base(args, consts)
		if err != nil {
			return t, err
		}
		if pos < len(consts) && consts[pos].T == value.String && (when == nil || when(consts)) {
			if err := CheckRegex(consts[pos].S); err != nil {
				return t, fmt.Errorf("argument %d: %w", pos+1, err)
			}
		}
		return t, nil
	}
}

func plain(f func([]value.Type) (value.Type, error)) func([]value.Type, []value.Value) (value.Type, error) {
	return func(args []value.Type, _ []value.Value) (value.Type, error) { return f(args) }
}

// CheckRegex reports whether a constant pattern compiles, for the engine's
// compile-time check of extract, matches regex, replace_regex and parse
// kind=regex (an error names the .NET-only feature when that is why).
func CheckRegex(p string) error {
	_, err := compileRegex(p)
	return err
}

// CompileRegex compiles a KQL (RE2) pattern through the shared bounded
// cache, for the engine's `matches regex` and `parse kind=regex`.
func CompileRegex(p string) (*regexp.Regexp, error) { return compileRegex(p) }

// maxOut bounds the size of a string or array a function builds from its
// input (strcat of huge values, repeat, ...): Kusto caps a string value at
// 1 MB by default; past that the result is truncated, never a crash.
const maxOut = 1 << 20

func str(s string) value.Value { return value.NewString(s) }

func long(i int64) value.Value { return value.NewLong(i) }

func boolean(b bool) value.Value { return value.NewBool(b) }

func real(f float64) value.Value { return value.NewReal(f) }

func dyn(x any) value.Value { return value.NewDynamic(x) }

var (
	nullLong = value.NullOf(value.Long)
	nullReal = value.NullOf(value.Real)
	nullBool = value.NullOf(value.Bool)
	nullDT   = value.NullOf(value.DateTime)
	nullTS   = value.NullOf(value.TimeSpan)
	nullDyn  = value.NullOf(value.Dynamic)
	nullInt  = value.NullOf(value.Int)
)

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
