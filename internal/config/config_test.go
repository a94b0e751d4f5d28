package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/notify"
)

var update = flag.Bool("update", false, "rewrite the golden .err and .out files in testdata")

// testEnv is the environment every fixture is parsed with, so that goldens
// do not depend on the machine running the tests.
var testEnv = map[string]string{
	"BG_UPN":    "alice@contoso.com",
	"BG_ID":     "0f8fad5b-d9cb-469f-a165-70867728950e",
	"BG_EMPTY":  "",
	"BG_LEVEL":  "debug",
	"BG_SECRET": "s3cr3t-do-not-print",
	"BG_PG_DSN": "postgres://bg:pg-pass-do-not-print@db.example:5432/breakglass?sslmode=verify-full",
	"BG_NOTDSN": "not-a-dsn-do-not-print",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("mismatch with %s (run go test -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func fixtures(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	return files
}

func TestGoodFixtures(t *testing.T) {
	for _, file := range fixtures(t, "good") {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(name, data, lookup(testEnv))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cfg.Path != name {
				t.Errorf("Path = %q, want %q", cfg.Path, name)
			}
			out, err := cfg.Redacted()
			if err != nil {
				t.Fatalf("Redacted: %v", err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".out", out)

			// The effective config must load back to itself, so operators
			// can start from "config check" output; redacted secrets are the
			// exception, since hiding them is the point.
			if !bytes.Contains(out, []byte("$")) && !bytes.Contains(out, []byte("<redacted>")) {
				again, err := Parse(name, out, nil)
				if err != nil {
					t.Fatalf("Redacted output does not parse: %v\n%s", err, out)
				}
				if !reflect.DeepEqual(withoutLines(again), withoutLines(cfg)) {
					t.Errorf("round trip changed the config:\n got %+v\nwant %+v", again, cfg)
				}
			}
		})
	}
}

func TestBadFixtures(t *testing.T) {
	for _, file := range fixtures(t, "bad") {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(name, data, lookup(testEnv))
			if err == nil {
				t.Fatalf("Parse succeeded, want error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with an error")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty ErrorList", err)
			}
			for i, e := range list {
				if e.File != name || e.Msg == "" {
					t.Errorf("element %d = %+v: want File %q and a message", i, e, name)
				}
				if i > 0 && list[i-1].Line > e.Line {
					t.Errorf("not sorted by line: %d after %d", e.Line, list[i-1].Line)
				}
			}
			msg := err.Error()
			for k, v := range testEnv {
				if len(v) > 8 && strings.Contains(msg, v) {
					t.Errorf("error reveals the value of $%s:\n%s", k, msg)
				}
			}
			// The registered channel types grow with every channel added:
			// goldens say <channel types> so that adding one changes no
			// golden of another.
			msg = strings.ReplaceAll(msg, strings.Join(notify.ChannelTypes(), ", "), "<channel types>")
			golden(t, strings.TrimSuffix(file, ".yaml")+".err", []byte(msg+"\n"))
		})
	}
}

// TestGoldensHaveFixtures catches a golden left behind by a renamed fixture.
func TestGoldensHaveFixtures(t *testing.T) {
	for _, pat := range []string{"testdata/bad/*.err", "testdata/good/*.out"} {
		goldens, _ := filepath.Glob(pat)
		for _, g := range goldens {
			src := strings.TrimSuffix(g, filepath.Ext(g)) + ".yaml"
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s has no fixture %s", g, src)
			}
		}
	}
}

// defaultDrill is what an empty drill: section becomes.
var defaultDrill = DrillConfig{
	AlertWithin: DefaultDrillAlertWithin, DeliveryWithin: DefaultDrillDeliveryWithin, AckWithin: DefaultDrillAckWithin,
	Window: DefaultDrillWindow, Interval: DefaultDrillInterval, RemindBefore: DefaultDrillRemindBefore,
}

// defaultAudit is what an empty audit: section becomes.
var defaultAudit = AuditConfig{
	Interval:                 DefaultAuditInterval,
	ConditionalAccessMode:    CAModeExcludeAll,
	DrillInterval:            DefaultDrillInterval,
	MaxExclusionGroupMembers: DefaultMaxExclusionGroupMembers,
}

// withoutLines returns a copy of c with the recorded exception lines
// cleared, for comparing a config with its rendering loaded back (which
// puts the entries on other lines).
func withoutLines(c *Config) *Config {
	cp := *c
	cp.Exceptions = slices.Clone(c.Exceptions)
	for i := range cp.Exceptions {
		cp.Exceptions[i].Line = 0
	}
	cp.Rules = slices.Clone(c.Rules)
	for i := range cp.Rules {
		cp.Rules[i].QueryLine, cp.Rules[i].QueryExact, cp.Rules[i].Lines = 0, false, nil
	}
	return &cp
}

