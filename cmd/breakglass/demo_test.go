package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemoScript runs scripts/demo.sh as `make demo` does, with DEMO_FAST=1
// (stop after the last step) on free loopback ports, twice, and checks what
// the demo promises a new user: the audit report is written, the example's
// alerts reach the local mail sink, the acknowledge link acknowledges, an
// incident forms, the evidence log verifies, the exported bundle checks out,
// and no background process outlives the script. The second run proves it
// can be run again on the same data directory.
func TestDemoScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the demo needs %s: %v", tool, err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	sink := filepath.Join(tmp, "mailsink")
	build := exec.Command("go", "build", "-o", sink, "./demo/mailsink")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building demo/mailsink: %v\n%s", err, out)
	}
	data := filepath.Join(tmp, "data")
	ports := freePorts(t, 3)
	env := []string{
		"BIN=" + binary, "MAILSINK=" + sink, "BREAKGLASS_DATA=" + data, "DEMO_FAST=1",
		"BREAKGLASS_CONFIG=", "BREAKGLASS_ACK_SECRET=", "BREAKGLASS_DEMO_AUDIT_ONLY=",
		"BREAKGLASS_DEMO_LISTEN=127.0.0.1:" + ports[0],
		"BREAKGLASS_DEMO_INGEST=127.0.0.1:" + ports[1],
		"BREAKGLASS_DEMO_SMTP_PORT=" + ports[2],
	}
	lastPassword := ""
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		c := exec.CommandContext(ctx, "bash", "scripts/demo.sh")
		c.Dir = root
		c.Env = append(os.Environ(), env...)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		start := time.Now()
		err := c.Run()
		cancel()
		stdout := out.String()
		if err != nil {
			t.Fatalf("run %d: demo.sh: %v\nstdout:\n%s\nstderr:\n%s", run, err, stdout, errb.String())
		}
		t.Logf("run %d took %v", run, time.Since(start).Round(time.Millisecond))

		// The audit report.
		html, err := os.ReadFile(filepath.Join(data, "demo-audit.html"))
		if err != nil || !strings.Contains(string(html), exampleBad) {
			t.Errorf("run %d: the HTML audit is missing or not the example's: %v", run, err)
		}
		// Every example alert by mail, each with a readable copy.
		mails, _ := filepath.Glob(filepath.Join(data, "demo-mail", "*.eml"))
		txts, _ := filepath.Glob(filepath.Join(data, "demo-mail", "*.txt"))
		if len(mails) != 13 || len(txts) != 13 {
			t.Errorf("run %d: %d mails and %d text copies in the sink, want the example's 13 each", run, len(mails), len(txts))
		}
		signin := false
		for _, f := range txts {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "Subject: [breakglass demo] [Sev0 critical] Break-glass account sign-in") &&
				strings.Contains(string(b), "/ack/") {
				signin = true
			}
		}
		if !signin {
			t.Errorf("run %d: no mail in the sink is a break-glass sign-in page with an acknowledge link", run)
		}
		for _, want := range []string{
			"page says: Acknowledge this alert?", // GET changes nothing
			"page says: Acknowledged",            // POST does
			"Acknowledged  Demo User (link)",
			"managers  stopped: the alert was acknowledged", // the ack stopped escalation
			"open   account  bg-admin1@contoso.onmicrosoft.com",
			"OK: evidence log of ",
			"records.ndjson: OK",
			"(signed, trusted key)",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("run %d: the demo does not print %q:\n%s", run, want, stdout)
			}
		}
		// The dashboard: a one-time admin login that signs in, made anew
		// each run, and never written down in clear.
		pw := ""
		for _, line := range strings.Split(stdout, "\n") {
			if v, ok := strings.CutPrefix(line, "  password: "); ok {
				pw = v
			}
		}
		if len(pw) < 16 || pw == lastPassword {
			t.Errorf("run %d: the demo prints no fresh one-time password (%q, last run %q)", run, pw, lastPassword)
		}
		lastPassword = pw
		if want := "Signed in with that login (curl): http://127.0.0.1:" + ports[0] + "/alerts lists 13 alerts"; !strings.Contains(stdout, want) {
			t.Errorf("run %d: the demo does not print %q:\n%s", run, want, stdout)
		}
		if pw != "" {
			filepath.WalkDir(data, func(path string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(pw)) {
						t.Errorf("run %d: the demo password is in clear in %s", run, path)
					}
				}
				return nil
			})
		}
		if strings.Contains(stdout, "FAILED") {
			t.Errorf("run %d: a check failed:\n%s", run, stdout)
		}
		// Checked here too, not only as the script printed it.
		zip := filepath.Join(data, "demo-incident.zip")
		if r := runBinary(t, nil, "evidence", "verify", "--bundle", zip); r.code != 0 {
			t.Errorf("run %d: evidence verify --bundle: exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
		}
		cfgEnv := []string{"BREAKGLASS_DATA=" + data}
		r := runBinary(t, cfgEnv, "alerts", "list", "-c", filepath.Join(root, "examples", "demo.yaml"), "--state", "acknowledged", "--format", "json")
		var acked []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &acked); r.code != 0 || err != nil || len(acked) != 1 {
			t.Errorf("run %d: want exactly the one alert acknowledged by link: exit %d, %v\n%s%s", run, r.code, err, r.stdout, r.stderr)
		}
		// The mail sink and the daemon were stopped with the script.
		for _, p := range ports {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second); err == nil {
				c.Close()
				t.Errorf("run %d: something still listens on 127.0.0.1:%s after the demo ended", run, p)
			}
		}
	}
}

// freePorts returns n loopback ports free at the time of asking.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
