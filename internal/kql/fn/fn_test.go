package fn

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/kql/value"
)

// Value constructors for the tables below.

func S(s string) value.Value  { return value.NewString(s) }
func L(i int64) value.Value   { return value.NewLong(i) }
func I(i int32) value.Value   { return value.NewInt(i) }
func R(f float64) value.Value { return value.NewReal(f) }
func B(b bool) value.Value    { return value.NewBool(b) }
func Y(json string) value.Value {
	v := value.ParseJSON(json)
	if v.D == json && json != `""` {
		panic("bad JSON in a test: " + json)
	}
	return v
}
func TS(s string) value.Value {
	d, ok := ParseTimeSpan(s)
	if !ok {
		panic("bad timespan in a test: " + s)
	}
	return value.NewTimeSpan(d)
}
func D(s string) value.Value {
	t, ok := ParseDateTime(s)
	if !ok {
		panic("bad datetime in a test: " + s)
	}
	return value.NewDateTime(t)
}
func N(t value.Type) value.Value { return value.NullOf(t) }

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// call runs a scalar the way the engine does: it checks the argument count
// and types first, then calls; the result must have the type Result gave.
func call(t *testing.T, name string, args ...value.Value) value.Value {
	t.Helper()
	f := Lookup(name)
	if f == nil {
		t.Fatalf("%s is not registered", name)
	}
	if len(args) < f.Min || f.Max >= 0 && len(args) > f.Max {
		t.Fatalf("%s takes %d..%d arguments, the test gives %d", name, f.Min, f.Max, len(args))
	}
	ts := make([]value.Type, len(args))
	for i, a := range args {
		ts[i] = a.T
	}
	want, err := f.ResultFor(ts, args)
	if err != nil {
		t.Fatalf("%s%v: %v", name, ts, err)
	}
	got := f.Call(&Ctx{Now: testNow}, args)
	if got.T != want {
		t.Errorf("%s: the result is a %s, Result says %s", name, got.T, want)
	}
	return got
}

// same compares two values as KQL results: type, nullness and content.
func same(a, b value.Value) bool {
	if a.T != b.T || a.IsNull() != b.IsNull() {
		return false
	}
	if a.IsNull() {
		return true
	}
	switch a.T {
	case value.Real, value.Decimal:
		return a.F == b.F || math.Abs(a.F-b.F) < 1e-9*math.Max(1, math.Abs(a.F)) || math.IsNaN(a.F) && math.IsNaN(b.F)
	case value.Dynamic:
		return value.JSON(a.D) == value.JSON(b.D)
	}
	return a.String() == b.String()
}

func show(v value.Value) string {
	if v.IsNull() && v.T != value.String {
		return v.T.String() + "(null)"
	}
	if v.T == value.Dynamic {
		return "dynamic(" + value.JSON(v.D) + ")"
	}
	return v.T.String() + "(" + v.String() + ")"
}

type scalarCase struct {
	doc  string // the Kusto documentation page the expectation comes from
	name string
	args []value.Value
	want value.Value
}

func a(vs ...value.Value) []value.Value { return vs }

const docs = "https://learn.microsoft.com/kusto/query/"

func runScalarCases(t *testing.T, cases []scalarCase) {
	t.Helper()
	for _, c := range cases {
		var parts []string
		for _, x := range c.args {
			parts = append(parts, show(x))
		}
		label := c.name + "(" + strings.Join(parts, ", ") + ")"
		t.Run(label, func(t *testing.T) {
			got := call(t, c.name, c.args...)
			if !same(got, c.want) {
				t.Errorf("%s = %s, want %s (%s%s)", label, show(got), show(c.want), docs, c.doc)
			}
		})
	}
}

func TestStringFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"strlen-function", "strlen", a(S("hello")), L(5)},
		{"strlen-function", "strlen", a(S("⒦⒰⒮⒯⒪")), L(5)},
		{"substring-function", "substring", a(S("123456"), L(1)), S("23456")},
		{"substring-function", "substring", a(S("123456"), L(2), L(2)), S("34")},
		{"substring-function", "substring", a(S("ABCD"), L(0), L(2)), S("AB")},
		{"substring-function", "substring", a(S("123456"), L(-2), L(2)), S("56")},
		{"substring-function", "substring", a(S("ABCD"), L(10), L(2)), S("")},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde")), L(2)},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde"), L(1), L(4)), L(2)},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde"), L(1), L(2)), L(-1)},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde"), L(3)), L(-1)},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde"), L(-5)), L(2)},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde"), L(3), L(4)), L(-1)},
		{"indexof-function", "indexof", a(S("ab"), S(""), L(0), L(-1), L(5)), L(-1)},
		{"indexof-function", "indexof", a(L(1234567), L(5), L(1), L(4)), L(4)},
		{"indexof-function", "indexof", a(S("abcdefg"), S("cde"), L(2), L(-1)), L(2)},
		{"indexof-function", "indexof", a(S("abcdefgabcdefg"), S("cde"), L(1), L(10), L(2)), L(9)},
		{"indexof-function", "indexof", a(S("abcdefgabcdefg"), S("cde"), L(1), L(-1), L(3)), L(-1)},
		{"split-function", "split", a(S("aa_bb"), S("_")), Y(`["aa","bb"]`)},
		{"split-function", "split", a(S("aaa_bbb_ccc"), S("_"), L(1)), Y(`["bbb"]`)},
		{"split-function", "split", a(S(""), S("_")), Y(`[""]`)},
		{"split-function", "split", a(S("a__b"), S("_")), Y(`["a","","b"]`)},
		{"split-function", "split", a(S("aabbcc"), S("bb")), Y(`["aa","cc"]`)},
		{"split-function", "split", a(S("a_b"), S("_"), L(5)), Y(`[]`)},
		{"strcat-function", "strcat", a(S("hello"), S(" "), S("world")), S("hello world")},
		{"strcat-function", "strcat", a(S("a"), L(1), N(value.Long)), S("a1")},
		{"strcat-delim-function", "strcat_delim", a(S("-"), L(1), S("2"), S("A"), TS("1s")), S("1-2-A-00:00:01")},
		{"strcat-array-function", "strcat_array", a(Y(`[1, 2, 3]`), S("->")), S("1->2->3")},
		{"replace-string-function", "replace_string", a(S("A magic trick can turn a cat into a dog"), S("cat"), S("hamster")), S("A magic trick can turn a hamster into a dog")},
		{"replace-regex-function", "replace_regex", a(S("Number is 1"), S(`is (\d+)`), S(`was: \1`)), S("Number was: 1")},
		{"replace-function", "replace", a(S(`is (\d+)`), S(`was: \1`), S("Number is 2")), S("Number was: 2")},
		{"extract-function", "extract", a(S("x=([0-9.]+)"), L(1), S("hello x=45.6|wo")), S("45.6")},
		{"extract-function", "extract", a(S("x=([0-9.]+)"), L(1), S("hello x=45.6|wo"), S("real")), R(45.6)},
		{"extract-function", "extract", a(S("x=([0-9.]+)"), L(0), S("hello x=45.6|wo")), S("x=45.6")},
		{"extract-function", "extract", a(S("x=([0-9.]+)"), L(1), S("no match")), S("")},
		{"extract-function", "extract", a(S("x=([a-z]+)"), L(1), S("x=abc"), S("long")), N(value.Long)},
		{"extract-function", "extract", a(S("x=(\\d+)"), L(2), S("x=1")), S("")},
		{"extract-all-function", "extract_all", a(S(`([\da-f]{2})`), S("82b8be2d-dfa7-4bd1-8f63-24ad26d31449")),
			Y(`["82","b8","be","2d","df","a7","4b","d1","8f","63","24","ad","26","d3","14","49"]`)},
		{"extract-all-function", "extract_all", a(S(`(\w)(\w+)(\w)`), S("82b8be2d-dfa7-4bd1-8f63-24ad26d31449")),
			Y(`[["8","2b8be2","d"],["d","fa","7"],["4","bd","1"],["8","f6","3"],["2","4ad26d3144","9"]]`)},
		{"extract-all-function", "extract_all", a(S(`(\w)(\w+)(\w)`), Y(`[1,3]`), S("82b8be2d-dfa7-4bd1-8f63-24ad26d31449")),
			Y(`[["8","d"],["d","7"],["4","1"],["8","3"],["2","9"]]`)},
		{"extract-all-function", "extract_all", a(S(`(\d+)`), S("none")), N(value.Dynamic)},
		{"trim-function", "trim", a(S("--"), S("--https://www.ex.com--")), S("https://www.ex.com")},
		{"trim-function", "trim", a(S(`[^\w]+`), S("- Te st1// $")), S("Te st1")},
		{"trim-start-function", "trim_start", a(S(`[^\w]+`), S("- Te st1// $")), S("Te st1// $")},
		{"trim-end-function", "trim_end", a(S(`[^\w]+`), S("- Te st1// $")), S("- Te st1")},
		{"trim-function", "trim", a(S(`\s`), S("   ")), S("")},
		{"countof-function", "countof", a(S("The cat sat on the mat"), S("at")), L(3)},
		{"countof-function", "countof", a(S("aaa"), S("a")), L(3)},
		{"countof-function", "countof", a(S("aaaa"), S("aa")), L(3)},
		{"countof-function", "countof", a(S("aaaa"), S("aa"), S("regex")), L(2)},
		{"countof-function", "countof", a(S("ababa"), S("ab"), S("normal")), L(2)},
		{"countof-function", "countof", a(S("ababa"), S("aba")), L(2)},
		{"countof-function", "countof", a(S("ababa"), S("aba"), S("regex")), L(1)},
		{"countof-function", "countof", a(S("abcabc"), S("a.c"), S("regex")), L(2)},
		{"reverse-function", "reverse", a(S("ADX")), S("XDA")},
		{"reverse-function", "reverse", a(L(123)), S("321")},
		{"tolower-function", "tolower", a(S("Hello")), S("hello")},
		{"toupper-function", "toupper", a(S("hello")), S("HELLO")},
		{"base64-encode-tostring-function", "base64_encode_tostring", a(S("Kusto1")), S("S3VzdG8x")},
		{"base64-decode-tostring-function", "base64_decode_tostring", a(S("S3VzdG8=")), S("Kusto")},
		{"base64-decode-tostring-function", "base64_decode_tostring", a(S("not base64!")), S("")},
		{"url-decode-function", "url_decode", a(S("https%3a%2f%2fwww.bing.com%2f")), S("https://www.bing.com/")},
		{"url-encode-function", "url_encode", a(S("https://www.bing.com/")), S("https%3A%2F%2Fwww.bing.com%2F")},
		{"hash-function", "hash", a(S("World")), L(1846988464401551951)},
		{"hash-function", "hash", a(S("World"), L(100)), L(51)},
		{"hash-function", "hash", a(D("2015-01-01")), L(1380966698541616202)},
		{"tohex-function", "tohex", a(L(256)), S("100")},
		{"tohex-function", "tohex", a(L(-256)), S("ffffffffffffff00")},
		{"tohex-function", "tohex", a(I(-256), L(8)), S("ffffff00")},
		{"tohex-function", "tohex", a(L(256), L(8)), S("00000100")},
		{"tohex-function", "tohex", a(L(256), L(2)), S("100")},
		{"translate-function", "translate", a(S("krasp"), S("otsku"), S("spark")), S("kusto")},
		{"translate-function", "translate", a(S("abc"), S("x"), S("abc")), S("xxx")},
		{"translate-function", "translate", a(S("abc"), S(""), S("ab")), S("")},
		{"isascii-function", "isascii", a(S("some string")), B(true)},
		{"isascii-function", "isascii", a(S("קוסטו")), B(false)},
		{"strrep-function", "strrep", a(S("ABC"), L(2)), S("ABCABC")},
		{"strrep-function", "strrep", a(L(123), L(3), S(".")), S("123.123.123")},
		{"strrep-function", "strrep", a(TS("3s"), L(2), S(" ")), S("00:00:03 00:00:03")},
	})
}

func TestConversionFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"tostring-function", "tostring", a(L(123)), S("123")},
		{"tostring-function", "tostring", a(N(value.Long)), S("")},
		{"tostring-function", "tostring", a(Y(`{"a":1}`)), S(`{"a":1}`)},
		{"tostring-function", "tostring", a(Y(`"text"`)), S("text")},
		{"toint-function", "toint", a(S("123")), I(123)},
		{"toint-function", "toint", a(R(2.9)), I(2)},
		{"toint-function", "toint", a(S("abc")), N(value.Int)},
		{"tolong-function", "tolong", a(S("123")), L(123)},
		{"tolong-function", "tolong", a(Y(`42`)), L(42)},
		{"todouble-function", "todouble", a(S("1.0")), R(1)},
		{"todouble-function", "todouble", a(S("x")), N(value.Real)},
		{"toreal-function", "toreal", a(L(5)), R(5)},
		{"tobool-function", "tobool", a(S("true")), B(true)},
		{"tobool-function", "tobool", a(S("FALSE")), B(false)},
		{"tobool-function", "tobool", a(L(1)), B(true)},
		{"tobool-function", "tobool", a(S("yes")), N(value.Bool)},
		{"todatetime-function", "todatetime", a(S("2015-12-24")), D("2015-12-24")},
		{"todatetime-function", "todatetime", a(S("2015-12-24T10:11:12.1234567Z")), D("2015-12-24 10:11:12.1234567")},
		{"todatetime-function", "todatetime", a(S("2024-02-03T04:05:06+02:00")), D("2024-02-03 02:05:06")},
		{"scalar-data-types/datetime", "todatetime", a(S("Sat, 8 Nov 2014 15:05:02 GMT")), D("2014-11-08 15:05:02")},
		{"scalar-data-types/datetime", "todatetime", a(S("Saturday, 08-Nov-14 15:05:02 GMT")), D("2014-11-08 15:05:02")},
		{"todatetime-function", "todatetime", a(S("2015-12-31 23:59:59.9")), D("2015-12-31T23:59:59.9Z")},
		{"todatetime-function", "todatetime", a(S("12-02-2022")), D("2022-12-02")},
		{"todatetime-function", "todatetime", a(S("not a date")), N(value.DateTime)},
		{"todatetime-function", "todatetime", a(S("2023-02-30")), N(value.DateTime)},
		// found by FuzzToDateTime: year 9999 wrapped around int64 nanoseconds
		{"scalar-data-types/datetime", "todatetime", a(S("9999-12-31T23:59:59.9999999Z")), N(value.DateTime)},
		{"totimespan-function", "totimespan", a(S("0.00:01:00")), TS("1m")},
		{"totimespan-function", "totimespan", a(S("1.02:03:04.5")), value.NewTimeSpan(26*time.Hour + 3*time.Minute + 4500*time.Millisecond)},
		{"totimespan-function", "totimespan", a(S("1d")), TS("24h")},
		{"totimespan-function", "totimespan", a(S("x")), N(value.TimeSpan)},
		{"toguid-function", "toguid", a(S("74be27de-1e4e-49d9-b579-fe0b331d3642")), func() value.Value {
			g, _ := value.NewGuid("74be27de-1e4e-49d9-b579-fe0b331d3642")
			return g
		}()},
		{"toguid-function", "toguid", a(S("nope")), N(value.Guid)},
		{"parse-json-function", "parse_json", a(S(`{"a":123, "b":[1,"x"]}`)), Y(`{"a":123,"b":[1,"x"]}`)},
		{"parse-json-function", "parse_json", a(S("not json")), value.NewDynamic("not json")},
		{"parse-json-function", "todynamic", a(Y(`{"a":1}`)), Y(`{"a":1}`)},
		{"parse-json-function", "parse_json", a(Y(`"{\"a\":1}"`)), Y(`{"a":1}`)},
		{"isempty-function", "isempty", a(S("")), B(true)},
		{"isempty-function", "isempty", a(N(value.Long)), B(true)},
		{"isempty-function", "isempty", a(L(0)), B(false)},
		{"isnotempty-function", "isnotempty", a(S("a")), B(true)},
		{"isnull-function", "isnull", a(N(value.Long)), B(true)},
		{"isnull-function", "isnull", a(S("")), B(false)},
		{"isnull-function", "isnull", a(Y(`null`)), B(true)},
		{"isnotnull-function", "isnotnull", a(L(1)), B(true)},
		{"gettype-function", "gettype", a(S("a")), S("string")},
		{"gettype-function", "gettype", a(L(111)), S("long")},
		{"gettype-function", "gettype", a(Y(`{"abc":1}`)), S("dictionary")},
		{"gettype-function", "gettype", a(Y(`[1,2,3]`)), S("array")},
		{"gettype-function", "gettype", a(R(123.45)), S("real")},
		{"gettype-function", "gettype", a(Y(`1`)), S("int")},
		{"gettype-function", "gettype", a(call(t, "parse_json", S(""))), S("null")},
		{"totimespan-function", "totimespan", a(S("0.00:03:00")), TS("3m")},
		{"totimespan-function", "totimespan", a(TS("4d")), TS("4d")},
	})
}

