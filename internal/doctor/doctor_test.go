package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/graph/graphtest"
	"breakglass/internal/notify"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// TestChecksInOrder: the registry runs the brief's order.
func TestChecksInOrder(t *testing.T) {
	want := []string{"config", "store", "sources", "graph", "channels", "clock", "accounts"}
	if got := Checks(); !slices.Equal(got, want) {
		t.Errorf("Checks() = %v, want %v", got, want)
	}
}

// TestAllGreen: a healthy installation on loopback passes every check and
// exits 0; the table is the golden one.
func TestAllGreen(t *testing.T) {
	f := newFixture(t)
	rep := f.run(false)
	for _, r := range rep.Results {
		if r.Status != OK {
			t.Errorf("%s %s: %s: %s (fix: %s)", r.Check, r.Item, r.Status, r.Detail, r.Fix)
		}
	}
	if rep.ExitCode() != 0 || !rep.OK {
		t.Errorf("exit %d, want 0:\n%s", rep.ExitCode(), table(rep))
	}
	noSecrets(t, rep, f.token)
	golden(t, "all-green", f.normalize(table(rep)))
	// Nothing was sent and no store was migrated or written but the
	// heartbeat: the dry runs are dry.
	if f.hookN.Load() != 0 || len(f.smtp.Requests()) != 0 {
		t.Errorf("a dry run sent: %d webhook posts, %d mails", f.hookN.Load(), len(f.smtp.Requests()))
	}
	for _, r := range f.graph.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.Errorf("doctor sent %s %s to Graph", r.Method, r.Path)
		}
	}
}

// TestMissingPermission: Graph refuses the audit log (403, as without
// AuditLog.Read.All) and the token's roles lack it: both findings name the
// permission, and the fix says how to grant and admin-consent it.
func TestMissingPermission(t *testing.T) {
	f := newFixture(t)
	f.roles = slices.DeleteFunc(slices.Clone(allRoles), func(r string) bool { return r == "AuditLog.Read.All" })
	f.graph.Fail("/v1.0/auditLogs/directoryAudits", http.StatusForbidden, 100, "",
		graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	f.graph.Fail("/v1.0/reports/authenticationMethods/userRegistrationDetails", http.StatusForbidden, 100, "",
		graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	rep := f.run(false)
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode())
	}
	roles := find(t, rep, "graph", "permissions (token roles)")
	if roles.Status != Fail || !strings.Contains(roles.Detail, "lack AuditLog.Read.All") {
		t.Errorf("roles: %s: %s", roles.Status, roles.Detail)
	}
	for _, r := range []Result{roles, find(t, rep, "graph", "GET /auditLogs/directoryAudits")} {
		if r.Status != Fail {
			t.Errorf("%s: %s, want fail", r.Item, r.Status)
		}
		for _, want := range []string{"AuditLog.Read.All", "Grant admin consent", "az ad app permission admin-consent --id " + clientID} {
			if !strings.Contains(r.Fix, want) {
				t.Errorf("%s: fix %q does not say %q", r.Item, r.Fix, want)
			}
		}
	}
	if r := find(t, rep, "graph", "GET /auditLogs/signIns"); r.Status != Skip && r.Status != OK && r.Status != Fail {
		t.Errorf("unexpected %v", r)
	}
	noSecrets(t, rep, f.token)
	golden(t, "missing-permission", f.normalize(table(rep)))
}

// TestUnreachableSMTP: nothing listens where the email channel points:
// the channel is named, with what to check and the command to check it.
func TestUnreachableSMTP(t *testing.T) {
	f := newFixture(t)
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	f.smtpPrt = atoi(t, port)
	rep := f.run(false)
	r := find(t, rep, "channels", "oncall/email (email) dry run")
	if r.Status != Fail || !strings.Contains(r.Detail, "cannot connect to "+addr) || !strings.Contains(r.Detail, "refused") {
		t.Errorf("email: %s: %s", r.Status, r.Detail)
	}
	for _, want := range []string{"notify.groups[0].channels[0].host and .port", "nc -vz 127.0.0.1 " + port} {
		if !strings.Contains(r.Fix, want) {
			t.Errorf("fix %q does not say %q", r.Fix, want)
		}
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode())
	}
	noSecrets(t, rep, f.token)
	golden(t, "unreachable-smtp", f.normalize(table(rep)))
}

