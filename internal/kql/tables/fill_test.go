package tables

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/value"
	"breakglass/internal/logs"
)

// records splits input as the scanner does and decodes each record; a
// record that does not decode still yields a Record (with a bare event of
// its class's category), as Row must cope with whatever it is given.
func records(t testing.TB, input []byte) []*detect.Record {
	t.Helper()
	sp, err := logs.NewSplitter(bytes.NewReader(input))
	if err != nil {
		t.Fatalf("NewSplitter: %v", err)
	}
	sp.SetMaxRecord(1 << 20)
	var out []*detect.Record
	for i := 0; i < 10*len(input)+100; i++ {
		r, err := sp.Next()
		if err == io.EOF {
			return out
		}
		var re *logs.RecordError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			return out
		}
		out = append(out, decoded(r.Data))
	}
	t.Fatal("splitter does not terminate")
	return nil
}

func decoded(data []byte) *detect.Record {
	data = append([]byte(nil), data...)
	cls := logs.Classify(data)
	ev := &entra.Event{}
	if err := logs.Decode(data, cls, ev); err != nil {
		*ev = entra.Event{Category: cls.Category, Shape: cls.Shape.String()}
	}
	return &detect.Record{Event: ev, Table: entra.TableOf(ev.Category), Raw: data}
}

// named returns the row's values by column name.
func named(t testing.TB, table string, row []value.Value) map[string]value.Value {
	t.Helper()
	cols, ok := Schema(table)
	if !ok {
		t.Fatalf("no schema for %q", table)
	}
	if len(row) != len(cols) {
		t.Fatalf("%s: %d values for %d columns", table, len(row), len(cols))
	}
	m := map[string]value.Value{}
	for i, c := range cols {
		if row[i].T != c.Type {
			t.Errorf("%s.%s: value of type %s in a %s column", table, c.Name, row[i].T, c.Type)
		}
		m[c.Name] = row[i]
	}
	return m
}

// TestSameSignInThreeShapes: one sign-in as a Graph object, a diagnostic
// record and a Log Analytics row gives equal values in every column the
// three carry, and they all carry the columns detections use.
func TestSameSignInThreeShapes(t *testing.T) {
	shapes := []string{"graph", "diagnostic", "la"}
	var rows []map[string]value.Value
	for _, s := range shapes {
		b, err := os.ReadFile("testdata/same-signin." + s + ".json")
		if err != nil {
			t.Fatal(err)
		}
		recs := records(t, b)
		if len(recs) != 1 {
			t.Fatalf("%s: %d records, want 1", s, len(recs))
		}
		table, row := Row(recs[0])
		if table != "SigninLogs" {
			t.Fatalf("%s: table %q, want SigninLogs", s, table)
		}
		rows = append(rows, named(t, table, row))
	}
	cols, _ := Schema("SigninLogs")
	var common []string
	for _, c := range cols {
		all := true
		for _, r := range rows {
			all = all && !r[c.Name].IsEmpty()
		}
		if !all {
			continue
		}
		common = append(common, c.Name)
		for i := 1; i < len(rows); i++ {
			a, b := rows[0][c.Name], rows[i][c.Name]
			if a.String() != b.String() {
				t.Errorf("%s: %s gives %q, %s gives %q", c.Name, shapes[0], a, shapes[i], b)
			}
		}
	}
	for _, must := range []string{"TimeGenerated", "CreatedDateTime", "Id", "UserId", "UserPrincipalName", "UserDisplayName",
		"AppId", "AppDisplayName", "IPAddress", "Location", "LocationDetails", "Status", "ResultType", "ResultDescription",
		"DeviceDetail", "ConditionalAccessStatus", "ConditionalAccessPolicies", "AuthenticationDetails", "AuthenticationRequirement",
		"IsInteractive", "CorrelationId", "UserAgent", "ResourceIdentity", "ResourceDisplayName", "Category", "OperationName",
		"Identity", "ClientAppUsed", "UserType", "HomeTenantId", "NetworkLocationDetails", "RiskState", "Type"} {
		if !slices.Contains(common, must) {
			t.Errorf("%s: not carried by every shape", must)
		}
	}
	t.Logf("%d columns carried by all three shapes", len(common))
}

