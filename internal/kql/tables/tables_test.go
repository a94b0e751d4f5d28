package tables

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"breakglass/internal/kql/value"
)

// sharedDir finds ../shared beside the repository, or "" when absent.
func sharedDir(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// TestSchemaMatchesCorpus: the embedded schema is the six tables' rows of
// sentinelninja's la_table_schemas.csv, column for column, in its order,
// followed by the standard columns Microsoft's analyser adds.
func TestSchemaMatchesCorpus(t *testing.T) {
	s := sharedDir(t)
	if s == "" {
		t.Skip("../shared is absent: no schema CSV to compare with")
	}
	fh, err := os.Open(filepath.Join(s, "corpus/samples/sentinelninja/la_table_schemas.csv"))
	if err != nil {
		t.Skipf("schema CSV absent: %v", err)
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]value.Column{}
	for _, rec := range recs[1:] {
		if len(rec) < 3 || !slices.Contains(tableNames, rec[0]) {
			continue
		}
		typ, ok := value.ParseType(rec[2])
		if !ok {
			t.Fatalf("CSV: %s.%s: unknown type %q", rec[0], rec[1], rec[2])
		}
		want[rec[0]] = append(want[rec[0]], value.Column{Name: rec[1], Type: typ})
	}
	for _, name := range Names() {
		w := want[name]
		if len(w) == 0 {
			t.Fatalf("%s: not in the CSV", name)
		}
		for _, c := range standardColumns {
			if !slices.ContainsFunc(w, func(x value.Column) bool { return x.Name == c.Name }) {
				w = append(w, c)
			}
		}
		got, ok := Schema(name)
		if !ok {
			t.Fatalf("Schema(%s): missing", name)
		}
		if !slices.Equal(got, w) {
			t.Errorf("Schema(%s) differs from the CSV:\n got %v\nwant %v", name, got, w)
		}
	}
}

func TestSchema(t *testing.T) {
	if got := len(Names()); got != 6 {
		t.Fatalf("Names: %d tables, want 6", got)
	}
	if _, ok := Schema("SecurityEvent"); ok {
		t.Error("Schema(SecurityEvent): ok for a table breakglass does not fill")
	}
	// The types that detections depend on, as Log Analytics has them.
	for _, c := range []struct {
		table, col string
		typ        value.Type
	}{
		{"SigninLogs", "TimeGenerated", value.DateTime},
		{"SigninLogs", "Status", value.Dynamic},
		{"SigninLogs", "LocationDetails", value.Dynamic},
		{"SigninLogs", "ResultType", value.String},
		{"SigninLogs", "IsInteractive", value.Bool},
		{"SigninLogs", "TenantId", value.String},
		{"SigninLogs", "_TimeReceived", value.DateTime},
		{"AADNonInteractiveUserSignInLogs", "Status", value.String}, // string there, dynamic in SigninLogs
		{"AADNonInteractiveUserSignInLogs", "LocationDetails", value.String},
		{"AuditLogs", "InitiatedBy", value.Dynamic},
		{"AuditLogs", "TargetResources", value.Dynamic},
		{"AuditLogs", "DurationMs", value.Long},
		{"MicrosoftGraphActivityLogs", "ResponseStatusCode", value.Int},
	} {
		cols, _ := Schema(c.table)
		i := slices.IndexFunc(cols, func(x value.Column) bool { return x.Name == c.col })
		if i < 0 {
			t.Errorf("%s.%s: missing", c.table, c.col)
			continue
		}
		if cols[i].Type != c.typ {
			t.Errorf("%s.%s: %s, want %s", c.table, c.col, cols[i].Type, c.typ)
		}
	}
	// Schema returns a copy.
	a, _ := Schema("AuditLogs")
	a[0].Name = "changed"
	if b, _ := Schema("AuditLogs"); b[0].Name == "changed" {
		t.Error("Schema returned the package's own slice")
	}
}

// TestVerbatim: columns whose text the decoder may make up give no
// prefilter literals; copied ones do; non-text columns never.
func TestVerbatim(t *testing.T) {
	for _, c := range []struct {
		table, col string
		want       bool
	}{
		{"SigninLogs", "UserPrincipalName", true},
		{"SigninLogs", "UserId", true},
		{"SigninLogs", "IPAddress", true},
		{"SigninLogs", "DeviceDetail", true},
		{"AuditLogs", "InitiatedBy", true},
		{"AuditLogs", "TargetResources", true},
		{"SigninLogs", "Type", false},          // the table's name
		{"SigninLogs", "OperationName", false}, // "Sign-in activity" for Graph records
		{"SigninLogs", "Category", false},
		{"SigninLogs", "ResultType", false}, // "0" made up for a success
		{"SigninLogs", "Status", false},
		{"SigninLogs", "Location", false}, // "city, state"
		{"AuditLogs", "Result", false},    // numbers become words
		{"SigninLogs", "TimeGenerated", false},
		{"SigninLogs", "IsInteractive", false},
		{"SigninLogs", "NoSuchColumn", false},
		{"NoSuchTable", "UserId", false},
	} {
		if got := Verbatim(c.table, c.col); got != c.want {
			t.Errorf("Verbatim(%s, %s) = %v, want %v", c.table, c.col, got, c.want)
		}
	}
	for _, name := range Names() {
		cols, _ := Schema(name)
		if last := cols[len(cols)-1]; last.Name != "_TimeReceived" {
			t.Errorf("%s: last column %s, want _TimeReceived", name, last.Name)
		}
	}
}
