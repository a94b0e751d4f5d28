package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixed(t *testing.T) *debug.BuildInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "release.buildinfo"))
	if err != nil {
		t.Fatal(err)
	}
	bi, err := parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return bi
}

// parse is debug.ParseBuildInfo plus the "go" line, which it leaves to the
// caller.
func parse(text string) (*debug.BuildInfo, error) {
	bi, err := debug.ParseBuildInfo(text)
	if err != nil {
		return nil, err
	}
	if first, _, _ := strings.Cut(text, "\n"); strings.HasPrefix(first, "go\t") {
		bi.GoVersion = strings.TrimPrefix(first, "go\t")
	}
	return bi, nil
}

var tool = Tool{Name: "breakglass", Version: "v1.4.0"}

// TestCycloneDXGolden: the SBOM of a fixed build information (replaced,
// locally replaced and malformed modules included) is the golden file, byte
// for byte, and the same bytes every time.
func TestCycloneDXGolden(t *testing.T) {
	sum := sha256.Sum256([]byte("a binary"))
	b := Binary{Name: "breakglass-linux-arm64", Info: fixed(t), SHA256: sum[:], Size: 8}
	got, err := CycloneDX(b, tool)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := CycloneDX(b, tool)
	if !bytes.Equal(got, again) {
		t.Fatal("two SBOMs of one binary differ")
	}
	path := filepath.Join("testdata", "release.cdx.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("SBOM differs from %s (run with -update after checking):\n%s", path, got)
	}
}

// TestCycloneDXContent checks the golden's meaning, so an -update that
// breaks it still fails: format, purls, hashes, the stamped version, the
// toolchain, build settings, replacements, and the dependency edges.
func TestCycloneDXContent(t *testing.T) {
	sum := sha256.Sum256([]byte("a binary"))
	out, err := CycloneDX(Binary{Name: "bg", Info: fixed(t), SHA256: sum[:], Size: 8}, tool)
	if err != nil {
		t.Fatal(err)
	}
	var doc document
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.5" || doc.Version != 1 {
		t.Errorf("header %q %q %d", doc.BOMFormat, doc.SpecVersion, doc.Version)
	}
	if !strings.HasPrefix(doc.SerialNumber, "urn:uuid:") || len(doc.SerialNumber) != 45 || doc.SerialNumber[23] != '8' {
		t.Errorf("serial %q is not a version 8 urn:uuid", doc.SerialNumber)
	}
	app := doc.Metadata.Component
	if app.Name != "breakglass" || app.Version != "v1.4.0" || app.Purl != "pkg:golang/breakglass@v1.4.0" {
		t.Errorf("main component %+v: want the version stamped by -ldflags", app)
	}
	if len(app.Hashes) != 1 || app.Hashes[0].Content != hex.EncodeToString(sum[:]) {
		t.Errorf("main component hashes %+v, want the file's SHA-256", app.Hashes)
	}
	props := map[string]string{}
	for _, p := range app.Properties {
		props[p.Name] = p.Value
	}
	for k, v := range map[string]string{
		"breakglass:go:toolchain": "go1.26.8", "breakglass:go:build:GOOS": "linux",
		"breakglass:go:build:GOARCH": "arm64", "breakglass:go:build:CGO_ENABLED": "0",
		"breakglass:go:build:-trimpath": "true", "breakglass:go:package": "breakglass/cmd/breakglass",
	} {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
	byName := map[string]component{}
	for _, c := range doc.Components {
		byName[c.Name] = c
	}
	want := map[string]struct{ purl, hash string }{
		"std":                       {"pkg:golang/std@go1.26.8", ""},
		"github.com/spf13/cobra":    {"pkg:golang/github.com/spf13/cobra@v1.10.2", "0cc4d3a27c799bae48bacd0a0ec7734971c90ebdd59768c64eb75745f5ba9f39"},
		"github.com/pierrec/lz4/v4": {"pkg:golang/github.com/pierrec/lz4/v4@v4.1.33", ""},
		"example.com/fork":          {"pkg:golang/example.com/fork@v0.1.1%2Bincompatible", strings.Repeat("f", 64)},
		"example.com/badsum":        {"pkg:golang/example.com/badsum@v1.2.3", "-"},
		"../local":                  {"", "-"},
	}
	for name, w := range want {
		c, ok := byName[name]
		if !ok {
			t.Errorf("no component %s", name)
			continue
		}
		if c.Purl != w.purl {
			t.Errorf("%s: purl %q, want %q", name, c.Purl, w.purl)
		}
		switch {
		case w.hash == "-" && len(c.Hashes) != 0:
			t.Errorf("%s: hash %+v from a sum that is not one", name, c.Hashes)
		case w.hash != "" && w.hash != "-" && (len(c.Hashes) != 1 || c.Hashes[0].Alg != "SHA-256" || c.Hashes[0].Content != w.hash):
			t.Errorf("%s: hashes %+v, want SHA-256 %s", name, c.Hashes, w.hash)
		}
	}
	if _, ok := byName["example.com/old"]; ok {
		t.Error("the replaced module is listed instead of (or beside) its replacement")
	}
	if len(doc.Components) != 7 {
		t.Errorf("%d components, want std and 6 modules", len(doc.Components))
	}
	if len(doc.Dependencies) != 1 || doc.Dependencies[0].Ref != app.BOMRef || len(doc.Dependencies[0].DependsOn) != len(doc.Components) {
		t.Errorf("dependencies %+v: want the application depending on every component", doc.Dependencies)
	}
	refs := map[string]bool{}
	for _, c := range doc.Components {
		if c.BOMRef == "" || refs[c.BOMRef] {
			t.Errorf("component %s: bom-ref %q empty or repeated", c.Name, c.BOMRef)
		}
		refs[c.BOMRef] = true
	}
}

