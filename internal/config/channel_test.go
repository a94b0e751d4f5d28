package config

import (
	"errors"
	"strings"
	"testing"

	"breakglass/internal/notify"
	"breakglass/internal/secret"
)

// testChannel is a channel type registered only in config's tests, to
// prove the registry wiring on a struct with every kind of field a real
// type uses, without depending on one.
type testChannel struct {
	To      []string                 `yaml:"to,omitempty"`
	Token   secret.Secret            `yaml:"token,omitempty"`
	Port    int                      `yaml:"port,omitempty"`
	Extra   map[string]secret.Secret `yaml:"extra,omitempty"`
	Mode    string                   `yaml:"mode,omitempty"`
	Options struct {
		Loud bool `yaml:"loud,omitempty"`
	} `yaml:"options,omitempty"`
}

func (c *testChannel) Validate(report func(field, msg string)) {
	if len(c.To) == 0 {
		report("to", "list at least one recipient")
	}
	for i, t := range c.To {
		if !strings.Contains(t, "@") {
			report("to["+itoa(i)+"]", "not an address")
		}
	}
	if c.Token == "" {
		report("token", "required")
	}
	for k := range c.Extra {
		if k == "Bad Key" {
			report(notify.FieldKey("extra", k), "bad key")
		}
	}
	if c.Mode == "" {
		c.Mode = "normal" // a type's default, printed by config check
	}
}

func (c *testChannel) Build(notify.BuildEnv) (notify.Notifier, error) {
	return nil, errors.New("test channel")
}

func itoa(i int) string { return string(rune('0' + i)) }

func init() {
	notify.RegisterChannel(notify.ChannelType{
		Name: "configtest", Doc: "test only", New: func() notify.ChannelConfig { return &testChannel{} },
		DefaultTimeout: 42e9,
	})
}

