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
	// Identical failures of one target are logged once per minute; the
	// ones held back are summarised when the target delivers again.
	if strings.Count(out, `msg="notify: send failed, retrying"`) != 1 {
		t.Errorf("want 1 retry log line (rate-limited):\n%s", out)
	}
	// The summary is logged as the target recovers, which may be just
	// after the completion this test waited for: give it a moment.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out, `send failed, retrying (2 more like this`); out = logs.String() {
		if time.Now().After(deadline) {
			t.Errorf("no summary of the held-back retries at recovery:\n%s", out)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeadLetterKeepsSecrets: a receiver that echoes the credential back
// in its error answer, until the give-up time. The bg.notify alert (title,
// annotations, evidence), the dead letter's reason and the log must carry
// none of the URL's or headers' secrets.
func TestDeadLetterKeepsSecrets(t *testing.T) {
	const (
		token = "Bearer s3cr3t-t0ken-abc"
		query = "qu3ry-c0de-xyz"
	)
	_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad auth "+r.Header.Get("Authorization")+" for code="+r.URL.Query().Get("code"), http.StatusUnauthorized)
	})
	hook, err := NewWebhook("sec/webhook", srv.URL+"/hook?code="+query, map[string]string{"Authorization": token}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	ob := newFakeOutbox()
	id := ob.add(testAlert("a1"), store.StatusFiring, "sec/webhook", clk.Now().Add(-2*time.Hour))
	other := &recorder{}
	log, logs := testLogger(t)
	d := NewDispatcher(ob, map[string]Notifier{"sec/webhook": hook, "ops/console": other},
		Options{Now: clk.Now, Logger: log, GiveUpAfter: time.Hour})
	start(t, d)
	dl := wait(t, ob.deadCh, "dead letter")
	if dl.ID != id || !strings.Contains(dl.Reason, "HTTP 401") {
		t.Fatalf("dead letter %+v", dl)
	}
	wait(t, ob.complete, "bg.notify to the other target")
	na := ob.alertsByRule(RuleNotify)
	if len(na) != 1 {
		t.Fatalf("%d bg.notify alerts", len(na))
	}
	ob.mu.Lock()
	ev := ob.evidence[na[0].EventID]
	ob.mu.Unlock()
	ann, _ := json.Marshal(na[0].Annotations)
	texts := map[string]string{
		"title": na[0].Title, "annotations": string(ann), "evidence": string(ev.Raw),
		"reason": dl.Reason, "log": logs.String(),
	}
	for where, s := range texts {
		for _, secret := range []string{token, "s3cr3t-t0ken-abc", query} {
			if strings.Contains(s, secret) {
				t.Errorf("%s leaks %q: %s", where, secret, s)
			}
		}
	}
	if !strings.Contains(na[0].Title, "[REDACTED]") {
		t.Errorf("title %q: the scrubbed echo should still show where the secret was", na[0].Title)
	}
}