// TestRowOddFields: wrong-typed, missing and odd fields cost only their
// column, which is the null of its type; the row is always produced.
func TestRowOddFields(t *testing.T) {
	const upn = "bg-admin1@contoso.onmicrosoft.com"
	tests := []struct {
		name  string
		input string
		table string
		want  map[string]string // column -> String(); "<null>" for a null
	}{
		{
			// IsInteractive falls back to the decoder's: every SigninLogs row is interactive.
			name:  "la wrong-typed bool, long and dynamic text",
			input: `{"Type":"SigninLogs","TimeGenerated":"2024-06-20T08:00:00Z","UserPrincipalName":"` + upn + `","IsInteractive":"maybe","FlaggedForReview":"maybe","DurationMs":"12.5","Status":"not json","LocationDetails":"{\"city\":\"Oslo\"}","DeviceDetail":""}`,
			table: "SigninLogs",
			want: map[string]string{"UserPrincipalName": upn, "IsInteractive": "true", "FlaggedForReview": "<null>", "DurationMs": "<null>", "Status": "not json",
				"LocationDetails": `{"city":"Oslo"}`, "DeviceDetail": "<null>", "TimeGenerated": "2024-06-20T08:00:00.0000000Z", "_TimeReceived": "<null>", "TenantId": ""},
		},
		{
			name:  "la unparsable time falls back to the decoded event time",
			input: `{"Type":"SigninLogs","TimeGenerated":"yesterday","CreatedDateTime":"2024-06-20T08:00:00Z","UserPrincipalName":"` + upn + `"}`,
			table: "SigninLogs",
			want:  map[string]string{"TimeGenerated": "2024-06-20T08:00:00.0000000Z", "UserPrincipalName": upn},
		},
		{
			name:  "la no usable time at all",
			input: `{"Type":"SigninLogs","TimeGenerated":"yesterday","UserPrincipalName":"` + upn + `"}`,
			table: "SigninLogs",
			want:  map[string]string{"TimeGenerated": "<null>", "CreatedDateTime": "<null>", "UserPrincipalName": upn},
		},
		{
			name:  "la string column given an object keeps its JSON text",
			input: `{"Type":"AADNonInteractiveUserSignInLogs","TimeGenerated":"2024-06-20T08:00:00Z","UserPrincipalName":"` + upn + `","LocationDetails":{"city":"Oslo","countryOrRegion":"NO"},"Status":{"errorCode":0}}`,
			table: "AADNonInteractiveUserSignInLogs",
			want:  map[string]string{"LocationDetails": `{"city":"Oslo","countryOrRegion":"NO"}`, "Status": `{"errorCode":0}`, "UserPrincipalName": upn},
		},
		{
			name:  "la audit with dynamic columns as JSON text",
			input: `{"Type":"AuditLogs","TimeGenerated":"2024-06-20T08:00:00Z","OperationName":"Update user","InitiatedBy":"{\"user\":{\"userPrincipalName\":\"` + upn + `\"}}","TargetResources":"[]","DurationMs":7}`,
			table: "AuditLogs",
			want:  map[string]string{"InitiatedBy": `{"user":{"userPrincipalName":"` + upn + `"}}`, "TargetResources": "[]", "DurationMs": "7", "OperationName": "Update user"},
		},
		{
			name:  "csv strings for every type",
			input: "TimeGenerated [UTC],Type,UserPrincipalName,IsInteractive,DurationMs,FlaggedForReview,Status\n\"4/28/2021, 2:08:45.221 PM\",SigninLogs," + upn + ",True,42,FALSE,\"{\"\"errorCode\"\":50126}\"\n",
			table: "SigninLogs",
			want: map[string]string{"TimeGenerated": "2021-04-28T14:08:45.2210000Z", "UserPrincipalName": upn, "IsInteractive": "true",
				"DurationMs": "42", "FlaggedForReview": "false", "Status": `{"errorCode":50126}`},
		},
		{
			name:  "graph wrong-typed status and location",
			input: `{"id":"s1","createdDateTime":"2024-06-20T05:12:33Z","userPrincipalName":"` + upn + `","userId":"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70","status":"oops","location":42,"isInteractive":"yes","deviceDetail":[1,2]}`,
			table: "SigninLogs",
			want: map[string]string{"UserPrincipalName": upn, "Id": "s1", "Status": "oops", "LocationDetails": "42", "DeviceDetail": "[1,2]",
				"TimeGenerated": "2024-06-20T05:12:33.0000000Z", "IsInteractive": "true"},
		},
		{
			name:  "diagnostic with properties as JSON text",
			input: `{"time":"2024-06-20T07:00:00Z","category":"NonInteractiveUserSignInLogs","tenantId":"t1","callerIpAddress":"203.0.113.7","properties":"{\"id\":\"d1\",\"userPrincipalName\":\"` + upn + `\",\"userId\":\"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\",\"createdDateTime\":\"2024-06-20T07:00:00Z\"}"}`,
			table: "AADNonInteractiveUserSignInLogs",
			want:  map[string]string{"Id": "d1", "UserPrincipalName": upn, "AADTenantId": "t1", "IPAddress": "203.0.113.7", "Category": "NonInteractiveUserSignInLogs"},
		},
		{
			name:  "diagnostic without properties keeps the envelope",
			input: `{"time":"2024-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","resultType":"50126","callerIpAddress":"203.0.113.7","identity":"` + upn + `"}`,
			table: "SigninLogs",
			want:  map[string]string{"TimeGenerated": "2024-06-20T07:00:00.0000000Z", "ResultType": "50126", "IPAddress": "203.0.113.7", "Identity": upn, "UserPrincipalName": ""},
		},
		{
			name:  "graph activity int overflow and text number",
			input: `{"Type":"MicrosoftGraphActivityLogs","TimeGenerated":"2026-07-16T02:00:45Z","RequestId":"r1","UserId":"u1","ResponseStatusCode":99999999999,"DurationMs":"120","ResponseSizeBytes":1.5}`,
			table: "MicrosoftGraphActivityLogs",
			want:  map[string]string{"ResponseStatusCode": "<null>", "DurationMs": "120", "ResponseSizeBytes": "<null>", "RequestId": "r1", "UserId": "u1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := records(t, []byte(tc.input))
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			table, row := Row(recs[0])
			if table != tc.table {
				t.Fatalf("table %q, want %q", table, tc.table)
			}
			got := named(t, table, row)
			if got["Type"].String() != tc.table {
				t.Errorf("Type = %q", got["Type"])
			}
			for col, want := range tc.want {
				v, ok := got[col]
				if !ok {
					t.Errorf("%s: no such column", col)
					continue
				}
				s := v.String()
				if v.IsNull() {
					s = "<null>"
				}
				if s != want {
					t.Errorf("%s = %q (%s), want %q", col, s, v.T, want)
				}
			}
		})
	}
}

