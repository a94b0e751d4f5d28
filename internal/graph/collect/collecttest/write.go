package collecttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"breakglass/internal/graph/collect"
)

// WriteSnapshot writes s into dir as collect would (a file per dataset,
// manifest.json last), so that a synthetic tenant can be audited from
// disk: breakglass audit --snapshot dir.
func WriteSnapshot(dir string, s *collect.Snapshot) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("collecttest: %w", err)
	}
	for _, d := range s.Manifest.Datasets {
		if d.File != filepath.Base(d.File) || !filepath.IsLocal(d.File) {
			return fmt.Errorf("collecttest: dataset %s: file %q is not a plain file name", d.Name, d.File)
		}
		if err := os.WriteFile(filepath.Join(dir, d.File), s.Datasets[d.Name], 0o644); err != nil {
			return fmt.Errorf("collecttest: %w", err)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.Manifest); err != nil {
		return fmt.Errorf("collecttest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, collect.ManifestFile), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("collecttest: %w", err)
	}
	return nil
}
