package evidence

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/store"
)

// bundleLog is a log of two interleaved incidents, with a multi-line raw
// record and a non-JSON one.
func bundleLog(t testing.TB) *memLog {
	m := &memLog{}
	ctx := context.Background()
	add := func(inc, kind, ref, content string) {
		m.AppendLog(ctx, store.LogEntry{Incident: inc, Kind: kind, Ref: ref, At: t0, Content: []byte(content)})
	}
	add("inc-b", store.LogRecord, "ev-0", `{"id":"ev-0"}`)
	add("inc-a", store.LogRecord, "ev-1", `{"id":"ev-1","userPrincipalName":"bg1@contoso.com"}`)
	add("inc-a", store.LogAlert, "al-1", `{"id":"al-1"}`)
	add("inc-b", store.LogRecord, "ev-2", `{"id":"ev-2","secret":"of another incident"}`)
	add("inc-a", store.LogRecord, "ev-3", "{\n  \"id\": \"ev-3\"\n}\n")
	add("inc-a", store.LogPull, "ev-4", "not json\r\nat all")
	add("inc-a", store.LogIncident, OpeningRef, `{"state":"open"}`)
	add("", store.LogNotify, "n-1", `{}`)
	return m
}

func exportOf(t testing.TB, m *memLog, inc string, key ed25519.PrivateKey) []byte {
	t.Helper()
	ctx := context.Background()
	seg, ok, err := Segment(ctx, m, inc)
	if err != nil || !ok {
		t.Fatalf("segment: %v %v", ok, err)
	}
	h, _, err := Head(ctx, m, key, t0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = WriteBundle(&buf, Export{Incident: inc, Entries: seg, Head: h, Now: t0,
		Files: map[string][]byte{"report.md": []byte("# Incident\n"), "report.html": []byte("<html></html>")}})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readBundle(t testing.TB, data []byte, o BundleOptions) (BundleResult, error) {
	return ReadBundle(bytes.NewReader(data), int64(len(data)), o)
}

func TestBundleRoundTrip(t *testing.T) {
	m := bundleLog(t)
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	for _, signed := range []bool{true, false} {
		k := key
		if !signed {
			k = nil
		}
		data := exportOf(t, m, "inc-a", k)
		res, err := readBundle(t, data, BundleOptions{})
		if err != nil || !res.OK() {
			t.Fatalf("signed=%v: %v %+v %+v", signed, err, res.Problem, res.Chain.Break)
		}
		if res.Incident != "inc-a" || res.Chain.First.Seq != 2 || res.Head.Seq != 8 || res.Signed != signed || res.KeyTrusted {
			t.Errorf("signed=%v: %+v", signed, res)
		}
		if signed {
			if res, _ := readBundle(t, data, BundleOptions{Trusted: pub}); !res.OK() || !res.KeyTrusted {
				t.Errorf("trusted key: %+v", res.Problem)
			}
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey)
			if res, _ := readBundle(t, data, BundleOptions{Trusted: other}); res.OK() {
				t.Error("a bundle signed by another key passed")
			}
		} else if res, _ := readBundle(t, data, BundleOptions{RequireSigned: true}); res.OK() {
			t.Error("unsigned bundle passed RequireSigned")
		}
	}
	data := exportOf(t, m, "inc-a", key)
	files := unzipAll(t, data)
	// Other incidents' content stays out of the bundle.
	if bytes.Contains(files[ChainFile], []byte("of another incident")) || bytes.Contains(files[RecordsFile], []byte("ev-2")) {
		t.Error("another incident's evidence leaked into the bundle")
	}
	wantNDJSON := `{"id":"ev-1","userPrincipalName":"bg1@contoso.com"}` + "\n" + `{"id":"ev-3"}` + "\n"
	if string(files[RecordsFile]) != wantNDJSON {
		t.Errorf("records.ndjson:\n%s", files[RecordsFile])
	}
	if string(files["records/5.json"]) != "{\n  \"id\": \"ev-3\"\n}\n" || string(files["records/6.json"]) != "not json\r\nat all" {
		t.Errorf("raw copies: %q %q", files["records/5.json"], files["records/6.json"])
	}
	// A published head the bundle covers must match; a newer one is beyond it.
	if res, _ := readBundle(t, data, BundleOptions{Heads: []HeadRef{RefOf(m.entries[4])}}); !res.OK() || res.Chain.HeadsChecked != 2 {
		t.Errorf("covered head: %+v", res.Chain)
	}
	if res, _ := readBundle(t, data, BundleOptions{Heads: []HeadRef{{5, m.entries[3].Hash}}}); res.OK() || res.Chain.Break.Kind != BrokenHead {
		t.Errorf("wrong head: %+v", res.Chain)
	}
	if res, _ := readBundle(t, data, BundleOptions{Heads: []HeadRef{{12, m.entries[3].Hash}}}); res.OK() || res.Chain.Break.Kind != BrokenTruncated {
		t.Errorf("newer head: %+v", res.Chain)
	}
}

func unzipAll(t testing.TB, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		out[f.Name] = b.Bytes()
	}
	return out
}