// TestDatetimeFormats reads every example of the formats the docs list
// for datetime literals and todatetime
// (https://learn.microsoft.com/kusto/query/scalar-data-types/datetime).
func TestDatetimeFormats(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2014-05-25T08:20:03.123456Z", "2014-05-25T08:20:03.1234560Z"},
		{"2014-05-25T08:20:03.123456", "2014-05-25T08:20:03.1234560Z"},
		{"2014-05-25T08:20", "2014-05-25T08:20:00.0000000Z"},
		{"2014-11-08 15:55:55.123456Z", "2014-11-08T15:55:55.1234560Z"},
		{"2014-11-08 15:55:55", "2014-11-08T15:55:55.0000000Z"},
		{"2014-11-08 15:55", "2014-11-08T15:55:00.0000000Z"},
		{"2014-11-08", "2014-11-08T00:00:00.0000000Z"},
		{"Sat, 8 Nov 14 15:05:02 GMT", "2014-11-08T15:05:02.0000000Z"},
		{"Sat, 8 Nov 14 15:05:02", "2014-11-08T15:05:02.0000000Z"},
		{"Sat, 8 Nov 14 15:05", "2014-11-08T15:05:00.0000000Z"},
		{"Sat, 8 Nov 14 15:05 GMT", "2014-11-08T15:05:00.0000000Z"},
		{"8 Nov 14 15:05:02 GMT", "2014-11-08T15:05:02.0000000Z"},
		{"8 Nov 14 15:05:02", "2014-11-08T15:05:02.0000000Z"},
		{"8 Nov 14 15:05", "2014-11-08T15:05:00.0000000Z"},
		{"8 Nov 14 15:05 GMT", "2014-11-08T15:05:00.0000000Z"},
		{"Saturday, 08-Nov-14 15:05:02 GMT", "2014-11-08T15:05:02.0000000Z"},
		{"Saturday, 08-Nov-14 15:05:02", "2014-11-08T15:05:02.0000000Z"},
		{"Saturday, 08-Nov-14 15:05 GMT", "2014-11-08T15:05:00.0000000Z"},
		{"Saturday, 08-Nov-14 15:05", "2014-11-08T15:05:00.0000000Z"},
		{"08-Nov-14 15:05:02 GMT", "2014-11-08T15:05:02.0000000Z"},
		{"08-Nov-14 15:05:02", "2014-11-08T15:05:02.0000000Z"},
		{"08-Nov-14 15:05 GMT", "2014-11-08T15:05:00.0000000Z"},
		{"08-Nov-14 15:05", "2014-11-08T15:05:00.0000000Z"},
		{"2014-11-08 15:05:25", "2014-11-08T15:05:25.0000000Z"},
		{"2014-11-08 15:05:25 GMT", "2014-11-08T15:05:25.0000000Z"},
		{"2014-11-08 15:05", "2014-11-08T15:05:00.0000000Z"},
		{"2014-11-08 15:05 GMT", "2014-11-08T15:05:00.0000000Z"},
		{"2014-11-08T15:05:25", "2014-11-08T15:05:25.0000000Z"},
		{"2014-11-08T15:05:25 GMT", "2014-11-08T15:05:25.0000000Z"},
		{"2014-11-08T15:05", "2014-11-08T15:05:00.0000000Z"},
		{"2014-11-08T15:05 GMT", "2014-11-08T15:05:00.0000000Z"},
	} {
		if got := call(t, "todatetime", S(c.in)).String(); got != c.want {
			t.Errorf("todatetime(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDatetimeFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"ago-function", "ago", a(TS("1h")), value.NewDateTime(testNow.Add(-time.Hour))},
		{"ago-function", "ago", a(TS("-1d")), value.NewDateTime(testNow.Add(24 * time.Hour))},
		{"now-function", "now", nil, value.NewDateTime(testNow)},
		{"now-function", "now", a(TS("-2d")), value.NewDateTime(testNow.Add(-48 * time.Hour))},
		{"datetime-add-function", "datetime_add", a(S("year"), L(1), D("2017-01-01")), D("2018-01-01")},
		{"datetime-add-function", "datetime_add", a(S("quarter"), L(1), D("2017-01-01")), D("2017-04-01")},
		{"datetime-add-function", "datetime_add", a(S("month"), L(1), D("2017-01-01")), D("2017-02-01")},
		{"datetime-add-function", "datetime_add", a(S("week"), L(1), D("2017-01-01")), D("2017-01-08")},
		{"datetime-add-function", "datetime_add", a(S("day"), L(1), D("2017-01-01")), D("2017-01-02")},
		{"datetime-add-function", "datetime_add", a(S("hour"), L(1), D("2017-01-01")), D("2017-01-01 01:00")},
		{"datetime-add-function", "datetime_add", a(S("minute"), L(1), D("2017-01-01")), D("2017-01-01 00:01")},
		{"datetime-add-function", "datetime_add", a(S("second"), L(1), D("2017-01-01")), D("2017-01-01 00:00:01")},
		{"datetime-add-function", "datetime_add", a(S("year"), L(-5), D("2017-01-01")), D("2012-01-01")},
		{"datetime-add-function", "datetime_add", a(S("quarter"), L(12), D("2017-01-01")), D("2020-01-01")},
		{"datetime-add-function", "datetime_add", a(S("month"), L(-15), D("2017-01-01")), D("2015-10-01")},
		{"datetime-add-function", "datetime_add", a(S("week"), L(100), D("2017-01-01")), D("2018-12-02")},
		{"datetime-add-function", "datetime_add", a(S("month"), L(1), D("2017-01-31")), D("2017-02-28")},
		{"datetime-diff-function", "datetime_diff", a(S("year"), D("2017-01-01"), D("2000-12-31")), L(17)},
		{"datetime-diff-function", "datetime_diff", a(S("quarter"), D("2017-07-01"), D("2017-03-30")), L(2)},
		{"datetime-diff-function", "datetime_diff", a(S("month"), D("2017-01-01"), D("2015-12-30")), L(13)},
		{"datetime-diff-function", "datetime_diff", a(S("week"), D("2017-10-29 00:00"), D("2017-09-30 23:59")), L(5)},
		{"datetime-diff-function", "datetime_diff", a(S("day"), D("2017-10-29 00:00"), D("2017-09-30 23:59")), L(29)},
		{"datetime-diff-function", "datetime_diff", a(S("hour"), D("2017-10-31 01:00"), D("2017-10-30 23:59")), L(2)},
		{"datetime-diff-function", "datetime_diff", a(S("minute"), D("2017-10-30 23:05:01"), D("2017-10-30 23:00:59")), L(5)},
		{"datetime-diff-function", "datetime_diff", a(S("second"), D("2017-10-30 23:00:10.100"), D("2017-10-30 23:00:00.900")), L(10)},
		{"datetime-diff-function", "datetime_diff", a(S("millisecond"), D("2017-10-30 23:00:00.200100"), D("2017-10-30 23:00:00.100900")), L(100)},
		{"datetime-diff-function", "datetime_diff", a(S("day"), D("2017-09-30"), D("2017-10-29")), L(-29)},
		{"datetime-diff-function", "datetime_diff", a(S("microsecond"), D("2017-10-30 23:00:00.1009001"), D("2017-10-30 23:00:00.1008009")), L(100)},
		{"datetime-diff-function", "datetime_diff", a(S("nanosecond"), D("2017-10-30 23:00:00.0000000"), D("2017-10-30 23:00:00.0000007")), L(-700)},
		{"datetime-part-function", "datetime_part", a(S("Year"), D("2017-10-30 01:02:03.7654321")), I(2017)},
		{"datetime-part-function", "datetime_part", a(S("Quarter"), D("2017-10-30 01:02:03.7654321")), I(4)},
		{"datetime-part-function", "datetime_part", a(S("Month"), D("2017-10-30 01:02:03.7654321")), I(10)},
		{"datetime-part-function", "datetime_part", a(S("week_of_year"), D("2017-10-30 01:02:03.7654321")), I(44)},
		{"datetime-part-function", "datetime_part", a(S("Day"), D("2017-10-30 01:02:03.7654321")), I(30)},
		{"datetime-part-function", "datetime_part", a(S("DayOfYear"), D("2017-10-30 01:02:03.7654321")), I(303)},
		{"datetime-part-function", "datetime_part", a(S("Hour"), D("2017-10-30 01:02:03.7654321")), I(1)},
		{"datetime-part-function", "datetime_part", a(S("Minute"), D("2017-10-30 01:02:03.7654321")), I(2)},
		{"datetime-part-function", "datetime_part", a(S("Second"), D("2017-10-30 01:02:03.7654321")), I(3)},
		{"datetime-part-function", "datetime_part", a(S("Millisecond"), D("2017-10-30 01:02:03.7654321")), I(765)},
		{"datetime-part-function", "datetime_part", a(S("Microsecond"), D("2017-10-30 01:02:03.7654321")), I(765432)},
		{"datetime-part-function", "datetime_part", a(S("Nanosecond"), D("2017-10-30 01:02:03.7654321")), I(765432100)},
		{"startofday-function", "startofday", a(D("2017-01-01 10:10:17")), D("2017-01-01")},
		{"startofday-function", "startofday", a(D("2017-01-01 10:10:17"), L(-1)), D("2016-12-31")},
		{"startofday-function", "startofday", a(D("2017-01-01 10:10:17"), L(1)), D("2017-01-02")},
		{"startofweek-function", "startofweek", a(D("2017-01-01 10:10:17"), L(1)), D("2017-01-08")},
		{"startofweek-function", "startofweek", a(D("2017-01-01 10:10:17"), L(-1)), D("2016-12-25")},
		{"startofweek-function", "startofweek", a(D("2017-01-01 10:10:17"), L(0)), D("2017-01-01")},
		{"startofweek-function", "startofweek", a(D("2017-01-04 10:10:17")), D("2017-01-01")},
		{"startofmonth-function", "startofmonth", a(D("2017-01-01 10:10:17"), L(-1)), D("2016-12-01")},
		{"startofyear-function", "startofyear", a(D("2017-01-01 10:10:17"), L(-1)), D("2016-01-01")},
		{"endofday-function", "endofday", a(D("2017-01-01 10:10:17"), L(-1)), D("2016-12-31 23:59:59.9999999")},
		{"endofday-function", "endofday", a(D("2017-01-01 10:10:17")), D("2017-01-01 23:59:59.9999999")},
		{"endofday-function", "endofday", a(D("2017-01-01 10:10:17"), L(1)), D("2017-01-02 23:59:59.9999999")},
		{"endofweek-function", "endofweek", a(D("2017-01-01 10:10:17")), D("2017-01-07 23:59:59.9999999")},
		{"endofmonth-function", "endofmonth", a(D("2017-01-01 10:10:17"), L(1)), D("2017-02-28 23:59:59.9999999")},
		{"endofyear-function", "endofyear", a(D("2017-01-01 10:10:17")), D("2017-12-31 23:59:59.9999999")},
		{"dayofweek-function", "dayofweek", a(D("1947-11-30 10:00:05")), TS("0d")},
		{"dayofweek-function", "dayofweek", a(D("1970-05-11")), TS("1d")},
		{"dayofweek-function", "dayofweek", a(N(value.DateTime)), N(value.TimeSpan)},
		{"dayofmonth-function", "dayofmonth", a(D("2015-12-14")), I(14)},
		{"dayofyear-function", "dayofyear", a(D("2015-12-14")), I(348)},
		{"hourofday-function", "hourofday", a(D("2015-12-14 18:54")), I(18)},
		{"getmonth-function", "getmonth", a(D("2015-10-12")), I(10)},
		{"getyear-function", "getyear", a(D("2015-10-12")), I(2015)},
		{"week-of-year-function", "week_of_year", a(D("2020-12-31")), I(53)},
		{"week-of-year-function", "week_of_year", a(D("2020-06-15")), I(25)},
		{"week-of-year-function", "week_of_year", a(D("1970-01-01")), I(1)},
		{"week-of-year-function", "week_of_year", a(D("2000-01-01")), I(52)},
		{"make-datetime-function", "make_datetime", a(L(2017), L(10), L(1)), D("2017-10-01")},
		{"make-datetime-function", "make_datetime", a(L(2017), L(10), L(1), L(12), L(10)), D("2017-10-01 12:10")},
		{"make-datetime-function", "make_datetime", a(L(2017), L(10), L(1), L(12), L(11), R(0.1234567)), D("2017-10-01 12:11:00.1234567")},
		{"make-datetime-function", "make_datetime", a(L(2017), L(2), L(30)), N(value.DateTime)},
		{"make-timespan-function", "make_timespan", a(L(1), L(12), L(30), L(55)), TS("1.12:30:55")},
		{"unixtime-seconds-todatetime-function", "unixtime_seconds_todatetime", a(L(1546300800)), D("2019-01-01")},
		{"unixtime-milliseconds-todatetime-function", "unixtime_milliseconds_todatetime", a(L(1546300800123)), D("2019-01-01 00:00:00.123")},
		{"unixtime-microseconds-todatetime-function", "unixtime_microseconds_todatetime", a(L(1546300800123456)), D("2019-01-01 00:00:00.123456")},
		{"unixtime-nanoseconds-todatetime-function", "unixtime_nanoseconds_todatetime", a(L(1546300800123456700)), D("2019-01-01 00:00:00.1234567")},
		{"format-datetime-function", "format_datetime", a(D("2017-01-29 09:00:05"), S("yy-MM-dd [HH:mm:ss]")), S("17-01-29 [09:00:05]")},
		{"format-datetime-function", "format_datetime", a(D("2017-01-29 09:00:05"), S("yyyy-M-dd [H:mm:ss]")), S("2017-1-29 [9:00:05]")},
		{"format-datetime-function", "format_datetime", a(D("2017-01-29 09:00:05"), S("yy-MM-dd [hh:mm:ss tt]")), S("17-01-29 [09:00:05 AM]")},
		{"format-datetime-function", "format_datetime", a(D("2015-12-14 02:03:04.12345"), S("y-M-d h:m:s.fffffff")), S("15-12-14 2:3:4.1234500")},
		{"format-datetime-function", "format_datetime", a(D("2015-12-14 02:03:04.12345"), S("yyyy-MM-dd HH:mm:ss.FFFFFFF")), S("2015-12-14 02:03:04.12345")},
		{"format-datetime-function", "format_datetime", a(N(value.DateTime), S("yyyy")), S("")},
		{"format-timespan-function", "format_timespan", a(TS("14.02:03:04.12345"), S("h:m:s.fffffff")), S("2:3:4.1234500")},
		{"format-timespan-function", "format_timespan", a(TS("14.02:03:04.12345"), S("hh:mm:ss.FF")), S("02:03:04.12")},
		{"format-timespan-function", "format_timespan", a(TS("14.02:03:04.12345"), S("ddd.h:mm:ss [fffffff]")), S("014.2:03:04 [1234500]")},
		{"format-timespan-function", "format_timespan", a(TS("29.09:00:05.12345"), S("dd.hh:mm:ss:FF")), S("29.09:00:05:12")},
	})
}

func TestMathFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"bin-function", "bin", a(R(4.5), L(1)), R(4)},
		{"bin-function", "bin", a(L(4), L(2)), L(4)},
		{"bin-function", "bin", a(L(5), L(2)), L(4)},
		{"bin-function", "bin", a(R(-4.5), L(1)), R(-5)},
		{"bin-function", "bin", a(L(-5), L(2)), L(-6)},
		{"bin-function", "bin", a(TS("16d"), TS("7d")), TS("14d")},
		{"bin-function", "bin", a(D("1970-05-11 13:45:07"), TS("1d")), D("1970-05-11")},
		{"bin-function", "bin", a(D("2024-01-03 10:00"), TS("7d")), D("2024-01-01")}, // bins of 7d start on Mondays (from 0001-01-01)
		{"bin-function", "bin", a(D("1960-01-01 10:00"), TS("1h")), D("1960-01-01 10:00")},
		{"bin-function", "bin", a(N(value.Long), L(1)), N(value.Long)},
		{"bin-function", "bin", a(L(4), N(value.Long)), N(value.Long)},
		{"bin-function", "bin", a(L(4), L(-1)), N(value.Long)},
		{"bin-function", "bin", a(R(4), R(0)), N(value.Real)},
		{"bin-function", "floor", a(R(4.5), L(1)), R(4)},
		{"bin-at-function", "bin_at", a(R(6.5), R(2.5), R(7)), R(4.5)},
		{"bin-at-function", "bin_at", a(TS("1h"), TS("1d"), TS("12h")), TS("-12h")},
		{"bin-at-function", "bin_at", a(D("2017-05-15 10:20:00.0"), TS("1d"), D("1970-01-01 12:00:00.0")), D("2017-05-14 12:00:00.0")},
		{"bin-at-function", "bin_at", a(D("2017-05-17 10:20:00.0"), TS("7d"), D("2017-06-04 00:00:00.0")), D("2017-05-14 00:00:00.0")},
		{"round-function", "round", a(R(2.98765), L(3)), R(2.988)},
		{"round-function", "round", a(R(2.15), L(1)), R(2.2)},
		{"round-function", "round", a(R(2.15)), R(2)},
		{"round-function", "round", a(R(-50.55), L(-2)), R(-100)},
		{"round-function", "round", a(R(21.5), L(-1)), R(20)},
		{"round-function", "round", a(R(2.5)), R(3)},
		{"abs-function", "abs", a(L(-5)), L(5)},
		{"abs-function", "abs", a(I(-5)), L(5)},
		{"abs-function", "abs", a(TS("-1h")), TS("1h")},
		{"ceiling-function", "ceiling", a(R(-1.1)), R(-1)},
		{"ceiling-function", "ceiling", a(R(0.9)), R(1)},
		{"ceiling-function", "ceiling", a(L(3)), L(3)},
		{"log-function", "log", a(L(1)), R(0)},
		{"log-function", "log", a(L(-1)), R(math.NaN())},
		{"log10-function", "log10", a(L(100)), R(2)},
		{"log2-function", "log2", a(L(8)), R(3)},
		{"exp-function", "exp", a(L(0)), R(1)},
		{"exp10-function", "exp10", a(L(2)), R(100)},
		{"pow-function", "pow", a(L(2), L(3)), R(8)},
		{"sqrt-function", "sqrt", a(L(4)), R(2)},
		{"sqrt-function", "sqrt", a(N(value.Long)), N(value.Real)},
		{"sign-function", "sign", a(L(-42)), R(-1)},
		{"binary-and-function", "binary_and", a(L(6), L(3)), L(2)},
		{"binary-shift-left-function", "binary_shift_left", a(L(1), L(2)), L(4)},
	})
}

func TestConditionalFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"iff-function", "iff", a(B(true), S("a"), S("b")), S("a")},
		{"iff-function", "iff", a(B(false), S("a"), S("b")), S("b")},
		{"iff-function", "iff", a(N(value.Bool), S("a"), S("b")), S("b")},
		{"iff-function", "iif", a(B(true), L(1), R(2.5)), R(1)},
		{"iff-function", "iff", a(B(true), Y(`1`), L(2)), L(1)},
		{"case-function", "case", a(B(false), L(1), B(true), L(2), L(3)), L(2)},
		{"case-function", "case", a(B(false), L(1), N(value.Bool), L(2), L(3)), L(3)},
		{"coalesce-function", "coalesce", a(N(value.Long), L(42), L(33)), L(42)},
		{"coalesce-function", "coalesce", a(S(""), S("x")), S("x")},
		{"coalesce-function", "coalesce", a(N(value.Long), N(value.Long)), N(value.Long)},
		{"min-of-function", "min_of", a(L(10), L(1), L(-3), L(17)), L(-3)},
		{"max-of-function", "max_of", a(L(10), L(1), L(-3), L(17)), L(17)},
		{"max-of-function", "max_of", a(N(value.Long), L(5)), L(5)},
		{"max-of-function", "max_of", a(L(1), R(2.5)), R(2.5)},
		{"max-of-function", "max_of", a(D("2024-01-01"), D("2023-01-01")), D("2024-01-01")},
		{"not-function", "not", a(B(false)), B(true)},
		{"not-function", "not", a(N(value.Bool)), N(value.Bool)},
	})
}

func TestDynamicFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"array-length-function", "array_length", a(Y(`[1, 2, 3, "four"]`)), L(4)},
		{"array-length-function", "array_length", a(Y(`[]`)), L(0)},
		{"array-length-function", "array_length", a(Y(`{"a":1}`)), N(value.Long)},
		{"array-length-function", "array_length", a(value.NewDynamic("text")), N(value.Long)},
		{"array-length-function", "array_length", a(N(value.Dynamic)), N(value.Long)},
		{"pack-function", "pack", a(S("Level"), S("Information"), S("ProcessID"), L(1234), S("Data"), Y(`["url", "https://bing.com"]`)),
			Y(`{"Level":"Information","ProcessID":1234,"Data":["url","https://bing.com"]}`)},
		{"pack-function", "bag_pack", a(S("t"), D("2024-01-02 03:04:05")), Y(`{"t":"2024-01-02T03:04:05.0000000Z"}`)},
		{"pack-array-function", "pack_array", a(L(1), S("x"), N(value.Long)), Y(`[1,"x",null]`)},
		{"pack-array-function", "pack_array", a(L(1), S("2"), TS("2s")), Y(`[1,"2","00:00:02"]`)},
		{"bag-keys-function", "bag_keys", a(Y(`{"a":"b","c":{"d":1}}`)), Y(`["a","c"]`)},
		{"bag-keys-function", "bag_keys", a(Y(`[1]`)), N(value.Dynamic)},
		{"bag-has-key-function", "bag_has_key", a(Y(`{"a":1}`), S("a")), B(true)},
		{"bag-merge-function", "bag_merge", a(Y(`{"A1":12,"B1":2,"C1":3}`), Y(`{"A2":81,"B2":82,"A1":1}`)), Y(`{"A1":12,"B1":2,"C1":3,"A2":81,"B2":82}`)},
		{"bag-remove-keys-function", "bag_remove_keys", a(Y(`{"A":1,"B":2}`), Y(`["B"]`)), Y(`{"A":1}`)},
		{"array-concat-function", "array_concat", a(Y(`[1,2]`), Y(`[3]`)), Y(`[1,2,3]`)},
		{"array-concat-function", "array_concat", a(Y(`[1,2]`), Y(`{"a":1}`)), N(value.Dynamic)},
		{"set-union-function", "set_union", a(Y(`[1,2,3]`), Y(`[3,4]`), Y(`[5,1]`)), Y(`[1,2,3,4,5]`)},
		{"set-union-function", "set_union", a(Y(`[1,2,1,4]`), Y(`[1,2]`), Y(`[8]`)), Y(`[1,2,4,8]`)},
		{"set-union-function", "set_union", a(Y(`["A4","A2","A7","A2"]`), Y(`["A4","A2","A7","A2"]`)), Y(`["A4","A2","A7"]`)},
		{"set-intersect-function", "set_intersect", a(Y(`[1,2,1,4]`), Y(`[1,2]`), Y(`[8,1]`)), Y(`[1]`)},
		{"set-intersect-function", "set_intersect", a(Y(`[1,2,3]`), Y(`[4,5]`)), Y(`[]`)},
		{"set-difference-function", "set_difference", a(Y(`[1,2,1,4]`), Y(`[1,2]`), Y(`[1,2,8]`)), Y(`[4]`)},
		{"set-difference-function", "set_difference", a(Y(`[1,2,3]`), Y(`[1,2,3]`)), Y(`[]`)},
		{"set-intersect-function", "set_intersect", a(Y(`[1,2,3]`), Y(`[3,4,1]`)), Y(`[1,3]`)},
		{"set-difference-function", "set_difference", a(Y(`[1,2,3]`), Y(`[1,2]`)), Y(`[3]`)},
		{"set-difference-function", "set_difference", a(Y(`[1,2,3,3]`), Y(`[]`)), Y(`[1,2,3]`)},
		{"set-has-element-function", "set_has_element", a(Y(`["this","is","an","example"]`), S("example")), B(true)},
		{"set-has-element-function", "set_has_element", a(Y(`["this","is","an","example"]`), S("test")), B(false)},
		{"set-has-element-function", "set_has_element", a(Y(`[1,2]`), S("1")), B(false)},
		{"array-index-of-function", "array_index_of", a(Y(`["this","is","an","example"]`), S("example")), L(3)},
		{"array-index-of-function", "array_index_of", a(Y(`["this","is","an","example"]`), S("is"), L(2)), L(-1)},
		{"array-index-of-function", "array_index_of", a(Y(`[1,2,3]`), L(4)), L(-1)},
		{"array-slice-function", "array_slice", a(Y(`[1,2,3,4,5]`), L(1), L(3)), Y(`[2,3,4]`)},
		{"array-slice-function", "array_slice", a(Y(`[1,2,3]`), L(1), L(2)), Y(`[2,3]`)},
		{"array-slice-function", "array_slice", a(Y(`[1,2,3,4,5]`), L(-3), L(-2)), Y(`[3,4]`)},
		{"array-slice-function", "array_slice", a(Y(`[1,2,3,4,5]`), L(2), L(-1)), Y(`[3,4,5]`)},
		{"array-slice-function", "array_slice", a(Y(`[1,2,3,4,5]`), L(3), L(1)), Y(`[]`)},
		{"array-reverse-function", "array_reverse", a(Y(`["this","is","an","example"]`)), Y(`["example","an","is","this"]`)},
		{"array-sort-asc-function", "array_sort_asc", a(Y(`[5,null,3,1]`)), Y(`[1,3,5,null]`)},
		{"array-sort-desc-function", "array_sort_desc", a(Y(`["b","a","c"]`), B(false)), Y(`["c","b","a"]`)},
		{"array-sum-function", "array_sum", a(Y(`[1,2,3.5]`)), R(6.5)},
		{"range-function", "range", a(L(1), L(8), L(3)), Y(`[1,4,7]`)},
		{"range-function", "range", a(L(1), L(3)), Y(`[1,2,3]`)},
		{"range-function", "range", a(TS("1h"), TS("5h")), Y(`["01:00:00","02:00:00","03:00:00","04:00:00","05:00:00"]`)},
		{"range-function", "range", a(D("2007-01-01"), D("2007-01-03"), TS("1d")), Y(`["2007-01-01T00:00:00.0000000Z","2007-01-02T00:00:00.0000000Z","2007-01-03T00:00:00.0000000Z"]`)},
		{"range-function", "range", a(R(0.5), L(2)), Y(`[0.5,1.5]`)},
		{"range-function", "range", a(L(5), L(1)), Y(`[]`)},
		{"range-function", "range", a(L(5), L(1), L(-2)), Y(`[5,3,1]`)},
		{"range-function", "range", a(L(1), L(5), L(0)), N(value.Dynamic)},
		{"zip-function", "zip", a(Y(`[1,3,5]`), Y(`[2,4,6]`)), Y(`[[1,2],[3,4],[5,6]]`)},
		{"zip-function", "zip", a(Y(`[1,3,5]`), Y(`[2,4]`)), Y(`[[1,2],[3,4],[5,null]]`)},
		{"parse-url-function", "parse_url", a(S("scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment")),
			Y(`{"Scheme":"scheme","Host":"host","Port":"1234","Path":"this/is/a/path","Username":"username","Password":"password","Query Parameters":{"k1":"v1","k2":"v2"},"Fragment":"fragment"}`)},
		{"parse-url-function", "parse_url", a(S("not a url")),
			Y(`{"Scheme":"","Host":"","Port":"","Path":"","Username":"","Password":"","Query Parameters":{},"Fragment":""}`)},
		{"parse-urlquery-function", "parse_urlquery", a(S("k1=v1&k2=v2&k3=v3")), Y(`{"Query Parameters":{"k1":"v1","k2":"v2","k3":"v3"}}`)},
		{"parse-path-function", "parse_path", a(S(`C:\temp\file.txt`)),
			Y(`{"Scheme":"","RootPath":"C:","DirectoryPath":"C:\\temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}`)},
		{"parse-path-function", "parse_path", a(S(`temp\file.txt`)),
			Y(`{"Scheme":"","RootPath":"","DirectoryPath":"temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}`)},
		{"parse-path-function", "parse_path", a(S(`\\shared\users\temp\file.txt.gz`)),
			Y(`{"Scheme":"","RootPath":"","DirectoryPath":"\\\\shared\\users\\temp","DirectoryName":"temp","Filename":"file.txt.gz","Extension":"gz","AlternateDataStreamName":""}`)},
		{"parse-path-function", "parse_path", a(S(`/usr/lib/temp/file.txt`)),
			Y(`{"Scheme":"","RootPath":"","DirectoryPath":"/usr/lib/temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":""}`)},
		{"parse-path-function", "parse_path", a(S(`file://C:/temp/file.txt:some.exe`)),
			Y(`{"Scheme":"file","RootPath":"C:","DirectoryPath":"C:/temp","DirectoryName":"temp","Filename":"file.txt","Extension":"txt","AlternateDataStreamName":"some.exe"}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e/>`)), Y(`{"e":null}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e>text</e>`)), Y(`{"e":"text"}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e name="value" />`)), Y(`{"e":{"@name":"value"}}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e name="value">text</e>`)), Y(`{"e":{"@name":"value","#text":"text"}}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e> <a>text</a> <b>text</b> </e>`)), Y(`{"e":{"a":"text","b":"text"}}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e> <a>text</a> <a>text</a> </e>`)), Y(`{"e":{"a":["text","text"]}}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e> text <a>text</a> </e>`)), Y(`{"e":{"#text":"text","a":"text"}}`)},
		{"parse-xml-function", "parse_xml", a(S("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<duration>\n<value>118.0</value>\n<count>5.0</count>\n<min>100.0</min>\n</duration>")),
			Y(`{"duration":{"value":118.0,"count":5.0,"min":100.0}}`)},
		{"parse-xml-function", "parse_xml", a(S(`<e><a></e>`)), N(value.Dynamic)},
		{"parse-xml-function", "parse_xml", a(S(`not xml`)), N(value.Dynamic)},
		{"extract-json-function", "extract_json", a(S("$.hosts[1].AvailableMB"), S(`{"hosts":[{"AvailableMB":"5"},{"AvailableMB":"6"}]}`), S("int")), I(6)},
		{"extract-json-function", "extractjson", a(S("$.a.b"), S(`{"a":{"b":"x"}}`)), S("x")},
	})
}

func TestMoreFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"strcmp-function", "strcmp", a(S("ABC"), S("ABC")), L(0)},
		{"strcmp-function", "strcmp", a(S("abc"), S("ABC")), L(1)},
		{"strcmp-function", "strcmp", a(S("ABC"), S("abc")), L(-1)},
		{"strcmp-function", "strcmp", a(S("abcde"), S("abc")), L(1)},
		{"indexof-regex-function", "indexof_regex", a(S("abcabc"), S("a.c")), L(0)},
		{"indexof-regex-function", "indexof_regex", a(S("abcabcdefg"), S("a.c"), L(0), L(9), L(2)), L(3)},
		{"indexof-regex-function", "indexof_regex", a(S("abcabc"), S("a.c"), L(1), L(-1), L(2)), L(-1)},
		{"indexof-regex-function", "indexof_regex", a(S("ababaa"), S("a.a"), L(0), L(-1), L(2)), L(-1)},
		{"indexof-regex-function", "indexof_regex", a(S("abcabc"), S("a|ab"), L(-1)), N(value.Long)},
		{"array-iff-function", "array_iff", a(Y(`[true,false,true]`), Y(`[1,2,3]`), Y(`[4,5,6]`)), Y(`[1,5,3]`)},
		{"array-iff-function", "array_iff", a(Y(`[1,0,50]`), S("yes"), S("no")), Y(`["yes","no","yes"]`)},
		{"array-iff-function", "array_iff", a(Y(`["some string value",null]`), L(1), L(0)), Y(`[null,null]`)},
		{"array-split-function", "array_split", a(Y(`[1,2,3,4,5]`), L(2)), Y(`[[1,2],[3,4,5]]`)},
		{"array-split-function", "array_split", a(Y(`[1,2,3,4,5]`), Y(`[1,3]`)), Y(`[[1],[2,3],[4,5]]`)},
		{"array-rotate-left-function", "array_rotate_left", a(Y(`[1,2,3,4,5]`), L(2)), Y(`[3,4,5,1,2]`)},
		{"array-rotate-left-function", "array_rotate_left", a(Y(`[1,2,3,4,5]`), L(-2)), Y(`[4,5,1,2,3]`)},
		{"array-rotate-right-function", "array_rotate_right", a(Y(`[1,2,3,4,5]`), L(2)), Y(`[4,5,1,2,3]`)},
		{"array-shift-left-function", "array_shift_left", a(Y(`[1,2,3,4,5]`), L(2)), Y(`[3,4,5,null,null]`)},
		{"array-shift-left-function", "array_shift_left", a(Y(`[1,2,3,4,5]`), L(2), L(-1)), Y(`[3,4,5,-1,-1]`)},
		{"array-shift-left-function", "array_shift_left", a(Y(`[1,2,3,4,5]`), L(-2), L(-1)), Y(`[-1,-1,1,2,3]`)},
		{"bag-zip-function", "bag_zip", a(Y(`["a","b","c"]`), Y(`[1,"2",3.4]`)), Y(`{"a":1,"b":"2","c":3.4}`)},
		{"bag-set-key-function", "bag_set_key", a(Y(`{"a":1}`), S("b"), L(2)), Y(`{"a":1,"b":2}`)},
		{"base64-encode-fromarray-function", "base64_encode_fromarray", a(Y(`[75,117,115,116,111]`)), S("S3VzdG8=")},
		{"base64-decode-toarray-function", "base64_decode_toarray", a(S("S3VzdG8=")), Y(`[75,117,115,116,111]`)},
		{"unicode-codepoints-from-string-function", "unicode_codepoints_from_string", a(S("abc")), Y(`[97,98,99]`)},
		{"unicode-codepoints-to-string-function", "unicode_codepoints_to_string", a(L(75), L(117), L(115), L(116), L(111)), S("Kusto")},
		{"to-utf8-function", "to_utf8", a(S("⒦")), Y(`[226,146,166]`)},
		{"datetime-utc-to-local-function", "datetime_utc_to_local", a(D("2022-11-07 06:00"), S("US/Pacific")), D("2022-11-06 22:00")},
		{"datetime-local-to-utc-function", "datetime_local_to_utc", a(D("2022-11-06 22:00"), S("US/Pacific")), D("2022-11-07 06:00")},
		{"datetime-utc-to-local-function", "datetime_utc_to_local", a(D("2022-11-07 06:00"), S("Mars/Olympus")), N(value.DateTime)},
		{"ipv4-netmask-suffix-function", "ipv4_netmask_suffix", a(S("10.1.2.3")), L(32)},
		{"ipv4-netmask-suffix-function", "ipv4_netmask_suffix", a(S("192.168.1.1/24")), L(24)},
		{"ipv4-netmask-suffix-function", "ipv4_netmask_suffix", a(S("127.0.0.1/16")), L(16)},
	})
	if g := call(t, "new_guid"); g.IsNull() || len(g.S) != 36 {
		t.Errorf("new_guid() = %s", show(g))
	}
	if r := call(t, "rand", L(10)); r.IsNull() || r.F < 0 || r.F >= 10 || r.F != math.Trunc(r.F) {
		t.Errorf("rand(10) = %s", show(r))
	}
}

