package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// a11yJS is a basic accessibility check of the page in the browser, run
// on every dashboard page: it returns one line per problem.
//
//   - every visible input, select and textarea has a label (a <label>,
//     aria-label or aria-labelledby);
//   - one h1, and headings never skip a level going down (h2 to h4);
//   - every img has an alt, every svg shown as an image a name;
//   - every button and link has a name (its text, aria-label or title);
//   - text is readable: a contrast ratio of at least 4.5:1 against the
//     background it is drawn on (WCAG 2's formula; the whole page, large
//     text included, is held to 4.5).
const a11yJS = `(() => {
	const out = [];
	const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
	const named = e => (e.getAttribute("aria-label") || "").trim() !== "" ||
		(e.getAttribute("aria-labelledby") || "").split(/\s+/).some(id => id && document.getElementById(id) && document.getElementById(id).textContent.trim() !== "");
	const desc = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.name ? "[name=" + e.name + "]" : "");
	document.querySelectorAll("input, select, textarea").forEach(e => {
		if (e.type === "hidden") return;
		if ((e.labels && [...e.labels].some(l => l.textContent.trim() !== "")) || named(e)) return;
		out.push("no label: " + desc(e));
	});
	const hs = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
	const h1 = hs.filter(h => h.tagName === "H1").length;
	if (h1 !== 1) out.push(h1 + " h1 elements, want 1");
	let prev = 0;
	hs.forEach(h => {
		const n = +h.tagName[1];
		if (h.textContent.trim() === "") out.push("an empty " + h.tagName);
		if (prev === 0 && n !== 1) out.push("the first heading is " + h.tagName + ", not H1");
		if (prev !== 0 && n > prev + 1) out.push("heading level skipped: " + h.tagName + " after H" + prev + " (" + h.textContent.trim().slice(0, 40) + ")");
		prev = n;
	});
	document.querySelectorAll("img").forEach(e => { if (!e.hasAttribute("alt")) out.push("an img without alt: " + e.src); });
	document.querySelectorAll("svg[role=img]").forEach(e => { if (!named(e) && !e.querySelector("title")) out.push("an svg image without a name"); });
	document.querySelectorAll("button, a[href], [role=button]").forEach(e => {
		if (e.textContent.trim() !== "" || named(e) || (e.getAttribute("title") || "").trim() !== "") return;
		if (e.querySelector("img[alt]:not([alt=''])")) return;
		out.push("no name: " + desc(e));
	});
	const rgba = s => { const m = (s.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
	const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	// The background a text is drawn on: the nearest ancestor with an
	// opaque-enough colour, blended over white when translucent.
	const background = e => {
		for (; e; e = e.parentElement) {
			const c = rgba(getComputedStyle(e).backgroundColor);
			if (c[3] > 0) return c.slice(0, 3).map(v => v * c[3] + 255 * (1 - c[3]));
		}
		return [255, 255, 255];
	};
	const seen = new Set();
	document.querySelectorAll("body *").forEach(e => {
		const text = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
		if (!text || !shown(e) || e.closest("script, style")) return;
		const st = getComputedStyle(e);
		const fg = rgba(st.color), bg = background(e);
		const f = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
		const l1 = lum(f), l2 = lum(bg);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		const key = e.tagName + "." + e.className + " " + st.color + " on rgb(" + bg.map(Math.round).join(",") + ")";
		if (ratio < 4.5 && !seen.has(key)) {
			seen.add(key);
			out.push("low contrast " + ratio.toFixed(2) + ":1 < 4.5:1: " + key + " (" + e.textContent.trim().slice(0, 40) + ")");
		}
	});
	return out;
})()`

// TestA11yCheckFindsProblems: the check reports each kind of problem on
// a page made to have them, and nothing on its fixed twin (so a clean
// dashboard page is clean because it is, not because the check is blind).
func TestA11yCheckFindsProblems(t *testing.T) {
	bin := chromiumPath(t)
	bad := `<!doctype html><html lang="en"><body style="background:#fff">
<h2>Starts at two</h2><h1>One</h1><h1>Two</h1><h4>Skips three</h4>
<input id="q"><textarea></textarea><button></button><a href="/x"></a><img src="data:,">
<p style="color:#999">pale grey text</p></body></html>`
	good := `<!doctype html><html lang="en"><body>
<h1>One</h1><h2>Two</h2><h3>Three</h3>
<label for="q">Query</label><input id="q"><textarea aria-label="Note"></textarea><button>Run</button><a href="/x">Next</a><img src="data:," alt="">
<p style="color:#555">readable grey text</p></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/bad" {
			io.WriteString(w, bad)
		} else {
			io.WriteString(w, good)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")), chromedp.Flag("disable-gpu", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	check := func(path string) string {
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatal(err)
		}
		found, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](a11yJS))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(found, "\n")
	}
	got := check("/bad")
	for _, want := range []string{"no label: input#q", "no label: textarea", "2 h1 elements, want 1", "the first heading is H2",
		"heading level skipped: H4 after H1", "an img without alt", "no name: button", "no name: a", "low contrast 2.85:1"} {
		if !strings.Contains(got, want) {
			t.Errorf("the check missed %q; it found:\n%s", want, got)
		}
	}
	if got := check("/good"); got != "" {
		t.Errorf("the check found problems on a clean page:\n%s", got)
	}
}
