package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/watch"
)

func writeKey(t *testing.T, dir string) (string, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := evidence.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := evidence.PrivateKeyPEM(priv)
	path := filepath.Join(dir, "evidence-key.pem")
	if err := os.WriteFile(path, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, pub
}

// TestEvidenceHeadsPublished: serve publishes the evidence log's head,
// signed, to the heads file and its log, and the head at shutdown too; the
// published heads then verify against the store.
func TestEvidenceHeadsPublished(t *testing.T) {
	e := newEnv(t)
	keyPath, pub := writeKey(t, e.dir)
	cfg := e.config(t, "sources:\n  - type: file\n    path: %[1]s\nevidence:\n  signing_key: "+keyPath+"\n")
	r := start(t, cfg, Options{})
	ctx := context.Background()
	for i := range 3 {
		if _, err := r.d.st.AppendLog(ctx, store.LogEntry{Incident: "inc-1", Kind: store.LogRecord, Ref: "ev", Content: []byte{byte('a' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	r.stop(t)
	heads, err := evidence.LoadHeads(cfg.Evidence.HeadsFile)
	if err != nil || len(heads) == 0 {
		t.Fatalf("heads file %s: %d heads, %v\n%s", cfg.Evidence.HeadsFile, len(heads), err, r.logs.String())
	}
	last := heads[len(heads)-1]
	if last.Seq != 3 {
		t.Errorf("last published head %d, want 3 (the head at shutdown)", last.Seq)
	}
	if err := last.CheckSignature(pub); err != nil {
		t.Error(err)
	}
	if !strings.Contains(r.logs.String(), "evidence head") || !strings.Contains(r.logs.String(), last.Ref().String()) {
		t.Errorf("the daemon log does not carry the head:\n%s", r.logs.String())
	}
	st, err := sqlite.Open(ctx, cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := evidence.Verify(ctx, st, []evidence.HeadRef{last.Ref()})
	if err != nil || !res.OK() {
		t.Fatalf("%v %+v", err, res.Break)
	}
}

// TestEvidenceTruncatedAtStart: a store that lost the entries of the last
// published head raises bg.source at start, and serve runs on.
func TestEvidenceTruncatedAtStart(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "sources:\n  - type: file\n    path: %[1]s\n")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	st.AppendLog(ctx, store.LogEntry{Kind: store.LogRecord, Content: []byte("x")})
	st.Close()
	// A head published beyond what the store holds: its tail was cut.
	if err := evidence.AppendHead(cfg.Evidence.HeadsFile, evidence.SignedHead{Seq: 5, Hash: strings.Repeat("ab", 32), At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg, Options{})
	open, err := r.d.pipeline.Health().Open(ctx)
	if err != nil || open[evidenceSource] != 1 {
		t.Fatalf("open bg.source episodes: %v %v\n%s", open, err, r.logs.String())
	}
	as, err := r.d.st.Alerts(ctx, store.AlertFilter{Rule: watch.RuleSource})
	if err != nil || len(as) != 1 || !strings.Contains(as[0].Title, "no longer holds entry 5") {
		t.Fatalf("%v %+v", err, as)
	}
}

// TestEvidenceBadKey: an unreadable or wrong signing key refuses the start,
// naming the field and never the key's bytes.
func TestEvidenceBadKey(t *testing.T) {
	e := newEnv(t)
	bad := filepath.Join(e.dir, "key")
	secret := "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END RSA PRIVATE KEY-----\n"
	os.WriteFile(bad, []byte(secret), 0o600)
	for _, path := range []string{bad, filepath.Join(e.dir, "missing")} {
		cfg := e.config(t, "evidence:\n  signing_key: "+path+"\n")
		_, err := New(cfg, Options{Stderr: &syncBuffer{}})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "evidence.signing_key") {
			t.Fatalf("%s: %v", path, err)
		}
		if strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}
