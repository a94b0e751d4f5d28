package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/graph"
	"breakglass/internal/store"
)

// refusingLister answers every Graph query except the beta (non-interactive
// sign-ins) one, which it refuses like a tenant without the licence, until
// fixed.
type refusingLister struct{ fixed atomic.Bool }

func (*refusingLister) Get(context.Context, graph.Version, string, graph.Query, any) error {
	return nil
}
func (l *refusingLister) List(_ context.Context, v graph.Version, path string, _ graph.Query, fn func([]json.RawMessage) error) error {
	if v == graph.Beta && !l.fixed.Load() {
		return errors.New("403 Forbidden: Authentication_RequestFromNonPremiumTenantOrB2CTenant")
	}
	return fn(nil)
}

// TestGraphQueryFailingRaisesSource: one Graph query that keeps failing
// raises bg.source naming the source, the query and the error, once; it
// resolves when the query works again.
func TestGraphQueryFailingRaisesSource(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	cfg := e.config(t, `graph:
  auth: access_token
sources:
  - type: graph
    name: tenant
    poll: 100ms
notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
`)
	l := &refusingLister{}
	r := start(t, cfg, Options{Graph: l})
	waitFor(t, 15*time.Second, "bg.source", func() bool { return rcv.rule("/h bg.source firing") == 1 })
	as, err := r.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.source"})
	if err != nil || len(as) != 1 {
		t.Fatalf("%d bg.source alerts, %v", len(as), err)
	}
	title := as[0].Title
	t.Logf("title: %s", title)
	for _, want := range []string{`"tenant"`, "signIns/nonInteractive", "403 Forbidden"} {
		if !strings.Contains(title, want) {
			t.Errorf("title does not name %s", want)
		}
	}
	time.Sleep(time.Second) // ten more failing polls: no second alert
	l.fixed.Store(true)
	waitFor(t, 15*time.Second, "resolution", func() bool { return rcv.rule("/h bg.source resolved") == 1 })
	if n := rcv.rule("/h bg.source firing"); n != 1 {
		t.Errorf("bg.source fired %d times for one episode", n)
	}
}
