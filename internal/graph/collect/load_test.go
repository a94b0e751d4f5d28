package collect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesDamagedSnapshots: the audit must never judge a tenant
// from a snapshot that was cut short or edited.
func TestLoadRefusesDamagedSnapshots(t *testing.T) {
	tn := newTenant(t, 0)
	clean := t.TempDir()
	if _, err := Collect(context.Background(), tn.client(), options(clean)); err != nil {
		t.Fatal(err)
	}
	editManifest := func(edit func(m *Manifest)) func(dir string) {
		return func(dir string) {
			var m Manifest
			data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			edit(&m)
			data, _ = json.Marshal(m)
			os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644)
		}
	}
	tests := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"no manifest", func(dir string) { os.Remove(filepath.Join(dir, ManifestFile)) }, "collection did not finish"},
		{"manifest not JSON", func(dir string) { os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{"), 0o644) }, "manifest.json"},
		{"newer format", editManifest(func(m *Manifest) { m.Format = 2 }), "format 2"},
		{"dataset file missing", func(dir string) { os.Remove(filepath.Join(dir, DatasetDomains+".json")) }, "domains"},
		{"dataset truncated", func(dir string) {
			os.WriteFile(filepath.Join(dir, DatasetDomains+".json"), []byte(`{"value":[{"id":"a"}`), 0o644)
		}, "not valid JSON"},
		{"item removed", func(dir string) {
			os.WriteFile(filepath.Join(dir, DatasetDomains+".json"), []byte(`{"value":[{"id":"a"}]}`), 0o644)
		}, "1 items, the manifest says 2"},
		{"list that is not a list", func(dir string) {
			os.WriteFile(filepath.Join(dir, DatasetDomains+".json"), []byte(`{"id":"a"}`), 0o644)
		}, "not a {\"value\":[...]} list"},
		{"path outside the snapshot", editManifest(func(m *Manifest) { m.Datasets[0].File = "../outside.json" }), "not a plain file"},
		{"dataset listed twice", editManifest(func(m *Manifest) { m.Datasets = append(m.Datasets, m.Datasets[0]) }), "listed twice"},
		// A symlink may point anywhere: outside the snapshot, or at a
		// device that never ends (/dev/zero) and would fill memory.
		{"dataset is a symlink outside the snapshot", func(dir string) {
			outside := filepath.Join(t.TempDir(), "domains.json")
			data, _ := os.ReadFile(filepath.Join(dir, DatasetDomains+".json"))
			os.WriteFile(outside, data, 0o644)
			os.Remove(filepath.Join(dir, DatasetDomains+".json"))
			if err := os.Symlink(outside, filepath.Join(dir, DatasetDomains+".json")); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"dataset is a symlink to a device", func(dir string) {
			os.Remove(filepath.Join(dir, DatasetDomains+".json"))
			if err := os.Symlink(os.DevNull, filepath.Join(dir, DatasetDomains+".json")); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"manifest is a symlink", func(dir string) {
			outside := filepath.Join(t.TempDir(), ManifestFile)
			data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			os.WriteFile(outside, data, 0o644)
			os.Remove(filepath.Join(dir, ManifestFile))
			if err := os.Symlink(outside, filepath.Join(dir, ManifestFile)); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"dataset is a directory", func(dir string) {
			os.Remove(filepath.Join(dir, DatasetDomains+".json"))
			os.Mkdir(filepath.Join(dir, DatasetDomains+".json"), 0o755)
		}, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(clean)); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(dir); err != nil {
				t.Fatalf("undamaged copy: %v", err)
			}
			tc.damage(dir)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestLoadBoundsFileSize: a hostile snapshot cannot make Load read an
// unbounded file into memory; the limits are lowered here so the test
// writes little.
func TestLoadBoundsFileSize(t *testing.T) {
	tn := newTenant(t, 0)
	clean := t.TempDir()
	if _, err := Collect(context.Background(), tn.client(), options(clean)); err != nil {
		t.Fatal(err)
	}
	domains, err := os.Stat(filepath.Join(clean, DatasetDomains+".json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		perFile, snapshot int64
		want              string
	}{
		{"one file over the per-file limit", domains.Size() - 1, 1 << 30, "larger than"},
		{"all files over the snapshot limit", 1 << 30, domains.Size(), "more than"},
		{"manifest over the per-file limit", 16, 1 << 30, ManifestFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func(f, s int64) { maxFileBytes, maxSnapshotBytes = f, s }(maxFileBytes, maxSnapshotBytes)
			maxFileBytes, maxSnapshotBytes = tc.perFile, tc.snapshot
			_, err := Load(clean)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Load(clean); err != nil {
		t.Errorf("with the default limits: %v", err)
	}
}