func rezip(t testing.TB, files map[string][]byte, order []string) []byte {
	var buf bytes.Buffer
	var names []string
	for _, n := range order {
		if _, ok := files[n]; ok {
			names = append(names, n)
		}
	}
	if err := writeZip(&buf, names, files, t0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func namesOf(data []byte) []string {
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var out []string
	for _, f := range zr.File {
		out = append(out, f.Name)
	}
	return out
}

// Every byte of every file, changed, is detected; so are deleted and added
// files.
func TestBundleTamperFiles(t *testing.T) {
	m := bundleLog(t)
	data := exportOf(t, m, "inc-a", testKey(t))
	files := unzipAll(t, data)
	order := namesOf(data)
	if res, _ := readBundle(t, rezip(t, files, order), BundleOptions{}); !res.OK() {
		t.Fatalf("rezipped intact bundle: %+v %+v", res.Problem, res.Chain.Break)
	}
	checked := 0
	for _, name := range order {
		for i := range files[name] {
			mod := map[string][]byte{}
			for k, v := range files {
				mod[k] = v
			}
			b := bytes.Clone(files[name])
			b[i] ^= 0x01
			mod[name] = b
			res, err := readBundle(t, rezip(t, mod, order), BundleOptions{})
			if err == nil && res.OK() {
				t.Fatalf("%s byte %d changed: not detected", name, i)
			}
			checked++
		}
	}
	t.Logf("%d single-byte changes detected", checked)
	for _, name := range order {
		mod := map[string][]byte{}
		for k, v := range files {
			if k != name {
				mod[k] = v
			}
		}
		if res, _ := readBundle(t, rezip(t, mod, order), BundleOptions{}); res.OK() {
			t.Errorf("%s deleted: not detected", name)
		}
	}
	files["extra.txt"] = []byte("x")
	if res, _ := readBundle(t, rezip(t, files, append(order, "extra.txt")), BundleOptions{}); res.OK() || !strings.Contains(res.Problem.Detail, "not in the manifest") {
		t.Errorf("added file: %+v", res.Problem)
	}
}

// Flipping any byte of the zip itself is detected, too: content changes by
// the manifest, the zip's structure by the zip reader and by CRC.
func TestBundleTamperZipBytes(t *testing.T) {
	m := bundleLog(t)
	data := exportOf(t, m, "inc-a", testKey(t))
	var missed []int
	for i := range data {
		b := bytes.Clone(data)
		b[i] ^= 0xff
		res, err := readBundle(t, b, BundleOptions{})
		if err == nil && res.OK() {
			missed = append(missed, i)
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d of %d byte changes not detected, at %v", len(missed), len(data), missed[:min(len(missed), 40)])
	}
}

// The manifest works with the real sha256sum in a fresh directory.
func TestBundleSha256sum(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum")
	}
	m := bundleLog(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "out", "bundle.zip")
	os.Mkdir(filepath.Dir(path), 0o755)
	seg, _, _ := Segment(context.Background(), m, "inc-a")
	h, _, _ := Head(context.Background(), m, testKey(t), t0)
	if err := WriteBundleFile(path, Export{Incident: "inc-a", Entries: seg, Head: h, Now: t0}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	data, _ := os.ReadFile(path)
	x := filepath.Join(dir, "x")
	for name, b := range unzipAll(t, data) {
		p := filepath.Join(x, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	cmd := exec.Command("sha256sum", "-c", "--strict", ManifestFile)
	cmd.Dir = x
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(x, RecordsFile), []byte("{}\n"), 0o644)
	cmd = exec.Command("sha256sum", "-c", "--quiet", ManifestFile)
	cmd.Dir = x
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), RecordsFile+": FAILED") {
		t.Fatalf("changed file passed sha256sum -c: %v\n%s", err, out)
	}
}

func FuzzReadBundle(f *testing.F) {
	m := bundleLog(f)
	f.Add(exportOf(f, m, "inc-a", testKey(f)))
	f.Add(exportOf(f, m, "inc-b", nil))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := readBundle(t, data, BundleOptions{})
		if err == nil && res.OK() && res.Files == 0 {
			t.Fatal("an empty bundle passed")
		}
	})
}

// A bundle repacked by another zip tool has intact files but is not the
// bundle breakglass wrote: that is said, not passed.
func TestBundleRepacked(t *testing.T) {
	data := exportOf(t, bundleLog(t), "inc-a", testKey(t))
	files := unzipAll(t, data)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range namesOf(data) {
		w, _ := zw.Create(n)
		w.Write(files[n])
	}
	zw.Close()
	res, err := readBundle(t, buf.Bytes(), BundleOptions{})
	if err != nil || res.OK() || res.Problem.File != "(zip)" || !res.Chain.OK() {
		t.Fatalf("%v %+v", err, res.Problem)
	}
	if res, _ := readBundle(t, append(bytes.Clone(data), 0), BundleOptions{}); res.OK() {
		t.Error("appended byte passed")
	}
}
