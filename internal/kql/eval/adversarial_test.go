package eval

import (
	"fmt"
	"testing"
)

// adversarialSchema: queries written to catch the engine out on names,
// types and refusals; Microsoft's analyser is the judge (the committed
// verdicts in testdata/oracle_schema_adversarial.tsv, refreshed with
// -update-oracle). An oracle-clean query must compile to the oracle's
// columns; a query the oracle refuses must not compile here.
var adversarialSchema = []string{
	// project-rename onto a name already there (project-rename-operator).
	`datatable(n:long, s:string)[1,"a"] | project-rename s = n`,
	`datatable(n:long, s:string)[1,"a"] | project-rename n = n`,
	`datatable(n:long, s:string)[1,"a"] | project-rename s = n, n = s`,
	`datatable(n:long, s:string)[1,"a"] | project-rename x = n, x = s`,
	`datatable(n:long, s:string)[1,"a"] | project-rename x = n, y = n`,
	`datatable(n:long, s:string)[1,"a"] | project-rename S = n`,
	// let: one name twice in one scope; shadowing in a nested one (let-statement).
	`let x = 1; let x = 2; print x`,
	`let T = datatable(a:long)[1]; let T = T | extend b = 2; T`,
	`let f = (a:long) {a}; let f = (a:long) {a+1}; print f(1)`,
	`let f = (x:long) { let x = 2; x }; print f(1)`,
	`let x = 1; let f = (x:long) { x }; print f(5)`,
	`let x = 1; let f = (y:long) { let x = 2; x + y }; print f(1)`,
	// mv-expand wants dynamic (mv-expand-operator).
	`datatable(i:long, s:string)[1,"[1,2]"] | mv-expand s`,
	`datatable(i:long, s:string)[1,"[1,2]"] | mv-expand d = todynamic(s)`,
	`datatable(i:long, s:string)[1,"[1,2]"] | mv-expand with_itemindex=x d = todynamic(s) to typeof(long)`,
	// join and lookup keys (join-operator, lookup-operator).
	`datatable(n:long)[1] | join (datatable(n:int)[1]) on n`,
	`datatable(n:long)[1] | join (datatable(n:string)["1"]) on n`,
	`datatable(n:long)[1] | join (datatable(m:int)[1]) on $left.n == $right.m`,
	`datatable(n:long)[1] | join (datatable(m:real)[1]) on $left.n == $right.m`,
	`datatable(n:long)[1] | lookup (datatable(n:int, x:long)[1,1]) on n`,
	`datatable(k:string, a:long)["x",1] | lookup (datatable(k:string, b:long, a:long)["x",10,100]) on k`,
	`datatable(k:string, a:long)["x",1] | lookup (datatable(k2:string, b:long)["x",10]) on $left.k == $right.k2`,
	`datatable(k:string, a:long)["x",1] | join kind=fullouter (datatable(k:string, b:long)["x",10]) on k`,
	`datatable(k:string, a:long)["x",1] | join kind=rightanti (datatable(k:string, b:long)["x",10]) on k`,
	// summarize names (summarize-operator).
	`datatable(a:long)[1] | summarize count() by a, a`,
	`datatable(a:long)[1] | summarize a = count() by a`,
	`datatable(a:long)[1] | summarize a = count(), a = max(a)`,
	`datatable(a:long, b:long)[1,1] | summarize count() by a, b = a`,
	`datatable(a:long)[1] | summarize max(a) by max_a = a`,
	`datatable(x:long)[1] | summarize count(), count()`,
	`datatable(x:long)[1] | summarize arg_max(x, *), arg_min(x, *)`,
	`datatable(d:dynamic)[1] | summarize count() by tostring(d.a), tostring(d.a)`,
	`datatable(d:dynamic)[1] | summarize count() by d`,
	`datatable(t:datetime, n:long)[datetime(2024-01-01), 1] | summarize make_set(n), dcount(n), countif(n > 0) by bin(t, 1h)`,
	// union kinds and clashes (union-operator).
	`print x=1 | union kind=inner (print y=2)`,
	`print x=1, z=3 | union kind=inner (print y=2, z=4)`,
	`print x=1 | union kind=inner (print x="a")`,
	`union kind=inner (print x=1, a=1), (print y=2, a=2), (print a=3)`,
	`union kind=inner withsource=S (print x=1, a=1), (print a=3)`,
	`union kind=inner SigninLogs, AuditLogs | project-keep TimeGenerated, OperationName, Identity`,
	// extend over an existing column, project-away with wildcards (extend-operator, project-away-operator).
	`datatable(a:long)[1] | extend a = 2, b = a`,
	`datatable(a:long)[1] | extend a = "s", b = a`,
	`datatable(a:long)[1] | extend b = a, a = "x", c = a`,
	`datatable(a:long)[1] | extend x = "s", y = x`,
	`SigninLogs | extend x = 1, y = x | project y`,
	`datatable(a:long, z:long)[1,2] | extend a = "s"`,
	`datatable(a:long)[1] | project a = "s", b = a`,
	`datatable(a:long, b:long)[1,2] | project-away b | extend b = 3`,
	`datatable(nA:long, nB:string, x:long)[1,"a",2] | project-away n*`,
	`datatable(nA:long, nB:string, x:long)[1,"a",2] | project-away *A, x`,
	`datatable(Name:string, name:string)["a", "b"] | project name`,
	`datatable(Name:string)["a"] | project name`,
	// project-reorder orders what a pattern matches (project-reorder-operator).
	`datatable(aa:long, ab:string, b:long)[1,"x",2] | project-reorder a* desc`,
	`datatable(ab:long, aa:string, b:long)[1,"x",2] | project-reorder a* asc`,
	`datatable(ab:long, aa:string, b:long)[1,"x",2] | project-reorder b, a* granny-asc`,
	`datatable(a10:long, a2:string, a1:long)[1,"x",2] | project-reorder a* granny-asc`,
	`datatable(a10:long, a2:string, a1:long)[1,"x",2] | project-reorder a* asc`,
	`datatable(a10:long, a2:string, a1:long)[1,"x",2] | project-reorder a* granny-desc`,
	`datatable(aa:long, ab:string, b:long)[1,"x",2] | project-away a*, b`,
	`datatable(a:long, b:string)[1,"x"] | parse kind=regex b with @"(\d+)" n:int`,
	// names of unnamed expressions.
	`datatable(t:datetime)[datetime(2024-01-01)] | summarize max(t) - min(t), count() * 2`,
	`datatable(t:long)[1] | extend t * 2, t + 1`,
	`datatable(t:long)[1] | project t * 2, strcat("a","b")`,
	// comparisons of strings with numbers in where (the six tables' ResultType is a string).
	`datatable(s:string)["1"] | where s > 5`,
	`datatable(s:string)["1"] | where s > "5"`,
	`datatable(s:string)["1"] | where s == 5`,
	`SigninLogs | where ResultType == 50126 | project ResultType`,
	`SigninLogs | where ResultType in (50126, "50053") | count`,
	// top, sort, toscalar, datetime arithmetic.
	`datatable(n:long)[3, int(null)] | top 1 by n asc nulls first`,
	`print toscalar(datatable(a:long)[1] | where a > 5)`,
	`print a = datetime(2024-01-02) - datetime(2024-01-01), b = datetime(2024-01-01) + 1d, c = 1h / 2h, d = 1d / 2, e = -7 % 3, f = tostring(time(1.02:03:04.5))`,
	`print bin(-4.5, 1), bin(datetime(1969-12-31 23:00), 1d), bin(time(-1.5h), 1h), bin(5, 2.5)`,
	`print dynamic({"a":1.5}).a * 2, dynamic(1) / 2, dynamic(1) + 0.5`,
	// union isfuzzy=true over tables outside the catalog (union-operator):
	// the analyser reads them as open tables, every column named on them
	// unknown, in the order they are first named.
	`union isfuzzy=true (SecurityEvent | where B > 1)`,
	`union isfuzzy=true (SecurityEvent | where B > 1 and A > 1 and B < 3)`,
	`union isfuzzy=true (SecurityEvent | where B > 1 | extend C = B + 1, D = tostring(B), E = B)`,
	`union isfuzzy=true (SecurityEvent | project A, B=1 | extend C=Foo)`,
	`union isfuzzy=true (SecurityEvent | project A | project Foo)`,
	`union isfuzzy=true (Foo | extend A = 1, B = A)`,
	`union isfuzzy=true (SecurityEvent | summarize count() by B)`,
	`union isfuzzy=true (SecurityEvent | summarize count(), x=min(B), y=max(C), dcount(D), make_set(E), sum(F), avg(G), countif(H > 1), arg_max(T, *) by K)`,
	`union isfuzzy=true (SecurityEvent | where Z > 1 | summarize arg_max(T, *) by K)`,
	`union isfuzzy=true (SecurityEvent | where Z > 1 | extend Y = 1 | project-away Z)`,
	`union isfuzzy=true (SecurityEvent | where Z > 1 | extend Y = 1 | project-rename W = Z)`,
	`union isfuzzy=true (Foo | where A > 1 | project-reorder B)`,
	`union isfuzzy=true (Foo | where A > 1 | summarize by A, B)`,
	`union isfuzzy=true (Foo | sort by A | top 3 by B | distinct C)`,
	`union isfuzzy=true (Foo | parse A with "x" B:long "y" C)`,
	`union isfuzzy=true (Foo | mv-expand Bar | extend Y=Bar)`,
	`union isfuzzy=true (Foo | where A > 1 | take 10 | extend B=1)`,
	`union isfuzzy=true (SecurityEvent | where Z > 1 | extend Y = 1) | where Q > 1`,
	`union isfuzzy=true (SecurityEvent | where Z > 1 | extend Y = 1), AuditLogs | where Q > 1 | project Q, Y, Z`,
	`union isfuzzy=true (SecurityEvent | where Z > 1 | extend Y = 1) | summarize count() by Z`,
	`union isfuzzy=true (SecurityEvent | project A), (AuditLogs | project Type) | project Foo`,
	`union isfuzzy=true (SecurityEvent | project A), (AuditLogs | project Type) | project Type`,
	`union isfuzzy=true (SecurityEvent | project TimeGenerated, Computer, Type), (AuditLogs | project TimeGenerated, Type)`,
	`union isfuzzy=true (SecurityEvent | project TimeGenerated, Computer, Type), (AuditLogs | project TimeGenerated, Type) | project Type`,
	`union isfuzzy=true SecurityEvent, AuditLogs | project Type`,
	`union isfuzzy=true (SecurityEvent), AuditLogs | project Foo`,
	`union isfuzzy=true (Foo | where A > 1), (Bar | where B > 1) | where C`,
	`let T = (union isfuzzy=true (Foo | where A > 1)); T | project A`,
	`union isfuzzy=true (SigninLogs | project UserId | join (Foo | project UserId, Bar) on UserId)`,
	`union isfuzzy=true (Foo | project UserId, Bar | join (SigninLogs | project UserId) on UserId)`,
	`union isfuzzy=true (Foo | project UserId, Bar | join kind=leftouter (SigninLogs | project UserId, A=1) on UserId) | project Q`,
	`union isfuzzy=true (Foo | count) | project Q`,
	`union isfuzzy=true (X | project a1=iff(B>1, B, "x"), a2=coalesce(B, "x"), a3=strcat(B, "x"), a4=toint(B), a6=B+1, a7=B*2.0, a8=-B, a9=B > 1, a10=B == "x", a11=B has "x", a12=B.foo, a13=B[0], a14=array_length(B), a15=bin(B, 1h), a16=ago(B), a18=isnull(B), a21=split(B, ","), a22=parse_json(B), a27=case(B>1, B, B<1, C, "x"), a28=iif(B>1, 1, 2), a30=B in ("a","b"), a31=B between (1 .. 2), a33=B and true, a41=B - now(), a46=abs(B), a50=B =~ "x")`,
	// a column in the first two inputs with one type is one column, whatever the later inputs say
	`union isfuzzy=true (X | project A), (SigninLogs | project A=TimeGenerated)`,
	`union isfuzzy=true (SigninLogs | project A=TimeGenerated), (X | project A)`,
	`union isfuzzy=true (X | project A), (Y | project A), (SigninLogs | project A=TimeGenerated)`,
	`union isfuzzy=true (X | project A), (SigninLogs | project A=TimeGenerated), (Y | project A)`,
	`union isfuzzy=true (X | project A), (Y | project A, B), (SigninLogs | project A=TimeGenerated, B=1)`,
	`union (SigninLogs | project A=UserId), (SigninLogs | project A=UserId), (SigninLogs | project A=TimeGenerated)`,
	`union (SigninLogs | project A=UserId), (SigninLogs | project A=TimeGenerated), (SigninLogs | project A=UserId)`,
	// a let's or a function's body is not fuzzy, a sub-query in the union's argument is
	"let T = SecurityEvent | where A > 1; union isfuzzy=true T, SigninLogs | project A",
	"let T = (SecurityEvent | where A > 1); union isfuzzy=true (T), SigninLogs | project A",
	"let f = () { SecurityEvent | where A > 1 }; union isfuzzy=true (f()), SigninLogs | project A",
	"union isfuzzy=true (SigninLogs | where UserId in ((SecurityEvent | project UserId))) | project A",
	"union isfuzzy=true (SigninLogs | where UserId in ((SecurityEvent | project UserId))) | project UserId",
	// without isfuzzy an unknown table is an error
	`union (SecurityEvent | where B > 1), SigninLogs`,
	`union SecurityEvent, SigninLogs`,
	`SecurityEvent | project Type`,
}

