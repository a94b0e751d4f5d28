package daemon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

func countRule(t *testing.T, st store.Store, rule string) int {
	t.Helper()
	as, err := st.Alerts(context.Background(), store.AlertFilter{Rule: rule})
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

// waitConditions waits until each rule has an open condition in the store.
// A condition alert is stored first and its condition second (watch.raise:
// a crash in between pages twice, never not at all), so a test that stops
// the daemon as soon as the page arrives must wait for the condition too.
func waitConditions(t *testing.T, r *running, rules ...string) {
	t.Helper()
	waitFor(t, 15*time.Second, fmt.Sprint("open conditions of ", rules), func() bool {
		for _, rule := range rules {
			if cs, err := r.d.st.Conditions(context.Background(), rule); err != nil || len(cs) == 0 {
				return false
			}
		}
		return true
	})
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSilenceAndSourceSurviveRestart: a source whose path is missing shows
// no life (bg.silence) and keeps failing (bg.source). A restart raises
// neither again; once the path exists both resolve, once each.
func TestSilenceAndSourceSurviveRestart(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	missing := filepath.Join(e.dir, "later")
	cfg := e.config(t, `sources:
  - type: file
    name: files
    path: `+filepath.Join(missing, "*.json")+`
    poll: 100ms
    max_silence: 1s
notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/h
`)
	r := start(t, cfg, Options{})
	waitFor(t, 15*time.Second, "bg.silence and bg.source delivered", func() bool {
		return rcv.rule("/h bg.silence firing") == 1 && rcv.rule("/h bg.source firing") == 1
	}, func() string { return fmt.Sprint(rcv.rules, "\n", r.logs.String()) })
	waitConditions(t, r, "bg.silence", "bg.source")
	r.stop(t)

	r2 := start(t, cfg, Options{})
	time.Sleep(3 * time.Second) // > max_silence, and many failing polls
	if n := countRule(t, r2.d.st, "bg.silence"); n != 1 {
		t.Errorf("%d bg.silence alerts after the restart, want still 1", n)
	}
	if n := countRule(t, r2.d.st, "bg.source"); n != 1 {
		t.Errorf("%d bg.source alerts after the restart, want still 1", n)
	}
	if err := os.MkdirAll(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "both resolved", func() bool {
		return rcv.rule("/h bg.silence resolved") == 1 && rcv.rule("/h bg.source resolved") == 1
	}, func() string { return fmt.Sprint(rcv.rules, "\n", r2.logs.String()) })
	time.Sleep(500 * time.Millisecond)
	for _, k := range []string{"/h bg.silence firing", "/h bg.source firing", "/h bg.silence resolved", "/h bg.source resolved"} {
		if n := rcv.rule(k); n != 1 {
			t.Errorf("%s delivered %d times, want 1", k, n)
		}
	}
	as, _ := r2.d.st.Alerts(context.Background(), store.AlertFilter{Rule: "bg.source"})
	if len(as) == 1 && (!strings.Contains(as[0].Title, `"files"`) || !strings.Contains(as[0].Title, missing)) {
		t.Errorf("bg.source title %q does not name the source and path", as[0].Title)
	}
}

// TestFilePollFromConfig: the file source polls at the configured interval,
// and at config.DefaultFilePoll (source.DefaultPoll) without one. Observed
// through the lag metric: every successful poll is life. The bounds are
// loose (a busy machine delays samples), the contrast is not: 3 s against
// 250 ms.
func TestFilePollFromConfig(t *testing.T) {
	for _, tc := range []struct {
		poll     string
		min, max float64 // bounds on the largest lag seen over 3 s
	}{{"    poll: 3s\n", 2.0, math.Inf(1)}, {"", 0, 1.5}} {
		t.Run(strings.TrimSpace(tc.poll), func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config(t, "sources:\n  - type: file\n    name: files\n    path: %[1]s\n"+tc.poll)
			r := start(t, cfg, Options{})
			re := regexp.MustCompile(`breakglass_source_lag_seconds\{source="files"\} (\S+)`)
			worst := 0.0
			for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				_, m := get(t, "http://"+r.d.Addr().String()+"/metrics")
				if mm := re.FindStringSubmatch(m); mm != nil {
					v, _ := strconv.ParseFloat(mm[1], 64)
					worst = math.Max(worst, v)
				}
			}
			t.Logf("largest lag %.2fs", worst)
			if worst < tc.min || worst > tc.max {
				t.Errorf("largest lag %.2fs, want within [%.1f, %.1f]", worst, tc.min, tc.max)
			}
		})
	}
}

