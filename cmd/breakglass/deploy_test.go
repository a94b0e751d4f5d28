package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	unitPath       = filepath.Join("..", "..", "deploy", "systemd", "breakglass.service")
	dockerfilePath = filepath.Join("..", "..", "Dockerfile")
)

// unit is a parsed systemd unit file: section -> key -> every value the
// key was given, in order ("Key=" gives the empty value).
type unit map[string]map[string][]string

func parseUnit(text string) (unit, error) {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	var cont strings.Builder
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cont.Len() > 0 || strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			if strings.HasSuffix(line, `\`) {
				continue
			}
			line = strings.TrimSpace(cont.String())
			cont.Reset()
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: not Key=Value in a section: %q", n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, nil
}

func (u unit) last(key string) (string, bool) {
	v := u["Service"][key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// checkUnit lists what the unit lacks of the hardening docs/operations.md
// promises.
func checkUnit(u unit) []string {
	var bad []string
	want := map[string]string{
		"ProtectSystem": "strict", "ReadWritePaths": "/var/lib/breakglass", "StateDirectory": "breakglass",
		"NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"PrivateTmp": "yes", "ProtectHome": "yes", "PrivateDevices": "yes", "PrivateMounts": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
		"ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
		"RestrictSUIDSGID": "yes", "RestrictNamespaces": "yes", "RestrictRealtime": "yes",
		"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "UMask": "0077",
		"Restart": "on-failure", "StandardOutput": "journal", "StandardError": "journal",
		"DynamicUser": "yes", "ExecReload": "/bin/kill -HUP $MAINPID", "ProtectProc": "invisible",
	}
	for k, v := range want {
		got, ok := u.last(k)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s= missing (want %q)", k, v))
		} else if got != v {
			bad = append(bad, fmt.Sprintf("%s=%s, want %q", k, got, v))
		}
	}
	if v := u["Service"]["ReadWritePaths"]; len(v) != 1 {
		bad = append(bad, fmt.Sprintf("ReadWritePaths given %d times: the data directory only", len(v)))
	}
	if user, _ := u.last("User"); user == "" || user == "root" || user == "0" {
		bad = append(bad, fmt.Sprintf("User=%q: a dedicated user", user))
	}
	if f := strings.Join(u["Service"]["SystemCallFilter"], " "); !strings.Contains(f, "@system-service") || !strings.Contains(f, "~@privileged") {
		bad = append(bad, fmt.Sprintf("SystemCallFilter %q: want @system-service and ~@privileged", f))
	}
	if s, _ := u.last("ExecStart"); !strings.Contains(s, " serve --config /etc/breakglass/breakglass.yaml") {
		bad = append(bad, "ExecStart does not run serve --config /etc/breakglass/breakglass.yaml: "+s)
	}
	return bad
}

// TestSystemdUnitHardening: the shipped unit has every hardening key (a
// missing or weakened one fails here, named), its command line is a real
// one, and each key's removal is caught. With systemd-analyze on the
// machine, the unit also verifies and scores at most 2.0 ("OK") in
// `systemd-analyze security`.
func TestSystemdUnitHardening(t *testing.T) {
	raw, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", unitPath, err)
	}
	for _, p := range checkUnit(u) {
		t.Errorf("%s: %s", unitPath, p)
	}
	exec, _ := u.last("ExecStart")
	if msg := checkCommandLine(strings.Fields(exec)[1:]); msg != "" {
		t.Errorf("ExecStart: %s", msg)
	}

	// The check can fail: drop each hardening line in turn.
	for _, line := range strings.Split(string(raw), "\n") {
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") || k == "SystemCallFilter" && strings.Contains(line, "~") {
			continue
		}
		mut, err := parseUnit(strings.Replace(string(raw), line+"\n", "", 1))
		if err != nil {
			t.Fatal(err)
		}
		if before, after := len(checkUnit(u)), len(checkUnit(mut)); after == before && isHardening(k) {
			t.Errorf("removing %q is not caught", line)
		}
	}

	sa, err := execLookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze not installed: verify and security score not checked")
		return
	}
	// verify wants ExecStart to exist: point it at the test's binary.
	dir := t.TempDir()
	copyUnit := filepath.Join(dir, "breakglass.service")
	os.WriteFile(copyUnit, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/breakglass", binary)), 0o644)
	if out, err := runCmd(sa, "verify", copyUnit); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := runCmd(sa, "security", "--offline=yes", copyUnit)
	if err != nil {
		t.Logf("systemd-analyze security --offline unsupported here: %v", err)
		return
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if score, _ := strconv.ParseFloat(m[1], 64); score > 2.0 {
		t.Errorf("systemd-analyze security exposure %s, want at most 2.0:\n%s", m[1], out)
	}
	t.Logf("systemd-analyze security exposure %s", m[1])
}

func isHardening(key string) bool {
	switch key {
	case "Description", "Documentation", "Wants", "After", "StartLimitIntervalSec", "Type", "EnvironmentFile",
		"KillSignal", "TimeoutStopSec", "RestartSec", "SyslogIdentifier", "Group", "StateDirectoryMode",
		"ConfigurationDirectory", "ConfigurationDirectoryMode", "WorkingDirectory", "SecureBits", "RemoveIPC",
		"KeyringMode", "DevicePolicy", "SystemCallErrorNumber", "MemoryMax", "LimitNOFILE", "TasksMax",
		"WantedBy", "User":
		return false
	}
	return true
}

func execLookPath(name string) (string, error) { return exec.LookPath(name) }

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// checkCommandLine runs `breakglass ARGS --help` against the built binary:
// an unknown command or flag exits 2.
func checkCommandLine(args []string) string {
	out, err := exec.Command(binary, append(args, "--help")...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("breakglass %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return ""
}

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	line      int
	cmd, args string
}

func parseDockerfile(text string) []dockerInstr {
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || t[0] == '#') {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(t, `\`) {
			cur.WriteString(strings.TrimSuffix(t, `\`) + " ")
			continue
		}
		cur.WriteString(t)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{start, strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// checkDockerfile lists where the Dockerfile breaks the image's rules: a
// static build, a final stage from scratch with no shell commands, a
// numeric non-root USER, exactly one VOLUME (the data directory), no ADD
// (it fetches URLs and unpacks archives), an exec-form ENTRYPOINT.
func checkDockerfile(ins []dockerInstr) []string {
	var bad []string
	final := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			final = i
		}
		if in.cmd == "ADD" {
			bad = append(bad, fmt.Sprintf("line %d: ADD (use COPY; never fetch URLs into the image)", in.line))
		}
	}
	if final < 0 {
		return append(bad, "no FROM")
	}
	if from := strings.Fields(ins[final].args); len(from) == 0 || from[0] != "scratch" && !strings.Contains(from[0], "distroless/static") {
		bad = append(bad, fmt.Sprintf("line %d: final stage FROM %s: want scratch or a distroless static image", ins[final].line, ins[final].args))
	}
	var build strings.Builder
	for _, in := range ins[:final] {
		if in.cmd == "RUN" {
			build.WriteString(in.args + "\n")
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-buildvcs=false", "./cmd/breakglass"} {
		if !strings.Contains(build.String(), want) {
			bad = append(bad, "the build stage does not build with "+want)
		}
	}
	var user, entry string
	var volumes []string
	for _, in := range ins[final+1:] {
		switch in.cmd {
		case "RUN":
			bad = append(bad, fmt.Sprintf("line %d: RUN in the final stage (it has no shell)", in.line))
		case "USER":
			user = in.args
		case "VOLUME":
			volumes = append(volumes, in.args)
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			if !strings.HasPrefix(in.args, "--from=") {
				bad = append(bad, fmt.Sprintf("line %d: COPY from the context into the final stage: copy from the build stage", in.line))
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		bad = append(bad, fmt.Sprintf("USER %q in the final stage: want a numeric non-root uid", user))
	}
	if len(volumes) != 1 || volumes[0] != "/var/lib/breakglass" {
		bad = append(bad, fmt.Sprintf("VOLUME %q: want exactly one, /var/lib/breakglass", volumes))
	}
	if !strings.HasPrefix(entry, `["/usr/local/bin/breakglass"`) {
		bad = append(bad, fmt.Sprintf("ENTRYPOINT %s: want the exec form running /usr/local/bin/breakglass", entry))
	}
	return bad
}

// TestDockerfileRules: the Dockerfile keeps the image's rules, and the
// check catches each way of breaking them.
func TestDockerfileRules(t *testing.T) {
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	ins := parseDockerfile(string(raw))
	for _, p := range checkDockerfile(ins) {
		t.Errorf("Dockerfile: %s", p)
	}
	var cmdArgs []string
	for _, in := range ins {
		if in.cmd == "CMD" {
			for _, a := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(in.args, -1) {
				cmdArgs = append(cmdArgs, a[1])
			}
		}
	}
	if msg := checkCommandLine(cmdArgs); len(cmdArgs) == 0 || msg != "" {
		t.Errorf("CMD %q: %s", cmdArgs, msg)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"root user", "USER 65532:65532", "USER 0"},
		{"named user", "USER 65532:65532", "USER breakglass"},
		{"no user", "USER 65532:65532\n", ""},
		{"second volume", "VOLUME /var/lib/breakglass", "VOLUME /var/lib/breakglass\nVOLUME /tmp"},
		{"ADD of a URL", "WORKDIR /var/lib/breakglass", "ADD https://example.com/x /x\nWORKDIR /var/lib/breakglass"},
		{"shell image", "FROM scratch", "FROM debian:stable-slim"},
		{"RUN in final", "USER 65532:65532", "RUN chmod 777 /var/lib/breakglass\nUSER 65532:65532"},
		{"cgo on", "CGO_ENABLED=0", "CGO_ENABLED=1"},
	} {
		if !strings.Contains(string(raw), tc.from) {
			t.Fatalf("%s: the Dockerfile no longer contains %q; update the test", tc.name, tc.from)
		}
		if bad := checkDockerfile(parseDockerfile(strings.Replace(string(raw), tc.from, tc.to, 1))); len(bad) == 0 {
			t.Errorf("%s: not caught", tc.name)
		}
	}
}
