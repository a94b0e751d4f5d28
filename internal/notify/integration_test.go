package notify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

// TestWebhookRetriedUntilDelivered runs the dispatcher against a real HTTP
// receiver that fails three times: the receiver must see the same id four
// times, with rising attempt numbers, and the delivery must end completed.
// It also checks that the failures logged leak none of the credentials.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	const (
		token = "Bearer t0ken-in-header-123"
		query = "c0de-in-query-456"
		pass  = "pa55-in-url-789"
	)
	rc, srv := newReceiver(t, func(i int, w http.ResponseWriter, _ *http.Request) {
		if i < 3 {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	raw := strings.Replace(srv.URL, "http://", "http://bg:"+pass+"@", 1) + "/hook?code=" + query
	hook, err := NewWebhook("ops", raw, map[string]string{"X-Auth": token}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "ops/1-webhook", time.Now())
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"ops/1-webhook": hook}, Options{
		Logger: log, Poll: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
	})
	start(t, d)
	if got := wait(t, ob.complete, "completion"); got != id {
		t.Fatalf("completed %d, want %d", got, id)
	}

	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("receiver saw %d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		var p Payload
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != "a1" || p.Attempt != i+1 {
			t.Errorf("request %d: id %q attempt %d; want id a1 attempt %d", i, p.ID, p.Attempt, i+1)
		}
	}
	ob.mu.Lock()
	retries := ob.retries
	ob.mu.Unlock()
	if len(retries) != 3 || retries[2].Attempts != 3 || !strings.Contains(retries[2].LastErr, "HTTP 500") {
		t.Errorf("retries recorded: %+v", retries)
	}
	out := logs.String()
	for _, s := range []string{token, "t0ken-in-header-123", query, pass} {
		if strings.Contains(out, s) {
			t.Errorf("log leaks %q", s)
		}
		for _, r := range retries {
			if strings.Contains(r.LastErr, s) {
				t.Errorf("stored last error leaks %q: %s", s, r.LastErr)
			}
		}
	}
	// Identical failures of one target are logged once per minute.
	if strings.Count(out, "send failed, retrying") != 1 {
		t.Errorf("want 1 retry log line (rate-limited):\n%s", out)
	}
}
