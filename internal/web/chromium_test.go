package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"breakglass/internal/store/storetest"
)

// testCSP is the policy the auth service sets on every response; the
// pages must work under it (a violation is a console error below).
const testCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BREAKGLASS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skipf("no Chromium binary found (looked for $BREAKGLASS_CHROMIUM, %s); .ci/run installs Debian chromium", strings.Join(chromiumNames, ", "))
	return ""
}

func artifactDir(t *testing.T) string {
	dir := os.Getenv("BREAKGLASS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// TestPagesInChromium loads every page in headless Chromium under the
// strict CSP as a responder, at desktop width and at 360 px: no console
// error or CSP violation, nothing wider than the phone, a screenshot of
// each as an artefact. Then the live page: an alert stored while the page
// is open appears within 2 s without a reload, and its acknowledge button
// acknowledges it.
func TestPagesInChromium(t *testing.T) {
	bin := chromiumPath(t)
	f := newFixture(t)
	// The browser sends no X-Role header: a proxy in front adds it and the
	// CSP, as the auth middleware would.
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Role", "responder")
		w.Header().Set("Content-Security-Policy", testCSP)
		inner.ServeHTTP(w, r)
	})
	out := artifactDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(dir, "profile")), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("lang", "en-US"))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	var mu sync.Mutex
	var problems []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				problems = append(problems, fmt.Sprintf("%s: %s", e.Entry.Source, e.Entry.Text))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *network.EventLoadingFailed:
			problems = append(problems, "load failed: "+e.ErrorText)
		}
	}))
	defer bcancel()
	pages := map[string]string{"board": "/", "alert": "/alerts/" + f.alertID, "alerts": "/alerts", "incidents": "/incidents", "incident": "/incidents/" + f.incID,
		"drills": "/drills", "posture": "/posture", "deliveries": "/deliveries", "rules": "/rules", "rules-result": "/rules"}
	for name, path := range pages {
		for _, width := range []int64{1280, 360} {
			err := chromedp.Do(bctx, chromedp.EmulateViewport(width, 800), chromedp.Navigate(f.srv.URL+path),
				chromedp.WaitVisible(chromedp.CSS("main")))
			if err != nil {
				t.Fatalf("%s at %d px: %v", path, width, err)
			}
			if name == "rules-result" {
				// The query box: type a query, run it, see the table.
				err := chromedp.Do(bctx, chromedp.SetValue(chromedp.ID("query"), "SigninLogs\n| project TimeGenerated, UserPrincipalName, IPAddress, ResultType, Id"),
					chromedp.Click(chromedp.CSS("form.query button")), chromedp.WaitVisible(chromedp.CSS("table.result")))
				if err != nil {
					t.Fatalf("running a query from the rules page at %d px: %v", width, err)
				}
			}
			// Basic accessibility: labels, headings, names, alt, contrast.
			found, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](a11yJS))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range found {
				t.Errorf("%s at %d px: accessibility: %s", name, width, p)
			}
			scrollW, err := chromedp.Run(bctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if scrollW > width {
				t.Errorf("%s at %d px: the page is %d px wide (scrolls sideways)", path, width, scrollW)
			}
			png, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(out, fmt.Sprintf("dashboard-%s-%d.png", name, width))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("screenshots in %s", out)

	// Live: store an alert while /alerts is open.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(f.srv.URL+"/alerts"),
		chromedp.WaitVisible(chromedp.ID("alert-rows"))); err != nil {
		t.Fatal(err)
	}
	a := storetest.Alert("evt-live", "bg.signin", base.Add(30*time.Minute))
	a.Title = "Live break-glass sign-in"
	stored := time.Now()
	if _, err := f.st.AddAlert(context.Background(), a, storetest.Evidence(a, []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(bctx, 2*time.Second)
	err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.ID("a-"+a.ID)))
	wcancel()
	if err != nil {
		t.Fatalf("the alert stored while /alerts was open did not appear within 2 s: %v", err)
	}
	t.Logf("alert appeared %v after it was stored", time.Since(stored).Round(time.Millisecond))
	// Acknowledge it from the page.
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("note-"+a.ID), "looking"),
		chromedp.Click(chromedp.CSS("#a-"+a.ID+" button")), chromedp.WaitVisible(chromedp.CSS(".flash"))); err != nil {
		t.Fatalf("acknowledging from the page: %v", err)
	}
	found := false
	for _, s := range f.acked {
		found = found || strings.HasPrefix(s, a.ID+" by dana: looking")
	}
	if !found {
		t.Errorf("the page's acknowledge did not reach Ack: %v", f.acked)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
}
