package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSBOMCommand: `breakglass sbom` describes the binary it runs from
// (its SHA-256 in the SBOM is the file's), and a named one; the table
// lists the modules; what is not a Go binary exits 1 naming the file, and
// usage errors exit 2.
func TestSBOMCommand(t *testing.T) {
	raw, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	for _, args := range [][]string{{"sbom"}, {"sbom", binary}} {
		r := runBinary(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		var doc struct {
			BOMFormat, SpecVersion string
			Metadata               struct {
				Component struct {
					Name   string
					Hashes []struct{ Alg, Content string }
				}
			}
			Components []struct{ Name, Purl string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.stdout)
		}
		if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.5" || doc.Metadata.Component.Name != "breakglass" {
			t.Errorf("%v: header %s %s %s", args, doc.BOMFormat, doc.SpecVersion, doc.Metadata.Component.Name)
		}
		if h := doc.Metadata.Component.Hashes; len(h) != 1 || h[0].Content != hex.EncodeToString(sum[:]) {
			t.Errorf("%v: hashes %+v, want the binary's SHA-256 %x", args, h, sum)
		}
		found := false
		for _, c := range doc.Components {
			found = found || c.Purl == "pkg:golang/github.com/spf13/cobra@v1.10.2"
		}
		if !found {
			t.Errorf("%v: no cobra component in %d components", args, len(doc.Components))
		}
	}
	if r := runBinary(t, nil, "sbom", "--format", "table"); r.code != 0 || !strings.Contains(r.stdout, "modernc.org/sqlite") || !strings.HasPrefix(r.stdout, "MODULE") {
		t.Errorf("table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	text := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sbom", text}, 1, "notes.txt: no Go build information"},
		{[]string{"sbom", filepath.Join(t.TempDir(), "gone")}, 1, "no such file"},
		{[]string{"sbom", binary, binary}, 2, "at most one BINARY"},
		{[]string{"sbom", "--format", "xml"}, 2, `unknown format "xml"`},
	} {
		r := runBinary(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %d bytes; want exit %d and %q", tc.args, r.code, r.stderr, len(r.stdout), tc.code, tc.want)
		}
	}
}