// TestReadFileSelf reads the running test binary: a real Go binary's build
// information, its digest, and an SBOM naming the modules it links.
func TestReadFileSelf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); !bytes.Equal(sum[:], b.SHA256) || b.Size != int64(len(raw)) {
		t.Errorf("digest or size of %s wrong", exe)
	}
	if b.Info.GoVersion == "" || b.Info.Path == "" {
		t.Errorf("build info %+v", b.Info)
	}
	if _, err := CycloneDX(b, tool); err != nil {
		t.Fatal(err)
	}
}

// TestReadFileErrors: what is not a Go binary is a clear error naming the
// file, not a crash and not an empty SBOM.
func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("just text\n"), 0o644)
	elf := filepath.Join(dir, "trunc")
	os.WriteFile(elf, []byte("\x7fELF\x02\x01\x01\x00garbage"), 0o644)
	for _, tc := range []struct{ path, want string }{
		{text, "notes.txt: no Go build information"},
		{elf, "trunc: no Go build information"},
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "not a regular file"},
	} {
		_, err := ReadFile(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadFile(%s) = %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
}

func TestModules(t *testing.T) {
	rows := Modules(fixed(t))
	if len(rows) != 7 || rows[0].Path != "std" {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Path == "example.com/fork" && (r.Note != "replaces example.com/old@v0.1.0" || r.SHA256 == "") {
			t.Errorf("fork row %+v", r)
		}
		if r.Path == "../local" && !strings.Contains(r.Note, "local directory") {
			t.Errorf("local row %+v", r)
		}
	}
}

// FuzzRead: any bytes given as a binary give a build information and an
// SBOM, or an error; never a panic.
func FuzzRead(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xcf\xfa\xed\xfe"))
	f.Add([]byte("\xff Go buildinf:\x08\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if _, err := CycloneDX(b, tool); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzCycloneDX: any build information text the Go runtime accepts gives
// valid JSON with one entry per bom-ref.
func FuzzCycloneDX(f *testing.F) {
	seed, _ := os.ReadFile(filepath.Join("testdata", "release.buildinfo"))
	f.Add(string(seed))
	f.Add("go\tgo1\npath\tp\nmod\tm\tv1\t\ndep\ta/b\tv1\th1:\n")
	f.Fuzz(func(t *testing.T, text string) {
		bi, err := parse(text)
		if err != nil {
			return
		}
		out, err := CycloneDX(Binary{Info: bi}, tool)
		if err != nil {
			t.Fatal(err)
		}
		var doc document
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		refs := map[string]bool{doc.Metadata.Component.BOMRef: true}
		for _, c := range doc.Components {
			if refs[c.BOMRef] {
				t.Fatalf("bom-ref %q repeated", c.BOMRef)
			}
			refs[c.BOMRef] = true
		}
	})
}