// TestRowWithoutBytes: a record without its bytes (or with bytes of an
// unknown shape) gets its row from the decoded event alone; a record of
// another table gets none.
func TestRowWithoutBytes(t *testing.T) {
	recs := records(t, []byte(`{"id":"s1","createdDateTime":"2024-06-20T05:12:33Z","userPrincipalName":"a@b.c","userId":"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70","ipAddress":"203.0.113.7"}`))
	rec := recs[0]
	for _, raw := range [][]byte{nil, []byte("not json"), bytes.Repeat([]byte("{"), 1000)} {
		rec.Raw = raw
		table, row := Row(rec)
		got := named(t, table, row)
		if got["UserPrincipalName"].String() != "a@b.c" || got["IPAddress"].String() != "203.0.113.7" || got["TimeGenerated"].IsNull() {
			t.Errorf("raw %.20q: %v", raw, got)
		}
	}
	rec.Now = time.Date(2024, 6, 20, 5, 13, 0, 0, time.UTC)
	table, row := Row(rec)
	if got := named(t, table, row)["_TimeReceived"]; got.String() != "2024-06-20T05:13:00.0000000Z" {
		t.Errorf("_TimeReceived = %v, want the record's Now", got)
	}
	if table, row := Row(&detect.Record{Event: &entra.Event{Category: entra.CategoryRiskyUsers}}); table != "AADRiskyUsers" || row != nil {
		t.Errorf("risky user: %q %v, want AADRiskyUsers and no row", table, row)
	}
	if table, row := Row(nil); table != "" || row != nil {
		t.Errorf("nil: %q %v", table, row)
	}
	if table, row := Row(&detect.Record{Table: "AuditLogs"}); table != "AuditLogs" || len(row) == 0 {
		t.Errorf("no event: %q, %d values", table, len(row))
	}
}

