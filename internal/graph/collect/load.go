package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Snapshot is a collected snapshot read back for the offline audit.
type Snapshot struct {
	Dir      string
	Manifest Manifest
	// Datasets holds each dataset's file content as written: Graph's JSON,
	// by dataset name.
	Datasets map[string]json.RawMessage
}

// Load reads the snapshot in dir. Only the files the manifest lists are
// read, and each must be intact: a snapshot that was edited or cut short
// is refused rather than audited as if the tenant had fewer objects.
func Load(dir string) (*Snapshot, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s: not a snapshot, or collection did not finish: %w", dir, ManifestFile, err)
		}
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	s := &Snapshot{Dir: dir, Datasets: map[string]json.RawMessage{}}
	if err := json.Unmarshal(data, &s.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if s.Manifest.Format != FormatVersion {
		return nil, fmt.Errorf("%s: snapshot format %d, this version reads format %d", dir, s.Manifest.Format, FormatVersion)
	}
	for _, d := range s.Manifest.Datasets {
		// The manifest names the files; keep a crafted one inside dir.
		if d.File != filepath.Base(d.File) || !filepath.IsLocal(d.File) || d.File == ManifestFile {
			return nil, fmt.Errorf("%s: dataset %s: file name %q is not a plain file in the snapshot", dir, d.Name, d.File)
		}
		if _, dup := s.Datasets[d.Name]; dup {
			return nil, fmt.Errorf("%s: dataset %s listed twice", dir, d.Name)
		}
		raw, err := os.ReadFile(filepath.Join(dir, d.File))
		if err != nil {
			return nil, fmt.Errorf("snapshot dataset %s: %w", d.Name, err)
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("%s: dataset %s: %s is not valid JSON", dir, d.Name, d.File)
		}
		if !d.Object {
			items, err := listItems(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: dataset %s: %w", dir, d.Name, err)
			}
			if len(items) != d.Count {
				return nil, fmt.Errorf("%s: dataset %s: %d items, the manifest says %d", dir, d.Name, len(items), d.Count)
			}
		}
		s.Datasets[d.Name] = raw
	}
	return s, nil
}

func listItems(raw json.RawMessage) ([]json.RawMessage, error) {
	var l struct {
		Value *[]json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("not a {\"value\":[...]} list: %w", err)
	}
	if l.Value == nil {
		return nil, errors.New(`not a {"value":[...]} list`)
	}
	return *l.Value, nil
}

// Items returns the items of a list dataset, as Graph sent them. ok is
// false when the dataset is not in the snapshot; look in Failed for why.
func (s *Snapshot) Items(name string) (items []json.RawMessage, ok bool, err error) {
	raw, ok := s.Datasets[name]
	if !ok {
		return nil, false, nil
	}
	items, err = listItems(raw)
	if err != nil {
		return nil, true, fmt.Errorf("dataset %s: %w", name, err)
	}
	return items, true, nil
}

// Keyed returns the datasets of a keyed family (DatasetAuthMethods,
// DatasetGroupMembers) by key: user or group id.
func (s *Snapshot) Keyed(family string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for name, raw := range s.Datasets {
		if key, ok := strings.CutPrefix(name, family+"."); ok {
			out[key] = raw
		}
	}
	return out
}

// Failure returns why a dataset is missing or partial: its own failure,
// or, for a member of a keyed family, the family's.
func (s *Snapshot) Failure(name string) (Failure, bool) {
	family, _, keyed := strings.Cut(name, ".")
	var famFailure *Failure
	for i, f := range s.Manifest.Failed {
		if f.Name == name {
			return f, true
		}
		if keyed && f.Name == family && famFailure == nil {
			famFailure = &s.Manifest.Failed[i]
		}
	}
	if famFailure != nil {
		if _, present := s.Datasets[name]; !present {
			return *famFailure, true
		}
	}
	return Failure{}, false
}