// defaultNotify is what an empty notify: section becomes.
var defaultNotify = NotifyConfig{
	Groups:      []GroupConfig{{Name: DefaultGroup, Channels: []ChannelConfig{{Name: ChannelConsole, Type: ChannelConsole, Settings: &notify.ConsoleConfig{}}}}},
	GiveUpAfter: DefaultGiveUpAfter,
}

func TestParse(t *testing.T) {
	const guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		want    *Config  // checked when non-nil
		wantErr []string // exact error lines, when non-nil
	}{
		{
			name: "defaults and trimming",
			yaml: "accounts:\n  - id: ' " + strings.ToUpper(guid) + " '\n    upn: ' BG@Contoso.com '\n    name: ' One '\n",
			want: &Config{
				Accounts:  []entra.Account{{ID: strings.ToUpper(guid), UPN: "BG@Contoso.com", Name: "One"}},
				Store:     StoreConfig{Driver: DefaultStoreDriver, Path: DefaultStorePath, Retention: DefaultRetention},
				Log:       LogConfig{Level: "info", Format: "text"},
				Server:    ServerConfig{Listen: DefaultListen},
				Notify:    defaultNotify,
				Audit:     defaultAudit,
				Incidents: defaultIncidents,
				Evidence:  defaultEvidence,
				Drill:     defaultDrill,
				Path:      "cfg.yaml",
			},
		},
		{
			name:    "explicit name clashes with an unnamed source's default",
			yaml:    "accounts: [{upn: bg@contoso.com}]\nsources:\n  - type: file\n    path: x\n  - type: file\n    name: file-1\n    path: y\n",
			wantErr: []string{`cfg.yaml:6: sources[1].name: duplicate of sources[0], which is unnamed and so named "file-1" by default; give one of them another name`},
		},
		{
			name:    "explicit names clash",
			yaml:    "accounts: [{upn: bg@contoso.com}]\nsources:\n  - type: file\n    name: a\n    path: x\n  - type: file\n    name: a\n    path: y\n",
			wantErr: []string{`cfg.yaml:7: sources[1].name: duplicate of sources[0]`},
		},
		{
			name: "env set, default, empty and literal dollar",
			yaml: "accounts:\n  - upn: ${U}\n    name: ${N:-none} ${E:-dflt} ${E} $$ ${X:-a:-b}\nstore: {path: '$HOME/${D}'}\n",
			env:  map[string]string{"U": "bg@contoso.com", "E": "", "D": "x.db"},
			want: &Config{
				Accounts:  []entra.Account{{UPN: "bg@contoso.com", Name: "none dflt  $ a:-b"}},
				Store:     StoreConfig{Driver: DefaultStoreDriver, Path: "$HOME/x.db", Retention: DefaultRetention},
				Log:       LogConfig{Level: "info", Format: "text"},
				Server:    ServerConfig{Listen: DefaultListen},
				Notify:    defaultNotify,
				Audit:     defaultAudit,
				Incidents: defaultIncidents,
				Evidence:  EvidenceConfig{HeadsFile: "$HOME/x.db" + DefaultHeadsSuffix},
				Drill:     defaultDrill,
				Path:      "cfg.yaml",
			},
		},
		{
			name: "expanded values are not expanded again",
			yaml: "accounts:\n  - upn: bg@contoso.com\n    name: ${N}\n",
			env:  map[string]string{"N": "${OTHER} $$"},
			want: &Config{
				Accounts:  []entra.Account{{UPN: "bg@contoso.com", Name: "${OTHER} $$"}},
				Store:     StoreConfig{Driver: DefaultStoreDriver, Path: DefaultStorePath, Retention: DefaultRetention},
				Log:       LogConfig{Level: "info", Format: "text"},
				Server:    ServerConfig{Listen: DefaultListen},
				Notify:    defaultNotify,
				Audit:     defaultAudit,
				Incidents: defaultIncidents,
				Evidence:  defaultEvidence,
				Drill:     defaultDrill,
				Path:      "cfg.yaml",
			},
		},
		{
			name: "expansion cannot change structure",
			yaml: "accounts:\n  - upn: bg@contoso.com\n    name: ${N}\n",
			env:  map[string]string{"N": "x\nstore: {path: evil}"},
			want: &Config{
				Accounts:  []entra.Account{{UPN: "bg@contoso.com", Name: "x\nstore: {path: evil}"}},
				Store:     StoreConfig{Driver: DefaultStoreDriver, Path: DefaultStorePath, Retention: DefaultRetention},
				Log:       LogConfig{Level: "info", Format: "text"},
				Server:    ServerConfig{Listen: DefaultListen},
				Notify:    defaultNotify,
				Audit:     defaultAudit,
				Incidents: defaultIncidents,
				Evidence:  defaultEvidence,
				Drill:     defaultDrill,
				Path:      "cfg.yaml",
			},
		},
		{
			name:    "unset variable names field and variable",
			yaml:    "accounts:\n  - upn: bg@contoso.com\n    name: ${NOPE}\n",
			wantErr: []string{"cfg.yaml:3: accounts[0].name: environment variable NOPE is not set (use ${NOPE:-default} to give a fallback)"},
		},
		{
			name:    "bad id from the environment does not echo the value",
			yaml:    "accounts:\n  - id: ${ID}\n",
			env:     map[string]string{"ID": "hunter2"},
			wantErr: []string{"cfg.yaml:2: accounts[0].id: not a GUID (expected the user's object id, 8-4-4-4-12 hex digits)"},
		},
		{
			name:    "wrong type example from the spec",
			yaml:    "accounts:\n  - upn: bg@contoso.com\nstore:\n  path: [a]\n",
			wantErr: []string{"cfg.yaml:4: store.path: expected a string, got a sequence"},
		},
		{
			name: "all errors collected",
			yaml: "accounts:\n  - upnn: x\n  - id: nope\nlevel: 1\n",
			wantErr: []string{
				"cfg.yaml:2: accounts[0].upnn: unknown key (known: id, upn, name, group, expect)",
				"cfg.yaml:2: accounts[0]: needs id: (the user's object id) and/or upn: for a user, or group: for a group",
				"cfg.yaml:3: accounts[1].id: not a GUID (expected the user's object id, 8-4-4-4-12 hex digits)",
				"cfg.yaml:4: level: unknown key (known: accounts, tenant_id, store, log, server, sources, notify, graph, audit, incidents, evidence, drill, canary, exceptions, expect, rules, kql, tenants)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("cfg.yaml", []byte(tt.yaml), lookup(tt.env))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error; config %+v", cfg)
				}
				if got, want := err.Error(), strings.Join(tt.wantErr, "\n"); got != want {
					t.Errorf("error:\n%s\nwant:\n%s", got, want)
				}
				for _, v := range tt.env {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error reveals an environment value")
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("got  %+v\nwant %+v", cfg, tt.want)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Parse("cfg.yaml", []byte("accounts:\n  - upn: a@b.c\n  - upnn: x\n"), nil)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("%T is not an ErrorList", err)
	}
	want := &Error{File: "cfg.yaml", Line: 3, Field: "accounts[1].upnn", Msg: "unknown key (known: id, upn, name, group, expect)"}
	if len(list) < 1 || !reflect.DeepEqual(list[0], want) {
		t.Errorf("first error = %+v, want %+v", list[0], want)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 3 {
		t.Errorf("errors.As(*Error) = %+v", one)
	}
}

func TestLoad(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := Load(path)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
		}
		if want := path + ": cannot read config file: no such file or directory"; err == nil || err.Error() != want {
			t.Errorf("error = %v, want %s", err, want)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Load(dir)
		if err == nil || !strings.HasPrefix(err.Error(), dir+": cannot read config file: ") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("process environment", func(t *testing.T) {
		t.Setenv("BREAKGLASS_TEST_UPN", "env@contoso.com")
		path := filepath.Join(t.TempDir(), "cfg.yaml")
		if err := os.WriteFile(path, []byte("accounts:\n  - upn: ${BREAKGLASS_TEST_UPN}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Path != path || cfg.Accounts[0].UPN != "env@contoso.com" {
			t.Errorf("got %+v", cfg)
		}
	})
}

func TestRedactedAppliesDefaults(t *testing.T) {
	c := &Config{Accounts: []entra.Account{{UPN: "a@b.c"}}}
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	want := "accounts:\n  - upn: a@b.c\nstore:\n  driver: sqlite\n  path: data/breakglass.db\n  retention: 168h0m0s\nlog:\n  level: info\n  format: text\nserver:\n  listen: 127.0.0.1:8080\nsources: []\nnotify:\n  groups:\n    - name: default\n      channels:\n        - name: console\n          type: console\n  give_up_after: 24h0m0s\naudit:\n  interval: 6h0m0s\n  conditional_access_mode: exclude-all\n  drill_interval: 2160h0m0s\n  max_exclusion_group_members: 10\nincidents:\n  gap: 2h0m0s\n  retention: 9600h0m0s\nevidence:\n  heads_file: data/breakglass.db.heads\ndrill:\n  alert_within: 10m0s\n  delivery_within: 1m0s\n  ack_within: 15m0s\n  window: 1h0m0s\n  interval: 2160h0m0s\n  remind_before: 168h0m0s\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if c.Store.Path != "" {
		t.Errorf("Redacted modified its receiver")
	}
}

func TestValidators(t *testing.T) {
	guids := map[string]bool{
		"3f2504e0-4f89-11d3-9a0c-0305e82c3301":   true,
		"3F2504E0-4F89-11D3-9A0C-0305E82C3301":   true,
		"3f2504e0-4f89-11d3-9a0c-0305e82c330":    false,
		"3f2504e0-4f89-11d3-9a0c-0305e82c330g":   false,
		"3f2504e0x4f89-11d3-9a0c-0305e82c3301":   false,
		"{3f2504e0-4f89-11d3-9a0c-0305e82c3301}": false,
		"":                                       false,
	}
	for s, want := range guids {
		if got := entra.IsGUID(s); got != want {
			t.Errorf("entra.IsGUID(%q) = %v, want %v", s, got, want)
		}
	}
	upns := map[string]bool{
		"bg@contoso.com":                 true,
		"a_b.com#EXT#@t.onmicrosoft.com": true,
		"bg@contoso":                     false,
		"@contoso.com":                   false,
		"bg@":                            false,
		"b g@contoso.com":                false,
		"a@b@contoso.com":                false,
		"bg@contoso..com":                false,
		"bg@-contoso.com":                false,
		"bg@contoso.com\n":               false,
	}
	for s, want := range upns {
		if got := IsUPN(s); got != want {
			t.Errorf("IsUPN(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestTargets: delivery targets are "group/name"; unnamed channels are
// named after their type, numbered from the second of a type in a group.
func TestTargets(t *testing.T) {
	yaml := `accounts: [{upn: a@b.c}]
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: https://x.example/1
        - type: console
        - type: webhook
          url: https://x.example/2
        - type: webhook
          name: pager
          url: https://x.example/3
        - type: webhook
          url: https://x.example/4
    - name: audit
      channels:
        - type: webhook
          url: https://x.example/5
`
	cfg, err := Parse("t.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"oncall/webhook", "oncall/console", "oncall/webhook-2", "oncall/pager", "oncall/webhook-3", "audit/webhook"}
	if got := cfg.Notify.Targets(); !reflect.DeepEqual(got, want) {
		t.Errorf("Targets = %q, want %q", got, want)
	}
	// Without groups, alerts go to the console of the default group.
	cfg, err = Parse("t.yaml", []byte("accounts: [{upn: a@b.c}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Notify.Targets(); !reflect.DeepEqual(got, []string{"default/console"}) {
		t.Errorf("default Targets = %q", got)
	}
}

// TestHeaderErrorsHideValues: a rejected header value is named, never shown:
// it is usually the credential.
func TestHeaderErrorsHideValues(t *testing.T) {
	data, err := os.ReadFile("testdata/bad/notify_errors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse("notify_errors.yaml", data, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "line2") {
		t.Errorf("error reveals a header value:\n%v", err)
	}
	if !strings.Contains(err.Error(), "headers.X-Token: value contains a line break") {
		t.Errorf("error does not name the header:\n%v", err)
	}
}

// TestTenantIDOneRule: tenant_id and graph.tenant_id follow graph's rule,
// the one the Graph client applies.
func TestTenantIDOneRule(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", true},
		{"contoso.onmicrosoft.com", true},
		{"common", false}, // a multi-tenant alias: cannot read one tenant's logs
		{"organizations", false},
		{"contoso", false},
		{"bad..domain", false},
	} {
		for _, key := range []string{"tenant_id: %s\n", "graph:\n  auth: azure_cli\n  tenant_id: %s\n"} {
			yaml := "accounts: [{upn: a@b.c}]\n" + fmt.Sprintf(key, tc.id)
			_, err := Parse("t.yaml", []byte(yaml), nil)
			if (err == nil) != tc.ok {
				t.Errorf("%q in %q: error %v, want ok=%v", tc.id, strings.SplitN(key, ":", 2)[0], err, tc.ok)
			}
		}
	}
}

// TestPortZeroNeverClashes: port 0 picks a free port, so two listeners on
// host:0 are not the same address; two on one fixed port are.
func TestPortZeroNeverClashes(t *testing.T) {
	doc := "accounts: [{upn: a@b.c}]\nserver: {listen: '%s'}\nsources:\n  - {type: http, listen: '%s', token: t}\n"
	if _, err := Parse("t.yaml", []byte(fmt.Sprintf(doc, "127.0.0.1:0", "127.0.0.1:0")), nil); err != nil {
		t.Errorf("two :0 listeners rejected: %v", err)
	}
	if _, err := Parse("t.yaml", []byte(fmt.Sprintf(doc, "127.0.0.1:9000", "127.0.0.1:9000")), nil); err == nil || !strings.Contains(err.Error(), "same address as server.listen") {
		t.Errorf("one fixed port twice: %v", err)
	}
}
