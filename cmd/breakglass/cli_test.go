package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestUsageExitsTwo: every invocation mistake exits 2, through the binary.
func TestUsageExitsTwo(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	// A header value with a line break: config check and serve must
	// reject it alike, with file:line.
	if err := os.WriteFile(bad, []byte("accounts: [{upn: a@b.c}]\nnotify:\n  groups:\n    - name: g\n      channels:\n        - type: webhook\n          url: https://x.example/h\n          headers:\n            X-Token: \"a\\nb\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// workload_identity takes its ids and token file from the environment:
	// config check must refuse what serve would refuse (it accepted it).
	// Its own port and store: a daemon on the default port or a store in
	// the working directory must not decide the outcome.
	wiDir := t.TempDir()
	wi := filepath.Join(wiDir, "wi.yaml")
	if err := os.WriteFile(wi, []byte("accounts: [{upn: a@b.c}]\ngraph:\n  auth: workload_identity\nsources:\n  - type: graph\n"+
		"server:\n  listen: 127.0.0.1:0\nstore:\n  path: "+filepath.Join(wiDir, "bg.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Rules serve adds to config's: a group entry needs graph:, an
	// exception must name a known check. config check runs the same code.
	// The store cannot be opened, so a serve that let these through exits
	// 1 instead of serving.
	grp := filepath.Join(t.TempDir(), "grp.yaml")
	if err := os.WriteFile(grp, []byte("accounts:\n  - upn: a@b.c\n  - group: 9a000000-0000-4000-8000-0000000000e1\nstore:\n  path: /dev/null/bg.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	exc := filepath.Join(t.TempDir(), "exc.yaml")
	if err := os.WriteFile(exc, []byte("accounts: [{upn: a@b.c}]\nstore: {path: /dev/null/bg.db}\nexceptions:\n  - check: no-such-check\n    account: a@b.c\n    reason: r\n    accepted_by: me\n    expires: 2027-01-01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noAzure := []string{"AZURE_TENANT_ID=", "AZURE_CLIENT_ID=", "AZURE_FEDERATED_TOKEN_FILE="}
	tests := []struct {
		name string
		env  []string
		args []string
		msg  string
	}{
		{"unknown command", nil, []string{"sacn"}, `Did you mean "scan"?`},
		{"version stray arg", nil, []string{"version", "x"}, "takes no arguments"},
		{"serve stray arg", nil, []string{"serve", "-c", "testdata/scan.yaml", "x"}, "takes no arguments"},
		{"serve no config", nil, []string{"serve"}, "BREAKGLASS_CONFIG"},
		{"serve unknown flag", nil, []string{"serve", "--bogus"}, "unknown flag"},
		{"config check stray arg", nil, []string{"config", "check", "-c", "testdata/scan.yaml", "x"}, "takes no arguments"},
		{"config unknown subcommand", nil, []string{"config", "chekc"}, `Did you mean "check"?`},
		{"collect stray arg", nil, []string{"collect", "x"}, "takes no arguments"},
		{"simulate stray arg", nil, []string{"simulate", "x"}, "takes no arguments"},
		{"scan no config", nil, []string{"scan", "--no-store", "x"}, "BREAKGLASS_CONFIG"},
		{"config check bad header", nil, []string{"config", "check", "-c", bad}, "bad.yaml:9: notify.groups[0].channels[0].headers.X-Token: value contains a line break"},
		{"serve bad header", nil, []string{"serve", "-c", bad}, "bad.yaml:9: notify.groups[0].channels[0].headers.X-Token: value contains a line break"},
		{"env config, serve bad header", []string{"BREAKGLASS_CONFIG=" + bad}, []string{"serve"}, "bad.yaml:9:"},
		{"env config, simulate", []string{"BREAKGLASS_CONFIG=" + bad}, []string{"simulate", "--count", "1"}, "bad.yaml:9:"},
		{"config check workload identity without its environment", noAzure, []string{"config", "check", "-c", wi}, "wi.yaml: graph: graph.tenant_id (or AZURE_TENANT_ID): required"},
		{"serve workload identity without its environment", noAzure, []string{"serve", "-c", wi}, "wi.yaml: graph: graph.tenant_id (or AZURE_TENANT_ID): required"},
		{"config check group without graph", nil, []string{"config", "check", "-c", grp}, "grp.yaml:3: accounts[1].group: group 9a000000-0000-4000-8000-0000000000e1: serve reads"},
		{"serve group without graph", nil, []string{"serve", "-c", grp}, "grp.yaml:3: accounts[1].group: group 9a000000-0000-4000-8000-0000000000e1: serve reads"},
		{"config check unknown exception check", nil, []string{"config", "check", "-c", exc}, `exc.yaml:4: exceptions[0].check: unknown check "no-such-check"`},
		{"serve unknown exception check", nil, []string{"serve", "-c", exc}, `exc.yaml:4: exceptions[0].check: unknown check "no-such-check"`},
		{"env config missing file", []string{"BREAKGLASS_CONFIG=/nonexistent/x.yaml"}, []string{"config", "check"}, "/nonexistent/x.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"BREAKGLASS_CONFIG="}, tt.env...)
			r := runBinary(t, env, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s%s", r.code, exitUsage, tt.msg, r.stdout, r.stderr)
			}
		})
	}
	// --help and no arguments are not mistakes.
	for _, args := range [][]string{{}, {"--help"}, {"serve", "--help"}, {"config"}} {
		if r := runBinary(t, nil, args...); r.code != 0 {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
}

// TestConfigFlagEverywhere: every command that reads the configuration has
// the same --config/-c flag, and $BREAKGLASS_CONFIG works for it.
func TestConfigFlagEverywhere(t *testing.T) {
	root := newRootCmd()
	for _, name := range []string{"scan", "serve", "collect", "audit", "simulate", "config check"} {
		cmd, _, err := root.Find(strings.Fields(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := cmd.Flags().Lookup("config")
		if f == nil || f.Shorthand != "c" || !strings.Contains(f.Usage, "$"+configEnv) {
			t.Errorf("%s: --config flag = %+v", name, f)
		}
	}
	r := runBinary(t, []string{"BREAKGLASS_CONFIG=testdata/scan.yaml"}, "config", "check")
	if r.code != 0 || !strings.Contains(r.stderr, "config OK") {
		t.Errorf("config check with $BREAKGLASS_CONFIG: exit %d\n%s", r.code, r.stderr)
	}
}

// TestHelpClaimsOnlyWhatExists: help texts name only commands and flags
// that exist.
func TestHelpClaimsOnlyWhatExists(t *testing.T) {
	root := newRootCmd()
	commands := map[string]bool{"help": true, "completion": true}
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, s := range c.Commands() {
			commands[s.Name()] = true
			walk(s)
		}
	}
	walk(root)
	// Command lines (examples, also after a pipe) and `quoted` commands.
	cmdRE := regexp.MustCompile("(?m)(?:^\\s*|\\| |`)breakglass ([a-z]+)")
	quotedRE := regexp.MustCompile("`breakglass ([a-z]+)")
	flagRE := regexp.MustCompile(`(?:^|[\s(\[])--([a-z][a-z-]+)`)
	for _, c := range all {
		text := c.Short + "\n" + c.Long + "\n" + c.Example + "\n" + c.Use
		named := append(cmdRE.FindAllStringSubmatch(c.Example, -1), quotedRE.FindAllStringSubmatch(c.Long, -1)...)
		for _, m := range named {
			if !commands[m[1]] {
				t.Errorf("%s help names command %q, which does not exist", c.CommandPath(), m[1])
			}
		}
		if c.HasSubCommands() {
			continue
		}
		// A line that names another command ("evidence verify --head")
		// speaks of that command's flags.
		for _, line := range strings.Split(text, "\n") {
			owner, named := c, ""
			for _, o := range all {
				path := strings.TrimPrefix(o.CommandPath(), "breakglass ")
				// A one-word command ("drill", "audit") is also an English
				// word ("--as drill --by"): it names the command only
				// after "breakglass ".
				oneWord := !strings.Contains(path, " ")
				if o != root && len(path) > len(named) && strings.Contains(line, path+" --") &&
					(!oneWord || strings.Contains(line, "breakglass "+path+" --")) {
					owner, named = o, path
				}
			}
			flags := map[string]bool{"help": true}
			owner.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
			owner.InheritedFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
			for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
				if !flags[m[1]] {
					t.Errorf("%s help names flag --%s, which %s does not have", c.CommandPath(), m[1], owner.CommandPath())
				}
			}
		}
	}
	for _, want := range []string{"audit", "drill", "review"} {
		if commands[want] {
			continue
		}
		if strings.Contains(root.Long, " "+want+"s") {
			t.Errorf("root help claims breakglass %ss, but there is no %s command", want, want)
		}
	}
}