// TestStaleStore: a store an older breakglass left (only the first
// migrations applied) is reported stale with what is pending and how to
// upgrade it, and is not migrated.
func TestStaleStore(t *testing.T) {
	f := newFixture(t)
	os.Remove(f.store)
	os.Remove(f.store + "-wal")
	os.Remove(f.store + "-shm")
	createStoreAt(t, f.store, 6)
	rep := f.run(false)
	r := find(t, rep, "store", "schema")
	known := sqlite.KnownMigrations()
	want := fmt.Sprintf("stale: %d migrations pending (%s)", len(known)-6, versionList(known[6:]))
	if r.Status != Fail || !strings.Contains(r.Detail, want) ||
		!strings.Contains(r.Detail, fmt.Sprintf("at schema 0006, this binary at %04d", known[len(known)-1])) {
		t.Errorf("schema: %s: %s (want %q)", r.Status, r.Detail, want)
	}
	if !strings.Contains(r.Fix, "`breakglass serve` once") || !strings.Contains(r.Fix, "back the store up first") {
		t.Errorf("fix: %s", r.Fix)
	}
	for _, item := range []string{"writable", "evidence chain"} {
		if got := find(t, rep, "store", item); got.Status != Skip {
			t.Errorf("%s: %s after a stale schema, want skip", item, got.Status)
		}
	}
	applied, _, err := sqlite.Inspect(context.Background(), f.store)
	if err != nil || len(applied) != 6 {
		t.Errorf("after doctor the store has %v applied (%v): doctor migrated it", applied, err)
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode())
	}
	golden(t, "stale-store", f.normalize(table(rep)))
}

// TestStoreAhead: a store a newer breakglass migrated is named, with the
// advice not to run this binary on it.
func TestStoreAhead(t *testing.T) {
	f := newFixture(t)
	st, err := sqlite.Open(context.Background(), f.store)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	createExtraMigration(t, f.store, 42)
	rep := f.run(false)
	r := find(t, rep, "store", "schema")
	if r.Status != Fail || !strings.Contains(r.Detail, "ahead") || !strings.Contains(r.Detail, "0042") || !strings.Contains(r.Fix, "newer breakglass") {
		t.Errorf("schema: %s: %s (fix %s)", r.Status, r.Detail, r.Fix)
	}
}

// TestInvalidConfig: every problem at once, exit 2, the rest skipped.
func TestInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("accounts: []\nstore:\n  driver: nosuch\nlog:\n  level: loud\n"), 0o600)
	rep := Run(context.Background(), Options{ConfigPath: p})
	if rep.ExitCode() != 2 || !rep.ConfigInvalid {
		t.Fatalf("exit %d, want 2", rep.ExitCode())
	}
	r := rep.Results[0]
	if r.Check != "config" || r.Status != Fail || !strings.Contains(r.Detail, "problems:") ||
		!strings.Contains(r.Detail, p+":1: accounts") || !strings.Contains(r.Detail, "log.level") {
		t.Errorf("config: %s: %s", r.Status, r.Detail)
	}
	if !strings.Contains(r.Fix, "breakglass config check -c "+p) {
		t.Errorf("fix: %s", r.Fix)
	}
	for _, r := range rep.Results[1:] {
		if r.Status != Skip {
			t.Errorf("%s ran without a configuration: %s", r.Check, r.Status)
		}
	}
	if len(rep.Results) != len(Checks()) {
		t.Errorf("%d results, want one per check", len(rep.Results))
	}
}

// TestClockSkew: a clock five minutes fast fails, saying by how much and
// how to turn on time synchronisation.
func TestClockSkew(t *testing.T) {
	f := newFixture(t)
	f.now = func() time.Time { return time.Now().Add(5 * time.Minute) }
	rep := f.run(false)
	r := find(t, rep, "clock", "skew")
	if r.Status != Fail || !strings.Contains(r.Detail, "ahead of") || !strings.Contains(r.Fix, "timedatectl set-ntp true") {
		t.Errorf("clock: %s: %s (fix %s)", r.Status, r.Detail, r.Fix)
	}
	if !strings.Contains(r.Detail, "4m5") && !strings.Contains(r.Detail, "5m0s") {
		t.Errorf("clock: the skew is not stated: %s", r.Detail)
	}
}

// TestAccounts: a missing account fails with how to find it, a renamed
// UPN fails with the values to set, a disabled one warns, a UPN-only one
// suggests its id.
func TestAccounts(t *testing.T) {
	f := newFixture(t)
	const ghost = "0f0f0f0f-0000-4000-8000-000000000000"
	f.graph.Object("/v1.0/users/"+bg2ID, map[string]any{"id": bg2ID, "userPrincipalName": bg2UPN, "accountEnabled": false})
	f.graph.Object("/v1.0/users/bg3@contoso.onmicrosoft.com", map[string]any{"id": "33333333-3333-4333-8333-333333333333", "userPrincipalName": "bg3@contoso.onmicrosoft.com", "accountEnabled": true})
	f.accounts = "accounts:\n  - id: " + bg1ID + "\n    upn: old-bg1@contoso.onmicrosoft.com\n  - id: " + bg2ID +
		"\n  - id: " + ghost + "\n  - upn: bg3@contoso.onmicrosoft.com\n"
	rep := f.run(false)
	for _, tc := range []struct {
		item   string
		status Status
		detail string
		fix    string
	}{
		{"accounts[0]", Fail, "its UPN is " + bg1UPN, "upn: " + bg1UPN},
		{"accounts[1]", Warn, "disabled", "Account enabled"},
		{"accounts[2]", Fail, "is not in the tenant", "az ad user show --id " + ghost},
		{"accounts[3]", Warn, "configured by UPN only", "add id: 33333333-3333-4333-8333-333333333333"},
	} {
		r := find(t, rep, "accounts", tc.item)
		if r.Status != tc.status || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
			t.Errorf("%s: %s: %s (fix %s); want %s, %q, %q", tc.item, r.Status, r.Detail, r.Fix, tc.status, tc.detail, tc.fix)
		}
	}
}

