package config

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"

	"breakglass/internal/secret"
)

// withSecret stands in for the secret-bearing sections to come (webhook
// tokens, client secrets), since Config has no Secret field yet.
type withSecret struct {
	Name    string            `yaml:"name" json:"name"`
	Token   Secret            `yaml:"token" json:"token"`
	Headers map[string]Secret `yaml:"headers" json:"headers"`
	Backup  *Secret           `yaml:"backup" json:"backup"`
	List    []Secret          `yaml:"list" json:"list"`
}

const secretValue = "s3cr3t-do-not-print"

func TestSecretNeverPrinted(t *testing.T) {
	backup := Secret(secretValue + "-backup")
	v := withSecret{
		Name:    "webhook",
		Token:   Secret(secretValue),
		Headers: map[string]Secret{"Authorization": Secret("Bearer " + secretValue)},
		Backup:  &backup,
		List:    []Secret{Secret(secretValue)},
	}
	if v.Token.Reveal() != secretValue {
		t.Fatalf("Reveal = %q", v.Token.Reveal())
	}

	outputs := map[string]func() (string, error){
		"%v":         func() (string, error) { return fmt.Sprintf("%v", v), nil },
		"%s":         func() (string, error) { return fmt.Sprintf("%s", v), nil },
		"%+v":        func() (string, error) { return fmt.Sprintf("%+v", v), nil },
		"%#v":        func() (string, error) { return fmt.Sprintf("%#v", v), nil },
		"%v pointer": func() (string, error) { return fmt.Sprintf("%v", &v), nil },
		"%x secret":  func() (string, error) { return fmt.Sprintf("%x %X %q %d", v.Token, v.Token, v.Token, v.Token), nil },
		"Sprint":     func() (string, error) { return fmt.Sprint(v.Token, v), nil },
		"error wrap": func() (string, error) {
			return fmt.Errorf("token %v: %w", v.Token, fmt.Errorf("%s", v.Token)).Error(), nil
		},
		"String":      func() (string, error) { return v.Token.String(), nil },
		"json":        func() (string, error) { b, err := json.Marshal(v); return string(b), err },
		"json secret": func() (string, error) { b, err := json.Marshal(v.Token); return string(b), err },
		"xml secret":  func() (string, error) { b, err := xml.Marshal(xmlHolder{v.Token}); return string(b), err },
		"yaml render": func() (string, error) { b, err := render(v); return string(b), err },
		"slog text":   func() (string, error) { return logWith(slog.NewTextHandler, v), nil },
		"slog json":   func() (string, error) { return logWith(slog.NewJSONHandler, v), nil },
	}
	for name, out := range outputs {
		got, err := out()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(got, secretValue) {
			t.Errorf("%s reveals the secret: %s", name, got)
		}
		// encoding/json and encoding/xml escape < and >.
		if !strings.Contains(got, secret.Redacted) && !strings.Contains(got, `\u003credacted\u003e`) && !strings.Contains(got, "&lt;redacted&gt;") {
			t.Errorf("%s does not say %s: %s", name, secret.Redacted, got)
		}
	}
}

type xmlHolder struct{ T Secret }

func logWith[H slog.Handler](newHandler func(w io.Writer, o *slog.HandlerOptions) H, v withSecret) string {
	var buf bytes.Buffer
	l := slog.New(newHandler(&buf, nil))
	l.Info("loaded", "token", v.Token, "cfg", v, "ptr", &v, slog.Any("any", v.Token), slog.Group("g", "t", v.Token))
	return buf.String()
}

// TestSecretFromEnvironment shows that a value expanded from ${VAR} into a
// Secret field is usable through Reveal and redacted when rendered.
func TestSecretFromEnvironment(t *testing.T) {
	d := newDecoder("cfg.yaml", lookup(map[string]string{"TOKEN": secretValue}))
	root := d.document([]byte("name: hook\ntoken: ${TOKEN}\nheaders:\n  X-Key: pre-${TOKEN}\nbackup: ${TOKEN}\nlist:\n  - ${TOKEN}\n"))
	if root == nil {
		t.Fatal(d.err())
	}
	var v withSecret
	d.decode(root, reflect.ValueOf(&v).Elem(), "", root.Line)
	if err := d.err(); err != nil {
		t.Fatal(err)
	}
	if v.Token.Reveal() != secretValue || v.Headers["X-Key"].Reveal() != "pre-"+secretValue || v.Backup.Reveal() != secretValue {
		t.Fatalf("decoded %#v", v) // redacted, by design
	}
	out, err := render(v)
	if err != nil {
		t.Fatal(err)
	}
	want := "name: hook\ntoken: <redacted>\nheaders:\n  X-Key: <redacted>\nbackup: <redacted>\nlist:\n  - <redacted>\n"
	if string(out) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", out, want)
	}
}

// TestServeSecretsRedacted: tokens, webhook URLs and header values from the
// daemon's config never reach config check output.
func TestServeSecretsRedacted(t *testing.T) {
	data, err := os.ReadFile("testdata/good/serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("serve.yaml", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-token-value", "XXXXSECRETXXXX", "abcdef-secret", "hooks.example.com"} {
		if strings.Contains(string(out), secret) || strings.Contains(fmt.Sprintf("%+v", cfg), secret) {
			t.Errorf("secret %q visible", secret)
		}
	}
	if cfg.Sources[1].Token.Reveal() != "s3cret-token-value" {
		t.Error("token not kept")
	}
}