// TestOracleSchemaAdversarial: the adversarial queries' result columns (or
// refusal) agree with Microsoft's analyser.
func TestOracleSchemaAdversarial(t *testing.T) {
	var cases []schemaCase
	for i, q := range adversarialSchema {
		cases = append(cases, schemaCase{id: fmt.Sprintf("a%02d", i+1), query: q})
	}
	v := verdictsFor(t, cases, "testdata/oracle_schema_adversarial.tsv", fmt.Sprintf(verdictHeader, "TestOracleSchemaAdversarial"))
	compareSchemas(t, cases, v, loadKnown(t, "testdata/oracle_schema_known.tsv"))
	sixCatalogOnce = sixCatalog(t)
	for _, c := range cases {
		o, ok := v[c.id]
		if !ok || o.OK {
			continue
		}
		if got, err := schemaOf(c.query); err == nil {
			t.Errorf("%s: Microsoft's analyser refuses it, eval compiles it to %s\n  query: %s", c.id, got, c.query)
		}
	}
}

// TestAdversarialValues: values on small datatables where an engine is
// easily wrong, each expectation from the Kusto documentation page named
// (under learn.microsoft.com/kusto/query/).
func TestAdversarialValues(t *testing.T) {
	const (
		L  = `let L = datatable(k:string, a:long)["x",1,"x",2,"",3,"y",4]; `
		R  = `let R = datatable(k:string, b:long)["x",10,"x",20,"",30,"z",40]; `
		Ln = `let L = datatable(k:long, a:long)[1,1,int(null),2]; `
		Rn = `let R = datatable(k:long, b:long)[1,10,int(null),20]; `
	)
	cases := []struct{ doc, q, want string }{
		// join kinds on duplicate keys; innerunique keeps one left row per key.
		{"join-operator", L + R + `L | join kind=inner R on k | sort by a asc, b asc | project a, b`, "1|10;1|20;2|10;2|20;3|30"},
		{"join-innerunique", L + R + `L | join R on k | count`, "3"},
		{"join-innerunique", L + R + `L | join kind=innerunique R on k | summarize dcount(b)`, "3"},
		{"join-leftouter", L + R + `L | join kind=leftouter R on k | where isnull(b) | project a, k1`, "4|"},
		{"join-rightouter", L + R + `L | join kind=rightouter R on k | where isnull(a) | project k, k1, b`, "|z|40"},
		{"join-fullouter", L + R + `L | join kind=fullouter R on k | count`, "7"},
		{"join-leftsemi", L + R + `L | join kind=leftsemi R on k | sort by a asc | project a`, "1;2;3"},
		{"join-leftanti", L + R + `L | join kind=leftanti R on k | project a`, "4"},
		{"join-rightsemi", L + R + `L | join kind=rightsemi R on k | sort by b asc | project b`, "10;20;30"},
		{"join-rightanti", L + R + `L | join kind=rightanti R on k | project b`, "40"},
		// null keys never match, in any kind; the unmatched rows still appear where the kind keeps them.
		{"join-operator", Ln + Rn + `L | join kind=inner R on k | project a, b`, "1|10"},
		{"join-operator", Ln + Rn + `L | join kind=leftouter R on k | sort by a asc | project a, b`, "1|10;2|"},
		{"join-operator", Ln + Rn + `L | join kind=fullouter R on k | sort by a asc nulls first, b asc | project a, b`, "|20;1|10;2|"},
		{"join-operator", Ln + Rn + `L | join kind=leftanti R on k | project a`, "2"},
		{"join-operator", Ln + Rn + `L | join kind=rightanti R on k | project b`, "20"},
		{"join-operator", `datatable(k1:string, k2:long, a:long)["x",1,1,"x",int(null),2] | join kind=inner (datatable(k1:string, k2:long, b:long)["x",1,10,"x",int(null),20]) on k1, k2 | project a, b`, "1|10"},
		// lookup: leftouter by default, right's non-key columns only, duplicates on the right multiply.
		{"lookup-operator", Ln + Rn + `L | lookup R on k | sort by a asc | project a, b`, "1|10;2|"},
		{"lookup-operator", Ln + Rn + `L | lookup kind=inner R on k | project a, b`, "1|10"},
		{"lookup-operator", `datatable(k:string, a:long)["x",1,"y",3] | lookup (datatable(k:string, b:long)["x",10,"x",20]) on k | sort by a asc, b asc`, "x|1|10;x|1|20;y|3|"},
		// summarize by a null or dynamic-derived key: nulls form their own group.
		{"summarize-operator", `datatable(n:long)[1,int(null),int(null)] | summarize c = count() by n | sort by n asc nulls first`, "|2;1|1"},
		{"summarize-operator", `datatable(d:dynamic)[dynamic({"a":1}), dynamic({"a":null}), dynamic({})] | summarize c = count() by k = tostring(d.a) | sort by k asc`, "|2;1|1"},
		{"summarize-operator", `datatable(t:datetime)[datetime(2024-01-01 00:10), datetime(null), datetime(2024-01-01 00:50)] | summarize c = count() by bin(t, 1h) | sort by t asc nulls last`, "2024-01-01T00:00:00.0000000Z|2;|1"},
		{"summarize-operator", `datatable(n:long)[1,int(null),int(null)] | summarize count(), dcount(n), make_set(n), make_list(n), avg(n), sum(n), countif(isnull(n))`, "3|1|[1]|[1]|1|1|2"},
		{"summarize-operator", `datatable(n:long)[1] | where n > 5 | summarize count(), dcount(n), make_set(n), max(n), sum(n), countif(n > 0)`, "0|0|[]||0|0"},
		// bin rounds down, for negative numbers and datetimes before 1970 too.
		{"bin-function", `print bin(-4.5, 1), bin(-1, 10), bin(-10, 10), bin(time(-1.5h), 1h), bin(5, 2.5), bin(7.3, 2)`, "-5|-10|-10|-02:00:00|5|6"},
		{"bin-function", `print bin(datetime(1969-12-31 23:00), 1d), bin(datetime(2024-01-01 12:34:56.789), 1s), isnull(bin(10, -1))`, "1969-12-31T00:00:00.0000000Z|2024-01-01T12:34:56.0000000Z|true"},
		// arg_max(*): one row per group, every column of it; ties give one of them.
		{"arg-max-aggregation-function", `datatable(u:string, t:long, x:string)["a",1,"p","a",1,"q","a",0,"r","b",5,"s"] | summarize arg_max(t, *) by u | sort by u asc | project u, t, x in ("p", "q", "s")`, "a|1|true;b|5|true"},
		{"arg-min-aggregation-function", `datatable(u:string, t:long, x:string)["a",1,"p","a",0,"r"] | summarize arg_min(t, *) by u | project t, x`, "0|r"},
		// dcount is exact for small cardinalities (dcount-aggregation-function: accuracy table, error 0 below ~1000).
		{"dcount-aggregation-function", `range x from 1 to 1000 step 1 | summarize dcount(x), dcount(x % 100), dcount(tostring(x % 7))`, "1000|100|7"},
		// make_set dedupes (case-sensitively), make_list keeps duplicates; the size cap counts values.
		{"make-set-aggregation-function", `datatable(x:string)["b","a","b","c","a","A"] | summarize s = make_set(x), l = make_list(x) | project array_length(s), array_length(l), set_has_element(s, "A")`, "4|6|true"},
		{"make-set-aggregation-function", `datatable(x:long)[3,1,3,2,1] | summarize s = make_set(x, 2), l = make_list(x, 2) | project array_length(s), array_length(l)`, "2|2"},
		// mv-expand: arrays, bags, null (one row), empty (none), a scalar (one row), parallel padding, with_itemindex.
		{"mv-expand-operator", `datatable(i:long, d:dynamic)[1,dynamic({"a":1,"b":[1,2]}),2,dynamic(null),3,dynamic([]),4,dynamic({}),5,dynamic("str"),6,dynamic([[1,2],3])] | mv-expand with_itemindex=x d | project i, x, d`, `1|0|{"a":1};1|1|{"b":[1,2]};2|0|;5|0|str;6|0|[1,2];6|1|3`},
		{"mv-expand-operator", `print a = dynamic([1,2]), b = dynamic(null) | mv-expand a, b | project a, isnull(b)`, "1|true;2|true"},
		{"mv-expand-operator", `print a = dynamic([1,2,3]) | mv-expand a limit 2`, "1;2"},
		{"mv-expand-operator", `datatable(s:string)["[1,2]", "abc"] | mv-expand d = todynamic(s) | project d`, "1;2;abc"},
		{"mv-expand-operator", `print d = dynamic({"a":1,"b":2}) | mv-expand bagexpansion=array d | project k = tostring(d[0]), v = d[1]`, "a|1;b|2"},
		// parse with missing parts: simple is strict (all null), relaxed keeps what matched, regex and parse-where.
		{"parse-operator", `print s = "a=1, b=" | parse s with "a=" a:long ", b=" b:long | project isnull(a), isnull(b)`, "true|true"},
		{"parse-operator", `print s = "a=1" | parse kind=relaxed s with "a=" a:long ", b=" b | project a, b`, "|"},
		{"parse-operator", `print s = "a=x b=nan" | parse kind=relaxed s with "a=" a " b=" b:long | project a, isnull(b)`, "x|true"},
		{"parse-operator", `print s = "x a=1 y" | parse s with * "a=" a:long " " * | project a`, "1"},
		{"parse-operator", `print s = "key: val; more" | parse kind=regex flags=i s with "KEY: " v "; " rest | project v, rest`, "val|more"},
		{"parse-where-operator", `print s = "key: val" | parse-where s with "nope" v | count`, "0"},
		// kind=regex: the pattern's own groups do not shift the columns (Microsoft's analyser accepts them).
		{"parse-operator", `print b = "ab12cd" | parse kind=regex b with "(a|z)b" n:long "(c)d" | project n`, "12"},
		{"parse-operator", `print s = "2024-01-01T00:00:00Z|5m" | parse s with d:datetime "|" t:timespan | project d, t`, "2024-01-01T00:00:00.0000000Z|00:05:00"},
		// datetime and timespan arithmetic and printing (scalar-data-types/timespan, tostring-function).
		{"scalar-data-types/timespan", `print tostring(time(1.02:03:04.5)), tostring(time(-00:00:01)), tostring(1d), tostring(90m), tostring(1tick), tostring(datetime(2024-01-02 03:04:05.1234567))`, "1.02:03:04.5000000|-00:00:01|1.00:00:00|01:30:00|00:00:00.0000001|2024-01-02T03:04:05.1234567Z"},
		{"datetime-timespan-arithmetic", `print datetime(2024-03-01) - datetime(2024-02-01), datetime(2024-01-01) - 1h, 1h * 2.5, 1h / 4, 1h / 2h, datetime(2024-01-31) + 1d`, "29.00:00:00|2023-12-31T23:00:00.0000000Z|02:30:00|00:15:00|0.5|2024-02-01T00:00:00.0000000Z"},
		// modulo is never negative (numerical-operators: -14 % 12 is 10, 14 % -12 is 2, -14 % -12 is 10).
		{"numerical-operators", `print 14 % 12, -14 % 12, 14 % -12, -14 % -12, -7.5 % 2`, "2|10|2|10|0.5"},
		// a real inside dynamic met by a long: the analyser types the result long; the
		// docs give no value, so eval casts the result as tolong() would, never null.
		{"scalar-data-types/dynamic", `datatable(d:dynamic)[dynamic({"score":1.5}), dynamic({"score":0.2})] | where d.score * 2 > 2 | project d.score * 2`, "3"},
		// case-insensitive operators on non-ASCII: in~ matches what =~ matches.
		{"in-operator", `datatable(s:string)["ÀB", "àb c"] | where s in~ ("àb") | project s`, "ÀB"},
		{"in-operator", `datatable(s:string)["ÀB", "àb c"] | where s in~ (dynamic(["àb"])) | project s`, "ÀB"},
		{"in-operator", `datatable(s:string)["ÀB", "àb c"] | where s =~ "àb" | project s`, "ÀB"},
		{"in-operator", `print "A" in~ (dynamic([["a"],"b"])), 2 in (dynamic([[1],[2]])), "a" !in~ (dynamic(["A"]))`, "true|true|false"},
		// has with punctuation and short terms (has-operator, datatypes-string-operators).
		{"has-operator", `print "alice@contoso.com" has "alice@contoso", "a-b_c" has "b", "foo-bar.baz" has "bar.baz", "hello world" has "lo wo", "a b" has "a", "ab" has "a"`, "true|true|true|false|true|false"},
		// between on datetimes is inclusive; a null is not between anything, and !between of null is true.
		{"between-operator", `datatable(t:datetime)[datetime(2024-01-01), datetime(2024-01-02), datetime(2024-01-03)] | where t between (datetime(2024-01-01) .. datetime(2024-01-02)) | count`, "2"},
		{"between-operator", `datatable(t:datetime)[datetime(2024-01-01), datetime(2024-01-02), datetime(2024-01-03)] | where t between (datetime(2024-01-02) .. 1d) | count`, "2"},
		// strings compared with numbers in where: ResultType is a string in SigninLogs.
		{"null-values", `datatable(s:string)["50126", "0", "100", "abc"] | where s == 50126 | project s`, "50126"},
		{"tolong-function", `datatable(s:string)["50126", "0", "100", "abc"] | where toint(s) > 5 | project s`, "50126;100"},
		// top with nulls first/last; sort's defaults (sort-operator, top-operator).
		{"top-operator", `datatable(n:long)[3, int(null), 1, 2] | top 2 by n`, "3;2"},
		{"top-operator", `datatable(n:long)[3, int(null), 1, 2] | top 2 by n asc`, ";1"},
		{"top-operator", `datatable(n:long)[3, int(null), 1, 2] | top 2 by n asc nulls last`, "1;2"},
		{"top-operator", `datatable(n:long)[3, int(null), 1, 2] | top 2 by n desc nulls first`, ";3"},
		{"sort-operator", `datatable(n:long, s:string)[1,"a",2,"b",1,"c"] | sort by n asc, s desc`, "1|c;1|a;2|b"},
		{"take-operator", `datatable(n:long)[5,1,4,2,3] | sort by n asc | take 2`, "1;2"},
		// distinct on several columns, count on empty input, extend overwriting.
		{"distinct-operator", `datatable(n:long, s:string)[1,"a",2,"b",1,"a",2,"b",1,"e"] | distinct n, s | count`, "3"},
		{"count-operator", `datatable(n:long)[1,2] | where n > 5 | count`, "0"},
		{"extend-operator", `datatable(n:long, s:string)[1,"a"] | extend n = n * 10, s = strcat(s, "x")`, "10|ax"},
		{"extend-operator", `datatable(n:long, s:string)[1,"a"] | extend n = "text" | project n, gettype(n)`, "text|string"},
		// each expression is a calculation over the input: b reads the input's a, not the new one.
		{"extend-operator", `datatable(a:long)[1] | extend a = "s", b = a | project a, b, gettype(b)`, "s|1|long"},
		{"extend-operator", `datatable(a:long)[1] | extend a = a + 1 | extend b = a`, "2|2"},
		// column names are case-sensitive.
		{"schema-entities/entity-names", `datatable(Name:string, name:string)["a", "b"] | project name`, "b"},
		// let: the innermost binding applies; toscalar of an empty table is null.
		{"let-statement", `let x = 1; let f = (x:long) { x * 10 }; print f(5), x`, "50|1"},
		{"let-statement", `let x = 1; let f = (y:long) { let x = 2; x + y }; print f(1), x`, "3|1"},
		{"toscalar-function", `print isnull(toscalar(datatable(a:long)[1] | where a > 5)), toscalar(datatable(a:long)[1] | where a > 5 | count)`, "true|0"},
		// union kind=inner: every input's rows (union-operator).
		{"union-operator", `union kind=inner (print x=1, z=3), (print y=2, z=4) | sort by z asc | project z`, "3;4"},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			_, res, err := run(t, probeCatalog(t), tc.q)
			if err != nil {
				t.Fatalf("%s%s: %v", doc, tc.doc, err)
			}
			if got := render(res); got != tc.want {
				t.Errorf("%s%s\n  query: %s\n  got:  %q\n  want: %q", doc, tc.doc, tc.q, got, tc.want)
			}
		})
	}
}