// TestConstantsChecked: a constant a function cannot use is a load-time
// error, so a rule with a typo fails loudly instead of never matching.
func TestConstantsChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		args []value.Value
	}{
		{"ipv4_is_in_range", a(S("10.1.2.3"), S("10.0.0/8"))},
		{"ipv4_is_in_any_range", a(S("10.1.2.3"), S("10.0.0.0/8"), S("192.168.0.0/33"))},
		{"ipv4_is_in_any_range", a(S("10.1.2.3"), Y(`["10.0.0.0/8","nope"]`))},
		{"ipv6_is_in_range", a(S("::1"), S("fe80::/200"))},
		{"has_ipv4", a(S("log 1.2.3.4"), S("1.2.3"))},
		{"ipv4_is_match", a(S("1.2.3.4"), S("1.2.3.x"), L(24))},
		{"parse_user_agent", a(S("curl/8"), S("browsers"))},
		{"parse_user_agent", a(S("curl/8"), Y(`["os","cpu"]`))},
		{"datetime_diff", a(S("fortnite"), D("2024-01-01"), D("2024-01-02"))},
		{"extract", a(S("(a)"), L(1), S("a"), S("lung"))},
	} {
		ts := make([]value.Type, len(c.args))
		for i, v := range c.args {
			ts[i] = v.T
		}
		if _, err := Lookup(c.name).ResultFor(ts, c.args); err == nil {
			t.Errorf("%s%v compiles", c.name, showAll(c.args))
		}
	}
	ok := []value.Value{S("10.1.2.3"), S("10.0.0.0/8"), S("192.168.1.1")}
	if _, err := Lookup("ipv4_is_in_any_range").ResultFor([]value.Type{value.String, value.String, value.String}, ok); err != nil {
		t.Errorf("valid ranges refused: %v", err)
	}
}

func TestIPFunctions(t *testing.T) {
	runScalarCases(t, []scalarCase{
		{"parse-ipv4-function", "parse_ipv4", a(S("127.0.0.1")), L(2130706433)},
		{"parse-ipv4-function", "parse_ipv4", a(S("192.1.168.1")), L(3221334017)},
		{"parse-ipv4-function", "parse_ipv4", a(S("192.1.168.1/24")), L(3221334016)},
		{"parse-ipv4-function", "parse_ipv4", a(S("not an ip")), N(value.Long)},
		{"parse-ipv4-mask-function", "parse_ipv4_mask", a(S("192.1.168.5"), L(24)), L(3221334016)},
		{"format-ipv4-function", "format_ipv4", a(L(3221334017)), S("192.1.168.1")},
		{"format-ipv4-function", "format_ipv4", a(S("192.1.168.1"), L(24)), S("192.1.168.0")},
		{"ipv4-is-private-function", "ipv4_is_private", a(S("192.168.1.1/24")), B(true)},
		{"ipv4-is-private-function", "ipv4_is_private", a(S("10.1.2.3/24")), B(true)},
		{"ipv4-is-private-function", "ipv4_is_private", a(S("202.1.2.3")), B(false)},
		{"ipv4-is-private-function", "ipv4_is_private", a(S("127.0.0.1")), B(false)},
		{"ipv4-is-private-function", "ipv4_is_private", a(S("172.31.0.1")), B(true)},
		{"ipv4-is-private-function", "ipv4_is_private", a(S("garbage")), N(value.Bool)},
		{"ipv4-is-in-range-function", "ipv4_is_in_range", a(S("192.168.1.6"), S("192.168.1.1/24")), B(true)},
		{"ipv4-is-in-range-function", "ipv4_is_in_range", a(S("192.168.1.1"), S("192.168.2.1/24")), B(false)},
		{"ipv4-is-in-range-function", "ipv4_is_in_range", a(S("192.168.1.1"), S("192.168.1.1")), B(true)},
		{"ipv4-is-in-range-function", "ipv4_is_in_range", a(S("192.168.1.1/24"), S("192.168.1.255/24")), B(true)},
		{"ipv4-is-in-any-range-function", "ipv4_is_in_any_range", a(S("192.168.1.6"), S("10.0.0.0/8"), S("192.168.1.0/24")), B(true)},
		{"ipv4-is-in-any-range-function", "ipv4_is_in_any_range", a(S("192.168.1.6"), Y(`["10.0.0.0/8", "172.16.0.0/12"]`)), B(false)},
		{"ipv4-is-match-function", "ipv4_is_match", a(S("192.168.1.1/24"), S("192.168.1.255/24")), B(true)},
		{"ipv4-compare-function", "ipv4_compare", a(S("192.168.1.1"), S("192.168.1.255")), L(-1)},
		{"ipv4-compare-function", "ipv4_compare", a(S("192.168.1.1/24"), S("192.168.1.255"), L(24)), L(0)},
		{"parse-ipv6-function", "parse_ipv6", a(S("fe80::85d:e82c:9446:7994/120")), S("fe80:0000:0000:0000:085d:e82c:9446:7900")},
		{"parse-ipv6-function", "parse_ipv6", a(S("192.168.255.255")), S("0000:0000:0000:0000:0000:ffff:c0a8:ffff")},
		{"ipv6-is-in-range-function", "ipv6_is_in_range", a(S("2a03:2880:f12c:83:face:b00c::25de"), S("2a03:2880::/32")), B(true)},
		{"ipv6-compare-function", "ipv6_compare", a(S("::ffff:7f00:1"), S("127.0.0.1")), L(0)},
		{"has-ipv4-function", "has_ipv4", a(S("05:04:54 127.0.0.1 GET /favicon.ico 404"), S("127.0.0.1")), B(true)},
		{"has-ipv4-function", "has_ipv4", a(S("05:04:54 127.0.0.256 GET"), S("127.0.0.1")), B(false)},
	})
}

func TestParseUserAgent(t *testing.T) {
	chrome := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36"
	runScalarCases(t, []scalarCase{
		// https://learn.microsoft.com/kusto/query/parse-user-agent-function
		{"parse-user-agent-function", "parse_user_agent", a(S("Mozilla/5.0 (Windows; U; en-US) AppleWebKit/531.9 (KHTML, like Gecko) AdobeAIR/2.5.1"), S("browser")),
			Y(`{"Browser":{"Family":"AdobeAIR","MajorVersion":"2","MinorVersion":"5","Patch":"1"}}`)},
		// the docs' shape (Family, versions; PatchMinor for the OS) on a
		// browser sign-in logs carry
		{"parse-user-agent-function", "parse_user_agent", a(S(chrome), Y(`["browser","os"]`)),
			Y(`{"Browser":{"Family":"Chrome","MajorVersion":"74","MinorVersion":"0","Patch":"3729"},"OperatingSystem":{"Family":"Windows 10","MajorVersion":"10","MinorVersion":"0","Patch":"","PatchMinor":""}}`)},
		{"parse-user-agent-function", "parse_user_agent", a(S(chrome), S("device")), Y(`{"Device":{"Family":"Other","Brand":"","Model":""}}`)},
	})
	for _, c := range []struct{ ua, browser, os string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge", "Windows 10"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari", "Mac OS X"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", "Linux"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36", "Chrome Mobile", "Android"},
		{"Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko", "IE", "Windows 7"},
		{"curl/8.4.0", "curl", "Other"},
		{"python-requests/2.31.0", "Python Requests", "Other"},
		{"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803", "Windows PowerShell", "Windows 10"},
		{"", "Other", "Other"},
	} {
		got := ParseUserAgent(c.ua, []string{"browser", "os"})
		b := got["Browser"].(map[string]any)["Family"]
		o := got["OperatingSystem"].(map[string]any)["Family"]
		if b != c.browser || o != c.os {
			t.Errorf("parse_user_agent(%q) = browser %v, os %v; want %s, %s", c.ua, b, o, c.browser, c.os)
		}
	}
}

