package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"breakglass/internal/posture"
)

// chromiumNames are the binaries looked for, after $BREAKGLASS_CHROMIUM.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BREAKGLASS_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("BREAKGLASS_CHROMIUM: %v", err)
		}
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

// artifactDir is where the screenshots go: $BREAKGLASS_ARTIFACTS, or
// testdata/out (ignored by git) beside this file.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BREAKGLASS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestHTMLInChromium loads the sample report in headless Chromium and
// reads the page as a person would see it: the summary counts shown equal
// the report's summary, every result is on the page, the inline script ran
// (its CSP hash matches), the page asked for nothing but itself, text meets
// WCAG AA contrast and badges carry words, nothing is wider than a phone,
// and printing opens every section. It saves
// screenshots (desktop, 400 px, print) and a PDF as artefacts.
func TestHTMLInChromium(t *testing.T) {
	bin := chromiumPath(t)
	rep := htmlSampleReport()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, renderPage(t, rep), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.ToSlash(page)
	out := artifactDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root, as in a container.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()

	var mu sync.Mutex
	var requests, problems []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("%s %s: %s", e.Entry.Source, e.Entry.Level, e.Entry.Text))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console."+string(e.Type))
			}
		}
	}))
	defer bcancel()

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("summary"))); err != nil {
		t.Fatalf("load %s in %s: %v", url, bin, err)
	}
	t.Logf("%s loaded the report in %v", bin, time.Since(start).Round(time.Millisecond))

	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("#%s: %v", id, err)
		}
		return strings.TrimSpace(s)
	}
	// The summary as shown.
	for _, st := range posture.Statuses {
		if got, want := text("count-"+string(st)), strconv.Itoa(rep.Summary.Count(st)); got != want {
			t.Errorf("page shows %s %s, the report's summary says %s", got, st, want)
		}
	}
	if got, want := text("count-total"), strconv.Itoa(rep.Summary.Total); got != want {
		t.Errorf("page shows %s results in total, the summary says %s", got, want)
	}
	failing := map[posture.Severity]int{}
	for _, r := range rep.Failing(posture.SeverityInfo) {
		failing[r.Severity]++
	}
	for _, s := range posture.Severities {
		if got, want := text("failing-"+string(s)), strconv.Itoa(failing[s]); got != want {
			t.Errorf("page shows %s failing %s results, the report has %s", got, s, want)
		}
	}
	if got := text("verdict"); !strings.HasPrefix(got, fmt.Sprintf("ACTION NEEDED: %d failing results", rep.Summary.Fail+rep.Summary.Error)) {
		t.Errorf("verdict %q", got)
	}

	// Every result is on the page once, with its status.
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]int](`(() => {
		const m = {};
		document.querySelectorAll("[data-result-status]").forEach(e => { m[e.dataset.resultStatus] = (m[e.dataset.resultStatus] || 0) + 1; });
		return m;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range posture.Statuses {
		if shown[string(st)] != rep.Summary.Count(st) {
			t.Errorf("%d results with status %s on the page, summary %d", shown[string(st)], st, rep.Summary.Count(st))
		}
	}

	// The inline script ran: a copy button per code block.
	buttons, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.querySelectorAll("pre.code").length, document.querySelectorAll("button.copy").length]`))
	if err != nil {
		t.Fatal(err)
	}
	if buttons[0] == 0 || buttons[0] != buttons[1] {
		t.Errorf("%d code blocks, %d copy buttons: the inline script did not run (CSP hash?)", buttons[0], buttons[1])
	}

	// overflow names the elements that stick out to the right: a long id
	// that does not wrap makes the page scroll sideways on a phone.
	overflow := func(width int64) {
		t.Helper()
		wide, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => {
			const out = [], w = document.documentElement.clientWidth;
			document.querySelectorAll("body *").forEach(e => {
				const r = e.getBoundingClientRect();
				if (r.width > 0 && r.right > w + 0.5 && out.length < 5) {
					out.push(e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " right " + Math.round(r.right) + ": " + (e.textContent || "").trim().slice(0, 60));
				}
			});
			if (document.documentElement.scrollWidth > w) out.push("page " + document.documentElement.scrollWidth + " px wide");
			return out;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range wide {
			t.Errorf("at %d px wide, sticks out: %s", width, e)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(out, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	// Readable: text against its background meets WCAG AA (4.5:1, 3:1
	// for large text), and every badge says its status in words.
	lowContrast, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](contrastJS))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lowContrast {
		t.Errorf("low contrast: %s", e)
	}

	overflow(1280)
	shot("html-report-desktop.png")

	if err := chromedp.Do(bctx, chromedp.EmulateViewport(400, 860)); err != nil {
		t.Fatal(err)
	}
	overflow(400)
	shot("html-report-narrow.png")

	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1000, 900)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	shot("html-report-print.png")
	pdf, err := chromedp.Run(bctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground()))
	if err != nil {
		t.Fatalf("print: %v", err)
	}
	pdfPath := filepath.Join(out, "html-report.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("printed: %s (%d bytes)", pdfPath, len(pdf))
	closed, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.querySelectorAll("details")].filter(d => !d.open).length`))
	if err != nil {
		t.Fatal(err)
	}
	if closed != 0 {
		t.Errorf("%d sections stayed closed when printing", closed)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != url {
			t.Errorf("the page requested %s: it must load nothing", u)
		}
	}
	for _, p := range problems {
		t.Errorf("browser reported: %s", p)
	}
}

// contrastJS lists the text elements whose colour is too close to their
// background (WCAG 2 contrast ratio), and the badges without words.
const contrastJS = `(() => {
	const rgba = s => { const m = s.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
	const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	const bg = e => { for (; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) return c; } return [255, 255, 255, 1]; };
	const out = [];
	const seen = new Set();
	document.querySelectorAll("body *").forEach(e => {
		const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
		if (!own || e.closest("script, style, details:not([open]) > :not(summary)")) return;
		const st = getComputedStyle(e);
		const fg = rgba(st.color), b = bg(e);
		const l1 = lum(fg), l2 = lum(b);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
		const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
		const key = e.tagName + "." + e.className + " " + st.color + " on " + b.join(",");
		if (ratio < need && !seen.has(key)) {
			seen.add(key);
			out.push(key + ": " + ratio.toFixed(2) + " < " + need + " (" + e.textContent.trim().slice(0, 40) + ")");
		}
	});
	document.querySelectorAll(".badge").forEach(e => { if (e.textContent.trim() === "") out.push("a badge without words"); });
	return out;
})()`
