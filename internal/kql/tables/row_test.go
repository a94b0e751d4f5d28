package tables

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/kql/value"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// samples are real and hand-made records of every shape the decoders read
// (internal/logs/testdata), and the same sign-in in three shapes
// (testdata/same-signin.*).
var samples = []string{
	"../../logs/testdata/PT1H.json",                     // diagnostic settings, storage account
	"../../logs/testdata/eventhub.json",                 // diagnostic settings, Event Hubs wrapper
	"../../logs/testdata/graph-signin-single.json",      // Graph signIn
	"../../logs/testdata/graph-signin-beta-page.json",   // Graph beta page
	"../../logs/testdata/graph-audit-page.json",         // Graph directoryAudit page
	"../../logs/testdata/la-signinlogs.json",            // Log Analytics JSON export
	"../../logs/testdata/la-noninteractive.ndjson",      // Log Analytics NDJSON
	"../../logs/testdata/la-auditlogs.csv",              // Log Analytics CSV export
	"../../logs/testdata/real/otrf-AADAuditEvents.json", // real AuditLogs rows, dynamic columns as text
	"../../logs/testdata/real/beta-signin-list.example1.response.json",
	"../../logs/testdata/real/v1.0-directoryaudit-list.example1.response.json",
	"../../logs/testdata/real/v1.0-directoryaudit-list.example2.response.json",
	"../../logs/testdata/categories/graphactivity-eventhub.json",   // MicrosoftGraphActivityLogs, diagnostic
	"../../logs/testdata/categories/graphactivity-la.json",         // MicrosoftGraphActivityLogs, Log Analytics
	"../../logs/testdata/categories/portal-signins.csv",            // Entra admin center download
	"../../logs/testdata/formats/adx-v1-auditlogs.json",            // query API answer (v1 frames)
	"../../logs/testdata/formats/adx-v2-signinlogs.json",           // query API answer (v2 frames)
	"../../logs/testdata/formats/la-api-signinlogs.json",           // Log Analytics query API
	"../../logs/testdata/formats/defender-aadsignineventsbeta.csv", // Defender advanced hunting
	"testdata/same-signin.graph.json",
	"testdata/same-signin.diagnostic.json",
	"testdata/same-signin.la.json",
}

// TestRowGolden: every sample's rows, table by table, with every column
// that is not null or empty, as name (type) = value.
func TestRowGolden(t *testing.T) {
	for _, path := range samples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got := render(t, path)
			golden := filepath.Join("testdata", "golden", filepath.Base(path)+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("rows of %s differ from %s (go test -update rewrites it):\n%s", path, golden, diff(string(want), got))
			}
		})
	}
}

func render(t *testing.T, path string) string {
	t.Helper()
	cat := NewFiles([]string{path}, FileOptions{Workers: 1})
	var b strings.Builder
	for _, name := range Names() {
		cols, _ := Schema(name)
		n := 0
		err := cat.Scan(context.Background(), name, func(row []value.Value) error {
			n++
			if len(row) != len(cols) {
				t.Fatalf("%s row %d: %d values for %d columns", name, n, len(row), len(cols))
			}
			fmt.Fprintf(&b, "%s row %d\n", name, n)
			for i, v := range row {
				if v.T != cols[i].Type {
					t.Errorf("%s row %d %s: value of type %s in a %s column", name, n, cols[i].Name, v.T, cols[i].Type)
				}
				if cols[i].Name == "_TimeReceived" {
					// When the scan read it: set, but not the same twice.
					if v.IsNull() {
						t.Errorf("%s row %d: _TimeReceived is null, want the time the file was read", name, n)
					}
					continue
				}
				if v.IsEmpty() {
					continue
				}
				fmt.Fprintf(&b, "  %s (%s) = %s\n", cols[i].Name, cols[i].Type, v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	skipped, first := cat.Skipped()
	if skipped > 0 {
		fmt.Fprintf(&b, "skipped %d\n", skipped)
		for _, p := range first {
			fmt.Fprintf(&b, "  %s: %s\n", filepath.Base(p.Source), p.Reason)
		}
	}
	return b.String()
}

// diff shows the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
