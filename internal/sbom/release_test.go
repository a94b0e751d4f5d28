package sbom

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseDist checks a release directory written by scripts/release.sh
// (run by `make release-check`, which sets the variables; skipped without
// them): every target's binary is there, built for its platform with CGO
// off and -trimpath, stamped with the commit (Go's VCS stamp, and the
// release's version and commit in `breakglass version` where it can run
// here); no build path is left in it; SHA256SUMS lists every file with its right
// digest; and each SBOM is exactly what `breakglass sbom` says of that
// binary, naming its hash, version and modules.
func TestReleaseDist(t *testing.T) {
	dist := os.Getenv("BREAKGLASS_RELEASE_DIST")
	if dist == "" {
		t.Skip("BREAKGLASS_RELEASE_DIST not set: run make release-check")
	}
	targets := strings.Fields(os.Getenv("BREAKGLASS_RELEASE_TARGETS"))
	ver, commit := os.Getenv("BREAKGLASS_RELEASE_VERSION"), os.Getenv("BREAKGLASS_RELEASE_COMMIT")
	rev := os.Getenv("BREAKGLASS_RELEASE_REVISION")
	if len(targets) == 0 || ver == "" || commit == "" || rev == "" {
		t.Fatal("BREAKGLASS_RELEASE_TARGETS, _VERSION, _COMMIT and _REVISION must be set with BREAKGLASS_RELEASE_DIST")
	}
	// Paths of this build machine that a reproducible binary must not hold.
	var paths []string
	for _, v := range []string{"BREAKGLASS_RELEASE_SRC", "GOMODCACHE"} {
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
			if set["vcs"] != "git" || set["vcs.revision"] != rev || set["vcs.time"] == "" {
				t.Errorf("VCS stamp vcs=%q vcs.revision=%q vcs.time=%q, want git, %s and the commit's time", set["vcs"], set["vcs.revision"], set["vcs.time"], rev)
			}
			mv := bin.Info.Main.Version
			if mv == "" || mv == "(devel)" {
				t.Errorf("main module version %q: want the tag or a pseudo-version from the VCS stamp", mv)
			}
			if goos == runtime.GOOS && goarch == runtime.GOARCH {
				out, err := exec.Command(path, "version").Output()
				if err != nil || !strings.Contains(string(out), " "+ver+" (commit "+commit+",") {
					t.Errorf("%s version: %q %v, want version %s and commit %s", name, out, err, ver, commit)
				}
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
			if app.Version != mv || len(app.Hashes) != 1 || app.Hashes[0].Content != hex.EncodeToString(bin.SHA256) {
				t.Errorf("SBOM main component %s %s %+v: want version %s and the binary's SHA-256", app.Name, app.Version, app.Hashes, mv)
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