// TestUnknownPeriod: a constant period name that datetime_add, _diff or
// _part do not know is a compile-time error naming it; at run time (a
// period from a column) it gives null.
func TestUnknownPeriod(t *testing.T) {
	for _, n := range []string{"datetime_add", "datetime_diff", "datetime_part"} {
		f := Lookup(n)
		ts := []value.Type{value.String, value.Long, value.DateTime}
		args := a(S("fortnight"), L(1), D("2017-01-31"))
		if n != "datetime_add" {
			ts[1], args[1] = value.DateTime, D("2017-01-01")
		}
		if n == "datetime_part" {
			ts, args = ts[:2], args[:2]
		}
		if _, err := f.ResultFor(ts, args); err == nil || !strings.Contains(err.Error(), "fortnight") {
			t.Errorf("%s(\"fortnight\", ...): error %v, want one naming the period", n, err)
		}
		if v := f.Call(&Ctx{Now: testNow}, args); !v.IsNull() {
			t.Errorf("%s(\"fortnight\", ...) = %s, want null", n, show(v))
		}
	}
}

// TestRegexRE2 checks that patterns with .NET-only features are refused
// with an error naming the feature (RE2 is Kusto's regex engine:
// https://learn.microsoft.com/kusto/query/re2), and that a .NET named
// group is accepted.
func TestRegexRE2(t *testing.T) {
	for _, p := range []string{`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `(?>ab)`} {
		err := CheckRegex(p)
		if err == nil || !strings.Contains(err.Error(), "RE2") {
			t.Errorf("CheckRegex(%q) = %v, want an error naming RE2", p, err)
		}
	}
	if err := CheckRegex(`(?<user>\w+)@(?P<dom>\w+)`); err != nil {
		t.Errorf("named groups: %v", err)
	}
	if err := CheckRegex(`(`); err == nil {
		t.Error("CheckRegex(\"(\") = nil, want an error")
	}
	// A constant pattern is checked when the call is compiled, so a rule
	// with a bad pattern fails to load instead of never matching.
	for _, c := range []struct {
		name string
		args []value.Value
	}{
		{"extract", a(S(`(?=x)`), L(0), S("x"))},
		{"extract_all", a(S(`(`), S("x"))},
		{"replace_regex", a(S("x"), S(`(?<!a)b`), S(""))},
		{"replace", a(S(`[`), S(""), S("x"))},
		{"trim", a(S(`(?>a)`), S("x"))},
		{"countof", a(S("x"), S(`(`), S("regex"))},
		{"indexof_regex", a(S("x"), S(`(?!a)`))},
	} {
		ts := make([]value.Type, len(c.args))
		for i, v := range c.args {
			ts[i] = v.T
		}
		if _, err := Lookup(c.name).ResultFor(ts, c.args); err == nil {
			t.Errorf("%s with a bad constant pattern compiles", c.name)
		}
	}
	if _, err := Lookup("countof").ResultFor([]value.Type{value.String, value.String}, a(S("x"), S("("))); err != nil {
		t.Errorf("countof's plain search with \"(\" is refused: %v", err)
	}
	// A bad pattern reaching Call (from a column, at run time) gives the
	// null of the result, no panic.
	if v := Lookup("extract").Call(&Ctx{}, a(S("("), L(1), S("x"))); !v.IsEmpty() {
		t.Errorf("extract with a bad pattern = %s, want empty", show(v))
	}
	// Huge input is fine (RE2 is linear).
	big := strings.Repeat("a", 1<<20) + "b"
	if v := call(t, "extract", S(`(a+)b`), L(1), S(big)); len(v.S) != 1<<20 {
		t.Errorf("extract over 1 MiB: %d bytes", len(v.S))
	}
	long := strings.Repeat("x", 4096)
	if v := call(t, "replace_regex", S(big), S(`a`), S(long)); len(v.S) > maxOut {
		t.Errorf("replace_regex result %d bytes, above the %d cap", len(v.S), maxOut)
	}
	if v := call(t, "replace_string", S(big), S(`a`), S(long)); len(v.S) > maxOut || len(v.S) < maxOut-4096 {
		t.Errorf("replace_string result %d bytes, want the %d cap", len(v.S), maxOut)
	}
	if v := call(t, "replace_regex", S("aXbX"), S(`X`), S(`\0\0`)); v.S != "aXXbXX" {
		t.Errorf("replace_regex with \\0 = %q", v.S)
	}
}

// sampleValues holds one value and the null of each type, for the
// property tests.
func sampleValues() map[value.Type][]value.Value {
	g, _ := value.NewGuid("74be27de-1e4e-49d9-b579-fe0b331d3642")
	return map[value.Type][]value.Value{
		value.Unknown:  {value.NullOf(value.Unknown)}, // a column of an open table: no values of its own
		value.String:   {S("abc,1.2.3.4 Mozilla/5.0"), S(""), S("\xff\xfe(("), S("2024-01-02T03:04:05Z"), S("[1,2]")},
		value.Long:     {L(42), N(value.Long), L(-7), L(math.MaxInt64), L(math.MinInt64), L(0)},
		value.Int:      {I(7), N(value.Int), I(math.MinInt32), I(0)},
		value.Real:     {R(1.5), N(value.Real), R(math.NaN()), R(math.Inf(-1)), R(1e308), R(-0.5)},
		value.Decimal:  {{T: value.Decimal, F: 2.5}, N(value.Decimal)},
		value.Bool:     {B(true), N(value.Bool)},
		value.DateTime: {D("2024-01-02 03:04:05"), N(value.DateTime), {T: value.DateTime, I: math.MaxInt64}, {T: value.DateTime, I: math.MinInt64}},
		value.TimeSpan: {TS("1h"), N(value.TimeSpan), TS("-3d"), value.NewTimeSpan(math.MinInt64), value.NewTimeSpan(math.MaxInt64)},
		value.Guid:     {g, N(value.Guid)},
		value.Dynamic:  {Y(`{"a":[1,2]}`), N(value.Dynamic), Y(`[1,"x",null]`), value.NewDynamic("s")},
	}
}

// TestCallMatchesResult calls every function on every oracle call shape
// with real and null values: no call may panic, and every result must have
// the type Result promised (the engine relies on it for the schema).
func TestCallMatchesResult(t *testing.T) {
	samples := sampleValues()
	ctx := &Ctx{Now: testNow}
	for _, c := range oracleCases() {
		if c.agg {
			continue
		}
		name, rest, _ := strings.Cut(c.call, "(")
		f := Lookup(name)
		args := splitArgs(strings.TrimSuffix(rest, ")"))
		var ts []value.Type
		var consts []value.Value
		for _, x := range args {
			ty, cv, _ := argInfo(x)
			ts, consts = append(ts, ty), append(consts, cv)
		}
		want, err := f.ResultFor(ts, consts)
		if err != nil {
			continue
		}
		variants := 24
		if name == "range" {
			variants = 4 // extreme bounds build 2^20-element arrays: slow, not interesting
		}
		for variant := 0; variant < variants; variant++ {
			vals := make([]value.Value, len(args))
			for i, x := range args {
				if _, isCol := placeholders[x]; !isCol {
					vals[i] = consts[i]
					continue
				}
				s := samples[ts[i]]
				vals[i] = s[(variant*(i+1)+variant/4)%len(s)]
			}
			got := func() (v value.Value) {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s with %v panicked: %v", c.call, vals, r)
					}
				}()
				return f.Call(ctx, vals)
			}()
			if got.T != want && want != value.Unknown { // an unknown column holds any value
				t.Errorf("%s with %s: result type %s, Result says %s", c.call, showAll(vals), got.T, want)
			}
		}
	}
}

func showAll(vs []value.Value) string {
	var p []string
	for _, v := range vs {
		p = append(p, show(v))
	}
	return strings.Join(p, ", ")
}

// TestNamesAndSuggest covers the registry helpers.
func TestNamesAndSuggest(t *testing.T) {
	names := Names()
	if len(names) < 150 {
		t.Errorf("%d functions registered, want the census' top 60 and more", len(names))
	}
	if got := Suggest("ToString"); got != "tostring" {
		t.Errorf("Suggest(ToString) = %q", got)
	}
	if Lookup("iif") != Lookup("iff") || LookupAgg("makeset") != LookupAgg("make_set") {
		t.Error("aliases do not resolve to their function")
	}
}

// TestParallelCalls: functions are called from several goroutines at once
// (the regex cache is shared); run with -race.
func TestParallelCalls(t *testing.T) {
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func(g int) {
			defer func() { done <- true }()
			for i := 0; i < 300; i++ {
				p := `(\d+)-` + strconv.Itoa((g*300+i)%700) // more patterns than the cache holds
				v := Lookup("extract").Call(&Ctx{Now: testNow}, a(S(p), L(1), S("12-"+strconv.Itoa((g*300+i)%700))))
				if v.S != "12" {
					t.Errorf("extract(%q) = %q", p, v.S)
					return
				}
			}
		}(g)
	}
	for g := 0; g < 8; g++ {
		<-done
	}
}
