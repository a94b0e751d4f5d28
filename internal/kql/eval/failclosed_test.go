package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"breakglass/internal/kql"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
)

// tablesCatalog is the six tables' real schemas (internal/kql/tables), empty.
type tablesCatalog struct{}

func (tablesCatalog) Schema(t string) ([]value.Column, bool) { return tables.Schema(t) }
func (tablesCatalog) Scan(context.Context, string, func([]value.Value) error) error {
	return nil
}

// sampleRow decodes the first record of table in a ../shared sample file
// with the decoders breakglass reads logs with.
func sampleRow(t *testing.T, file, table string) []value.Value {
	s := sharedDir(t)
	if s == "" {
		t.Skip("../shared is absent: no samples")
	}
	b, err := os.ReadFile(filepath.Join(s, "corpus", "samples", file))
	if err != nil {
		t.Skipf("no sample: %v", err)
	}
	var row []value.Value
	_ = tables.EachRow(b, testNow, func(tb string, r []value.Value) error {
		if tb == table && row == nil {
			row = r
		}
		return nil
	})
	if row == nil {
		t.Fatalf("%s: no %s record", file, table)
	}
	return row
}

// oddShapes are the ways a decoder (or a new export format) may hand a
// column over other than as its schema type: a string column as a dynamic
// string or a number, a dynamic column as JSON text (Log Analytics exports
// do that) or as a dynamic string of JSON text, a datetime as text, a bool
// as text. Each keeps the value's meaning.
func oddShapes(col value.Column, v value.Value) map[string]value.Value {
	out := map[string]value.Value{}
	if v.IsNull() {
		return out
	}
	switch col.Type {
	case value.String:
		out["dynamic string"] = value.NewDynamic(v.S)
		if n := convert(v, value.Long); !n.IsNull() && n.String() == v.S {
			out["long"] = n
			out["dynamic long"] = value.NewDynamic(n.Dynamic())
		}
	case value.Dynamic:
		js := value.JSON(v.Dynamic())
		out["JSON text in a string"] = value.NewString(js)
		out["JSON text in a dynamic string"] = value.NewDynamic(js)
	case value.DateTime:
		out["RFC 3339 text"] = value.NewString(v.String())
		out["dynamic RFC 3339 text"] = value.NewDynamic(v.String())
	case value.Bool:
		out["text"] = value.NewString(v.String())
		out["dynamic"] = value.NewDynamic(v.Dynamic())
	}
	return out
}

