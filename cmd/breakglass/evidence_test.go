package main

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/store/sqlite"
)

// evidenceEnv is a store holding one reviewed incident (incidentFixture)
// and a configuration pointing at it; extra is appended to the config.
func evidenceEnv(t *testing.T, extra string) (cfgPath, storePath, id string) {
	t.Helper()
	st, id := incidentFixture(t)
	storePath = st.Path()
	cfgPath = filepath.Join(t.TempDir(), "breakglass.yaml")
	text := "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nstore:\n  path: " + storePath + "\n" + extra
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, storePath, id
}

func extract(t *testing.T, zipPath, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEvidenceExportBinary: export writes a bundle that sha256sum -c and
// verify --bundle accept in a fresh directory with no store and no
// configuration; a byte changed in it is detected; the store itself
// verifies clean, and an entry deleted from it with SQL is named.
func TestEvidenceExportBinary(t *testing.T) {
	cfg, storePath, id := evidenceEnv(t, "")
	out := filepath.Join(t.TempDir(), "bundle.zip")
	r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", out)
	if r.code != 0 {
		t.Fatalf("export: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "check it: breakglass evidence verify --bundle") || !strings.Contains(r.stderr, "not signed") {
		t.Errorf("export output:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", out); r.code != 2 || !strings.Contains(r.stderr, "never overwrites") {
		t.Errorf("export over an existing file: %d %s", r.code, r.stderr)
	}
	if r := runBinary(t, nil, "incidents", "export", "-c", cfg, "inc-nope", "--out", out+"2"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("export of an unknown incident: %d %s", r.code, r.stderr)
	}

	// A fresh directory, no store, no configuration.
	fresh := t.TempDir()
	copyPath := filepath.Join(fresh, "bundle.zip")
	data, _ := os.ReadFile(out)
	os.WriteFile(copyPath, data, 0o644)
	x := filepath.Join(fresh, "x")
	extract(t, copyPath, x)
	for _, f := range []string{"SHA256SUMS", "records.ndjson", "chain.json", "head.statement", "report.md", "report.html", "report.json"} {
		if _, err := os.Stat(filepath.Join(x, f)); err != nil {
			t.Errorf("bundle lacks %s", f)
		}
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		c := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
		c.Dir = x
		if o, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, o)
		}
	}
	rec, _ := os.ReadFile(filepath.Join(x, "records.ndjson"))
	if !strings.Contains(string(rec), `{"id":"evt-signin"}`) {
		t.Errorf("records.ndjson lacks the raw record as received:\n%s", rec)
	}
	env := []string{"BREAKGLASS_CONFIG="}
	vr := runBinary(t, env, "evidence", "verify", "--bundle", copyPath)
	if vr.code != 0 || !strings.Contains(vr.stdout, "OK: bundle") {
		t.Fatalf("verify --bundle: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	vr = runBinary(t, env, "evidence", "verify", "--bundle", copyPath, "--format", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(vr.stdout), &got); err != nil || got["ok"] != true || got["incident"] != id {
		t.Errorf("verify --bundle --format json: %v %s", err, vr.stdout)
	}
	// One byte changed inside a record, and one in the zip's own header.
	i := bytes.Index(data, []byte(`{"id":"evt-signin"}`))
	if i < 0 {
		t.Fatal("the record is not stored uncompressed in the zip")
	}
	for name, off := range map[string]int{"record": i + 8, "header": 10} {
		b := bytes.Clone(data)
		b[off] ^= 0x01
		p := filepath.Join(fresh, name+".zip")
		os.WriteFile(p, b, 0o644)
		vr := runBinary(t, env, "evidence", "verify", "--bundle", p)
		if vr.code != 1 || !strings.Contains(vr.stdout, "BROKEN") {
			t.Errorf("%s byte changed: exit %d\n%s%s", name, vr.code, vr.stdout, vr.stderr)
		}
	}
	if vr := runBinary(t, env, "evidence", "verify", "--bundle", filepath.Join(fresh, "nope.zip")); vr.code != 2 {
		t.Errorf("missing bundle: exit %d", vr.code)
	}

	// The store verifies clean, with --incident too.
	if vr := runBinary(t, nil, "evidence", "verify", "-c", cfg, "--incident", id); vr.code != 0 || !strings.Contains(vr.stdout, "OK: evidence log") {
		t.Fatalf("verify the store: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	if vr := runBinary(t, nil, "evidence", "verify", "-c", cfg, "--incident", "inc-nope"); vr.code != 1 {
		t.Errorf("verify --incident unknown: %d %s", vr.code, vr.stderr)
	}
	if vr := runBinary(t, nil, "evidence", "verify", "-c", cfg, "--head", "nonsense"); vr.code != 2 {
		t.Errorf("bad --head: %d", vr.code)
	}
	// A head beyond the log (as the daemon published it) shows a cut tail.
	db, err := sql.Open("sqlite", "file:"+storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	var hash string
	db.QueryRow(`SELECT seq, hash FROM evidence_log ORDER BY seq DESC LIMIT 1`).Scan(&n, &hash)
	for _, s := range []string{"DROP TRIGGER evidence_log_no_delete", "DELETE FROM evidence_log WHERE seq = (SELECT MAX(seq) FROM evidence_log)"} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	vr = runBinary(t, nil, "evidence", "verify", "-c", cfg, "--head", strings.Join([]string{itoa(n), hash}, ":"))
	if vr.code != 1 || !strings.Contains(vr.stdout, "FIRST BROKEN ENTRY: "+itoa(n)+" (tail-truncated)") {
		t.Errorf("truncated tail: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	if _, err := db.Exec(`DELETE FROM evidence_log WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	vr = runBinary(t, nil, "evidence", "verify", "-c", cfg)
	if vr.code != 1 || !strings.Contains(vr.stdout, "FIRST BROKEN ENTRY: 2 (entry-missing)") || !strings.Contains(vr.stderr, "entry 2") {
		t.Errorf("deleted entry: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	// Export refuses a broken log.
	if r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", filepath.Join(fresh, "again.zip")); r.code != 1 || !strings.Contains(r.stderr, "not exporting") {
		t.Errorf("export from a broken log: %d %s", r.code, r.stderr)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestEvidenceSignedBinary: keygen makes a key; export signs the bundle's
// head with it; verify --bundle accepts it with the public key (file or
// base64) and refuses another key.
func TestEvidenceSignedBinary(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "evidence-key.pem")
	kr := runBinary(t, nil, "evidence", "keygen", "--out", key)
	if kr.code != 0 {
		t.Fatalf("keygen: %d %s", kr.code, kr.stderr)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if kr := runBinary(t, nil, "evidence", "keygen", "--out", key); kr.code != 2 || !strings.Contains(kr.stderr, "never overwrites") {
		t.Errorf("keygen over a key: %d %s", kr.code, kr.stderr)
	}
	priv, _ := os.ReadFile(key)
	if strings.Contains(kr.stdout, strings.Split(string(priv), "\n")[1]) {
		t.Error("keygen printed the private key")
	}
	var b64 string
	for _, l := range strings.Split(kr.stdout, "\n") {
		if _, v, ok := strings.Cut(l, "evidence.public_key): "); ok {
			b64 = v
		}
	}
	cfg, _, id := evidenceEnv(t, "evidence:\n  signing_key: "+key+"\n")
	out := filepath.Join(dir, "signed.zip")
	if r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", out, "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, `"signed":true`) {
		t.Fatalf("export: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	env := []string{"BREAKGLASS_CONFIG="}
	for _, pk := range []string{key + ".pub", b64} {
		if vr := runBinary(t, env, "evidence", "verify", "--bundle", out, "--public-key", pk); vr.code != 0 || !strings.Contains(vr.stdout, "signed, trusted key") {
			t.Errorf("--public-key %s: %d\n%s%s", pk, vr.code, vr.stdout, vr.stderr)
		}
	}
	other := filepath.Join(dir, "other.pem")
	runBinary(t, nil, "evidence", "keygen", "--out", other)
	if vr := runBinary(t, env, "evidence", "verify", "--bundle", out, "--public-key", other+".pub"); vr.code != 1 || !strings.Contains(vr.stdout, "not by the trusted key") {
		t.Errorf("another key: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	// With openssl, an auditor needs no breakglass for the signature.
	if _, err := exec.LookPath("openssl"); err == nil {
		x := filepath.Join(dir, "x")
		extract(t, out, x)
		c := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "head.pub.pem", "-rawin", "-in", "head.statement", "-sigfile", "head.sig")
		c.Dir = x
		if o, err := c.CombinedOutput(); err != nil {
			t.Errorf("openssl pkeyutl -verify: %v\n%s", err, o)
		}
	}
}

// TestIncidentsReportBinary: report prints the timeline in each format;
// an unknown incident exits 1, a bad format 2.
func TestIncidentsReportBinary(t *testing.T) {
	cfg, _, id := evidenceEnv(t, "")
	for format, want := range map[string]string{"markdown": "## Timeline (oldest first, UTC)", "html": "<!DOCTYPE html>", "json": `"timeline"`} {
		r := runBinary(t, nil, "incidents", "report", "-c", cfg, id, "--format", format)
		if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "Classified as emergency") && format != "json" {
			t.Errorf("%s: %d\n%s%s", format, r.code, r.stdout, r.stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "r.html")
	if r := runBinary(t, nil, "incidents", "report", "-c", cfg, id, "--format", "html", "--out", out); r.code != 0 || r.stdout != "" {
		t.Errorf("--out: %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(out); !bytes.Contains(b, []byte("</html>")) {
		t.Error("--out file not written")
	}
	if r := runBinary(t, nil, "incidents", "report", "-c", cfg, "inc-nope"); r.code != 1 {
		t.Errorf("unknown incident: %d", r.code)
	}
	if r := runBinary(t, nil, "incidents", "report", "-c", cfg, id, "--format", "pdf"); r.code != 2 {
		t.Errorf("bad format: %d", r.code)
	}
}

// TestEvidenceHeadsFileBinary: verify checks the store against the heads
// serve published, and their signatures; a damaged heads file or a forged
// head is reported; export without the key binds the bundle to the newest
// signed published head.
func TestEvidenceHeadsFileBinary(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	if r := runBinary(t, nil, "evidence", "keygen", "--out", key); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// The operator's config names the public key only: the private key is
	// serve's.
	cfg, storePath, id := evidenceEnv(t, "evidence:\n  public_key: "+key+".pub\n")
	heads := storePath + ".heads"
	priv, err := evidence.LoadPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := evidence.Head(context.Background(), st, priv, time.Now())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := evidence.AppendHead(heads, h); err != nil {
		t.Fatal(err)
	}
	if hr := runBinary(t, nil, "evidence", "head", "-c", cfg); hr.code != 0 || strings.TrimSpace(hr.stdout) != h.Ref().String() {
		t.Errorf("evidence head: %d %q %s", hr.code, hr.stdout, hr.stderr)
	}
	vr := runBinary(t, nil, "evidence", "verify", "-c", cfg)
	if vr.code != 0 || !strings.Contains(vr.stdout, "1 heads in "+heads+", 1 checked") {
		t.Fatalf("verify with a published head: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	out := filepath.Join(dir, "b.zip")
	r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", out, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"signed":true`) || !strings.Contains(r.stdout, `"head":"`+h.Ref().String()) {
		t.Fatalf("export bound to the published head: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if vr := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "evidence", "verify", "--bundle", out, "--public-key", key+".pub"); vr.code != 0 {
		t.Errorf("verify the bundle: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	// A forged head (the hash changed, the signature kept).
	forged := h
	forged.Hash = strings.Repeat("0", 64)
	evidence.AppendHead(heads, forged)
	if vr := runBinary(t, nil, "evidence", "verify", "-c", cfg); vr.code != 1 || !strings.Contains(vr.stdout, "signature does not verify") {
		t.Errorf("forged head: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	os.WriteFile(heads, []byte("not a head\n"), 0o644)
	if vr := runBinary(t, nil, "evidence", "verify", "-c", cfg); vr.code != 1 || !strings.Contains(vr.stdout, heads+":1: the heads file is damaged") {
		t.Errorf("damaged heads file: %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
}

// TestEvidenceFlags: every evidence subcommand takes --config/-c and
// --format; keygen without --out writes evidence.signing_key.
func TestEvidenceFlags(t *testing.T) {
	root := newRootCmd()
	ev, _, err := root.Find([]string{"evidence"})
	if err != nil || ev.Name() != "evidence" {
		t.Fatalf("no evidence command: %v", err)
	}
	for _, c := range ev.Commands() {
		if f := c.Flags().Lookup("config"); f == nil || f.Shorthand != "c" {
			t.Errorf("evidence %s: no --config/-c", c.Name())
		}
		if c.Flags().Lookup("format") == nil {
			t.Errorf("evidence %s: no --format", c.Name())
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	key := filepath.Join(dir, "k.pem")
	os.WriteFile(cfg, []byte("accounts:\n  - upn: bg1@contoso.com\nevidence:\n  signing_key: "+key+"\n"), 0o600)
	r := runBinary(t, nil, "evidence", "keygen", "-c", cfg, "--format", "json")
	var got map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got["private_key_file"] != key {
		t.Fatalf("keygen -c: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := evidence.LoadPrivateKey(key); err != nil {
		t.Error(err)
	}
	if r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "evidence", "keygen"); r.code != 2 || !strings.Contains(r.stderr, "--out FILE is required") {
		t.Errorf("keygen without --out: %d %s", r.code, r.stderr)
	}
}
