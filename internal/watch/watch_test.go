package watch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/store"
)

type fakeStore struct {
	mu       sync.Mutex
	alerts   map[string]alert.Alert
	enqueued []string // "alertID status target"
}

func (f *fakeStore) AddAlertNotify(_ context.Context, a alert.Alert, _ store.Evidence, targets []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.alerts == nil {
		f.alerts = map[string]alert.Alert{}
	}
	if _, ok := f.alerts[a.ID]; ok {
		return false, nil
	}
	f.alerts[a.ID] = a
	for _, t := range targets {
		f.enqueued = append(f.enqueued, a.ID+" firing "+t)
	}
	return true, nil
}

func (f *fakeStore) Enqueue(_ context.Context, id, status string, targets []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range targets {
		f.enqueued = append(f.enqueued, id+" "+status+" "+t)
	}
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSilenceFiresAndResolves(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fs := &fakeStore{}
	woke := 0
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Targets: []string{"ops/1-webhook"}, Now: c.now, Wake: func() { woke++ }})
	s := p.Silence()
	s.Watch("feed", 10*time.Minute)
	s.Watch("quiet-ok", 0) // no max_silence: never fires

	c.t = c.t.Add(9 * time.Minute)
	s.Check(ctx)
	if len(fs.alerts) != 0 {
		t.Fatal("fired before max_silence")
	}
	c.t = c.t.Add(time.Minute)
	s.Check(ctx)
	s.Check(ctx) // still silent: no second alert
	if len(fs.alerts) != 1 || len(fs.enqueued) != 1 || woke != 1 {
		t.Fatalf("alerts %d, enqueued %v, woke %d", len(fs.alerts), fs.enqueued, woke)
	}
	var a alert.Alert
	for _, v := range fs.alerts {
		a = v
	}
	if a.Rule != RuleSilence || a.Severity != alert.Sev1 || a.Source != "feed" || !strings.Contains(a.Title, "10m0s") {
		t.Errorf("alert = %+v", a)
	}

	// Records flow again: the alert resolves, once.
	c.t = c.t.Add(time.Minute)
	s.Received(ctx, "feed")
	s.Received(ctx, "feed")
	if got := fs.enqueued[len(fs.enqueued)-1]; got != a.ID+" resolved ops/1-webhook" || len(fs.enqueued) != 2 {
		t.Errorf("enqueued = %v", fs.enqueued)
	}

	// A later silence is a new alert.
	c.t = c.t.Add(10 * time.Minute)
	s.Check(ctx)
	if len(fs.alerts) != 2 {
		t.Errorf("second silence: %d alerts", len(fs.alerts))
	}
}

func TestIngestStoresAndWakes(t *testing.T) {
	fs := &fakeStore{}
	woke := 0
	p := New(Options{
		Accounts: entra.NewAccountSet([]entra.Account{{ID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"}}),
		Store:    fs, Targets: []string{"a/1-console", "b/1-webhook"}, Wake: func() { woke++ },
	})
	rec := `{"time":"2024-06-20T07:00:00Z","category":"SignInLogs","properties":{"id":"r1","createdDateTime":"2024-06-20T07:00:00Z","userId":"7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70","status":{"errorCode":0}}}` + "\n"
	for range 2 { // the second time is a replay: no new alert, no wake
		st, err := p.Ingest(context.Background(), "push", "http:test", strings.NewReader(rec))
		if err != nil || st.TotalRecords() != 1 {
			t.Fatalf("Ingest: %v %+v", err, st)
		}
	}
	if len(fs.alerts) != 1 || len(fs.enqueued) != 2 || woke != 1 {
		t.Errorf("alerts %d enqueued %v woke %d", len(fs.alerts), fs.enqueued, woke)
	}
}
