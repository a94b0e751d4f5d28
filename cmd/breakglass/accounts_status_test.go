package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

var statusBase = time.Date(2026, 1, 10, 3, 12, 0, 0, time.UTC)

const (
	statusBG1 = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	statusBG3 = "0b9f1a2c-3d4e-4f50-8a61-b7c8d9e0f101"
	statusMem = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b" // a group member, not in accounts:
)

// newStatusFixture is a store as serve leaves it, long after Entra's
// retention: bg1 signed in and its incident was reviewed as a drill; bg2
// never signed in; bg3's newest sign-in is one the Graph pull kept, newer
// than its alert; a group member's incident is still open.
func newStatusFixture(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "bg.db")
	cfg := writeTemp(t, "bg.yaml", "accounts:\n  - id: "+statusBG1+"\n    upn: bg-admin1@contoso.onmicrosoft.com\n  - upn: bg-admin2@contoso.onmicrosoft.com\n  - id: "+statusBG3+"\nstore:\n  path: "+db+"\n")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	signIn := func(event, acct, upn string, at time.Time, result, app string) (alert.Alert, store.Incident) {
		a := alert.Alert{ID: alert.Key(event, "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in (" + result + ")",
			AccountID: acct, AccountUPN: upn, EventID: event, EventTime: at, Category: "SignInLogs", Source: "graph:signIns",
			Detected: at.Add(time.Minute), Result: result, App: app, IPAddress: "203.0.113.7"}
		if _, err := st.AddAlert(ctx, a, store.Evidence{EventID: event, Category: "SignInLogs", Raw: []byte(`{"id":"` + event + `"}`)}); err != nil {
			t.Fatal(err)
		}
		inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(acct), store.IncidentAccount, 2*time.Hour, at.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return a, inc
	}
	_, inc1 := signIn("evt-bg1-old", statusBG1, "bg-admin1@contoso.onmicrosoft.com", statusBase.Add(-30*24*time.Hour), "success", "Azure Portal")
	if err := st.SetReview(ctx, inc1.ID, store.Review{Class: store.ClassDrill, By: "alice", At: statusBase.Add(-29 * 24 * time.Hour), Note: "quarterly drill"}); err != nil {
		t.Fatal(err)
	}
	_, inc1b := signIn("evt-bg1-new", statusBG1, "bg-admin1@contoso.onmicrosoft.com", statusBase.Add(-3*24*time.Hour), "failure 50126", "Microsoft Azure PowerShell")
	if err := st.SetReview(ctx, inc1b.ID, store.Review{Class: store.ClassDrill, By: "bob", At: statusBase.Add(-2 * 24 * time.Hour), Note: "drill, wrong password first"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetIncidentState(ctx, inc1b.ID, store.IncidentClosed, "bob", "done", statusBase.Add(-2*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, inc3 := signIn("evt-bg3", statusBG3, "", statusBase.Add(-50*24*time.Hour), "success", "Azure Portal")
	pulled := `{"id":"evt-bg3-late","createdDateTime":"` + statusBase.Add(-50*24*time.Hour+20*time.Minute).Format(time.RFC3339) +
		`","userId":"` + statusBG3 + `","appDisplayName":"Graph Explorer","ipAddress":"198.51.100.4","status":{"errorCode":0}}`
	if _, err := st.AppendLog(ctx, store.LogEntry{Incident: inc3.ID, Kind: store.LogPull, Ref: "evt-bg3-late", At: statusBase, Content: []byte(pulled)}); err != nil {
		t.Fatal(err)
	}
	signIn("evt-member", statusMem, "bg-member@contoso.onmicrosoft.com", statusBase.Add(-time.Hour), "success", "Azure Portal")
	return cfg
}

// TestAccountsStatusGolden: the table and JSON through the binary.
func TestAccountsStatusGolden(t *testing.T) {
	cfg := newStatusFixture(t)
	for _, tt := range []struct {
		name, golden string
		args         []string
	}{
		{"table", "accounts-status.table", []string{"accounts", "status", "-c", cfg}},
		{"json", "accounts-status.json", []string{"accounts", "status", "-c", cfg, "--format", "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			golden(t, tt.golden, r.stdout)
		})
	}
}

// TestAccountsStatusJSON: one object per account per line, in
// configuration order then the group member, with what each row says.
func TestAccountsStatusJSON(t *testing.T) {
	cfg := newStatusFixture(t)
	r := runBinary(t, nil, "accounts", "status", "-c", cfg, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), r.stdout)
	}
	type row struct {
		AccountID  string `json:"account_id"`
		AccountUPN string `json:"account_upn"`
		Configured bool   `json:"configured"`
		LastSignIn *struct {
			Time   time.Time `json:"time"`
			Result string    `json:"result"`
			From   string    `json:"from"`
		} `json:"last_sign_in"`
		LastIncident *struct {
			State          string `json:"state"`
			Classification string `json:"classification"`
		} `json:"last_incident"`
	}
	var rows []row
	for _, l := range lines {
		var x row
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		rows = append(rows, x)
	}
	if s := rows[0].LastSignIn; s == nil || !s.Time.Equal(statusBase.Add(-3*24*time.Hour)) || s.Result != "failure 50126" {
		t.Errorf("bg1 last sign-in %+v", s)
	}
	if i := rows[0].LastIncident; i == nil || i.State != "closed" || i.Classification != "drill" {
		t.Errorf("bg1 last incident %+v", i)
	}
	if rows[1].LastSignIn != nil || rows[1].LastIncident != nil || !rows[1].Configured {
		t.Errorf("bg2: %+v", rows[1])
	}
	if s := rows[2].LastSignIn; s == nil || !strings.Contains(s.From, "evidence of incident") || !s.Time.Equal(statusBase.Add(-50*24*time.Hour+20*time.Minute)) {
		t.Errorf("bg3 last sign-in %+v, want the pulled one", s)
	}
	if rows[3].Configured || rows[3].AccountID != statusMem || rows[3].LastIncident == nil || rows[3].LastIncident.State != "open" {
		t.Errorf("group member: %+v", rows[3])
	}
}

func TestAccountsStatusUsage(t *testing.T) {
	cfg := newStatusFixture(t)
	if r := runBinary(t, nil, "accounts", "status", "-c", cfg, "--format", "yaml"); r.code != 2 || !strings.Contains(r.stderr, "--format") {
		t.Errorf("bad format: exit %d %s", r.code, r.stderr)
	}
	missing := writeTemp(t, "missing.yaml", "accounts: [{upn: a@b.c}]\nstore:\n  path: "+filepath.Join(t.TempDir(), "none.db")+"\n")
	if r := runBinary(t, nil, "accounts", "status", "-c", missing); r.code != 2 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("missing store: exit %d %s", r.code, r.stderr)
	}
}
