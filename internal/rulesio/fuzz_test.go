package rulesio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func seed(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, p := range files {
		if strings.HasSuffix(p, ".out") {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// fuzzImport: any input gives rules or an *InputError, never a panic, and
// the rules print as YAML that reads back with the same names and queries
// (after config's $$ unescaping).
func fuzzImport(t *testing.T, data []byte) {
	ims, err := Import("fuzz", data)
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("error %T %v is not an InputError", err, err)
		}
		return
	}
	Check(ims)
	y, err := RulesYAML(ims)
	if err != nil {
		t.Fatal(err)
	}
	var kept []Imported
	for _, im := range ims {
		if !im.Rejected() {
			kept = append(kept, im)
		}
	}
	if _, err := RulesJSON(ims); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rules []struct{ Name, Query string } `yaml:"rules"`
	}
	if err := yaml.Unmarshal(y, &back); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, y)
	}
	if len(back.Rules) != len(kept) {
		t.Fatalf("%d rules printed, %d imported and not rejected", len(back.Rules), len(kept))
	}
	unesc := func(s string) string {
		return strings.NewReplacer("$$", "$").Replace(s)
	}
	for i, r := range back.Rules {
		if unesc(r.Name) != kept[i].Rule.Name || unesc(r.Query) != kept[i].Rule.Query {
			t.Fatalf("rule %d changed when printed: %q %q", i, r.Name, r.Query)
		}
	}
}

func FuzzImportARM(f *testing.F) {
	seed(f, "testdata/import/*.json")
	seed(f, "testdata/bad/*.json")
	seed(f, "testdata/export/*.arm.json")
	f.Fuzz(fuzzImport)
}

func FuzzImportSentinel(f *testing.F) {
	seed(f, "testdata/import/*.yaml")
	seed(f, "testdata/bad/*.yaml")
	f.Fuzz(fuzzImport)
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT5M", "P1DT2H", "5m", "14d", "P", "PT1H30M", "1h30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 || d > maxDuration {
			t.Fatalf("%q: %v out of range", s, d)
		}
		if back, err := ParseDuration(FormatISO(d)); err != nil || back != d.Truncate(1e9) {
			t.Fatalf("%q: %v formats as %s, reads back %v %v", s, d, FormatISO(d), back, err)
		}
	})
}
