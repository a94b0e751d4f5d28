package watch

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// echoRule fires on every sign-in with the given rule id.
type echoRule struct{ id string }

func (r echoRule) Meta() detect.Meta   { return detect.Meta{ID: r.id, Title: "echo"} }
func (r echoRule) Needs() detect.Needs { return detect.Needs{Literals: []string{"SignInLogs"}} }
func (r echoRule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	if rec.Event.Kind != entra.KindSignIn {
		return dst
	}
	return append(dst, alert.Alert{ID: alert.Key(rec.Event.ID, r.id), Rule: r.id, EventID: rec.Event.ID})
}

// TestObservers: an observer sees its rule's findings, which are never
// stored; one named like an alerting rule is ignored, so it can never
// swallow a break-glass alert; an Observe error fails the input.
func TestObservers(t *testing.T) {
	const rec = `{"time":"2026-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"s1","createdDateTime":"2026-06-20T07:00:00Z","userId":"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70","userPrincipalName":"bg@contoso.com","status":{"errorCode":0}}}` + "\n"
	accounts := entra.NewAccountSet([]entra.Account{{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"}})
	var seen []string
	observe := func(_ context.Context, f scan.Finding) error { seen = append(seen, f.Alert.Rule); return nil }
	st := observerStore(t)
	p := New(Options{Accounts: accounts, Store: st, Route: To("t"), Observers: []Observer{
		{Rule: echoRule{"test.observe"}, Observe: observe},
		{Rule: echoRule{detect.RuleSignIn}, Observe: observe}, // would swallow bg.signin
	}})
	defer p.Close()
	if _, err := p.Ingest(context.Background(), "src", "in.json", strings.NewReader(rec)); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "test.observe" {
		t.Errorf("observed %v, want test.observe only", seen)
	}
	as, _ := st.Alerts(context.Background(), store.AlertFilter{})
	if len(as) != 1 || as[0].Rule != detect.RuleSignIn {
		t.Errorf("stored %+v, want the bg.signin alert alone", as)
	}
	failing := New(Options{Accounts: accounts, Store: observerStore(t), Route: To("t"), Observers: []Observer{
		{Rule: echoRule{"test.observe"}, Observe: func(context.Context, scan.Finding) error { return context.DeadlineExceeded }},
	}})
	defer failing.Close()
	if _, err := failing.Ingest(context.Background(), "src", "in.json", strings.NewReader(rec)); err == nil || !strings.Contains(err.Error(), "observing test.observe") {
		t.Errorf("a failing observer: %v", err)
	}
}

func observerStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "bg.db"))
	t.Cleanup(func() { st.Close() })
	return st
}