// TestMemory: rows added are scanned per table, in order; a scan of an
// unknown table, a wrong row and a cancelled context are errors.
func TestMemory(t *testing.T) {
	b, err := os.ReadFile("../../logs/testdata/mixed.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMemory()
	added := map[string]int{}
	for _, rec := range records(t, b) {
		if name, ok := m.Add(rec); ok {
			added[name]++
		}
	}
	if len(added) < 2 {
		t.Fatalf("mixed.ndjson filled %v: want several tables", added)
	}
	ctx := context.Background()
	for name, n := range added {
		got := 0
		err := m.Scan(ctx, name, func(row []value.Value) error {
			got++
			named(t, name, row)
			row[0] = value.NewString("scribbled") // a copy: must not change the table
			return nil
		})
		if err != nil || got != n || m.Len(name) != n {
			t.Errorf("%s: scanned %d (err %v), Len %d, want %d", name, got, err, m.Len(name), n)
		}
		m.Scan(ctx, name, func(row []value.Value) error {
			if row[0].S == "scribbled" {
				t.Errorf("%s: Scan handed out the stored row", name)
			}
			return nil
		})
	}
	if err := m.Scan(ctx, "Nope", func([]value.Value) error { return nil }); !errors.Is(err, ErrNoTable) {
		t.Errorf("unknown table: %v", err)
	}
	if err := m.AddRow("AuditLogs", []value.Value{value.NewString("x")}); err == nil {
		t.Error("AddRow of a short row: no error")
	}
	stop := errors.New("stop")
	n := 0
	if err := m.Scan(ctx, "SigninLogs", func([]value.Value) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d rows", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Scan(cctx, "SigninLogs", func([]value.Value) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestFiles: a file of mixed shapes and tables is routed record by record;
// fn's error stops the scan; a missing file is an error naming it; input
// that is not a record is counted, not hidden.
func TestFiles(t *testing.T) {
	paths := []string{"../../logs/testdata/mixed.ndjson", "../../logs/testdata/PT1H.json.gz", "../../logs/testdata/bad-mixed.ndjson"}
	f := NewFiles(paths, FileOptions{Workers: 2})
	mem := NewMemory()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasSuffix([]byte(p), []byte(".gz")) {
			b, _ = os.ReadFile("../../logs/testdata/PT1H.json")
		}
		for _, rec := range records(t, b) {
			mem.Add(rec)
		}
	}
	ctx := context.Background()
	total := 0
	for _, name := range Names() {
		var got []string
		err := f.Scan(ctx, name, func(row []value.Value) error {
			got = append(got, rowText(row))
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		mem.Scan(ctx, name, func(row []value.Value) error { want = append(want, rowText(row)); return nil })
		if !slices.Equal(got, want) {
			t.Errorf("%s: Files gave %d rows, splitting by hand %d (or they differ)", name, len(got), len(want))
		}
		total += len(got)
	}
	if total < 10 {
		t.Errorf("only %d rows from the samples", total)
	}
	if n, first := f.Skipped(); n == 0 || len(first) == 0 {
		t.Errorf("bad-mixed.ndjson: nothing counted as skipped")
	}
	stop := errors.New("stop")
	n := 0
	if err := f.Scan(ctx, "SigninLogs", func([]value.Value) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d rows", err, n)
	}
	bad := NewFiles([]string{"testdata/no-such-file.json"}, FileOptions{})
	if err := bad.Scan(ctx, "SigninLogs", func([]value.Value) error { return nil }); err == nil || !bytes.Contains([]byte(err.Error()), []byte("no-such-file.json")) {
		t.Errorf("missing file: %v", err)
	}
	if err := f.Scan(ctx, "Nope", func([]value.Value) error { return nil }); !errors.Is(err, ErrNoTable) {
		t.Errorf("unknown table: %v", err)
	}
}

// rowText is a row as text, without _TimeReceived (when it was read).
func rowText(row []value.Value) string {
	var b bytes.Buffer
	for i, v := range row {
		if i == len(row)-1 {
			break // _TimeReceived, the last standard column
		}
		b.WriteString(v.String())
		b.WriteByte('|')
	}
	return b.String()
}
