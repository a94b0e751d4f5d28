package kql

import (
	"errors"
	"testing"
)

var fuzzSeeds = []string{
	"SigninLogs | where UserPrincipalName =~ 'bg@contoso.com' | project TimeGenerated, IPAddress",
	"let f = (T:(a:string), n:long = 1) { T | take n }; f(datatable(a:string)['x'])",
	"T | summarize count() by bin(TimeGenerated, 1h) | sort by count_ desc nulls last",
	"T | mv-expand x = Props.tags to typeof(string) limit 5 | parse kind=regex Msg with @'(\\d+)' N:long",
	"T | join kind=leftanti (U | where x !in~ ('a')) on $left.a == $right.b",
	"print x = dynamic({'a': [1, 2.5, null, true]}), y = datetime(2024-01-01), z = 1.5h, g = guid(00000000-0000-0000-0000-000000000000)",
	"T | where a between (1 .. 2) and b has_any (L) or c matches regex \"x\"",
	"T | make-series count() on TimeGenerated step 1h | render timechart with (title='t')",
	"```multi\nline``` h'secret' @\"v\"\"q\"",
	"union withsource=S *Logs*, (T | take 1)",
}

// FuzzLex: the lexer never panics, and tokens tile the input in order.
func FuzzLex(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := Lex(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		prev := 0
		for _, tk := range toks {
			if tk.Off < prev || tk.End < tk.Off || tk.End > len(s) {
				t.Fatalf("token %+v out of order (prev end %d, len %d)", tk, prev, len(s))
			}
			prev = tk.End
		}
		if toks[len(toks)-1].Kind != TokEOF {
			t.Fatal("no EOF token")
		}
	})
}

// FuzzParse: the parser never panics; errors are typed and placed inside
// the text; blocks parse the same way.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := Check(s)
		if err != nil {
			var se *SyntaxError
			var ue *UnsupportedError
			switch {
			case errors.As(err, &se):
				if se.Pos.Offset < 0 || se.Pos.Offset > len(s) || se.Pos.Line < 1 || se.Pos.Col < 1 {
					t.Fatalf("error position %+v outside the text", se.Pos)
				}
			case errors.As(err, &ue):
				if sc == nil {
					t.Fatal("unsupported without a script")
				}
			default:
				t.Fatalf("error of type %T: %v", err, err)
			}
		}
		for _, b := range SplitBlocks(s) {
			if s[b.Off:b.Off+len(b.Text)] != b.Text {
				t.Fatalf("block %+v is not at its offset", b)
			}
			_, _ = Parse(b.Text)
		}
	})
}
