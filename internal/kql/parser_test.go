package kql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// sx renders an expression as an S-expression, to pin the tree's shape.
func sx(e Expr) string {
	switch x := e.(type) {
	case nil:
		return "nil"
	case *Ident:
		return x.Name
	case *Literal:
		if x.Kind == LitString {
			return fmt.Sprintf("%q", x.Raw)
		}
		return string(x.Kind) + ":" + x.Raw + x.Unit
	case *Binary:
		return "(" + x.Op + " " + sx(x.L) + " " + sx(x.R) + ")"
	case *Unary:
		return "(" + x.Op + " " + sx(x.X) + ")"
	case *InExpr:
		var s []string
		for _, v := range x.List {
			s = append(s, sx(v))
		}
		return "(" + x.Op + " " + sx(x.X) + " [" + strings.Join(s, " ") + "])"
	case *Between:
		op := "between"
		if x.Not {
			op = "!between"
		}
		return "(" + op + " " + sx(x.X) + " " + sx(x.Lo) + " " + sx(x.Hi) + ")"
	case *Call:
		var s []string
		for _, v := range x.Args {
			s = append(s, sx(v))
		}
		return x.Name + "(" + strings.Join(s, " ") + ")"
	case *NamedArg:
		return x.Name + "=" + sx(x.Value)
	case *Star:
		return "*"
	case *Member:
		return sx(x.X) + "." + x.Name
	case *Index:
		return sx(x.X) + "[" + sx(x.I) + "]"
	case *Paren:
		return sx(x.X)
	case *DynamicLit:
		return "dynamic(" + sx(x.Value) + ")"
	case *ArrayLit:
		var s []string
		for _, v := range x.Elems {
			s = append(s, sx(v))
		}
		return "[" + strings.Join(s, " ") + "]"
	case *ObjectLit:
		var s []string
		for i, k := range x.Keys {
			s = append(s, k+":"+sx(x.Vals[i]))
		}
		return "{" + strings.Join(s, " ") + "}"
	case *Pipeline:
		var s []string
		if x.Source != nil {
			s = append(s, sx(x.Source))
		}
		for _, o := range x.Ops {
			s = append(s, o.OpName())
		}
		return "<" + strings.Join(s, " | ") + ">"
	}
	return fmt.Sprintf("%T", e)
}

