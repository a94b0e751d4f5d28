package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryParseOnly runs the built binary: exit codes, the JSON shape,
// positions in multi-query files.
func TestQueryParseOnly(t *testing.T) {
	dir := t.TempDir()
	hunting := filepath.Join(dir, "hunting.kql")
	// A Sentinel and a Defender version, separated by a blank line, as hunting files are written.
	os.WriteFile(hunting, []byte("//Sentinel\nSigninLogs\n| where UserPrincipalName =~ 'bg@contoso.com'\n\n//Defender\nAADSignInEventsBeta\n| where AccountUpn =~ 'bg@contoso.com'\n"), 0o600)
	broken := filepath.Join(dir, "broken.kql")
	os.WriteFile(broken, []byte("SigninLogs\n| take 1\n\nSigninLogs\n| where x ==\n| take 1\n"), 0o600)
	empty := filepath.Join(dir, "empty.kql")
	os.WriteFile(empty, []byte("// nothing\n\n"), 0o600)

	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{"valid", []string{"query", "SigninLogs | where ResultType == 0 | project UserId", "--parse-only"}, 0, "ok: 1 query, valid KQL", ""},
		{"syntax", []string{"query", "SigninLogs | where", "--parse-only"}, 2, "query:1:19: error: expected an expression", "not valid KQL"},
		{"unsupported", []string{"query", "SigninLogs | make-series count() on TimeGenerated step 1h", "--parse-only"}, 3, "query:1:14: not supported: make-series", "cannot run"},
		{"file of blocks", []string{"query", "-f", hunting, "--parse-only"}, 0, "ok: 2 queries, valid KQL", ""},
		{"error placed in the file", []string{"query", "--file", broken, "--parse-only"}, 2, "broken.kql:6:1: error:", ""},
		{"no logs to run over", []string{"query", "SigninLogs | take 1"}, 2, "", "no logs to query"},
		{"logs with --parse-only", []string{"query", "SigninLogs | take 1", "--parse-only", hunting}, 2, "", "--parse-only reads no logs"},
		{"csv with --parse-only", []string{"query", "SigninLogs | take 1", "--parse-only", "--format", "csv"}, 2, "", "--parse-only prints table or json"},
		{"schema in table form", []string{"query", "SigninLogs | project UserId, TimeGenerated", "--parse-only"}, 0, "columns: UserId:string TimeGenerated:datetime", ""},
		{"no query", []string{"query", "--parse-only"}, 2, "", "no query"},
		{"empty file", []string{"query", "-f", empty, "--parse-only"}, 2, "", "no query in it"},
		{"missing file", []string{"query", "-f", filepath.Join(dir, "nope.kql"), "--parse-only"}, 2, "", "no such file"},
		{"bad format", []string{"query", "T", "--parse-only", "--format", "xml"}, 2, "", "want table, json or csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.out) || !strings.Contains(r.stderr, tt.err) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestQueryParseOnlyJSON(t *testing.T) {
	for _, tt := range []struct {
		query   string
		code    int
		ok      bool
		line    int
		col     int
		kind    string
		columns string // the result schema, "null" when there is none
	}{
		{"SigninLogs\n| project UserId, TimeGenerated, LocationDetails", 0, true, 0, 0, "",
			`[{"name":"UserId","type":"string"},{"name":"TimeGenerated","type":"datetime"},{"name":"LocationDetails","type":"dynamic"}]`},
		{"AuditLogs | project-rename When = TimeGenerated | project When, Id | take 3", 0, true, 0, 0, "",
			`[{"name":"When","type":"datetime"},{"name":"Id","type":"string"}]`},
		{"SigninLogs\n| where NoSuchColumn == 1", 0, true, 0, 0, "", "null"}, // valid KQL; the engine says why when run
		{"SigninLogs\n| where a == b == c", 2, false, 2, 16, "syntax", "null"},
		{"SigninLogs | evaluate bag_unpack(x)", 3, false, 1, 14, "unsupported", "null"},
	} {
		r := runBinary(t, nil, "query", tt.query, "--parse-only", "--format", "json")
		var got struct {
			OK     *bool `json:"ok"`
			Errors []struct {
				Line, Col     int
				Message, Kind string
			} `json:"errors"`
			Columns *json.RawMessage `json:"columns"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%q: %v\n%s", tt.query, err, r.stdout)
		}
		cols := "null"
		if got.Columns != nil {
			var b bytes.Buffer
			json.Compact(&b, *got.Columns)
			cols = b.String()
		}
		if r.code != tt.code || got.OK == nil || *got.OK != tt.ok || got.Errors == nil || cols != tt.columns {
			t.Errorf("%q: exit %d ok %v columns %s (want %s): %s", tt.query, r.code, got.OK, cols, tt.columns, r.stdout)
		}
		if tt.line > 0 && (len(got.Errors) != 1 || got.Errors[0].Line != tt.line || got.Errors[0].Col != tt.col || got.Errors[0].Kind != tt.kind || got.Errors[0].Message == "") {
			t.Errorf("%q: errors %+v, want one %s at %d:%d", tt.query, got.Errors, tt.kind, tt.line, tt.col)
		}
	}
}
