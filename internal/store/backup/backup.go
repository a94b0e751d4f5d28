// Package backup makes a consistent copy of the SQLite store while the
// daemon keeps writing to it (VACUUM INTO on a connection of its own),
// checks a copy before anyone relies on it (integrity, schema version,
// evidence chain), and puts a copy back in place of the store, keeping the
// store it replaces. The store is the record of what was notified and the
// evidence reviews need, so nothing here reports success for a copy that
// was not checked, and nothing is overwritten or deleted.
//
// PostgreSQL is backed up with its own tools (pg_dump, pg_restore); this
// package only says how (PostgresGuidance).
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// Check is what Verify found in one database file.
type Check struct {
	Path string `json:"path"`
	// Bytes is the file's size.
	Bytes int64 `json:"bytes"`
	// Schema is the newest migration the file records; Known is the
	// newest this binary has.
	Schema int `json:"schema_version"`
	Known  int `json:"binary_schema_version"`
	// Integrity is "ok", or the first problems integrity_check found.
	Integrity string          `json:"integrity"`
	Counts    sqlite.Counts   `json:"counts"`
	Evidence  evidence.Result `json:"evidence"`
}

// ErrNotAStore is wrapped by Verify's error for an SQLite file that is not
// a breakglass store (it records no migrations).
var ErrNotAStore = errors.New("not a breakglass store")

// ErrExists is wrapped when a file Backup or Restore would create is there
// already: nothing is overwritten.
var ErrExists = errors.New("file exists")

// ErrInUse is wrapped by Restore's error when a process has the store
// open, or serve answers on its listen address.
var ErrInUse = errors.New("store in use")

// Verify opens the database file at path read-only and checks, in order:
// that it is SQLite and sound (PRAGMA integrity_check), that it is a
// breakglass store this binary can open (its schema is not newer), and
// that its evidence chain verifies. The error names the first problem and
// what to do; the Check holds what was found up to it.
func Verify(ctx context.Context, path string) (Check, error) {
	c := Check{Path: path, Known: sqlite.LatestSchemaVersion()}
	if abs, err := filepath.Abs(path); err == nil {
		c.Path = abs
	}
	snap, err := sqlite.OpenSnapshot(ctx, c.Path)
	if err != nil {
		return c, err
	}
	defer snap.Close()
	if fi, err := os.Stat(c.Path); err == nil {
		c.Bytes = fi.Size()
	}
	problems, err := snap.IntegrityCheck(ctx)
	if err != nil {
		return c, err
	}
	if len(problems) > 0 {
		c.Integrity = strings.Join(problems, "; ")
		return c, fmt.Errorf("%s: %w: integrity check found: %s", c.Path, store.ErrCorrupt, c.Integrity)
	}
	c.Integrity = "ok"
	ok, err := snap.HasSchema(ctx)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, fmt.Errorf("%s: %w: it records no schema migrations (is it the right file?)", c.Path, ErrNotAStore)
	}
	if c.Schema, err = snap.SchemaVersion(ctx); err != nil {
		return c, err
	}
	if c.Schema > c.Known {
		return c, fmt.Errorf("%s: %w", c.Path, &sqlite.SchemaTooNewError{Database: c.Schema, Known: c.Known})
	}
	if c.Counts, err = snap.Counts(ctx); err != nil {
		return c, err
	}
	if c.Evidence, err = evidence.Verify(ctx, snap, nil); err != nil {
		return c, err
	}
	if b := c.Evidence.Break; b != nil {
		return c, fmt.Errorf("%s: %w", c.Path, b)
	}
	return c, nil
}

// Options are Backup's and Restore's hooks.
type Options struct {
	// Progress receives one line per step (default: discarded).
	Progress func(string)
	// Now stamps the name of the store Restore moves aside (default
	// time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Result is what Backup wrote.
type Result struct {
	Store   string  `json:"store"`
	Out     string  `json:"out"`
	Check   Check   `json:"check"`
	Seconds float64 `json:"seconds"`
}

// Backup writes a consistent copy of the SQLite store at storePath to out
// while the store stays in use: the copy goes to out.tmp (mode 0600),
// is synced and checked (Verify), and only then renamed to out. It never
// overwrites out; a failed backup leaves no out and no out.tmp.
func Backup(ctx context.Context, storePath, out string, o Options) (_ Result, err error) {
	o.defaults()
	start := time.Now()
	res := Result{Store: storePath, Out: out}
	if abs, err := filepath.Abs(storePath); err == nil {
		res.Store = abs
	}
	if abs, err := filepath.Abs(out); err == nil {
		res.Out = abs
	}
	if _, err := os.Lstat(res.Out); err == nil {
		return res, fmt.Errorf("%s: %w: choose another name, or move the old backup away first", res.Out, ErrExists)
	}
	tmp := res.Out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return res, fmt.Errorf("%s: %w: another backup is writing it, or one was interrupted; delete it if none is running", tmp, ErrExists)
	}
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	o.Progress(fmt.Sprintf("copying %s to %s (a consistent snapshot; the daemon keeps running)", res.Store, tmp))
	if err := sqlite.VacuumInto(ctx, res.Store, tmp); err != nil {
		return res, err
	}
	if err := syncFile(tmp); err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	o.Progress("checking the copy: integrity, schema version, evidence chain")
	if res.Check, err = Verify(ctx, tmp); err != nil {
		return res, fmt.Errorf("the copy failed its check, so no backup was written (check the store itself: breakglass evidence verify): %w", err)
	}
	if err := placeNew(tmp, res.Out); err != nil {
		return res, err
	}
	res.Check.Path = res.Out
	o.Progress("written " + res.Out)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// placeNew renames tmp to dst without replacing a dst that appeared
// meanwhile, and syncs the directory so the name survives a crash.
func placeNew(tmp, dst string) error {
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w: it appeared while the backup ran; nothing was overwritten", dst, ErrExists)
		}
		// No hard links here: rename, having checked just before.
		if _, serr := os.Lstat(dst); serr == nil {
			return fmt.Errorf("%s: %w", dst, ErrExists)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	} else if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// copyFile copies src to a new file dst (mode 0600), synced.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w: an interrupted restore left it; delete it", dst, ErrExists)
	}
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