// expr parses "print E" and returns E.
func parseExpr(t *testing.T, src string) Expr {
	t.Helper()
	sc, err := Parse("print " + src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return sc.Query().Expr.(*Pipeline).Ops[0].(*PrintOp).Cols[0].Value
}

func TestPrecedence(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a or b and c", "(or a (and b c))"},
		{"a and b or c", "(or (and a b) c)"},
		{"1 + 2 * 3", "(+ long:1 (* long:2 long:3))"},
		{"1 - 2 - 3", "(- (- long:1 long:2) long:3)"},
		{"-a.b * 2", "(* (- a.b) long:2)"},
		{"a == b has c", "(== a (has b c))"},
		{"a < b == c", "(== (< a b) c)"},
		{"a =~ b < c", "(< (=~ a b) c)"},
		{"a has b in (1)", "(in (has a b) [long:1])"},
		{"a < b in (1, 2)", "(in (< a b) [long:1 long:2])"},
		{"a + 1 between (1 .. 2)", "(between (+ a long:1) long:1 long:2)"},
		{"a !between (1..2) and b", "(and (!between a long:1 long:2) b)"},
		{"x !in~ ('a', 'b')", `(!in~ x ["a" "b"])`},
		{"x in~ ('a')", `(in~ x ["a"])`},
		{"x !in ('a')", `(!in x ["a"])`},
		{"x has_any (L)", "(has_any x [L])"},
		{"x has_all ('a', 'b')", `(has_all x ["a" "b"])`},
		{"x !has 'a'", `(!has x "a")`},
		{"x !contains_cs 'a'", `(!contains_cs x "a")`},
		{"x notcontains 'a'", `(!contains x "a")`},
		{"x !startswith_cs 'a' or x endswith_cs 'b'", `(or (!startswith_cs x "a") (endswith_cs x "b"))`},
		{"x matches regex @'\\d+'", `(matches regex x "\\d+")`},
		{"x <> 1", "(!= x long:1)"},
		{"not(a == 1)", "not((== a long:1))"},
		{"d.a.b[0]['k'].c", `d.a.b[long:0]["k"].c`},
		{"d.['k'].[0]", "d.k[long:0]"},
		{"arg_max(TimeGenerated, *)", "arg_max(TimeGenerated *)"},
		{"bag_unpack(x, prefix='p_')", `bag_unpack(x prefix="p_")`},
		{"toscalar(T | count)", "toscalar(<T | count>)"},
		{"x in (T | project a)", "(in x [<T | project>])"},
		{"dynamic(['a', 1, {'k': null, 'n': -1.5}])", `dynamic(["a" long:1 {k:null:null n:(- real:1.5)}])`},
		{"dynamic(['a'])", `dynamic(["a"])`},
		{"['my col'] + 1", "(+ my col long:1)"},
		{"10abc", "10abc"},
		{"0x1fand", "0x1fand"},
		{"0x1f", "long:0x1f"},
	}
	for _, tt := range tests {
		if got := sx(parseExpr(t, tt.src)); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

func TestLiterals(t *testing.T) {
	tests := []struct {
		src  string
		kind LitKind
		raw  string
		unit string
		null bool
	}{
		{`"a\"b\n"`, LitString, "a\"b\n", "", false},
		{`'it\'s'`, LitString, "it's", "", false},
		{`@"C:\dir"`, LitString, `C:\dir`, "", false},
		{`@'say ''hi'''`, LitString, "say 'hi'", "", false},
		{`h"secret"`, LitString, "secret", "", false},
		{`H@'C:\s'`, LitString, `C:\s`, "", false},
		{"```a\n\nb```", LitString, "a\n\nb", "", false},
		{"~~~x~~~", LitString, "x", "", false},
		{`"a" 'b' @"c"`, LitString, "abc", "", false},
		{"42", LitLong, "42", "", false},
		{"0x1F", LitLong, "0x1F", "", false},
		{"1.5", LitReal, "1.5", "", false},
		{"1e3", LitReal, "1e3", "", false},
		{"7d", LitTimespan, "7", "d", false},
		{"1.5h", LitTimespan, "1.5", "h", false},
		{"100ms", LitTimespan, "100", "ms", false},
		{"30min", LitTimespan, "30", "m", false},
		{"10seconds", LitTimespan, "10", "s", false},
		{"5microsecond", LitTimespan, "5", "us", false},
		{"3tick", LitTimespan, "3", "tick", false},
		{"time(1.2:00:00)", LitTimespan, "1.2:00:00", "", false},
		{"timespan(2d)", LitTimespan, "2d", "", false},
		{"datetime(2015-12-31 23:59:59.9)", LitDatetime, "2015-12-31 23:59:59.9", "", false},
		{"datetime(null)", LitDatetime, "null", "", true},
		{"guid(74be27de-1e4e-49d9-b579-fe0b331d3642)", LitGuid, "74be27de-1e4e-49d9-b579-fe0b331d3642", "", false},
		{"true", LitBool, "true", "", false},
		{"bool(false)", LitBool, "false", "", false},
		{"int(null)", LitInt, "null", "", true},
		{"long(-1)", LitLong, "-1", "", false},
		{"real(+inf)", LitReal, "+inf", "", false},
		{"decimal(1.5)", LitDecimal, "1.5", "", false},
	}
	for _, tt := range tests {
		l, ok := parseExpr(t, tt.src).(*Literal)
		if !ok {
			t.Errorf("%s: not a literal", tt.src)
			continue
		}
		if l.Kind != tt.kind || l.Raw != tt.raw || l.Unit != tt.unit || l.Null != tt.null {
			t.Errorf("%s: got %s %q %q null=%v, want %s %q %q null=%v", tt.src, l.Kind, l.Raw, l.Unit, l.Null, tt.kind, tt.raw, tt.unit, tt.null)
		}
	}
}

func TestOperators(t *testing.T) {
	q := `let Start = ago(7d);
let f = (T:(UserId:string), n:long = 10) { T | take n };
let v = view () { SigninLogs };
let M = materialize(SigninLogs | take 1);
union withsource=Source kind=outer isfuzzy=true SigninLogs*, (AuditLogs | where x)
| where TimeGenerated > Start and UserPrincipalName in~ ('a@x', 'b@x')
| filter ResultType != 0
| extend A = tostring(Props.a), (B, C) = (1), ['D E'] = 2
| project-away Res*, ['D E']
| project-rename NewName = A
| project-reorder TimeGenerated asc, U*
| project-keep T*
| summarize hint.strategy=shuffle Count = count(), make_set(IPAddress) by bin(TimeGenerated, 1h), UserPrincipalName
| join kind=leftouter hint.remote=auto (AuditLogs | project UserId) on $left.UserPrincipalName == $right.UserId, Other
| lookup kind=inner (T2) on Key
| mv-expand bagexpansion=array with_itemindex=I X = Props.tags to typeof(string), Y limit 10
| mvexpand Z
| mv-apply E = Props to typeof(long) on (top 2 by E desc nulls last)
| parse kind=regex flags=Ui Msg with @"user=(\w+)" User:string " n=" N:long
| parse-where Msg with * "id=" Id
| top 5 by Count asc nulls first
| sort by Count desc, TimeGenerated asc nulls last
| order by Count
| distinct UserPrincipalName, IPAddress
| take 10
| limit 5
| count
| as hint.materialized=true R
| sample 3
| serialize Row = row_number()
| invoke f(1)
| getschema
| render timechart with (title="x", ytitle='y')`
	sc, err := Check(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Stmts) != 5 {
		t.Fatalf("%d statements, want 5", len(sc.Stmts))
	}
	pl := sc.Query().Expr.(*Pipeline)
	var names []string
	for _, o := range pl.Ops {
		names = append(names, o.OpName())
	}
	want := "union where where extend project-away project-rename project-reorder project-keep summarize join lookup mv-expand mv-expand mv-apply parse parse-where top sort sort distinct take take count as sample serialize invoke getschema render"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("ops\n got %s\nwant %s", got, want)
	}
	u := pl.Ops[0].(*UnionOp)
	if len(u.Params) != 3 || u.Params[0].Name != "withsource" || u.Tables[0].(*Wildcard).Pattern != "SigninLogs*" {
		t.Errorf("union: %+v", u)
	}
	j := pl.Ops[9].(*JoinOp)
	if sx(j.On[0]) != "(== $left.UserPrincipalName $right.UserId)" || sx(j.On[1]) != "Other" || j.Params[0].Name != "kind" || j.Params[1].Name != "hint.remote" {
		t.Errorf("join on: %s %s %+v", sx(j.On[0]), sx(j.On[1]), j.Params)
	}
	mv := pl.Ops[11].(*MvExpandOp)
	if mv.Legacy || mv.Items[0].Names[0] != "X" || mv.Items[0].To != "string" || sx(mv.Limit) != "long:10" || len(mv.Params) != 2 {
		t.Errorf("mv-expand: %+v", mv)
	}
	if !pl.Ops[12].(*MvExpandOp).Legacy {
		t.Error("mvexpand: want Legacy")
	}
	ps := pl.Ops[14].(*ParseOp)
	if len(ps.Pattern) != 4 || !ps.Pattern[0].IsRegex || ps.Pattern[1].Type != "string" || ps.Pattern[3].Type != "long" {
		t.Errorf("parse: %+v", ps.Pattern)
	}
	top := pl.Ops[16].(*TopOp)
	if !top.By[0].Asc || !top.By[0].NullsFirst {
		t.Errorf("top: %+v", top.By[0])
	}
	srt := pl.Ops[17].(*SortOp)
	if srt.Keys[0].Asc || srt.Keys[0].NullsFirst || !srt.Keys[1].Asc || srt.Keys[1].NullsFirst || !srt.Keys[1].NullsSet {
		t.Errorf("sort: %+v %+v", srt.Keys[0], srt.Keys[1])
	}
	f := sc.Stmts[1].(*LetStmt).Value.(*FuncDef)
	if len(f.Params) != 2 || f.Params[0].Type != "table" || f.Params[0].Schema[0].Name != "UserId" || sx(f.Params[1].Default) != "long:10" {
		t.Errorf("function params: %+v", f.Params)
	}
	if !sc.Stmts[2].(*LetStmt).Value.(*FuncDef).View {
		t.Error("view: want View")
	}
}

func TestSources(t *testing.T) {
	for _, q := range []string{
		"datatable(a:string, b:long)['x', 1, 'y', 2] | where b > 1",
		"print x = 1, 'two'",
		"range i from 1 to 10 step 1 | extend y = i * 2",
		"union SigninLogs, AuditLogs",
		"SigninLogs | union AADNonInteractiveUserSignInLogs",
		"_GetWatchlist('breakGlassAccounts') | project SearchKey",
		"database('d').SigninLogs | take 1",
		"(SigninLogs | take 1) | count",
		"where x > 1",
		"let x = 1;",
		"SigninLogs; AuditLogs",
		"// nothing but a comment",
		"",
		"declare query_parameters(n:long = 5); T | take n",
		"set notruncation; T",
	} {
		if _, err := Check(q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

// TestOracleQuirks holds forms Microsoft's parser accepts that the
// generated oracle test found this parser rejecting.
func TestOracleQuirks(t *testing.T) {
	for _, q := range []string{
		"datatable(,a:string)['x']",
		"datatable(a:string,)['x']",
		"datatable(,)['x']",
		"externaldata(,a:string)['x']",
		"T | distinct a, b = c, tolower(d)",
		"T | distinct tostring=(Props.a)",
		"T | lookup kind=foo (U) on x",
		"T | join kind=on (U) on x",
		"T | where a contains_cs 0x1fand",
		"T | join on (U) on x",
		"T | lookup kind=inner on (U) on x",
		"T | project-rename New ['App Name']",
		"T | project-rename New",
		"T | render barchart with (,title='x', ytitle='y')",
		"T | render barchart with (,)",
		`T | where * has "x"`,
		`T | where * contains "x" and a == 1`,
		`T | where not(* !has "x")`,
	} {
		if err := parsesWhole(q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"SigninLogs | wher x", `1:14: unknown operator "wher"`},
		{"SigninLogs\n| where", "2:8: expected an expression, found the end of the query"},
		{"T | where a == b == c", `1:18: expected '|', ';' or the end of the query, found "=="`},
		{"T | where x in 'a'", "1:16: expected '(' and a list"},
		{"T | where 'abc", "1:11: unterminated string"},
		{"T | where x == @'abc", "1:17: unterminated string"},
		{"print ```abc", "1:7: unterminated multi-line string"},
		{"T | top 1 by a, b", "1:17: top takes one key"},
		{"T;;", "1:3: expected a statement"},
		{";T", "1:1: expected a statement"},
		{"print - -1", "1:9: expected an expression"},
		{"T | extend x = where", `1:16: expected an expression, found the keyword "where"`},
		{"T | extend x = d.where", `1:18: the member name "where" is a keyword`},
		{"T | join (U) x", "1:14: expected 'on'"},
		{"datatable(a:str)[1]", "1:13: expected a type name"},
		{"T | render barchart with (foo=1)", "1:27: expected a render property"},
		{"datatable(a)[1]", "1:12: expected ':' and a type"},
		{"T | parse kind=fuzzy x with a", "1:16: parse kind=fuzzy: expected simple, regex or relaxed"},
		{"T | summarize count() by", "1:25: expected an expression, found the end of the query"},
		{"print x = dynamic([1, 2)", "1:24: expected ',' or ']' in the dynamic array"},
		{"T | where f(T | take 1)", `1:15: expected ',' or ')' in the arguments of f()`},
		{"SigninLogs\n\tWHERE x", "2:2: expected '|', ';' or the end of the query"},
		{"print x = 1 #", "1:13: unexpected character"},
		{"print ä = 1, '\u00e9", "1:14: unterminated string"},
		{"T | lookup kind=where leftouter (U) on x", `1:17: expected a parameter value, found the keyword "where"`},
		{"T | join kind=string (U) on x", `1:15: expected a parameter value, found the keyword "string"`},
		{"datatable(a:string,,b:long)['x']", "1:20: expected a column name"},
		{"T | render barchart with (title='x',)", "1:37: expected a render property"},
		{"T | extend y = *", "1:16: expected an expression"},
		{"T | mv-apply x on (| take 1)", "1:20: expected a tabular operator"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a syntax error", tt.src, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tt.src, err, tt.want)
		}
	}
}

func TestUnsupported(t *testing.T) {
	for _, tt := range []struct{ src, feature string }{
		{"T | make-series count() on TimeGenerated from ago(1d) to now() step 1h by User", "make-series"},
		{"T | make-series n = count() default = 0 on TimeGenerated in range(ago(1d), now(), 1h)", "make-series"},
		{"T | evaluate bag_unpack(Props)", "evaluate"},
		{"T | evaluate pivot(Key) : (a:string)", "evaluate"},
		{"search 'x'", "search"},
		{"T | fork (take 1) (count)", "fork"},
		{"let d = externaldata(a:string)['https://example.invalid/x.csv'] with (format='csv'); d", "externaldata"},
	} {
		sc, err := Check(tt.src)
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want unsupported", tt.src, err)
			continue
		}
		if ue.Feature != tt.feature || sc == nil || !IsUnsupported(err) {
			t.Errorf("%q: feature %q, want %q", tt.src, ue.Feature, tt.feature)
		}
	}
	// A syntax error inside make-series is a syntax error, not "unsupported".
	if _, err := Check("T | make-series count() on TimeGenerated step"); err == nil || IsUnsupported(err) {
		t.Errorf("bad make-series: got %v, want a syntax error", err)
	}
}

func TestDeepNesting(t *testing.T) {
	for _, q := range []string{
		"print " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000),
		"print x = dynamic(" + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + ")",
		"print " + strings.Repeat("f(", 100000) + "1" + strings.Repeat(")", 100000),
		"print " + strings.Repeat("-(", 100000) + "1" + strings.Repeat(")", 100000),
		"T | where x in (" + strings.Repeat("(T | where y in (", 50000) + "1" + strings.Repeat("))", 50000) + ")",
	} {
		_, err := Parse(q)
		if err == nil || !strings.Contains(err.Error(), "nests more than") {
			t.Errorf("%.40s...: got %v, want a nesting error", q, err)
		}
	}
	// Long flat chains are fine: they are loops, not recursion.
	if _, err := Parse("print " + strings.Repeat("1 + ", 100000) + "1"); err != nil {
		t.Error(err)
	}
	if _, err := Parse(strings.Repeat("x", MaxQueryBytes+1)); err == nil {
		t.Error("an over-long query parsed")
	}
}

func TestSplitBlocks(t *testing.T) {
	text := "// header\n\n//Sentinel\nSigninLogs\n| take 1\n   \nlet x = 1;\r\nx\n\n\n// only a comment\n\nAADSignInEventsBeta\n| take 2"
	bs := SplitBlocks(text)
	if len(bs) != 3 {
		t.Fatalf("%d blocks, want 3: %+v", len(bs), bs)
	}
	wantLines := []int{3, 7, 13}
	for i, b := range bs {
		if b.Line != wantLines[i] || text[b.Off:b.Off+len(b.Text)] != b.Text {
			t.Errorf("block %d: line %d off %d, want line %d", i, b.Line, b.Off, wantLines[i])
		}
		if _, err := Check(b.Text); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
	if _, err := Parse(text); err == nil {
		t.Error("the whole text parsed as one query; Microsoft's parser rejects it (Expected: ;)")
	}
	// A blank line inside a multi-line string does not split (as in the editors);
	// one after a comment holding ``` does.
	if bs := SplitBlocks("print x = ```a\n\nb```"); len(bs) != 1 {
		t.Errorf("multi-line string split into %d blocks", len(bs))
	}
	if bs := SplitBlocks("T // ```\n\nU \"```\"\n\nV"); len(bs) != 3 {
		t.Errorf("got %d blocks, want 3", len(bs))
	}
}
