package sbom

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseDist checks a release directory written by scripts/release.sh
// (run by `make release-check`, which sets the variables; skipped without
// them): every target's binary is there, built for its platform with CGO
// off, -trimpath, no VCS stamp and the release's version and commit; no
// build path is left in it; SHA256SUMS lists every file with its right
// digest; and each SBOM is exactly what `breakglass sbom` says of that
// binary, naming its hash, version and modules.
func TestReleaseDist(t *testing.T) {
	dist := os.Getenv("BREAKGLASS_RELEASE_DIST")
	if dist == "" {
		t.Skip("BREAKGLASS_RELEASE_DIST not set: run make release-check")
	}
	targets := strings.Fields(os.Getenv("BREAKGLASS_RELEASE_TARGETS"))
	ver, commit := os.Getenv("BREAKGLASS_RELEASE_VERSION"), os.Getenv("BREAKGLASS_RELEASE_COMMIT")
	if len(targets) == 0 || ver == "" || commit == "" {
		t.Fatal("BREAKGLASS_RELEASE_TARGETS, _VERSION and _COMMIT must be set with BREAKGLASS_RELEASE_DIST")
	}
	// Paths of this build machine that a reproducible binary must not hold.
	var paths []string
	for _, v := range []string{"BREAKGLASS_RELEASE_SRC", "GOMODCACHE", "HOME"} {
		if p := os.Getenv(v); len(p) > 4 {
			paths = append(paths, p)
		}
	}

	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			if _, ok := sums[e.Name()]; !ok {
				t.Errorf("%s is not in SHA256SUMS", e.Name())
			}
		}
	}
	for name, want := range sums {
		raw, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Errorf("SHA256SUMS lists %s: %v", name, err)
			continue
		}
		if got := sha256.Sum256(raw); hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: SHA-256 %x, SHA256SUMS says %s", name, got, want)
		}
	}

	for _, target := range targets {
		goos, goarch, _ := strings.Cut(target, "/")
		name := "breakglass-" + goos + "-" + goarch
		if goos == "windows" {
			name += ".exe"
		}
		t.Run(target, func(t *testing.T) {
			path := filepath.Join(dist, name)
			bin, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			set := map[string]string{}
			for _, s := range bin.Info.Settings {
				set[s.Key] = s.Value
			}
			for k, v := range map[string]string{"GOOS": goos, "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"} {
				if set[k] != v {
					t.Errorf("build setting %s = %q, want %q", k, set[k], v)
				}
			}
			for k := range set {
				if strings.HasPrefix(k, "vcs.") {
					t.Errorf("build setting %s present: the build must not depend on .git (-buildvcs=false)", k)
				}
			}
			if lf := set["-ldflags"]; !strings.Contains(lf, "version.Version="+ver+" ") || !strings.Contains(lf, "version.Commit="+commit) {
				t.Errorf("-ldflags %q does not stamp version %s and commit %s", lf, ver, commit)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				if bytes.Contains(raw, []byte(p)) {
					t.Errorf("the binary contains the build machine's path %s", p)
				}
			}

			doc, err := os.ReadFile(path + ".cdx.json")
			if err != nil {
				t.Fatal(err)
			}
			var d document
			if err := json.Unmarshal(doc, &d); err != nil {
				t.Fatalf("%s.cdx.json: %v", name, err)
			}
			var tool Tool
			if tc := d.Metadata.Tools.Components; len(tc) == 1 {
				tool = Tool{Name: tc[0].Name, Version: tc[0].Version}
			}
			want, err := CycloneDX(bin, tool)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(doc, want) {
				t.Errorf("%s.cdx.json is not the SBOM of %s", name, name)
			}
			app := d.Metadata.Component
			if app.Version != ver || len(app.Hashes) != 1 || app.Hashes[0].Content != hex.EncodeToString(bin.SHA256) {
				t.Errorf("SBOM main component %s %s %+v: want version %s and the binary's SHA-256", app.Name, app.Version, app.Hashes, ver)
			}
			names := map[string]bool{}
			for _, c := range d.Components {
				names[c.Name] = true
				if c.Name != "std" && len(c.Hashes) != 1 {
					t.Errorf("module %s has no go.sum hash", c.Name)
				}
			}
			for _, m := range []string{"std", "github.com/spf13/cobra", "modernc.org/sqlite", "go.yaml.in/yaml/v3"} {
				if !names[m] {
					t.Errorf("SBOM lacks %s", m)
				}
			}
		})
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" || strings.ContainsAny(name, "/\\") {
			t.Fatalf("%s:%d: not a sha256sum line: %q", path, n, sc.Text())
		}
		sums[name] = sum
	}
	if len(sums) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return sums
}
