package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/watch"
)

// TestAlertsShowMuted: an alert muted by notify.mute_for is listed as
// muted, and show prints why (the annotation the pipeline sets).
func TestAlertsShowMuted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "bg.db")
	cfg := writeTemp(t, "bg.yaml", "accounts: [{upn: bg-admin1@contoso.onmicrosoft.com}]\nstore:\n  path: "+db+"\n")
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	why := "not notified: notify.mute_for bg.signin is 1h0m0s, and alert abc for account x was notified at 2026-03-14 02:00:00 UTC"
	a := alert.Alert{ID: alert.Key("evt-muted", "bg.signin"), Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass account sign-in",
		AccountUPN: "bg-admin1@contoso.onmicrosoft.com", EventID: "evt-muted", EventTime: alertsBase, Detected: alertsBase,
		Annotations: map[string]string{watch.AnnMuted: why, watch.AnnMutedAfter: "abc"}}
	if _, err := st.AddAlert(ctx, a, store.Evidence{Raw: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := runBinary(t, nil, "alerts", "list", "-c", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "firing (muted)") {
		t.Errorf("alerts list: exit %d, want the alert listed as firing (muted):\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, nil, "alerts", "show", "-c", cfg, a.ID)
	if r.code != 0 || !strings.Contains(r.stdout, why) {
		t.Errorf("alerts show: exit %d, want the muted annotation:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Its Notifications say it was muted, not that routing is broken.
	if !strings.Contains(r.stdout, "none: muted (") || strings.Contains(r.stdout, "no channel was routed") {
		t.Errorf("alerts show: the notifications of a muted alert blame routing:\n%s", r.stdout)
	}
}
