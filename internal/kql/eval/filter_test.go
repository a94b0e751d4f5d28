package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// rawRecord is one record: its raw text and its row in a table's schema.
type rawRecord struct {
	table string
	raw   string
	row   []value.Value
}

// rowFromJSON decodes a Log Analytics-shaped JSON object into a row of cols.
func rowFromJSON(m map[string]any, cols []value.Column) []value.Value {
	row := make([]value.Value, len(cols))
	for i, c := range cols {
		x, ok := m[c.Name]
		if !ok || x == nil {
			row[i] = value.NullOf(c.Type)
			continue
		}
		switch c.Type {
		case value.String:
			if s, ok := x.(string); ok {
				row[i] = value.NewString(s)
			} else {
				row[i] = value.NewString(value.JSON(value.NewDynamic(x).D))
			}
		case value.Dynamic:
			if s, ok := x.(string); ok {
				row[i] = value.ParseJSON(s)
			} else {
				row[i] = value.NewDynamic(x)
			}
		default:
			row[i] = convert(value.NewDynamic(x), c.Type)
		}
	}
	return row
}

// realAuditRecords reads the OTRF AuditLogs export in ../shared (real Log
// Analytics rows), or nil when it is absent.
func realAuditRecords(t *testing.T, cols []value.Column) []rawRecord {
	s := sharedDir(t)
	if s == "" {
		return nil
	}
	f, err := os.Open(filepath.Join(s, "corpus", "samples", "otrf", "AADAuditEvents.json"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []rawRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		out = append(out, rawRecord{table: "AuditLogs", raw: line, row: rowFromJSON(m, cols)})
	}
	return out
}

// syntheticSignins makes sign-in records whose raw text is their JSON.
func syntheticSignins(rng *rand.Rand, cols []value.Column, n int) []rawRecord {
	users := []string{"bg-admin1@contoso.com", "BG-Admin2@Contoso.com", "alice@contoso.com", "émile@contoso.com", "bob@fabrikam.com", ""}
	apps := []string{"Azure Portal", "Microsoft Teams", "Azure Active Directory PowerShell", "Graph Explorer", "office 365 exchange online"}
	ips := []string{"10.0.0.1", "192.168.1.20", "2001:db8::1", ""}
	var out []rawRecord
	for i := 0; i < n; i++ {
		m := map[string]any{
			"TimeGenerated":     time.Date(2024, 1, 1, 0, rng.Intn(600), 0, 0, time.UTC).Format(time.RFC3339),
			"UserPrincipalName": users[rng.Intn(len(users))],
			"AppDisplayName":    apps[rng.Intn(len(apps))],
			"IPAddress":         ips[rng.Intn(len(ips))],
			"ResultType":        []string{"0", "50126", "53003"}[rng.Intn(3)],
			"LocationDetails":   map[string]any{"countryOrRegion": []string{"US", "FR", "NL"}[rng.Intn(3)], "city": "Paris"},
		}
		b, _ := json.Marshal(m)
		out = append(out, rawRecord{table: "SigninLogs", raw: string(b), row: rowFromJSON(m, cols)})
	}
	return out
}

func asciiContainsFold(hay, needle string) bool {
	return strings.Contains(asciiLower(hay), asciiLower(needle))
}

var bgWatchlist = map[string]*Table{"bg": {
	Columns: []value.Column{{Name: "SearchKey", Type: value.String}},
	Rows:    [][]value.Value{{value.NewString("bg-admin1@contoso.com")}, {value.NewString("BG-ADMIN2@contoso.com")}},
}}

// TestFilterLiterals: a pure filter's Match agrees with the full evaluation
// on every record, and every record it matches contains one of its
// Literals (ASCII case-insensitively) in its raw text: the prefilter is sound.
func TestFilterLiterals(t *testing.T) {
	six := sixCatalog(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	records := append(realAuditRecords(t, six.tables["AuditLogs"].Columns), syntheticSignins(rng, six.tables["SigninLogs"].Columns, 400)...)
	t.Logf("%d records (%d real AuditLogs rows)", len(records), len(records)-400)
	cases := []struct {
		q        string
		literals string // the expected Literals, "-" for nil
	}{
		{`SigninLogs | where UserPrincipalName == "bg-admin1@contoso.com"`, "bg-admin1@contoso.com"},
		{`SigninLogs | where UserPrincipalName =~ "bg-admin2@contoso.com" | project UserPrincipalName`, "bg-admin2@contoso.com"},
		{`SigninLogs | where UserPrincipalName in~ ("BG-ADMIN1@contoso.com", "bg-admin2@contoso.com")`, "BG-ADMIN1@contoso.com bg-admin2@contoso.com"},
		{`SigninLogs | where AppDisplayName has "powershell" and ResultType == "0"`, "powershell"},
		{`SigninLogs | where AppDisplayName has_any ("Explorer", "PowerShell")`, "Explorer PowerShell"},
		{`SigninLogs | where UserPrincipalName startswith "bg-" or AppDisplayName contains "graph"`, "bg- graph"},
		{`SigninLogs | where UserPrincipalName endswith "@fabrikam.com" | extend x = 1`, "@fabrikam.com"},
		{`SigninLogs | where tostring(LocationDetails.countryOrRegion) == "FR"`, "-"}, // tostring() hides the column
		{`SigninLogs | where LocationDetails.countryOrRegion == "FR"`, "FR"},
		{`SigninLogs | project-rename U = UserPrincipalName | where U == "alice@contoso.com"`, "alice@contoso.com"},
		{`SigninLogs | extend U = tolower(UserPrincipalName) | where U == "bg-admin2@contoso.com"`, "-"}, // computed: not in the raw text
		{`SigninLogs | extend UserPrincipalName = "x" | where UserPrincipalName == "x"`, "-"},
		{`SigninLogs | where UserPrincipalName != "alice@contoso.com"`, "-"},
		{`SigninLogs | where UserPrincipalName == "alice@contoso.com" or ResultType != "0"`, "-"},
		{`SigninLogs | where UserPrincipalName =~ "ÉMILE@contoso.com"`, "-"}, // not ASCII
		{`SigninLogs | where IPAddress has "10.0.0"`, "10.0.0"},
		{`SigninLogs | where LocationDetails.city == "1000"`, "-"}, // a number-like literal on dynamic: raw 1e3 == "1000"
		{`SigninLogs | where LocationDetails has "Paris"`, "Paris"},
		{`SigninLogs | where ResultType in ("50126", "53003") | where AppDisplayName =~ "azure portal"`, "azure portal"},
		{`AuditLogs | where OperationName has "application" | project OperationName, TimeGenerated`, "application"},
		{`let bg = _GetWatchlist('bg') | project SearchKey; SigninLogs | where UserPrincipalName in~ (bg)`, "BG-ADMIN2@contoso.com bg-admin1@contoso.com"},
		{`SigninLogs | where UserPrincipalName has_any (_GetWatchlist('bg') | project SearchKey)`, "BG-ADMIN2@contoso.com bg-admin1@contoso.com"},
		{`SigninLogs | where UserPrincipalName in~ (_GetWatchlist('bg') | project x = strcat(SearchKey, ""))`, "-"},
		{`SigninLogs | where UserPrincipalName in~ (dynamic(["alice@contoso.com", "bob@fabrikam.com"]))`, "alice@contoso.com bob@fabrikam.com"},
		{`AuditLogs | where TargetResources has "Certificates" or InitiatedBy has "user"`, "Certificates user"},
		{`AuditLogs | where Result == "success" and Category =~ "ApplicationManagement"`, "ApplicationManagement"},
	}
	for _, tc := range cases {
		sc, err := kql.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Compile(sc, verbatimCatalog{six}, Options{Now: testNow, Watchlists: bgWatchlist})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		f, ok := q.Filter()
		if !ok {
			t.Fatalf("%s: not a pure filter", tc.q)
		}
		got := strings.Join(f.Literals, " ")
		if f.Literals == nil {
			got = "-"
		}
		if got != tc.literals {
			t.Errorf("%s: literals %q, want %q", tc.q, got, tc.literals)
		}
		if colsString(f.Columns) != colsString(q.Columns()) {
			t.Errorf("%s: Filter.Columns %s, Query.Columns %s", tc.q, colsString(f.Columns), colsString(q.Columns()))
		}
		matched := 0
		for _, r := range records {
			if r.table != f.Table {
				continue
			}
			out, ok := f.Match(r.row)
			one := &memCatalog{tables: map[string]*Table{r.table: {Columns: six.tables[r.table].Columns, Rows: [][]value.Value{r.row}}}}
			q1, err := Compile(sc, one, Options{Now: testNow, Watchlists: bgWatchlist})
			if err != nil {
				t.Fatal(err)
			}
			full, err := q1.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ok != (len(full.Rows) == 1) {
				t.Fatalf("%s: Match says %v, the full evaluation %d rows, on %.200s", tc.q, ok, len(full.Rows), r.raw)
			}
			if !ok {
				continue
			}
			matched++
			if fmt.Sprint(out) != fmt.Sprint(full.Rows[0]) {
				t.Errorf("%s: Match gives %v, Run %v", tc.q, out, full.Rows[0])
			}
			if f.Literals != nil {
				hit := false
				for _, l := range f.Literals {
					hit = hit || asciiContainsFold(r.raw, l)
				}
				if !hit {
					t.Errorf("%s: a matching record holds none of %q: %.300s", tc.q, f.Literals, r.raw)
				}
			}
		}
		t.Logf("%-100s %3d matches, literals %s", tc.q, matched, got)
	}
	// Without Verbatim the catalog vouches for nothing: no literals.
	sc, _ := kql.Parse(`SigninLogs | where UserPrincipalName == "x"`)
	q, _ := Compile(sc, six, Options{})
	if f, ok := q.Filter(); !ok || f.Literals != nil {
		t.Errorf("a catalog without Verbatim: filter %v, literals %v; want a filter with no literals", ok, f.Literals)
	}
	// Not pure filters.
	for _, s := range []string{`SigninLogs | take 1`, `SigninLogs | summarize count()`, `SigninLogs | join (AuditLogs) on TenantId`,
		`SigninLogs | where UserPrincipalName in ((AuditLogs | project Identity))`, `SigninLogs | sort by TimeGenerated`, `print 1`,
		`let t = SigninLogs; t | where UserPrincipalName == "x"`} {
		sc, _ := kql.Parse(s)
		q, err := Compile(sc, six, Options{})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if s == `let t = SigninLogs; t | where UserPrincipalName == "x"` {
			if _, ok := q.Filter(); !ok {
				t.Errorf("%s: a let-bound table is still a pure filter", s)
			}
			continue
		}
		if _, ok := q.Filter(); ok {
			t.Errorf("%s: reported as a pure filter", s)
		}
	}
}

// TestFilterOddRows: a row of the wrong width is evaluated padded, never dropped or a crash.
func TestFilterOddRows(t *testing.T) {
	cat := probeCatalog(t)
	sc, _ := kql.Parse(`T | where isnull(Props) or User == "x" | project User, Props`)
	q, err := Compile(sc, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := q.Filter()
	if !ok {
		t.Fatal("not a filter")
	}
	for _, row := range [][]value.Value{nil, {value.NewDateTime(testNow), value.NewString("x")}, make([]value.Value, 20)} {
		out, ok := f.Match(row)
		if !ok || len(out) != 2 {
			t.Errorf("row of %d values: ok %v, out %v", len(row), ok, out)
		}
	}
}
