package eval

import "testing"

// TestOracleTypeErrors: which operand types Kusto accepts, as Microsoft's
// analyser decided on the probe tables (parse.js --schema probe_schema.csv):
// a query it accepts compiles here, one it rejects is a compile error here.
// (Left out: datetime * number, which the analyser accepts and eval rejects.)
func TestOracleTypeErrors(t *testing.T) {
	cat := probeCatalog(t)
	for _, tc := range []struct {
		q  string
		ok bool
	}{
		{`T | where Code == "0"`, true},
		{`T | where User == 0`, true},
		{`T | where TimeGenerated > "2024-01-01"`, false},
		{`T | where TimeGenerated > datetime(2024-01-01)`, true},
		{`T | where Code > 1.5`, true},
		{`T | where Props == "x"`, true},
		{`T | where Props.a > 1`, true},
		{`T | where Props.a > "x"`, false},
		{`T | where User > "a"`, false},
		{`T | where true == 1`, true},
		{`T | where User == true`, true},
		{`T | where TimeGenerated == 1h`, true},
		{`T | where Code < 1h`, false},
		{`T | where Code != int(1)`, true},
		{`T | where User != guid(00000000-0000-0000-0000-000000000000)`, true},
		{`T | where Props has "x"`, true},
		{`T | where Code has "1"`, false},
		{`T | where TimeGenerated contains "2024"`, false},
		{`T | where Code in ("1", 2)`, true},
		{`T | where User in (1, 2)`, true},
		{`T | where Code between (1 .. "5")`, false},
		{`T | where TimeGenerated between (ago(1d) .. now())`, true},
		{`T | where isnotempty(Props) and Props`, true},
		{`T | where Props.a`, false},
		{`T | where Code`, false},
		{`T | where User matches regex "a"`, true},
		{`T | where Code matches regex "1"`, false},
		{`T | where User =~ 1`, false},
		{`T | where Props =~ "x"`, true},
		{`T | extend x = Code + "1"`, false},
		{`T | extend x = TimeGenerated + 1`, false},
		{`T | extend x = User * 2`, false},
		{`T | extend x = 1h + 1`, false},
		{`T | extend x = true + 1`, false},
		{`T | where User has_any (1, 2)`, true},
		{`T | where Code !in (dynamic([1,2]))`, true},
		{`T | where Props in ("x")`, true},
		{`T | where Code == Props.a`, true},
		{`T | summarize count() by Props.a`, false},
		{`T | summarize count() by User, Props`, false},
		{`T | sort by Props`, false},
		{`T | join (U) on $left.Code == $right.User`, false},
		{`T | join (U | extend Code = tostring(1)) on Code`, false},
	} {
		_, _, err := run(t, cat, tc.q)
		if (err == nil) != tc.ok {
			t.Errorf("%s: the oracle accepts it: %v; eval: %v", tc.q, tc.ok, err)
		}
	}
}
