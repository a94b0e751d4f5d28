package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/simulate"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// sandboxScript runs in a new mount namespace (unshare -m) as root: it
// makes $DATA a mount of its own, remounts every other mount read-only,
// proves that root itself can no longer write outside $DATA, then drops to
// uid/gid 65534 (nobody) with no capabilities, no groups and
// no_new_privs, and becomes breakglass serve. What systemd's
// ProtectSystem=strict + ReadWritePaths and a container's --read-only root
// with one volume give the daemon, without either.
const sandboxScript = `set -eu
mount --make-rprivate /
mount --bind "$DATA" "$DATA"
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
  mp=$(printf '%b' "$mp")
  [ "$mp" = "$DATA" ] && continue
  mount -o remount,bind,ro "$mp" 2>/dev/null || true
done
for d in / /tmp /etc /var /root /dev/shm "$BASE" "$LOGS"; do
  [ -d "$d" ] || continue
  if touch "$d/.bg-ro-probe" 2>/dev/null; then
    rm -f "$d/.bg-ro-probe"
    echo "sandbox: $d is still writable" >&2
    exit 97
  fi
done
touch "$DATA/.bg-rw-probe" && rm "$DATA/.bg-rw-probe"
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$BIN" serve --config "$CFG"
`

// TestServeUnprivilegedReadOnly is the container and systemd test this
// machine can run without either: serve runs as an unprivileged user
// (nobody, no capabilities) with every file system read-only except its
// data directory, and still starts, reports ready, reads a followed log
// file and an HTTP push, stores the alerts with their evidence, delivers
// them, and stops cleanly. Needs root (to build the mount namespace); it
// skips, saying why, without root, unshare or setpriv.
func TestServeUnprivilegedReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build a read-only mount namespace (run the test as root, e.g. in CI)")
	}
	for _, tool := range []string{"unshare", "setpriv", "mount", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (util-linux): %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-m", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a mount namespace here (a container without CAP_SYS_ADMIN?): %v %s", err, out)
	}

	// The layout of an installed system: a root-owned binary and
	// configuration and root-owned logs the daemon may only read, and a
	// data directory owned by the service user, mode 0700.
	base, err := os.MkdirTemp("", "bg-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if base, err = filepath.EvalSymlinks(base); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(base); dir != "/"; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("%s is not traversable by other users; cannot run as nobody below it", dir)
		}
	}
	bin := filepath.Join(base, "breakglass")
	raw, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	data, logsDir := filepath.Join(base, "data"), filepath.Join(base, "logs")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(logsDir, 0o755); err != nil {
		t.Fatal(err)
	}

	accounts := simulate.DemoAccounts()
	var logs, truth bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &logs, simulate.Options{
		Seed: 7, Count: 40, BGShare: 0.3, Accounts: accounts,
	}, &truth); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	sc := bufio.NewScanner(&truth)
	for sc.Scan() {
		var tr simulate.Truth
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		for _, r := range tr.Rules {
			want[alert.Key(tr.EventID, r)] = true
		}
	}
	if len(want) < 4 {
		t.Fatalf("only %d expected alerts", len(want))
	}
	lines := strings.SplitAfter(strings.TrimSuffix(logs.String(), "\n"), "\n")
	half := len(lines) / 2

	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL, accounts, "")
	cfgText, err := os.ReadFile(d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgText = bytes.ReplaceAll(cfgText, []byte(filepath.Join(d.dir, "bg.db")), []byte(filepath.Join(data, "bg.db")))
	cfgText = bytes.ReplaceAll(cfgText, []byte(filepath.Join(d.dir, "logs")), []byte(logsDir))
	cfg := filepath.Join(base, "breakglass.yaml")
	if err := os.WriteFile(cfg, cfgText, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logsDir, "PT1H.json"), []byte(strings.Join(lines[:half], "")), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("unshare", "-m", "sh", "-c", sandboxScript)
	cmd.Env = append(os.Environ(), "E2E_TOKEN="+d.token, "DATA="+data, "BASE="+base, "LOGS="+logsDir, "BIN="+bin, "CFG="+cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	ready := make(chan bool, 1)
	go func() { ready <- d.waitReady(t, 20*time.Second) }()
	select {
	case err := <-exited:
		stopped = true
		t.Fatalf("serve exited before it was ready: %v\n%s", err, out.String())
	case ok := <-ready:
		if !ok {
			t.Fatalf("serve not ready in 20 s\n%s", out.String())
		}
	}

	// It is who and where it should be.
	pid := cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534",
		"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), w+"\n") {
			t.Errorf("/proc/%d/status lacks %q:\n%s", pid, w, status)
		}
	}
	if !strings.Contains(string(status), "Name:\tbreakglass") {
		t.Errorf("process %d is not breakglass:\n%s", pid, status)
	}
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	// A mount stacked on another at the same point hides it: only the top
	// one is reachable, so only it must be read-only.
	var mounts [][]string
	shadowed := map[string]bool{} // mount id
	for _, l := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
		if f := strings.Fields(l); len(f) >= 6 {
			mounts = append(mounts, f)
		}
	}
	for _, c := range mounts {
		for _, m := range mounts {
			if c[1] == m[0] && c[4] == m[4] {
				shadowed[m[0]] = true
			}
		}
	}
	rw := 0
	for _, f := range mounts {
		l := strings.Join(f, " ")
		if shadowed[f[0]] {
			continue
		}
		opts := "," + f[5] + ","
		if f[4] == data {
			if !strings.Contains(opts, ",rw,") {
				t.Errorf("data directory mount is not rw: %s", l)
			}
			continue
		}
		if !strings.Contains(opts, ",ro,") {
			rw++
			t.Logf("writable mount in the daemon's namespace: %s", l)
		}
	}
	if rw > 0 {
		t.Errorf("%d mounts other than the data directory are writable", rw)
	}

	// Records through both sources: the file it was given, then a push.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.post(ctx, []byte(strings.Join(lines[half:], ""))); err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	deadline := time.Now().Add(20 * time.Second)
	for rcv.count(want) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := rcv.count(want); got != len(want) {
		t.Errorf("webhook received %d of %d alerts\n%s", got, len(want), out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop in 20 s after SIGTERM")
	}
	if s := out.String(); strings.Contains(s, "level=ERROR") || strings.Contains(s, "read-only file system") || strings.Contains(s, "permission denied") {
		t.Errorf("serve logged errors in the sandbox:\n%s", s)
	}

	// Stored, with evidence, in files the service user owns.
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range stored {
		got[a.ID] = true
		if want[a.ID] {
			if _, err := st.Evidence(context.Background(), a.EventID); err != nil {
				t.Errorf("alert %s without evidence: %v", a.ID, err)
			}
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("alert %s not stored", id)
		}
	}
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(data, e.Name()))
		if err != nil {
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 {
			t.Errorf("%s owned by uid %d, not the service user", e.Name(), st.Uid)
		}
	}
	t.Logf("as uid 65534 with no capabilities, read-only outside %s: ready, %d alerts from file and push stored and delivered", data, len(want))
}
