package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/store"
)

// TestBundleLeadingEntriesCut: a segment's first entry links to nothing in
// the bundle, so cutting the incident's first entries (its opening, the
// raw record that triggered it and its alert) leaves a shorter segment
// that still links entry by entry to the same signed head. Someone who
// rewrites chain.json, records.ndjson and SHA256SUMS that way and zips
// them as breakglass does had a bundle that verified clean. The segment
// must hold the incident's opening.
func TestBundleLeadingEntriesCut(t *testing.T) {
	m := &memLog{}
	ctx := context.Background()
	add := func(inc, kind, ref, content string) {
		m.AppendLog(ctx, store.LogEntry{Incident: inc, Kind: kind, Ref: ref, At: t0, Content: []byte(content)})
	}
	add("inc-b", store.LogRecord, "ev-0", `{"id":"ev-0"}`)
	add("inc-a", store.LogIncident, OpeningRef, `{"to":"open"}`)
	add("inc-a", store.LogRecord, "ev-1", `{"id":"ev-1","operationName":"Add member to role"}`)
	add("inc-a", store.LogAlert, "al-1", `{"id":"al-1"}`)
	add("inc-b", store.LogRecord, "ev-2", `{"id":"ev-2"}`)
	add("inc-a", store.LogRecord, "ev-3", `{"id":"ev-3","operationName":"Sign-in"}`)
	add("inc-a", store.LogIncident, "state:reviewed", `{"to":"reviewed","review":{"class":"drill"}}`)
	key := testKey(t)
	data := exportOf(t, m, "inc-a", key)
	if res, err := readBundle(t, data, BundleOptions{}); err != nil || !res.OK() {
		t.Fatalf("intact bundle: %v %+v %+v", err, res.Problem, res.Chain.Break)
	}

	files := unzipAll(t, data)
	order := namesOf(data)
	var ch Chain
	if err := json.Unmarshal(files[ChainFile], &ch); err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < len(ch.Entries); cut++ {
		if ch.Entries[cut].Incident != "inc-a" {
			continue // ReadBundle already wants the segment to start in the incident
		}
		forged := ch
		forged.Entries = slices.Clone(ch.Entries[cut:])
		mod := map[string][]byte{}
		for k, v := range files {
			mod[k] = v
		}
		b, _ := json.MarshalIndent(forged, "", "  ")
		mod[ChainFile] = append(b, '\n')
		entries := make([]store.LogEntry, len(forged.Entries))
		for i, be := range forged.Entries {
			entries[i] = be.logEntry()
		}
		mod[RecordsFile], _ = recordFiles("inc-a", entries)
		var manifest bytes.Buffer
		for _, n := range order[1:] {
			fmt.Fprintf(&manifest, "%s  %s\n", store.ContentHash(mod[n]), n)
		}
		mod[ManifestFile] = manifest.Bytes()
		res, err := readBundle(t, rezip(t, mod, order), BundleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK() {
			t.Errorf("entries before %d cut off: the bundle still verifies", forged.Entries[0].Seq)
			continue
		}
		if res.Problem == nil || !strings.Contains(res.Problem.Detail, "opening") {
			t.Errorf("cut before %d: problem %+v, chain %+v; want the missing opening named", forged.Entries[0].Seq, res.Problem, res.Chain.Break)
		}
	}
}

// TestBundleCheckFiles: ReadBundle hands the files and the chain to
// CheckFiles (the reports' check) and reports what it names.
func TestBundleCheckFiles(t *testing.T) {
	data := exportOf(t, bundleLog(t), "inc-a", testKey(t))
	var got string
	res, err := readBundle(t, data, BundleOptions{CheckFiles: func(files map[string][]byte, inc string, entries []store.LogEntry) (string, string) {
		got = fmt.Sprintf("%s %d %s", inc, len(entries), files["report.md"])
		return "report.md", "edited"
	}})
	if err != nil || res.OK() || res.Problem == nil || res.Problem.File != "report.md" {
		t.Errorf("CheckFiles' problem not reported: %v %+v", err, res.Problem)
	}
	if got != "inc-a 7 # Incident\n" {
		t.Errorf("CheckFiles saw %q", got)
	}
}