// TestFilterFailClosed: pure filter rules over real records (Microsoft
// Graph's signIn example, a real Log Analytics AuditLogs row, Graph's
// directoryAudit example), each of which matches the record as decoded,
// still match when any one column arrives in an odd shape that keeps its
// meaning: a break-glass sign-in must not be missed because a decoder
// handed over ResultType as a number or LocationDetails as JSON text.
func TestFilterFailClosed(t *testing.T) {
	cases := []struct {
		file, table string
		rules       []string
	}{
		{"graph-docs/beta-signin-list.example1.response.json", "SigninLogs", []string{
			`SigninLogs | where UserPrincipalName =~ "TestAccount1@contoso.com"`,
			`SigninLogs | where UserPrincipalName == "testaccount1@contoso.com"`,
			`SigninLogs | where UserPrincipalName in~ ("TESTACCOUNT1@contoso.com", "bg2@contoso.com")`,
			`SigninLogs | where UserPrincipalName has "testaccount1" and AppDisplayName has_any ("portal")`,
			`SigninLogs | where UserPrincipalName startswith "testaccount1@" | project UserPrincipalName, IPAddress`,
			`SigninLogs | where ResultType == "50126"`,
			`SigninLogs | where ResultType == 50126`,
			`SigninLogs | where ResultType != "0"`,
			`SigninLogs | where ResultType in ("50126", "50053")`,
			`SigninLogs | where toint(ResultType) > 0`,
			`SigninLogs | where LocationDetails.countryOrRegion == "US"`,
			`SigninLogs | where tostring(LocationDetails["countryOrRegion"]) =~ "us"`,
			`SigninLogs | extend c = tostring(LocationDetails.countryOrRegion), city = LocationDetails.city | where c == "US" | project UserPrincipalName, c, city`,
			`SigninLogs | where Status.errorCode == 50126`,
			`SigninLogs | where toint(Status.errorCode) == 50126`,
			`SigninLogs | where tostring(Status) has "50126"`,
			`SigninLogs | where DeviceDetail.browser startswith "Edge"`,
			`SigninLogs | where TimeGenerated > datetime(2021-01-01)`,
			`SigninLogs | where TimeGenerated between (datetime(2021-06-30) .. 1d)`,
			`SigninLogs | where CreatedDateTime >= datetime(2021-06-30 16:34:32)`,
			`SigninLogs | where IsInteractive`,
			`SigninLogs | where IsInteractive == true`,
			`SigninLogs | where isnotempty(UserPrincipalName) and isnotempty(IPAddress)`,
			`SigninLogs | where IPAddress == "131.107.159.37"`,
			`SigninLogs | where ipv4_is_in_range(IPAddress, "131.107.0.0/16")`,
			`SigninLogs | where * has "testaccount1"`,
		}},
		{"otrf/AADAuditEvents.json", "AuditLogs", []string{
			`AuditLogs | where tostring(InitiatedBy.user.userPrincipalName) =~ "PGustavo@simulandlabs.com"`,
			`AuditLogs | where InitiatedBy.user.userPrincipalName == "pgustavo@simulandlabs.com"`,
			`AuditLogs | where InitiatedBy has "pgustavo"`,
			`AuditLogs | where TargetResources[0].displayName == "SimuLandApp"`,
			`AuditLogs | where tostring(TargetResources[0].modifiedProperties) has "KeyDescription"`,
			`AuditLogs | where OperationName has "Certificates and secrets"`,
			`AuditLogs | where Result =~ "success" and Category == "ApplicationManagement"`,
			`AuditLogs | where TimeGenerated > datetime(2021-08-01)`,
			`AuditLogs | extend who = tostring(InitiatedBy.user.userPrincipalName) | where who endswith "@simulandlabs.com" | project who, OperationName`,
		}},
		{"graph-docs/v1.0-directoryaudit-list.example1.response.json", "AuditLogs", []string{
			`AuditLogs | where OperationName == "Add member to group"`,
			`AuditLogs | where InitiatedBy.user.userPrincipalName =~ "bob@wingtiptoysonline.com"`,
			`AuditLogs | where TargetResources[0].displayName == "Example.com"`,
			`AuditLogs | where TargetResources has "unifiedGroups"`,
		}},
	}
	for _, tc := range cases {
		row := sampleRow(t, tc.file, tc.table)
		cols, _ := tables.Schema(tc.table)
		for _, q := range tc.rules {
			sc, err := kql.Parse(q)
			if err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			cq, err := Compile(sc, tablesCatalog{}, Options{Now: testNow})
			if err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			f, ok := cq.Filter()
			if !ok {
				t.Errorf("%s: not a filter", q)
				continue
			}
			if _, ok := f.Match(row); !ok {
				t.Errorf("%s: %s: no match on the record as decoded", tc.file, q)
				continue
			}
			for i, col := range cols {
				for shape, v := range oddShapes(col, row[i]) {
					odd := append([]value.Value(nil), row...)
					odd[i] = v
					if _, ok := f.Match(odd); !ok {
						t.Errorf("%s: %s\n  missed when %s (%s) arrives as %s: %.80s", tc.file, q, col.Name, col.Type, shape, v.String())
					}
				}
			}
		}
	}
}

// TestScanConforms: a scheduled (non-filter) query reads odd-shaped values
// by their column types too, as Filter.Match does.
func TestScanConforms(t *testing.T) {
	cols := []value.Column{{Name: "TimeGenerated", Type: value.DateTime}, {Name: "ResultType", Type: value.String}, {Name: "LocationDetails", Type: value.Dynamic}}
	cat := &memCatalog{tables: map[string]*Table{"S": {Columns: cols, Rows: [][]value.Value{
		{value.NewString("2024-01-01T00:10:00Z"), value.NewLong(50126), value.NewDynamic(`{"countryOrRegion":"US"}`)},
		{value.NewDateTime(testNow), value.NewString("50126"), value.NewString(`{"countryOrRegion":"US"}`)},
		{value.Value{}, value.Value{}, value.NewLong(1)},
	}}}}
	_, res, err := run(t, cat, `S | where ResultType in ("50126") and TimeGenerated > datetime(2023-12-31) | summarize n = count() by c = tostring(LocationDetails.countryOrRegion)`)
	if err != nil {
		t.Fatal(err)
	}
	if got := render(res); got != "US|2" {
		t.Errorf("got %q, want US|2", got)
	}
	_, res, err = run(t, cat, `S | where isnull(TimeGenerated) | project ResultType, LocationDetails`)
	if err != nil || render(res) != "|1" {
		t.Errorf("null and number rows: %v, %q", err, render(res))
	}
}
