package source

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRateLog(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rl := newRateLog(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return clock })
	for range 1000 {
		rl.Log(slog.LevelWarn, "same problem", "k", "v")
		clock = clock.Add(time.Millisecond) // 1,000 in one second
	}
	rl.Log(slog.LevelWarn, "another problem")
	if n := strings.Count(buf.String(), "same problem"); n != 1 {
		t.Fatalf("%d lines for 1,000 repeats within logEvery, want 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "another problem") {
		t.Error("a different message was suppressed")
	}
	clock = clock.Add(logEvery)
	rl.Log(slog.LevelWarn, "same problem")
	if !strings.Contains(buf.String(), "repeats_not_logged=999") {
		t.Errorf("the suppressed repeats were not counted:\n%s", buf.String())
	}
}

// TestHTTPLogFlood: a thousand unauthenticated requests log one line.
func TestHTTPLogFlood(t *testing.T) {
	fx := newHTTPFixture(t, 0)
	for range 1000 {
		req, _ := http.NewRequest(http.MethodPost, fx.srv.URL+"/ingest", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := strings.Count(fx.logs.String(), "request without a valid token"); n != 1 {
		t.Errorf("%d log lines for 1,000 bad requests, want 1", n)
	}
}
