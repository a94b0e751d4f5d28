package main

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/scan"
	"breakglass/internal/store/sqlite"
)

// TestScanRoutesStoredAlerts: alerts scan stores get deliveries to the
// targets notify.routes gives them, as serve's would, not to every channel.
func TestScanRoutesStoredAlerts(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse("c.yaml", []byte(`accounts:
  - upn: bg1@contoso.com
notify:
  groups:
    - name: oncall
      channels: [{type: console}]
    - name: audit
      channels: [{type: console}]
  routes:
    - matchers: ['rule="bg.signin"']
      groups: [oncall]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	route, err := daemon.RouteFunc(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sink := newAlertSink(ctx, st, route, "", newAlertPrinter(io.Discard, "json"))
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	want := map[string][]string{"bg.signin": {"oncall/console"}, "bg.change": {"audit/console", "oncall/console"}}
	ids := map[string]string{}
	for rule := range want {
		a := alert.Alert{ID: alert.Key("e-"+rule, rule), Rule: rule, Severity: alert.Sev0, Title: rule, AccountUPN: "bg1@contoso.com",
			EventID: "e-" + rule, EventTime: now, Detected: now, Source: "x.json:1"}
		ids[rule] = a.ID
		if err := sink.add(scan.Finding{Alert: a, Raw: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.stop(); err != nil {
		t.Fatal(err)
	}
	for rule, targets := range want {
		ds, err := st.AlertDeliveries(ctx, ids[rule])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, d.Target)
		}
		slices.Sort(got)
		if !slices.Equal(got, targets) {
			t.Errorf("%s: deliveries to %v, want %v", rule, got, targets)
		}
	}
}
