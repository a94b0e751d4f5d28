package tables

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"breakglass/internal/kql/value"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// TestEvidence: a real store's evidence records are the rows of their
// tables, each record once however many alerts it raised; alerts without
// a record are passed over.
func TestEvidence(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2024, 6, 20, 8, 0, 0, 0, time.UTC)
	signIn := `{"Type":"SigninLogs","TimeGenerated":"2024-06-20T08:00:00Z","Id":"s1","UserPrincipalName":"bg@contoso.com","IPAddress":"203.0.113.7"}`
	audit := `{"id":"a1","category":"UserManagement","result":"success","activityDisplayName":"Update user","activityDateTime":"2024-06-20T05:12:33Z","initiatedBy":{"user":{"userPrincipalName":"bg@contoso.com"}},"targetResources":[]}`
	add := func(event, rule, raw string) {
		t.Helper()
		a := storetest.Alert(event, rule, now)
		if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: event, Category: a.Category, Source: "t", Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	add("s1", "bg.signin", signIn)
	add("s1", "kql.other", signIn) // the same record, a second alert
	add("a1", "bg.activity", audit)
	if _, err := st.AddAlert(ctx, storetest.Alert("x1", "bg.silence", now), store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	add("u1", "bg.unparsed", "not a record {")

	cat := NewEvidence(st)
	count := func(table string) (n int, first map[string]value.Value) {
		err := cat.Scan(ctx, table, func(row []value.Value) error {
			n++
			if first == nil {
				first = named(t, table, append([]value.Value(nil), row...))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		return n, first
	}
	if n, row := count("SigninLogs"); n != 1 || row["IPAddress"].String() != "203.0.113.7" {
		t.Errorf("SigninLogs: %d rows, first %v", n, row)
	}
	if n, row := count("AuditLogs"); n != 1 || row["OperationName"].String() != "Update user" {
		t.Errorf("AuditLogs: %d rows, first %v", n, row)
	}
	if n, _ := count("MicrosoftGraphActivityLogs"); n != 0 {
		t.Errorf("MicrosoftGraphActivityLogs: %d rows", n)
	}

	// Records kept for the KQL rules come first, with their ingestion
	// time; the evidence copy of one of them is not given twice.
	ingested := now.Add(3 * time.Minute)
	other := `{"Type":"SigninLogs","TimeGenerated":"2024-06-20T08:01:00Z","Id":"s2","UserPrincipalName":"alice@contoso.com","IPAddress":"198.51.100.9"}`
	for _, raw := range []string{other, signIn} {
		if _, err := st.AppendRecord(ctx, store.KQLRecord{Table: "SigninLogs", Ingested: ingested, Source: "t", Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	var ips, received []string
	err = cat.Scan(ctx, "SigninLogs", func(row []value.Value) error {
		r := named(t, "SigninLogs", append([]value.Value(nil), row...))
		ips = append(ips, r["IPAddress"].String())
		received = append(received, r["_TimeReceived"].String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ips) != 2 || ips[0] != "198.51.100.9" || ips[1] != "203.0.113.7" || received[0] != "2024-06-20T08:03:00.0000000Z" {
		t.Errorf("with kept records: IPs %v, received %v; want the two kept records once each, with their ingestion time", ips, received)
	}
}
