package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
}

func TestSignedHead(t *testing.T) {
	k := testKey(t)
	h := SignedHead{Seq: 42, Hash: strings.Repeat("ab", 32), At: t0}.Sign(k)
	pub := k.Public().(ed25519.PublicKey)
	if err := h.CheckSignature(pub); err != nil {
		t.Fatal(err)
	}
	if err := h.CheckSignature(nil); err != nil {
		t.Fatal(err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	if err := h.CheckSignature(other.Public().(ed25519.PublicKey)); err == nil || !strings.Contains(err.Error(), "not by the trusted key") {
		t.Errorf("other key: %v", err)
	}
	for name, mod := range map[string]func(*SignedHead){
		"seq":  func(h *SignedHead) { h.Seq++ },
		"hash": func(h *SignedHead) { h.Hash = strings.Repeat("cd", 32) },
		"at":   func(h *SignedHead) { h.At = h.At.Add(time.Nanosecond) },
		"sig":  func(h *SignedHead) { h.Sig = "AAAA" + h.Sig[4:] },
	} {
		x := h
		mod(&x)
		if err := x.CheckSignature(pub); err == nil {
			t.Errorf("changed %s: signature still verifies", name)
		}
	}
	if err := (SignedHead{Seq: 1, Hash: h.Hash, At: t0}).CheckSignature(pub); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
}

// The statement is checkable by openssl, so an auditor needs no breakglass.
func TestSignedHeadOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	k := testKey(t)
	h := SignedHead{Seq: 3, Hash: strings.Repeat("01", 32), At: t0}.Sign(k)
	pubPEM, _ := PublicKeyPEM(k.Public().(ed25519.PublicKey))
	sig, _ := decodeB64(h.Sig)
	os.WriteFile(filepath.Join(dir, "pub.pem"), pubPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "stmt"), h.Statement(), 0o644)
	os.WriteFile(filepath.Join(dir, "sig"), sig, 0o644)
	out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", filepath.Join(dir, "pub.pem"),
		"-rawin", "-in", filepath.Join(dir, "stmt"), "-sigfile", filepath.Join(dir, "sig")).CombinedOutput()
	if err != nil {
		t.Skipf("openssl cannot verify raw Ed25519 here: %v %s", err, out)
	}
	// And a key made by openssl loads.
	keyPath := filepath.Join(dir, "k.pem")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", keyPath).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v %s", err, out)
	}
	if _, err := LoadPrivateKey(keyPath); err != nil {
		t.Fatal(err)
	}
}

func TestParseKeys(t *testing.T) {
	k := testKey(t)
	seed := k.Seed()
	pemKey, _ := PrivateKeyPEM(k)
	for name, in := range map[string][]byte{
		"pem": pemKey, "raw": seed, "hex": []byte(hex.EncodeToString(seed) + "\n"),
		"base64": []byte(KeyText(ed25519.PublicKey(seed))),
	} {
		got, err := ParsePrivateKey(in)
		if err != nil || !got.Equal(k) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range map[string][]byte{
		"garbage": []byte("hello"), "rsa pem": []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
		"bad pkcs8": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "empty": nil,
	} {
		_, err := ParsePrivateKey(in)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if len(in) > 0 && strings.Contains(err.Error(), string(in)) {
			t.Errorf("%s: error quotes the key: %v", name, err)
		}
	}
	pub := k.Public().(ed25519.PublicKey)
	pubPEM, _ := PublicKeyPEM(pub)
	for name, in := range map[string][]byte{"pem": pubPEM, "base64": []byte(KeyText(pub)), "hex": []byte(hex.EncodeToString(pub))} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Errorf("public %s: %v", name, err)
		}
	}
	if _, err := ParsePublicKey(pemKey); err == nil {
		t.Error("a private key accepted as public")
	}
}

