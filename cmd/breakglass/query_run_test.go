package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/internal/geoip/geoiptest"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/value"
)

var spaces = regexp.MustCompile(` +`)

// TestQueryRun runs queries over the sample logs through the binary: each
// format's shape and values, routing records of mixed shapes to their
// tables, errors placed in the text, and the exit codes.
func TestQueryRun(t *testing.T) {
	dir := t.TempDir()
	signins := inputs("PT1H.json", "la-signinlogs.json", "graph-signin-single.json")
	hunting := filepath.Join(dir, "hunting.kql")
	// A Sentinel and a Defender version, as hunting files are written: the
	// first runs, the second names a table breakglass does not have.
	os.WriteFile(hunting, []byte("SigninLogs\n| where UserPrincipalName =~ 'BG-ADMIN1@contoso.onmicrosoft.com'\n| count\n\nAADSignInEventsBeta\n| where AccountUpn =~ 'bg@contoso.com'\n"), 0o600)
	badGz := filepath.Join(dir, "cut.json.gz")
	gz, _ := os.ReadFile(filepath.Join(logsDir, "PT1H.json.gz"))
	os.WriteFile(badGz, gz[:len(gz)/2], 0o600)

	tests := []struct {
		name string
		args []string
		code int
		out  []string // each in stdout
		err  string   // in stderr
	}{
		{"table over three shapes", append([]string{"query", "SigninLogs | where UserPrincipalName =~ 'BG-ADMIN1@contoso.onmicrosoft.com' | project TimeGenerated, IPAddress, Location | sort by TimeGenerated asc"}, signins...), 0,
			[]string{"TimeGenerated IPAddress Location\n", "2024-06-20T05:12:33Z 203.0.113.7 NO\n", "2024-06-20T07:00:00.5522137Z 203.0.113.7 NO\n", "2024-06-20T08:00:00.123Z 2001:db8::5 NO\n", "(3 rows)"}, ""},
		{"csv with a header", append([]string{"query", "--format", "csv", "AuditLogs | project OperationName, Category, Result | sort by OperationName asc"}, inputs("la-auditlogs.csv")...), 0,
			[]string{"OperationName,Category,Result\nAdd owner to group,GroupManagement,success\n"}, ""},
		{"count over a directory of every shape", []string{"query", "AuditLogs | count", logsDir}, 0, []string{"Count\n"}, "not records breakglass can read"},
		{"no rows", append([]string{"query", "SigninLogs | where UserPrincipalName == 'nobody'"}, signins...), 0, []string{"(no rows)"}, ""},
		{"blocks of a hunting file", []string{"query", "-f", hunting, inputs("PT1H.json")[0]}, 2, []string{"query 1 (line 1):", "Count\n1\n"}, "hunting.kql:5:1: error:"},
		{"unknown column placed", []string{"query", "SigninLogs\n| where Nope == 1", signins[0]}, 2, nil, "query:2:9: error: unknown column"},
		{"unsupported", []string{"query", "SigninLogs | make-series count() on TimeGenerated step 1h", signins[0]}, 3, nil, "not supported: make-series"},
		{"syntax", []string{"query", "SigninLogs | where", signins[0]}, 2, nil, "query:1:19: error:"},
		{"missing log file", []string{"query", "SigninLogs | count", filepath.Join(dir, "nope.json")}, 2, nil, "nope.json"},
		{"files and --store", []string{"query", "SigninLogs | count", "--store", signins[0]}, 2, nil, "not both"},
		{"a log file cut off", []string{"query", "SigninLogs | count", badGz}, 1, nil, "cut.json.gz"},
		{"--store without a config", []string{"query", "SigninLogs | count", "--store"}, 2, nil, "BREAKGLASS_CONFIG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, tt.args...)
			ok := r.code == tt.code && strings.Contains(r.stderr, tt.err)
			// The table's padding depends on the widest cell: compare
			// with runs of spaces as one, in order.
			out := spaces.ReplaceAllString(r.stdout, " ")
			at := 0
			for _, o := range tt.out {
				i := strings.Index(out[at:], o)
				ok = ok && i >= 0
				if i >= 0 {
					at += i + len(o)
				}
			}
			if !ok {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestQueryJSON: one object per row, keys in column order, datetimes in
// RFC 3339, dynamic values as JSON, nulls as null, numbers as numbers.
func TestQueryJSON(t *testing.T) {
	r := runBinary(t, nil, append([]string{"query", "--format", "json",
		"SigninLogs | where UserPrincipalName =~ 'bg-admin1@contoso.onmicrosoft.com' | sort by TimeGenerated asc | project TimeGenerated, UserPrincipalName, IsInteractive, DurationMs, LocationDetails"},
		inputs("PT1H.json", "la-signinlogs.json")...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), r.stdout)
	}
	if !strings.HasPrefix(lines[0], `{"TimeGenerated":"2024-06-20T07:00:00.5522137Z","UserPrincipalName":"bg-admin1@contoso.onmicrosoft.com","IsInteractive":true,"DurationMs":0,"LocationDetails":{`) {
		t.Errorf("row 1: %s", lines[0])
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil {
		t.Fatalf("row 2 is not JSON: %v\n%s", err, lines[1])
	}
	if _, err := time.Parse(time.RFC3339Nano, row["TimeGenerated"].(string)); err != nil {
		t.Errorf("TimeGenerated: %v", err)
	}
	loc, _ := row["LocationDetails"].(map[string]any)
	if row["DurationMs"] != nil || loc["city"] != "Bergen" || row["IsInteractive"] != true {
		t.Errorf("row 2: DurationMs %v (want null: the row has none), LocationDetails %v, IsInteractive %v", row["DurationMs"], row["LocationDetails"], row["IsInteractive"])
	}
}

// TestQueryWatchlist: _GetWatchlist('breakGlassAccounts') is the
// configuration's accounts, so Sentinel's break-glass queries run
// unchanged; without a configuration the error says what to pass.
func TestQueryWatchlist(t *testing.T) {
	cfg := writeTemp(t, "bg.yaml", "accounts: [{upn: bg-admin2@contoso.onmicrosoft.com, name: BG two}]\nstore:\n  path: "+filepath.Join(t.TempDir(), "bg.db")+"\n")
	q := "let bg = _GetWatchlist('breakGlassAccounts') | project UserPrincipalName;\nunion SigninLogs, AADNonInteractiveUserSignInLogs\n| where UserPrincipalName in~ (bg)\n| project UserPrincipalName, Type"
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "query", "-c", cfg, "--format", "csv", q, filepath.Join(logsDir, "PT1H.json"))
	if r.code != 0 || r.stdout != "UserPrincipalName,Type\nbg-admin2@contoso.onmicrosoft.com,AADNonInteractiveUserSignInLogs\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, []string{"BREAKGLASS_CONFIG="}, "query", q, filepath.Join(logsDir, "PT1H.json"))
	if r.code != 2 || !strings.Contains(r.stderr, "query:1:10: error:") || !strings.Contains(r.stderr, "pass --config FILE") {
		t.Errorf("without a config: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
}

// TestQueryStdin: logs on stdin (-) are read once per table scanned.
func TestQueryStdin(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(logsDir, "PT1H.json"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "query", "union SigninLogs, AuditLogs | count", "-")
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "Count\n3\n") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
}

// TestQueryStore: --store reads what the store keeps: here the evidence
// records of the alerts a scan stored.
func TestQueryStore(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTemp(t, "bg.yaml", "accounts: [{upn: bg-admin1@contoso.onmicrosoft.com}, {upn: bg-admin2@contoso.onmicrosoft.com}]\nstore:\n  path: "+filepath.Join(dir, "bg.db")+"\n")
	if r := runBinary(t, nil, append([]string{"scan", "-c", cfg}, inputs("PT1H.json")...)...); r.code != 0 {
		t.Fatalf("scan: exit %d: %s", r.code, r.stderr)
	}
	r := runBinary(t, nil, "query", "-c", cfg, "--store", "--format", "csv",
		"union SigninLogs, AADNonInteractiveUserSignInLogs, AuditLogs | project Type, UserPrincipalName | sort by Type asc")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Type,UserPrincipalName\n") || !strings.Contains(r.stdout, "SigninLogs,bg-admin1@contoso.onmicrosoft.com\n") ||
		!strings.Contains(r.stdout, "AADNonInteractiveUserSignInLogs,bg-admin2@contoso.onmicrosoft.com\n") || strings.Contains(r.stdout, "alice@") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// TestQueryFormats: each value type in each format, on a hand-made result.
func TestQueryFormats(t *testing.T) {
	tm := time.Date(2024, 6, 20, 7, 0, 0, 552213700, time.UTC)
	g, _ := value.NewGuid("7D5F3B2A-4C1E-4F6B-9A8D-2E3C4B5A6F70")
	res := &eval.Result{Table: eval.Table{
		Columns: []value.Column{{Name: "s", Type: value.String}, {Name: "t", Type: value.DateTime}, {Name: "d", Type: value.Dynamic},
			{Name: "n", Type: value.Long}, {Name: "r", Type: value.Real}, {Name: "b", Type: value.Bool}, {Name: "g", Type: value.Guid}, {Name: "ts", Type: value.TimeSpan}},
		Rows: [][]value.Value{
			{value.NewString("a \"q\" <x>\x1b[2J"), value.NewDateTime(tm), value.ParseJSON(`{"k":[1,"v"]}`), value.NewLong(-3), value.NewReal(math.NaN()), value.NewBool(true), g, value.NewTimeSpan(90 * time.Minute)},
			{value.NewString(""), value.NullOf(value.DateTime), value.NullOf(value.Dynamic), value.NullOf(value.Long), value.NewReal(0.5), value.NullOf(value.Bool), value.NullOf(value.Guid), value.NullOf(value.TimeSpan)},
		},
	}}
	var b bytes.Buffer
	if err := writeJSONRows(&b, res); err != nil {
		t.Fatal(err)
	}
	want := `{"s":"a \"q\" <x>\u001b[2J","t":"2024-06-20T07:00:00.5522137Z","d":{"k":[1,"v"]},"n":-3,"r":"NaN","b":true,"g":"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70","ts":"01:30:00"}` + "\n" +
		`{"s":"","t":null,"d":null,"n":null,"r":0.5,"b":null,"g":null,"ts":null}` + "\n"
	if b.String() != want {
		t.Errorf("json:\n got %s\nwant %s", b.String(), want)
	}
	b.Reset()
	if err := writeCSVRows(&b, res); err != nil {
		t.Fatal(err)
	}
	wantCSV := "s,t,d,n,r,b,g,ts\n\"a \"\"q\"\" <x>\x1b[2J\",2024-06-20T07:00:00.5522137Z,\"{\"\"k\"\":[1,\"\"v\"\"]}\",-3,NaN,true,7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70,01:30:00\n,,,,0.5,,,\n"
	if b.String() != wantCSV {
		t.Errorf("csv:\n got %q\nwant %q", b.String(), wantCSV)
	}
	b.Reset()
	if err := writeTableRows(&b, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b") || !strings.Contains(b.String(), `a \"q\" <x>\x1b[2J`) || !strings.HasSuffix(b.String(), "(2 rows)\n") {
		t.Errorf("table: control characters must be shown quoted, not sent to the terminal:\n%s", b.String())
	}
	long := &eval.Result{Table: eval.Table{Columns: []value.Column{{Name: "x", Type: value.String}}, Rows: [][]value.Value{{value.NewString(strings.Repeat("é", 200))}}}}
	b.Reset()
	writeTableRows(&b, long)
	if !strings.Contains(b.String(), strings.Repeat("é", maxCell-1)+"…\n") {
		t.Errorf("a long cell is not cut at %d runes:\n%s", maxCell, b.String())
	}
}

// TestQueryWarnings: an ad hoc query over tables breakglass lacks, or
// calling geo_info_from_ip_address without a database, runs and says so;
// with kql.geoip_database the locations are filled in.
func TestQueryWarnings(t *testing.T) {
	logs := filepath.Join(logsDir, "PT1H.json")
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "query", "--format", "csv", "union isfuzzy=true (SecurityEvent | project UserPrincipalName), SigninLogs | summarize n = count() | project ok = n > 0", logs)
	if r.code != 0 || r.stdout != "ok\ntrue\n" || !strings.Contains(r.stderr, "reads tables breakglass does not have (SecurityEvent)") {
		t.Errorf("fuzzy union: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	geo := "print g = geo_info_from_ip_address('20.53.203.50')"
	r = runBinary(t, []string{"BREAKGLASS_CONFIG="}, "query", "--format", "json", geo, logs)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"g":null}` || !strings.Contains(r.stderr, "kql.geoip_database is not set") {
		t.Errorf("geo without a database: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	db := filepath.Join(t.TempDir(), "city.mmdb")
	if err := geoiptest.Write(db, []geoiptest.Network{{Prefix: netip.MustParsePrefix("20.53.0.0/16"),
		Data: geoiptest.City("Australia", "New South Wales", "Sydney", -33.8715, 151.2006)}}, geoiptest.Options{}); err != nil {
		t.Fatal(err)
	}
	cfg := writeTemp(t, "bg.yaml", "accounts: [{upn: bg@contoso.onmicrosoft.com}]\nkql:\n  geoip_database: "+db+"\nstore:\n  path: "+filepath.Join(t.TempDir(), "bg.db")+"\n")
	r = runBinary(t, []string{"BREAKGLASS_CONFIG="}, "query", "-c", cfg, "--format", "json", geo, logs)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"g":{"city":"Sydney","country":"Australia","latitude":-33.8715,"longitude":151.2006,"state":"New South Wales"}}` || r.stderr != "" {
		t.Errorf("geo with a database: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
