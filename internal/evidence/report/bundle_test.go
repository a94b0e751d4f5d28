package report

import (
	"bytes"
	"strings"
	"testing"

	"breakglass/internal/store"
)

func bundleFiles(t *testing.T, r *Report) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for name, render := range map[string]func(*bytes.Buffer) error{
		BundleJSON:     func(b *bytes.Buffer) error { return JSON(b, r) },
		BundleMarkdown: func(b *bytes.Buffer) error { return Markdown(b, r) },
		BundleHTML:     func(b *bytes.Buffer) error { return HTML(b, r) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		files[name] = b.Bytes()
	}
	return files
}

// TestCheckBundle: the reports of a bundle are outside the hash chain. A
// report whose review was rewritten (misuse made a drill, in all three
// files alike) or one file edited alone is named; untouched reports pass.
func TestCheckBundle(t *testing.T) {
	src := fixture(t)
	r := build(t, src)
	files := bundleFiles(t, r)
	if f, d := CheckBundle(files, r.Incident.ID, src.log); f != "" {
		t.Fatalf("untouched reports: %s: %s", f, d)
	}

	forged := *r
	rv := *r.Review
	rv.Class = store.ClassDrill
	forged.Review = &rv
	ff := bundleFiles(t, &forged)
	if f, d := CheckBundle(ff, r.Incident.ID, src.log); f != BundleJSON || !strings.Contains(d, "misuse") {
		t.Errorf("review rewritten in every report: %q %q; want report.json named with the chain's misuse", f, d)
	}

	forged = *r
	forged.Incident.State = store.IncidentClosed
	if f, d := CheckBundle(bundleFiles(t, &forged), r.Incident.ID, src.log); f != BundleJSON || !strings.Contains(d, "reviewed") {
		t.Errorf("state rewritten: %q %q", f, d)
	}

	forged = *r
	forged.Incident.Alerts = r.Incident.Alerts[1:]
	log := append(src.log, store.LogEntry{Seq: 9, Incident: r.Incident.ID, Kind: store.LogAlert, Ref: "a1"})
	if f, d := CheckBundle(bundleFiles(t, &forged), r.Incident.ID, log); f != BundleJSON || !strings.Contains(d, "a1") {
		t.Errorf("alert left out: %q %q", f, d)
	}

	// A record shown otherwise than the chain holds it (another IP), or
	// left out of the timeline.
	forged = *r
	forged.Items = nil
	edited := false
	for _, it := range r.Items {
		if it.Kind == KindSignIn && !edited {
			it.Fields = append([]Field(nil), it.Fields...)
			for i, f := range it.Fields {
				if strings.Contains(f.Name, "IP") {
					it.Fields[i].Value = "198.51.100.66"
					edited = true
				}
			}
		}
		forged.Items = append(forged.Items, it)
	}
	if !edited {
		t.Fatal("the fixture's sign-in has no IP field")
	}
	if f, d := CheckBundle(bundleFiles(t, &forged), r.Incident.ID, src.log); f != BundleJSON || !strings.Contains(d, "does not show record") {
		t.Errorf("sign-in IP rewritten: %q %q", f, d)
	}
	forged = *r
	forged.Items = nil
	for _, it := range r.Items {
		if it.Kind != KindAudit {
			forged.Items = append(forged.Items, it)
		}
	}
	if f, d := CheckBundle(bundleFiles(t, &forged), r.Incident.ID, src.log); f != BundleJSON || !strings.Contains(d, "does not show record") {
		t.Errorf("audit record left out: %q %q", f, d)
	}

	md := map[string][]byte{}
	for k, v := range files {
		md[k] = v
	}
	md[BundleMarkdown] = bytes.Replace(files[BundleMarkdown], []byte("Classified as misuse"), []byte("Classified as drill"), 1)
	if bytes.Equal(md[BundleMarkdown], files[BundleMarkdown]) {
		t.Fatal("the fixture's Markdown does not say Classified as misuse")
	}
	if f, _ := CheckBundle(md, r.Incident.ID, src.log); f != BundleMarkdown {
		t.Errorf("report.md edited alone: %q", f)
	}

	if f, _ := CheckBundle(files, "inc-other", src.log); f != BundleJSON {
		t.Errorf("reports of another incident: %q", f)
	}
	delete(md, BundleJSON)
	if f, _ := CheckBundle(md, r.Incident.ID, src.log); f != BundleJSON {
		t.Errorf("report.json missing: %q", f)
	}
}

// FuzzCheckBundle: a hostile report.json never crashes the check.
func FuzzCheckBundle(f *testing.F) {
	f.Add([]byte(`{"incident":{"id":"inc-1","state":"open","alerts":[]},"timeline":[],"generated":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"incident":{"id":"inc-1"},"review":{"class":"misuse","attest":[{"name":"a","value":"b"}]},"timeline":[{"kind":"audit","targets":[{"changes":[{}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		files := map[string][]byte{BundleJSON: data, BundleMarkdown: data, BundleHTML: data}
		CheckBundle(files, "inc-1", nil)
	})
}