func TestParseHeadRef(t *testing.T) {
	h := strings.Repeat("aB", 32)
	got, err := ParseHeadRef(" 12:" + h + " ")
	if err != nil || got != (HeadRef{12, strings.ToLower(h)}) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "12", ":" + h, "0:" + h, "-1:" + h, "x:" + h, "12:abc", "12:" + strings.Repeat("zz", 32), "99999999999999999999:" + h} {
		if _, err := ParseHeadRef(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReadHeads(t *testing.T) {
	h := SignedHead{Seq: 2, Hash: strings.Repeat("0f", 32), At: t0}.Sign(testKey(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "heads")
	if err := AppendHead(path, h); err != nil {
		t.Fatal(err)
	}
	h2 := SignedHead{Seq: 3, Hash: strings.Repeat("1f", 32), At: t0.Add(time.Minute)}
	if err := AppendHead(path, h2); err != nil {
		t.Fatal(err)
	}
	got, err := LoadHeads(path)
	if err != nil || len(got) != 2 || got[0] != h || got[1] != h2 {
		t.Fatalf("%+v %v", got, err)
	}
	tests := map[string]string{
		"bad json":      "{",
		"unknown field": `{"seq":1,"hash":"` + h.Hash + `","at":"2026-01-01T00:00:00Z","x":1}`,
		"no seq":        `{"hash":"` + h.Hash + `","at":"2026-01-01T00:00:00Z"}`,
		"short hash":    `{"seq":1,"hash":"ab","at":"2026-01-01T00:00:00Z"}`,
		"no at":         `{"seq":1,"hash":"` + h.Hash + `"}`,
		"key no sig":    `{"seq":1,"hash":"` + h.Hash + `","at":"2026-01-01T00:00:00Z","key":"AAAA"}`,
		"two values":    `{"seq":1,"hash":"` + h.Hash + `","at":"2026-01-01T00:00:00Z"} {}`,
		"long line":     strings.Repeat(" ", maxHeadLine+10) + "{}",
	}
	for name, line := range tests {
		_, err := ReadHeads(strings.NewReader("\n"+line+"\n"), "heads.ndjson")
		if err == nil || !strings.HasPrefix(err.Error(), "heads.ndjson:2: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseHead(f *testing.F) {
	f.Add([]byte(`{"seq":1,"hash":"` + strings.Repeat("ab", 32) + `","at":"2026-01-01T00:00:00Z","key":"AAAA","sig":"AAAA"}`))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte("12:" + strings.Repeat("ab", 32)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := ParseHead(data); err == nil {
			if h.Seq < 1 || len(h.Hash) != 64 {
				t.Fatalf("accepted %+v", h)
			}
			_ = h.CheckSignature(nil)
		}
		if r, err := ParseHeadRef(string(data)); err == nil && (r.Seq < 1 || len(r.Hash) != 64) {
			t.Fatalf("accepted %+v", r)
		}
		ReadHeads(bytes.NewReader(data), "f")
	})
}

func TestPublisher(t *testing.T) {
	m := &memLog{}
	dir := t.TempDir()
	now := t0
	var logs bytes.Buffer
	var failed, recovered int
	p := &Publisher{Log: m, File: filepath.Join(dir, "heads"), Key: testKey(t), Now: func() time.Time { return now },
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Failing: func(error) { failed++ }, Recovered: func() { recovered++ }}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := p.Publish(ctx, false); ok {
		t.Fatal("published an empty log")
	}
	fill(m, 3)
	if h, ok, err := p.Publish(ctx, false); !ok || err != nil || h.Seq != 3 {
		t.Fatalf("%v %v %v", h, ok, err)
	}
	fill(m, 1)
	now = now.Add(30 * time.Second)
	if _, ok, _ := p.Publish(ctx, false); ok {
		t.Fatal("published twice within the interval")
	}
	now = now.Add(31 * time.Second)
	if h, ok, _ := p.Publish(ctx, false); !ok || h.Seq != 4 {
		t.Fatal("moved head not published after the interval")
	}
	now = now.Add(2 * time.Minute)
	if _, ok, _ := p.Publish(ctx, true); ok {
		t.Fatal("unmoved head published again")
	}
	fill(m, 1)
	if h, ok, _ := p.Publish(ctx, true); !ok || h.Seq != 5 {
		t.Fatal("forced (shutdown) publication skipped")
	}
	heads, err := LoadHeads(p.File)
	if err != nil || len(heads) != 3 {
		t.Fatalf("%d heads, %v", len(heads), err)
	}
	for _, h := range heads {
		if err := h.CheckSignature(p.Key.Public().(ed25519.PublicKey)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(logs.String(), "evidence head") || !strings.Contains(logs.String(), "head=5:"+m.entries[4].Hash) {
		t.Errorf("log: %s", logs.String())
	}
	if res, _ := Verify(ctx, m, refs(heads)); !res.OK() || res.HeadsChecked != 3 {
		t.Errorf("%+v", res.Break)
	}

	// A restart reads the last head and checks the log still holds it.
	p2 := &Publisher{Log: m, File: p.File}
	if err := p2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := p2.Publish(ctx, true); ok {
		t.Error("restart published the same head again")
	}
	m.entries = m.entries[:3]
	p3 := &Publisher{Log: m, File: p.File}
	if err := p3.Start(ctx); err == nil || !strings.Contains(err.Error(), "deleted") {
		t.Errorf("truncated log at start: %v", err)
	}
	// The lower head published since does not make the next start pass.
	if _, ok, _ := p3.Publish(ctx, true); !ok {
		t.Fatal("the current head was not published")
	}
	if err := (&Publisher{Log: m, File: p.File}).Start(ctx); err == nil || !strings.Contains(err.Error(), "no longer holds entry 5") {
		t.Errorf("restart after a truncation: %v", err)
	}

	// A failing heads file alerts once and recovers.
	m.entries = nil
	fill(m, 6)
	p.last = HeadRef{}
	p.File = filepath.Join(dir, "missing-dir", "heads")
	if _, _, err := p.Publish(ctx, true); err == nil {
		t.Fatal("no error")
	}
	p.Publish(ctx, true)
	if failed != 1 {
		t.Errorf("failed %d times", failed)
	}
	p.File = filepath.Join(dir, "heads2")
	if _, ok, err := p.Publish(ctx, true); !ok || err != nil || recovered != 1 {
		t.Errorf("recovery: %v %v %d", ok, err, recovered)
	}
}

func refs(hs []SignedHead) []HeadRef {
	var out []HeadRef
	for _, h := range hs {
		out = append(out, h.Ref())
	}
	return out
}

// A torn last line (a crash mid-write) stays one damaged line.
func TestAppendHeadAfterTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heads")
	os.WriteFile(path, []byte(`{"seq":1,"ha`), 0o644)
	h := SignedHead{Seq: 2, Hash: strings.Repeat("0f", 32), At: t0}
	if err := AppendHead(path, h); err != nil {
		t.Fatal(err)
	}
	_, err := LoadHeads(path)
	var he *HeadsError
	if !errors.As(err, &he) || he.Line != 1 {
		t.Fatalf("%v", err)
	}
	data, _ := os.ReadFile(path)
	if got, err := ParseHead(bytes.Split(data, []byte("\n"))[1]); err != nil || got != h {
		t.Errorf("the head after the torn line: %v %v", got, err)
	}
}

// cancelLog fails as a store does when its context is cancelled.
type cancelLog struct{ *memLog }

func (c cancelLog) LogHead(ctx context.Context) (store.LogEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.LogEntry{}, false, fmt.Errorf("evidence log head: %w", err)
	}
	return c.memLog.LogHead(ctx)
}

// TestPublisherCancelledIsNoFailure: a publication cut short by shutdown
// (its context cancelled) is not a failure of the log: it must not raise
// bg.source. A real failure still does.
func TestPublisherCancelledIsNoFailure(t *testing.T) {
	m := &memLog{}
	fill(m, 2)
	failed := 0
	p := &Publisher{Log: cancelLog{m}, File: filepath.Join(t.TempDir(), "heads"), Failing: func(error) { failed++ }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok, err := p.Publish(ctx, true); ok || err == nil {
		t.Fatalf("Publish with a cancelled context = %v, %v; want not published, an error", ok, err)
	}
	if failed != 0 {
		t.Errorf("a cancelled publication raised Failing %d times, want 0", failed)
	}
	m.err = errors.New("disk I/O error")
	p.Log = m
	if _, _, err := p.Publish(context.Background(), true); err == nil || failed != 1 {
		t.Errorf("a failing log: err %v, Failing called %d times; want an error and 1", err, failed)
	}
}
