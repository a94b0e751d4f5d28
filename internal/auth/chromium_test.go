package auth_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"breakglass/internal/auth"
)

func chromium(t *testing.T) string {
	if p := os.Getenv("BREAKGLASS_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Skip("no Chromium binary found ($BREAKGLASS_CHROMIUM, chromium); .ci/run installs Debian chromium")
	return ""
}

// TestLoginInChromium signs in and out in headless Chromium, on a desktop
// and a 360 px phone: the page loads nothing it is not allowed to (no CSP
// report, no console error), nothing sticks out sideways, and screenshots
// of each page are kept in testdata/out (or $BREAKGLASS_ARTIFACTS).
func TestLoginInChromium(t *testing.T) {
	bin := chromium(t)
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	out := os.Getenv("BREAKGLASS_ARTIFACTS")
	if out == "" {
		out = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")), chromedp.Flag("disable-gpu", true), chromedp.Flag("hide-scrollbars", true))
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
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		}
	}))
	defer bcancel()

	overflow := func(width int) {
		t.Helper()
		wide, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => {
			const out = [], w = document.documentElement.clientWidth;
			document.querySelectorAll("body *").forEach(e => {
				const r = e.getBoundingClientRect();
				if (r.width > 0 && r.right > w + 0.5) out.push(e.tagName.toLowerCase() + " right " + Math.round(r.right));
			});
			if (document.documentElement.scrollWidth > w) out.push("page " + document.documentElement.scrollWidth + " px wide");
			return out;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wide {
			t.Errorf("at %d px, sticks out: %s", width, w)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	styled := func() {
		t.Helper()
		// The stylesheet applied (CSP allows 'self'): the button is blue.
		bg, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button")).backgroundColor`))
		if err != nil || bg != "rgb(11, 92, 173)" {
			t.Errorf("button background %q (%v): the stylesheet did not load", bg, err)
		}
	}
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 360, 740}} {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(vp.w, vp.h), chromedp.Navigate(e.srv.URL+auth.PathLogin), chromedp.WaitVisible(chromedp.CSS("#name"))); err != nil {
			t.Fatalf("load the sign-in page: %v", err)
		}
		styled()
		overflow(int(vp.w))
		shot("login-" + vp.name + ".png")
		if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS("#name"), "dana"), chromedp.SendKeys(chromedp.CSS("#password"), "wrong password, twelve"),
			chromedp.Click(chromedp.CSS("button")), chromedp.WaitVisible(chromedp.CSS(".msg"))); err != nil {
			t.Fatal(err)
		}
		shot("login-failed-" + vp.name + ".png")
		if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS("#password"), pwDana), chromedp.Click(chromedp.CSS("button")),
			chromedp.WaitVisible(chromedp.CSS("dl"))); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		body, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil || !strings.Contains(body, "dana") || !strings.Contains(body, "responder") {
			t.Errorf("account page reads %q (%v)", body, err)
		}
		styled()
		overflow(int(vp.w))
		shot("account-" + vp.name + ".png")
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("button")), chromedp.WaitVisible(chromedp.CSS(".msg.ok"))); err != nil {
			t.Fatalf("sign out: %v", err)
		}
		shot("signed-out-" + vp.name + ".png")
		// Back to the account page: signed out for real.
		if err := chromedp.Do(bctx, chromedp.Navigate(e.srv.URL+auth.PathAccount), chromedp.WaitVisible(chromedp.CSS("#name"))); err != nil {
			t.Fatalf("after sign-out, /account did not lead to the sign-in form: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		// The wrong password's 401 is the test's own doing; the favicon
		// is the dashboard's.
		if !strings.Contains(p, "401") && !strings.Contains(p, "favicon.ico") {
			t.Errorf("browser: %s", p)
		}
	}
	if n := len(e.audit("login")); n != 4 {
		t.Errorf("%d sign-in audit entries, want 4 (2 failed, 2 ok)", n)
	}
}
