package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// testClock is an injectable clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// gaAdded is a directory audit (diagnostic settings shape) of a Global
// Administrator assignment to someone who is not a break-glass account.
func gaAdded(id string, at time.Time) string {
	ts := at.UTC().Format(time.RFC3339)
	return `{"time":"` + ts + `","category":"AuditLogs","operationName":"Add member to role","properties":{"id":"` + id +
		`","category":"RoleManagement","result":"success","activityDisplayName":"Add member to role","activityDateTime":"` + ts +
		`","loggedByService":"Core Directory","operationType":"Assign","initiatedBy":{"user":{"id":"c0ffee00-1111-4222-8333-444455556666","userPrincipalName":"alice@contoso.com"}},` +
		`"targetResources":[{"id":"0b0b0b0b-1111-4222-8333-444455556666","type":"User","userPrincipalName":"carol@contoso.com","modifiedProperties":[` +
		`{"displayName":"Role.DisplayName","oldValue":null,"newValue":"\"Global Administrator\""},{"displayName":"Role.TemplateId","oldValue":null,"newValue":"\"62e90394-69f5-4237-9190-012177145e10\""}]}]}}` + "\n"
}

func addPassedDrill(t *testing.T, st interface {
	AddDrill(context.Context, store.Drill) error
}, id string, at time.Time) {
	t.Helper()
	if err := st.AddDrill(context.Background(), store.Drill{ID: id, AccountID: bgID, AccountUPN: bgUPN, State: store.DrillFinished, Result: store.DrillPassed,
		At: at, Window: time.Hour, Started: at, Finished: at.Add(20 * time.Minute), Created: at, Updated: at.Add(20 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
}

// TestServeDrillDueEarlyAndOverdue: through serve, a Global Administrator
// added in the audit logs (not a break-glass record: no alert of its own)
// makes the drill due early and a reminder reaches the webhook; with no
// drill within remind_before bg.drill_overdue follows, and a passed drill
// resolves both.
func TestServeDrillDueEarlyAndOverdue(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `sources:
  - type: http
    name: push
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/a
drill:
  remind_before: 3d
`)
	// The clock starts a minute past the wall clock, which the outbox
	// stamps deliveries with, and only ever moves forward.
	clk := &testClock{t: time.Now().UTC().Add(time.Minute)}
	st, err := sqlite.Open(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	addPassedDrill(t, st, "d1", clk.Now().Add(-10*24*time.Hour)) // next due in 80 days
	st.Close()

	r := start(t, cfg, Options{Now: clk.Now, DrillCheckInterval: 20 * time.Millisecond})
	time.Sleep(100 * time.Millisecond) // a few checks: nothing is due
	if n := len(rcv.snapshot()); n != 0 {
		t.Fatalf("deliveries before any change: %v", rcv.snapshot())
	}
	if code := post(t, r.ingest(t), []byte(gaAdded("Directory_ga_1", clk.Now().Add(-time.Hour)))); code/100 != 2 {
		t.Fatalf("POST: %d", code)
	}
	waitFor(t, 10*time.Second, "the reminder", func() bool { return rcv.rule("/a bg.drill_due firing") == 1 }, r.logs.String)
	clk.Add(3 * 24 * time.Hour)
	waitFor(t, 10*time.Second, "the overdue alert", func() bool { return rcv.rule("/a bg.drill_overdue firing") == 1 }, r.logs.String)
	// The gauge is set by the check that raised the alert, which may
	// finish just after the delivery is seen: wait for it too.
	var metrics string
	waitFor(t, 10*time.Second, "the overdue gauge", func() bool {
		_, metrics = get(t, "http://"+r.d.Addr().String()+"/metrics")
		return strings.Contains(metrics, "breakglass_drills_overdue 1")
	}, func() string { return grepLines(metrics, "drill") })
	addPassedDrill(t, r.d.st, "d2", clk.Now())
	clk.Add(time.Hour)
	waitFor(t, 10*time.Second, "both resolved", func() bool {
		return rcv.rule("/a bg.drill_overdue resolved") == 1 && rcv.rule("/a bg.drill_due resolved") == 1
	}, r.logs.String, func() string { return fmt.Sprint(rcv.snapshot()) })
	time.Sleep(100 * time.Millisecond)
	// Nothing else: the role change itself is not an alert, and each
	// alert went once.
	if got := rcv.snapshot(); len(got) != 4 {
		t.Errorf("deliveries %v, want the reminder and the overdue alert, each firing and resolved once", got)
	}
	// A reminder is no use of the account: no account incident.
	waitFor(t, 10*time.Second, "the schedule's incident", func() bool {
		incs, err := r.d.st.Incidents(context.Background(), store.IncidentFilter{})
		return err == nil && len(incs) > 0
	})
	incs, _ := r.d.st.Incidents(context.Background(), store.IncidentFilter{})
	for _, inc := range incs {
		if inc.Kind != store.IncidentPosture || inc.Key != "drill:"+bgID {
			t.Errorf("incident %s kind %s key %s, want posture drill:%s", inc.ID, inc.Kind, inc.Key, bgID)
		}
	}
}

// TestStoredDrills: the audit command's drill evidence is the store's
// passed drills; no store is no evidence, never a new store.
func TestStoredDrills(t *testing.T) {
	dir := t.TempDir()
	missing := dir + "/none.db"
	if ds, err := StoredDrills(context.Background(), missing); err != nil || ds != nil {
		t.Fatalf("missing store: %v %v", ds, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a store was created: %v", err)
	}
	path := dir + "/bg.db"
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	addPassedDrill(t, st, "ok", at)
	if err := st.AddDrill(context.Background(), store.Drill{ID: "bad", AccountID: bgID, State: store.DrillFinished, Result: store.DrillFailed,
		At: at, Window: time.Hour, Created: at, Updated: at}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddDrill(context.Background(), store.Drill{ID: "planned", AccountID: bgID, State: store.DrillPlanned,
		At: at, Window: time.Hour, Created: at, Updated: at}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ds, err := StoredDrills(context.Background(), path)
	if err != nil || len(ds) != 1 || ds[0].ID != "ok" || !ds[0].At.Equal(at.Add(20*time.Minute)) || ds[0].AccountID != bgID || ds[0].AccountUPN != bgUPN {
		t.Fatalf("drills %+v %v", ds, err)
	}
}