// TestRetentionFromConfig: delivered notifications older than
// store.retention (default 7 days) are pruned at start; younger ones and
// every alert stay.
func TestRetentionFromConfig(t *testing.T) {
	for _, tc := range []struct {
		retention string
		keep      time.Duration
	}{{"  retention: 1h\n", time.Hour}, {"", 7 * 24 * time.Hour}} {
		t.Run(tc.keep.String(), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			now := time.Now()
			st := openStore(t, e.db)
			for i, age := range []time.Duration{tc.keep + time.Hour, tc.keep - 10*time.Minute} {
				a := alert.Alert{ID: "a" + strconv.Itoa(i), Rule: "bg.signin", EventID: "e" + strconv.Itoa(i), EventTime: now, Detected: now}
				if _, err := st.AddAlertNotify(ctx, a, store.Evidence{EventID: a.EventID, Raw: []byte("{}")}, []string{"g/console"}); err != nil {
					t.Fatal(err)
				}
				ds, err := st.ClaimDeliveries(ctx, "test", time.Now(), time.Minute, 10)
				if err != nil || len(ds) != 1 {
					t.Fatalf("claim: %v %v", ds, err)
				}
				if err := st.CompleteDelivery(ctx, ds[0].ID, now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
			// store.retention sits under store:, which the helper writes.
			body := "notify:\n  groups:\n    - name: g\n      channels:\n        - type: console\n"
			cfg := e.config(t, body)
			if tc.retention != "" {
				text, _ := os.ReadFile(filepath.Join(e.dir, "config.yaml"))
				text = []byte(strings.Replace(string(text), "store:\n", "store:\n"+tc.retention, 1))
				os.WriteFile(filepath.Join(e.dir, "config.yaml"), text, 0o600)
				cfg = loadCfg(t, filepath.Join(e.dir, "config.yaml"))
			}
			if cfg.Store.Retention != tc.keep {
				t.Fatalf("retention %s, want %s", cfg.Store.Retention, tc.keep)
			}
			r := start(t, cfg, Options{})
			waitFor(t, 10*time.Second, "prune at start", func() bool { return strings.Contains(r.logs.String(), "pruned delivered notifications") })
			r.stop(t)
			st = openStore(t, e.db)
			defer st.Close()
			if ps, err := st.Prune(ctx, now.Add(-tc.keep)); err != nil || ps.Deliveries != 0 {
				t.Errorf("a delivery older than the retention survived: %+v %v", ps, err)
			}
			if ps, err := st.Prune(ctx, now.Add(time.Minute)); err != nil || ps.Deliveries != 1 {
				t.Errorf("the delivery within the retention was not kept: %+v %v", ps, err)
			}
			if as, _ := st.Alerts(ctx, store.AlertFilter{}); len(as) != 2 {
				var got []string
				for _, a := range as {
					got = append(got, a.Rule+": "+a.Title)
				}
				t.Errorf("%d alerts after pruning, want 2 (alerts are never pruned): %q", len(as), got)
			}
		})
	}
}

// TestGiveUpAfterFromConfig: a delivery failing past notify.give_up_after
// is dead-lettered, counted, and reported as bg.notify through the other
// target.
func TestGiveUpAfterFromConfig(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	rcv.codes = map[string]int{"/fail": 500}
	cfg := e.config(t, `sources:
  - type: http
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  give_up_after: 1s
  groups:
    - name: g
      channels:
        - type: webhook
          name: broken
          url: `+rcv.srv.URL+`/fail
        - type: webhook
          name: ok
          url: `+rcv.srv.URL+`/ok
`)
	if cfg.Notify.GiveUpAfter != time.Second {
		t.Fatalf("give_up_after %s", cfg.Notify.GiveUpAfter)
	}
	r := start(t, cfg, Options{})
	if code := post(t, r.ingest(t), []byte(signIn("r-giveup"))); code != http.StatusAccepted {
		t.Fatalf("POST %d", code)
	}
	waitFor(t, 20*time.Second, "bg.notify at the healthy target", func() bool { return rcv.rule("/ok bg.notify firing") == 1 })
	if n := rcv.rule("/ok bg.signin firing"); n != 1 {
		t.Errorf("healthy target got the sign-in %d times", n)
	}
	_, m := get(t, "http://"+r.d.Addr().String()+"/metrics")
	for _, want := range []string{"breakglass_dead_letters 1", `breakglass_notifications_total{channel="g/broken",result="dead_letter"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestKnownAlertStillNotified: an alert stored before the daemon saw it,
// without deliveries (an older scan), is still notified to every target
// once when the daemon reads the record.
func TestKnownAlertStillNotified(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	rec := signIn("r-known")
	sc := scan.New(scan.Options{Accounts: entra.NewAccountSet([]entra.Account{{ID: bgID, UPN: bgUPN}})})
	var found []scan.Finding
	var stats scan.Stats
	if err := sc.Scan(context.Background(), "x", strings.NewReader(rec), &stats, func(f scan.Finding) error { found = append(found, f); return nil }); err != nil || len(found) != 1 {
		t.Fatalf("scan: %v, %d findings", err, len(found))
	}
	sc.Close()
	st := openStore(t, e.db)
	if _, err := st.AddAlert(context.Background(), found[0].Alert, store.Evidence{EventID: found[0].Alert.EventID, Raw: found[0].Raw}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := e.config(t, `sources:
  - type: http
    listen: %[2]s
    token: ${`+tokenEnv+`}
notify:
  groups:
    - name: g
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/a
        - type: webhook
          url: `+rcv.srv.URL+`/b
`)
	r := start(t, cfg, Options{})
	for range 2 { // a replay changes nothing
		if code := post(t, r.ingest(t), []byte(rec)); code != http.StatusAccepted {
			t.Fatalf("POST %d", code)
		}
	}
	waitFor(t, 10*time.Second, "both targets", func() bool { return len(rcv.snapshot()) == 2 })
	time.Sleep(500 * time.Millisecond)
	for k, n := range rcv.snapshot() {
		if n != 1 || !strings.Contains(k, found[0].Alert.ID) {
			t.Errorf("%s: %d deliveries", k, n)
		}
	}
}

// TestRefusesEmptyDatabase: a zero-length database is not silently started
// fresh (that would lose checkpoints and re-send every alert).
func TestRefusesEmptyDatabase(t *testing.T) {
	e := newEnv(t)
	if err := os.WriteFile(e.db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(t, "")
	_, err := New(cfg, Options{Stderr: &syncBuffer{}})
	if err == nil {
		t.Fatal("New accepted a zero-length database")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, sqlite.ErrEmptyFile) || !strings.Contains(err.Error(), "restore it from a backup") || !strings.Contains(err.Error(), e.db) {
		t.Errorf("error %q does not say what to do", err)
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		t.Error("a bad database is not a configuration error")
	}
}

// TestReadyzReflectsWritability: /readyz fails while the store cannot be
// written, and recovers with it. The database is made immutable
// (chattr +i, which binds root too).
func TestReadyzReflectsWritability(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("no chattr")
	}
	e := newEnv(t)
	cfg := e.config(t, "")
	r := start(t, cfg, Options{})
	ready := "http://" + r.d.Addr().String() + "/readyz"
	if code, body := get(t, ready); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	files := []string{e.db, e.db + "-wal"}
	if out, err := exec.Command("chattr", append([]string{"+i"}, files...)...).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", append([]string{"-i"}, files...)...).Run() })
	var body string
	waitFor(t, 3*writableTTL, "readyz 503", func() bool {
		var code int
		code, body = get(t, ready)
		return code == http.StatusServiceUnavailable
	})
	t.Logf("readyz: %s", strings.TrimSpace(body))
	if !strings.Contains(body, "store not writable") {
		t.Errorf("readyz body %q does not name the store", body)
	}
	exec.Command("chattr", append([]string{"-i"}, files...)...).Run()
	waitFor(t, 3*writableTTL, "readyz 200 again", func() bool { code, _ := get(t, ready); return code == 200 })
}

// TestLogFloodBounded: with the store unwritable, 300 pushes naming an
// account all fail (503, never 202), and the log holds a bounded number of
// lines about it instead of one or more per push.
func TestLogFloodBounded(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("no chattr")
	}
	e := newEnv(t)
	cfg := e.config(t, "sources:\n  - type: http\n    listen: %[2]s\n    token: ${"+tokenEnv+"}\n")
	r := start(t, cfg, Options{})
	files := []string{e.db, e.db + "-wal"}
	if out, err := exec.Command("chattr", append([]string{"+i"}, files...)...).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", append([]string{"-i"}, files...)...).Run() })
	before := strings.Count(r.logs.String(), "\n")
	codes := map[int]int{}
	for i := range 300 {
		codes[post(t, r.ingest(t), []byte(signIn("flood-"+strconv.Itoa(i))))]++
	}
	if codes[http.StatusAccepted] != 0 {
		t.Errorf("answers %v: a push was acknowledged although nothing could be stored", codes)
	}
	lines := strings.Count(r.logs.String(), "\n") - before
	t.Logf("answers %v; %d log lines for 300 failed pushes", codes, lines)
	if lines > 120 {
		t.Errorf("%d log lines for 300 failed pushes: not rate-limited", lines)
	}
}

// TestFollowSymlinksFromConfig: a symlink in a followed directory to a file
// outside it is not read by default, and is with follow_symlinks: true.
func TestFollowSymlinksFromConfig(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(strconv.FormatBool(follow), func(t *testing.T) {
			e := newEnv(t)
			outside := filepath.Join(e.dir, "outside.json")
			if err := os.WriteFile(outside, []byte(signIn("r-link")), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(e.logs, "link.json")); err != nil {
				t.Fatal(err)
			}
			body := "sources:\n  - type: file\n    name: files\n    path: %[1]s\n    poll: 50ms\n"
			if follow {
				body += "    follow_symlinks: true\n"
			}
			r := start(t, e.config(t, body), Options{})
			if follow {
				waitFor(t, 10*time.Second, "the alert through the link", func() bool { return countRule(t, r.d.st, "bg.signin") == 1 })
				return
			}
			time.Sleep(time.Second) // twenty polls
			if n := countRule(t, r.d.st, "bg.signin"); n != 0 {
				t.Errorf("%d alerts from a file outside the path, reached through a symlink", n)
			}
		})
	}
}
