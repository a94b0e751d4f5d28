package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// runBinaryIn is runBinary with stdin.
func runBinaryIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "BREAKGLASS_CONFIG=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// authConfig writes a config with its own store (not yet created) and
// listen address; tlsOn serves HTTPS with the config package's test pair.
func authConfig(t *testing.T, tlsOn bool) (cfg, dbPath, listen string) {
	dir := t.TempDir()
	dbPath, listen = filepath.Join(dir, "bg.db"), freeAddr(t)
	y := fmt.Sprintf("accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nstore:\n  path: %s\nserver:\n  listen: %s\nlog:\n  level: info\n", dbPath, listen)
	if tlsOn {
		td, _ := filepath.Abs(filepath.Join("..", "..", "internal", "config", "testdata", "tls"))
		y = strings.Replace(y, "  listen: "+listen+"\n", "  listen: "+listen+"\n  tls_cert: "+filepath.Join(td, "cert.pem")+"\n  tls_key: "+filepath.Join(td, "key.pem")+"\n", 1)
	}
	cfg = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, dbPath, listen
}

func TestUsersTokensAuditCLI(t *testing.T) {
	cfg, dbPath, _ := authConfig(t, false)
	const pw = "first admin's long passphrase"
	for _, tt := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"no store yet: users list", "", []string{"users", "list", "-c", cfg}, exitUsage, "create the first admin with breakglass users add"},
		{"bad role", pw + "\n", []string{"users", "add", "dana", "--role", "root", "-c", cfg}, exitUsage, "unknown role"},
		{"bad name", pw + "\n", []string{"users", "add", "da na", "--role", "admin", "-c", cfg}, exitUsage, "may hold only"},
		{"empty password", "", []string{"users", "add", "dana", "--role", "admin", "-c", cfg}, exitUsage, "no password on standard input"},
		{"short password", "hunter2\n", []string{"users", "add", "dana", "--role", "admin", "-c", cfg}, exitUsage, "shorter than 12"},
		{"first admin", pw + "\n", []string{"users", "add", "dana", "--role", "admin", "-c", cfg}, exitOK, "Added user dana (admin)"},
		{"exists", pw + "\n", []string{"users", "add", "DANA", "--role", "viewer", "-c", cfg}, exitFailure, "exists already"},
		{"viewer", "a viewer's passphrase\r\n", []string{"users", "add", "vic", "--role", "viewer", "-c", cfg}, exitOK, "Added user vic (viewer)"},
		{"passwd", "a brand new passphrase\n", []string{"users", "passwd", "dana", "-c", cfg}, exitOK, "Password of dana changed"},
		{"passwd unknown", "a brand new passphrase\n", []string{"users", "passwd", "nobody", "-c", cfg}, exitFailure, `no user "nobody"`},
		{"token too long", "", []string{"tokens", "create", "--name", "ci", "--role", "viewer", "--expires", "400d", "-c", cfg}, exitUsage, "every token expires"},
		{"token no name", "", []string{"tokens", "create", "--role", "viewer", "-c", cfg}, exitUsage, "--name"},
		{"remove", "", []string{"users", "remove", "vic", "-c", cfg}, exitOK, "Removed user vic"},
		{"remove again", "", []string{"users", "remove", "vic", "-c", cfg}, exitFailure, `no user "vic"`},
		{"revoke unknown", "", []string{"tokens", "revoke", "nope", "-c", cfg}, exitFailure, `no token "nope"`},
		{"audit-log bad since", "", []string{"audit-log", "--since", "yesterday", "-c", cfg}, exitUsage, "--since"},
	} {
		r := runBinaryIn(t, tt.stdin, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.msg) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s%s", tt.name, r.code, tt.code, tt.msg, r.stdout, r.stderr)
		}
	}
	r := runBinaryIn(t, "", "tokens", "create", "--name", "ci", "--role", "responder", "--expires", "30d", "-c", cfg)
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || !regexp.MustCompile(`^bgt_[A-Za-z0-9_-]{43}$`).MatchString(tok) || !strings.Contains(r.stderr, "shown only now") {
		t.Fatalf("tokens create: exit %d, stdout %q (want only the token), stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runBinaryIn(t, "", "tokens", "create", "--name", "CI", "--role", "viewer", "-c", cfg); r.code != exitFailure {
		t.Errorf("duplicate token name: exit %d %s", r.code, r.stderr)
	}
	list := runBinaryIn(t, "", "tokens", "list", "-c", cfg)
	if list.code != 0 || !regexp.MustCompile(`ci\s+responder\s+active`).MatchString(list.stdout) || strings.Contains(list.stdout, tok) {
		t.Errorf("tokens list:\n%s%s", list.stdout, list.stderr)
	}
	if r := runBinaryIn(t, "", "tokens", "revoke", "ci", "-c", cfg); r.code != 0 {
		t.Errorf("revoke: %d %s", r.code, r.stderr)
	}
	var toks []shownToken
	r = runBinaryIn(t, "", "tokens", "list", "--format", "json", "-c", cfg)
	if err := json.Unmarshal([]byte(r.stdout), &toks); err != nil || len(toks) != 1 || toks[0].State != "revoked" || toks[0].Revoked == nil {
		t.Errorf("tokens list json after revoke: %v %s", err, r.stdout)
	}
	users := runBinaryIn(t, "", "users", "list", "-c", cfg)
	if users.code != 0 || !regexp.MustCompile(`dana\s+admin`).MatchString(users.stdout) || strings.Contains(users.stdout, "vic") || strings.Contains(users.stdout, "argon2") {
		t.Errorf("users list:\n%s", users.stdout)
	}
	var audit []shownAudit
	r = runBinaryIn(t, "", "audit-log", "--format", "json", "-c", cfg)
	if err := json.Unmarshal([]byte(r.stdout), &audit); err != nil {
		t.Fatalf("audit-log json: %v\n%s", err, r.stdout)
	}
	var actions []string
	for i := len(audit) - 1; i >= 0; i-- {
		a := audit[i]
		actions = append(actions, a.Action+" "+a.Target)
		if !strings.HasPrefix(a.Actor, "cli:") || a.Via != "cli" || a.Outcome != "ok" {
			t.Errorf("audit entry %+v: want a cli actor", a)
		}
	}
	want := "user.add dana,user.add vic,user.passwd dana,user.remove vic,token.create ci,token.revoke ci"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audit trail:\n got %s\nwant %s", got, want)
	}
	if r := runBinaryIn(t, "", "audit-log", "--action", "token.revoke", "-c", cfg); r.code != 0 || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("audit-log --action: %s", r.stdout)
	}
	// Neither a password nor the token is anywhere in the store's files.
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(dbPath + suffix)
		for _, s := range []string{pw, "a brand new passphrase", "a viewer's passphrase", tok} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in clear", dbPath+suffix, s)
			}
		}
	}
}