func TestChannelRegistryDecode(t *testing.T) {
	const head = "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nnotify:\n  groups:\n    - name: g\n      channels:\n"
	env := lookup(map[string]string{"TOK": "s3cr3t-token-value"})
	tests := []struct {
		name string
		yaml string
		want []string // error lines, in order; nil: parses
	}{
		{"decoded and expanded", "        - type: configtest\n          to: [a@x.org]\n          token: ${TOK}\n", nil},
		{"validate reports at their lines", "        - type: configtest\n          to:\n            - a@x.org\n            - nobody\n          extra:\n            \"Bad Key\": v\n",
			[]string{
				"c.yaml:7: notify.groups[0].channels[0].token: required",
				"c.yaml:10: notify.groups[0].channels[0].to[1]: not an address",
				"c.yaml:12: notify.groups[0].channels[0].extra[\"Bad Key\"]: bad key",
			}},
		{"unknown key names the type's keys", "        - type: configtest\n          to: [a@x.org]\n          token: t\n          tos: [b@x.org]\n",
			[]string{"c.yaml:10: notify.groups[0].channels[0].tos: unknown key for type configtest (known: name, type, timeout, to, token, port, extra, mode, options)"}},
		{"wrong kind", "        - type: configtest\n          to: a@x.org\n          token: t\n          port: many\n",
			[]string{
				"c.yaml:8: notify.groups[0].channels[0].to: expected a sequence, got a string",
				"c.yaml:10: notify.groups[0].channels[0].port: expected an integer",
			}},
		{"unset variable is reported once", "        - type: configtest\n          to: [a@x.org]\n          token: ${NOPE}\n",
			[]string{"c.yaml:9: notify.groups[0].channels[0].token: environment variable NOPE is not set (use ${NOPE:-default} to give a fallback)"}},
		{"unknown type lists the registered ones", "        - type: Carrier-Pigeon\n          to: x\n",
			[]string{"c.yaml:7: notify.groups[0].channels[0].type: unknown channel type \"carrier-pigeon\" (known: " + strings.Join(notify.ChannelTypes(), ", ") + ")"}},
		{"missing type", "        - name: x\n",
			[]string{"c.yaml:7: notify.groups[0].channels[0].type: required: one of " + strings.Join(notify.ChannelTypes(), ", ")}},
		{"console takes no timeout", "        - type: console\n          timeout: 5s\n",
			[]string{"c.yaml:8: notify.groups[0].channels[0].timeout: not used by type console"}},
		{"negative timeout", "        - type: configtest\n          to: [a@x.org]\n          token: t\n          timeout: -1s\n",
			[]string{"c.yaml:10: notify.groups[0].channels[0].timeout: must not be negative"}},
		{"not a mapping", "        - configtest\n",
			[]string{"c.yaml:7: notify.groups[0].channels[0]: expected a mapping, got a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(head+tt.yaml), env)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				ch := cfg.Notify.Groups[0].Channels[0]
				tc, ok := ch.Settings.(*testChannel)
				if !ok {
					t.Fatalf("Settings = %T, want *testChannel", ch.Settings)
				}
				if tc.Token.Reveal() != "s3cr3t-token-value" || tc.To[0] != "a@x.org" || tc.Mode != "normal" {
					t.Errorf("decoded %+v", tc)
				}
				if ch.Timeout != 42e9 {
					t.Errorf("Timeout = %v, want the type's default 42s", ch.Timeout)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// Config check prints the decoded struct in the channel's entry, type
// defaults applied and secrets redacted, and the output loads back.
func TestChannelRedacted(t *testing.T) {
	const y = "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nnotify:\n  groups:\n    - name: g\n      channels:\n" +
		"        - type: configtest\n          to: [a@x.org]\n          token: ${TOK}\n          options: {loud: true}\n"
	cfg, err := Parse("c.yaml", []byte(y), lookup(map[string]string{"TOK": "s3cr3t-token-value"}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	want := `        - name: configtest
          type: configtest
          to:
            - a@x.org
          token: <redacted>
          mode: normal
          options:
            loud: true
          timeout: 42s
`
	if !strings.Contains(string(out), want) {
		t.Errorf("Redacted:\n%s\nwant it to contain:\n%s", out, want)
	}
	if strings.Contains(string(out), "s3cr3t") {
		t.Errorf("Redacted shows the secret:\n%s", out)
	}
	again, err := Parse("c.yaml", []byte(strings.ReplaceAll(string(out), "<redacted>", "t")), nil)
	if err != nil {
		t.Fatalf("Redacted output does not parse: %v\n%s", err, out)
	}
	if got := again.Notify.Groups[0].Channels[0].Settings.(*testChannel); !got.Options.Loud || got.Mode != "normal" {
		t.Errorf("round trip: %+v", got)
	}
}

func TestNotifyDescribe(t *testing.T) {
	const y = "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\nnotify:\n  groups:\n" +
		"    - name: oncall\n      channels:\n        - type: console\n        - type: webhook\n          name: pager\n          url: https://h.example/x\n" +
		"    - name: ops\n      channels:\n        - type: exec\n          command: [/bin/true]\n"
	cfg, err := Parse("c.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "notify group oncall: console (console), pager (webhook)\nnotify group ops: exec (exec)\n"
	if got := cfg.Notify.Describe(); got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
	min, err := Parse("c.yaml", []byte("accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := min.Notify.Describe(); got != "notify group default: console (console)\n" {
		t.Errorf("default groups: %q", got)
	}
}

// notify.FieldKey is how a channel names a map entry in a report; config
// finds the entry's line under the path join made, so the two must agree.
func TestFieldKeyMatchesJoin(t *testing.T) {
	for _, k := range []string{"X-Token", "Bad Header", "1X", "_a", "a.b", "", "ключ", strings.Repeat("k", 64), strings.Repeat("é", 40), "a\"b"} {
		if got, want := notify.FieldKey("headers", k), join("headers", k); got != want {
			t.Errorf("key %q: notify.FieldKey %q, config join %q", k, got, want)
		}
	}
}
