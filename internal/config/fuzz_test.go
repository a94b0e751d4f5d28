package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that no file, however malformed, panics the parser or
// yields an error without a message, that errors never carry an
// environment value, and that any accepted config renders to YAML that
// loads back unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("accounts:\n  - upn: ${BG_UPN:-x@y.z}\n    name: $$ ${BG_SECRET}\n"))
	f.Add([]byte("a: &a [*a]\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, lookup(testEnv))
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			msg := err.Error()
			if strings.TrimSpace(msg) == "" {
				t.Fatal("error with an empty message")
			}
			if !bytes.Contains(data, []byte(secretValue)) && strings.Contains(msg, secretValue) {
				t.Fatalf("error reveals an environment value: %s", msg)
			}
			return
		}
		out, err := cfg.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		if bytes.Contains(out, []byte("$")) || bytes.Contains(out, []byte("<redacted>")) {
			return // would be expanded again on reload, or hides a secret
		}
		again, err := Parse("fuzz.yaml", out, nil)
		if err != nil {
			t.Fatalf("Redacted output does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(withoutLines(again), withoutLines(cfg)) {
			t.Fatalf("round trip changed the config:\n got %#v\nwant %#v\n%s", again, cfg, out)
		}
	})
}
