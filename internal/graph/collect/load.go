package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Limits on what Load reads, so a hostile or damaged snapshot cannot fill
// memory. A real snapshot is far smaller: its largest files are the
// members of the break-glass and exclusion groups. Variables so tests can
// lower them.
var (
	maxFileBytes     int64 = 256 << 20 // one file, the manifest included
	maxSnapshotBytes int64 = 1 << 30   // every listed file together
)

// readFile reads a snapshot file: a regular file, not a symlink (which
// could point outside the snapshot, or at a device that never ends),
// directory or pipe, of at most maxFileBytes. budget is what the
// snapshot may still read; it is decreased.
func readFile(path string, budget *int64) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s); a snapshot holds plain files only", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Stat the opened file too: the path may have been swapped since.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s); a snapshot holds plain files only", path, fi.Mode().Type())
	}
	limit := min(maxFileBytes, *budget)
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		if limit < maxFileBytes {
			return nil, fmt.Errorf("%s: the snapshot's files together are more than %d bytes; it is not one collect wrote", path, maxSnapshotBytes)
		}
		return nil, fmt.Errorf("%s is larger than %d bytes; it is not one collect wrote", path, maxFileBytes)
	}
	*budget -= int64(len(data))
	return data, nil
}

// Snapshot is a collected snapshot read back for the offline audit.
type Snapshot struct {
	Dir      string
	Manifest Manifest
	// Datasets holds each dataset's file content as written: Graph's JSON,
	// by dataset name.
	Datasets map[string]json.RawMessage
}

// Load reads the snapshot in dir. Only the files the manifest lists are
// read, each a regular file within the size limits, and each must be
// intact: a snapshot that was edited or cut short
// is refused rather than audited as if the tenant had fewer objects.
func Load(dir string) (*Snapshot, error) {
	budget := maxSnapshotBytes
	data, err := readFile(filepath.Join(dir, ManifestFile), &budget)
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
		raw, err := readFile(filepath.Join(dir, d.File), &budget)
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