// TestSend: --send delivers one test notification through every channel.
func TestSend(t *testing.T) {
	f := newFixture(t)
	rep := f.run(true)
	for _, item := range []string{"oncall/email (email) test send", "oncall/webhook (webhook) test send", "oncall/console (console) test send"} {
		if r := find(t, rep, "channels", item); r.Status != OK {
			t.Errorf("%s: %s: %s", item, r.Status, r.Detail)
		}
	}
	if f.hookN.Load() != 1 || len(f.smtp.Requests()) != 1 {
		t.Errorf("sent %d webhook posts and %d mails, want 1 each", f.hookN.Load(), len(f.smtp.Requests()))
	}
	if rep.ExitCode() != 0 {
		t.Errorf("exit %d:\n%s", rep.ExitCode(), table(rep))
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestEveryChannelTypeHasDryRun: every channel type in notify's registry
// implements the dry run, so a type added without one is noticed here,
// not as a warning on someone's host.
func TestEveryChannelTypeHasDryRun(t *testing.T) {
	for _, name := range notify.ChannelTypes() {
		ct, _ := notify.LookupChannel(name)
		if _, ok := ct.New().(prober); !ok {
			t.Errorf("channel type %s has no Probe(ctx) error (internal/notify/probe_*.go)", name)
		}
	}
}

// TestExpiredToken: an access token past its expiry fails the token check.
func TestExpiredToken(t *testing.T) {
	f := newFixture(t)
	f.token = jwt(allRoles, time.Now().Add(-time.Minute))
	r := find(t, f.run(false), "graph", "token")
	if r.Status != Fail || !strings.Contains(r.Detail, "expired") || !strings.Contains(r.Fix, "DOCTOR_TEST_TOKEN") {
		t.Errorf("%s: %s (fix %s)", r.Status, r.Detail, r.Fix)
	}
}

// TestEvidenceBroken: an evidence log whose entry was rewritten behind the
// store's back fails the chain check, naming the entry and the full
// verify command.
func TestEvidenceBroken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, f.store)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := st.AppendLog(ctx, store.LogEntry{Incident: "inc-1", Kind: store.LogPull, Ref: fmt.Sprintf("evt-%d", i),
			At: time.Now().UTC(), Content: []byte(`{"n":` + strconv.Itoa(i) + `}`)}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if r := find(t, f.run(false), "store", "evidence chain"); r.Status != OK || !strings.Contains(r.Detail, "3 log entries") {
		t.Fatalf("before tampering: %s: %s", r.Status, r.Detail)
	}
	db, err := sql.Open("sqlite", "file:"+f.store)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER evidence_log_no_update`, `UPDATE evidence_log SET content = CAST('{"n":9}' AS BLOB) WHERE seq = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	rep := f.run(false)
	r := find(t, rep, "store", "evidence chain")
	if r.Status != Fail || !strings.Contains(r.Detail, "broken") || !strings.Contains(r.Detail, "2") ||
		!strings.Contains(r.Fix, "breakglass evidence verify -c") {
		t.Errorf("%s: %s (fix %s)", r.Status, r.Detail, r.Fix)
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode())
	}
}

// TestPanickingCheck: a check that panics is a failed finding, and the
// checks after it still run.
func TestPanickingCheck(t *testing.T) {
	saved := slices.Clone(checks)
	defer func() { checks = saved }()
	register(15, "boom", false, func(context.Context, *Env) []Result { panic("nil map") })
	rep := Run(context.Background(), Options{ConfigPath: filepath.Join(t.TempDir(), "none.yaml")})
	r := find(t, rep, "boom", "")
	if r.Status != Fail || !strings.Contains(r.Detail, "nil map") || rep.ExitCode() == 0 {
		t.Errorf("%s: %s (exit %d)", r.Status, r.Detail, rep.ExitCode())
	}
	if len(rep.Results) != len(saved)+1 {
		t.Errorf("%d results, want every check's", len(rep.Results))
	}
}

func versionList(vs []int) string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%04d", v))
	}
	return strings.Join(out, ", ")
}
