package collect

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"breakglass/internal/graph"
)

// writeList writes {"value":[...]} with the items byte for byte as Graph
// sent them, one per line so that snapshots diff well.
func (c *collector) writeList(name, endpoint string, v graph.Version, items []json.RawMessage) bool {
	var b bytes.Buffer
	b.WriteString(`{"value":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		b.Write(it)
	}
	b.WriteString("\n]}\n")
	if !c.write(name, b.Bytes()) {
		return false
	}
	c.addDataset(Dataset{Name: name, File: fileOf(name), Endpoint: endpoint, Version: v, Count: len(items)})
	return true
}

func (c *collector) write(name string, data []byte) bool {
	if !json.Valid(data) {
		c.abort(fmt.Errorf("collect: %s: Graph returned invalid JSON", name))
		return false
	}
	if err := c.out.put(name, data); err != nil {
		c.abort(fmt.Errorf("collect: writing %s: %w", name, err))
		return false
	}
	return true
}

// fileOf maps a dataset name to its file. Keys come from Graph; anything
// but the characters of object ids is replaced, so no key can reach
// outside the snapshot directory.
func fileOf(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' && i > 0) {
			b[i] = '_'
		}
	}
	return string(b) + ".json"
}

// finish fills the manifest in a stable order, so that two snapshots of an
// unchanged tenant have identical manifests but for the time.
func (c *collector) finish(m *Manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.orgTenant != "" {
		m.TenantID = c.orgTenant
	}
	m.Datasets = slices.SortedFunc(slices.Values(c.datasets), func(a, b Dataset) int { return strings.Compare(a.Name, b.Name) })
	written := map[string]bool{}
	for _, d := range c.datasets {
		written[d.Name] = true
		if i := strings.IndexByte(d.Name, '.'); i > 0 {
			written[d.Name[:i]] = true // a family with at least one member written
		}
	}
	m.Failed = slices.Clone(c.failed)
	for i := range m.Failed {
		m.Failed[i].Partial = m.Failed[i].Partial || written[m.Failed[i].Name]
	}
	slices.SortFunc(m.Failed, func(a, b Failure) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Field, b.Field), cmp.Compare(a.Status, b.Status), strings.Compare(a.Code, b.Code))
	})
	slices.SortStableFunc(c.unres, func(a, b seqUnresolved) int { return a.compare(b.seq) })
	m.Unresolved = []Unresolved{}
	for _, u := range c.unres {
		m.Unresolved = append(m.Unresolved, u.Unresolved)
	}
	slices.SortStableFunc(c.resolved, func(a, b seqResolved) int { return a.compare(b.seq) })
	m.Accounts = []Resolved{}
	for _, r := range c.resolved {
		m.Accounts = append(m.Accounts, r.Resolved)
	}
	m.Privileged = append([]string{}, c.privileged...)
	if m.Datasets == nil {
		m.Datasets = []Dataset{}
	}
	if m.Failed == nil {
		m.Failed = []Failure{}
	}
}

// sink receives a run's dataset files: a directory for Collect, memory
// for CollectSnapshot. Everything else about a run is the same.
type sink interface {
	put(name string, data []byte) error
}

// dirSink writes each dataset to <dir>/<file>.
type dirSink string

func (d dirSink) put(name string, data []byte) error {
	return os.WriteFile(filepath.Join(string(d), fileOf(name)), data, 0o644)
}

// memSink keeps each dataset by name.
type memSink struct {
	mu   sync.Mutex
	data map[string]json.RawMessage
}

func (m *memSink) put(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[name] = data
	return nil
}

func encodeManifest(m *Manifest) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // endpoints hold '&', and people read this file
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("collect: encoding the manifest: %w", err)
	}
	return b.Bytes(), nil
}

func writeManifest(dir string, m *Manifest) error {
	data, err := encodeManifest(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".manifest.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("collect: writing the manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("collect: writing the manifest: %w", err)
	}
	return nil
}

// readPreviousFiles lists the dataset files of a snapshot already in dir,
// so that those the new one no longer has can be removed after it is
// written. Files not listed there are never touched.
func readPreviousFiles(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil
	}
	var m Manifest
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var files []string
	for _, d := range m.Datasets {
		if d.File == filepath.Base(d.File) && filepath.IsLocal(d.File) && strings.HasSuffix(d.File, ".json") && d.File != ManifestFile {
			files = append(files, d.File)
		}
	}
	return files
}

func removeStale(dir string, previous []string, m *Manifest) {
	current := map[string]bool{}
	for _, d := range m.Datasets {
		current[d.File] = true
	}
	for _, f := range previous {
		if !current[f] {
			_ = os.Remove(filepath.Join(dir, f)) // best effort: Load ignores unlisted files anyway
		}
	}
}