// TestServeTLSLoginAndAPIAck: serve over TLS with a user and tokens made
// by the CLI: the browser signs in (Secure cookie, HSTS), a viewer token
// cannot acknowledge, a responder token can, and the CLI then shows the
// acknowledgement and the audit trail.
func TestServeTLSLoginAndAPIAck(t *testing.T) {
	cfg, dbPath, listen := authConfig(t, true)
	const pw = "responder's long passphrase"
	if r := runBinaryIn(t, pw+"\n", "users", "add", "dana", "--role", "responder", "-c", cfg); r.code != 0 || !strings.Contains(r.stdout, "https://") {
		t.Fatalf("users add: %d %s%s", r.code, r.stdout, r.stderr)
	}
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := alert.Alert{ID: "0123456789abcdef0123456789abcdef", Rule: "bg.signin", Severity: alert.Sev0, Title: "Break-glass sign-in",
		AccountID: "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70", EventID: "ev-1", EventTime: now.Add(-time.Minute), Detected: now}
	if _, err := st.AddAlert(context.Background(), a, store.Evidence{EventID: "ev-1", Category: "SignInLogs", Source: "test", Raw: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	token := func(name, role string) string {
		r := runBinaryIn(t, "", "tokens", "create", "--name", name, "--role", role, "-c", cfg)
		if r.code != 0 {
			t.Fatalf("tokens create: %s", r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	responder, viewer := token("bridge", "responder"), token("reader", "viewer")

	cmd := exec.Command(binary, "serve", "-c", cfg)
	logs := &serveLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	pem, err := os.ReadFile(filepath.Join("..", "..", "internal", "config", "testdata", "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + listen
	send := func(method, path, ctype, body string, hdr map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	ready := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := c.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("serve not ready over TLS:\n%s", logs.String())
	}
	if resp, err := http.Get("http://" + listen + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP is served on a TLS listener")
	}

	resp, body := send("GET", "/login", "", "", nil)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("GET /login: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	resp, _ = send("POST", "/login", "application/x-www-form-urlencoded", url.Values{"name": {"dana"}, "password": {pw}, "csrf_token": {m[1]}}.Encode(), nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "__Host-breakglass_session=") {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if resp, body := send("GET", "/account", "", "", nil); resp.StatusCode != 200 || !strings.Contains(body, "dana") {
		t.Errorf("account page: %d", resp.StatusCode)
	}

	ackPath := "/api/v1/alerts/" + a.ID + "/ack"
	if resp, body := send("POST", ackPath, "application/json", "", map[string]string{"Authorization": "Bearer " + viewer}); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"code":"forbidden"`) {
		t.Errorf("viewer token ack: %d %s", resp.StatusCode, body)
	}
	if resp, body := send("POST", ackPath, "application/json", `{"note":"taking it"}`, map[string]string{"Authorization": "Bearer " + responder}); resp.StatusCode != 200 || !strings.Contains(body, `"changed":true`) {
		t.Fatalf("responder token ack: %d %s", resp.StatusCode, body)
	}
	var shown shownAlert
	r := runBinaryIn(t, "", "alerts", "show", a.ID, "--format", "json", "-c", cfg)
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Acknowledged == nil ||
		shown.Acknowledged.By != "token:bridge" || shown.Acknowledged.Via != store.ViaAPI || shown.Acknowledged.Note != "taking it" {
		t.Errorf("alerts show after the API ack: %v %+v\n%s", err, shown.Acknowledged, r.stderr)
	}
	var audit []shownAudit
	r = runBinaryIn(t, "", "audit-log", "--format", "json", "-c", cfg)
	if err := json.Unmarshal([]byte(r.stdout), &audit); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range audit {
		got[e.Action+" "+e.Outcome] = e.Actor + "@" + e.Remote
	}
	for k, v := range map[string]string{"login ok": "dana@127.0.0.1", "alert.ack ok": "token:bridge@127.0.0.1", "request denied": "token:reader@127.0.0.1"} {
		if got[k] != v {
			t.Errorf("audit %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	for _, s := range []string{pw, responder, viewer} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("serve's log holds a secret")
		}
	}
}

// serveLog collects a daemon's output.
type serveLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *serveLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
