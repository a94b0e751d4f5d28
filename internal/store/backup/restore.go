package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"breakglass/internal/evidence"
)

// RestoreResult is what Restore did.
type RestoreResult struct {
	Store string `json:"store"`
	From  string `json:"from"`
	// MovedAside is where the store that was replaced now is (its -wal
	// and -shm files beside it); empty when there was none.
	MovedAside string `json:"moved_aside,omitempty"`
	// Backup is the check of the backup before it was put in place;
	// Restored the check of the store after.
	Backup   Check `json:"backup"`
	Restored Check `json:"restored"`
	// Heads is what became of the published evidence heads (nil without
	// a heads file).
	Heads   *HeadsResult `json:"heads,omitempty"`
	Seconds float64      `json:"seconds"`
}

// HeadsResult: a heads file names heads the replaced store reached; those
// past the end of the backup's evidence log would make the restored log
// look truncated (it is: those entries are in the store moved aside). The
// whole file is moved aside with the store, and a new one keeps the heads
// the restored log holds, so each store verifies against its own heads.
type HeadsResult struct {
	File string `json:"file"`
	// MovedAside holds every head, next to the store moved aside.
	MovedAside string `json:"moved_aside"`
	// Kept heads are at or before the restored log's last entry; Past
	// are after it (entries written after the backup).
	Kept int `json:"kept"`
	Past int `json:"past"`
}

// asideSuffix names a store Restore moved aside.
const asideSuffix = ".before-restore-"

// sidecars are the files SQLite keeps beside a database in WAL mode; they
// belong to the database and move with it.
var sidecars = []string{"-wal", "-shm"}

// Restore puts the backup from in place of the SQLite store at storePath.
// It refuses, changing nothing, a backup that fails Verify (a newer
// schema than this binary's included) and a store in use (InUse). The
// store it replaces is moved aside, with its -wal and -shm files, to
// storePath.before-restore-<UTC time>, and kept; the restored store is
// checked again, and if that fails the old store is moved back.
// listen is serve's server.listen; "" skips that part of InUse.
// headsFile is evidence.heads_file ("" for none); see HeadsResult.
func Restore(ctx context.Context, storePath, from, listen, headsFile string, o Options) (_ RestoreResult, err error) {
	o.defaults()
	start := time.Now()
	res := RestoreResult{Store: storePath, From: from}
	if abs, err := filepath.Abs(storePath); err == nil {
		res.Store = abs
	}
	if abs, err := filepath.Abs(from); err == nil {
		res.From = abs
	}
	if res.Store == res.From {
		return res, fmt.Errorf("--from %s is the store itself", res.From)
	}
	o.Progress("checking the backup " + res.From + ": integrity, schema version, evidence chain")
	if res.Backup, err = Verify(ctx, res.From); err != nil {
		return res, fmt.Errorf("the backup cannot be restored, nothing was changed: %w", err)
	}
	o.Progress("checking that no breakglass is using " + res.Store)
	if err := InUse(ctx, res.Store, listen); err != nil {
		return res, err
	}

	tmp := res.Store + ".restore-tmp"
	o.Progress("copying the backup to " + tmp)
	if err := os.MkdirAll(filepath.Dir(res.Store), 0o700); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := copyFile(res.From, tmp); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()

	stamp := asideSuffix + o.Now().UTC().Format("20060102T150405Z")
	if headsFile != "" {
		if _, serr := os.Lstat(headsFile + stamp); serr == nil {
			return res, fmt.Errorf("%s: %w", headsFile+stamp, ErrExists)
		}
	}
	if _, serr := os.Lstat(res.Store); serr == nil {
		aside := res.Store + stamp
		if err := moveAside(res.Store, aside); err != nil {
			return res, err
		}
		res.MovedAside = aside
		o.Progress("moved the current store aside to " + aside)
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return res, fmt.Errorf("restore: %w", serr)
	}
	for _, s := range sidecars {
		// Left by a store that was deleted by hand: they would be
		// applied to the restored file.
		if _, serr := os.Lstat(res.Store + s); serr == nil {
			return res, fmt.Errorf("%s%s: %w: it belongs to no store; move it away and run restore again", res.Store, s, ErrExists)
		}
	}
	if err := os.Rename(tmp, res.Store); err != nil {
		return res, fmt.Errorf("restore: %w%s", err, rollback(res))
	}
	if err := syncDir(filepath.Dir(res.Store)); err != nil {
		return res, fmt.Errorf("restore: %w%s", err, rollback(res))
	}
	o.Progress("checking the restored store")
	if res.Restored, err = Verify(ctx, res.Store); err != nil {
		return res, fmt.Errorf("the restored store failed its check: %w%s", err, rollback(res))
	}
	if headsFile != "" {
		if res.Heads, err = splitHeads(headsFile, headsFile+stamp, res.Restored.Evidence.Last.Seq); err != nil {
			return res, fmt.Errorf("the store is restored, but the heads file could not be brought in line with it (evidence verify will say the log is truncated): %w", err)
		}
		if res.Heads != nil {
			o.Progress(fmt.Sprintf("heads file %s: kept the %d heads the restored log holds; all %d are in %s", headsFile, res.Heads.Kept, res.Heads.Kept+res.Heads.Past, res.Heads.MovedAside))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	o.Progress("restored " + res.Store + " from " + res.From)
	return res, nil
}

// moveAside renames a database and its sidecar files, the database last,
// so a crash in between leaves the store with its own WAL.
func moveAside(db, aside string) error {
	for _, s := range append(sidecars, "") {
		if _, err := os.Lstat(aside + s); err == nil {
			return fmt.Errorf("%s: %w", aside+s, ErrExists)
		}
	}
	for _, s := range append(sidecars, "") {
		err := os.Rename(db+s, aside+s)
		if err != nil && !(s != "" && errors.Is(err, fs.ErrNotExist)) {
			return fmt.Errorf("moving the current store aside: %w", err)
		}
	}
	return syncDir(filepath.Dir(db))
}

// rollback puts the store that was moved aside back, and says what it
// did, for the error of a restore that failed after the move.
func rollback(res RestoreResult) string {
	os.Remove(res.Store)
	if res.MovedAside == "" {
		return "; the restored file was removed"
	}
	for _, s := range append(sidecars, "") {
		if err := os.Rename(res.MovedAside+s, res.Store+s); err != nil && !(s != "" && errors.Is(err, fs.ErrNotExist)) {
			return fmt.Sprintf("; putting the old store back failed (%v): it is at %s, move it to %s by hand", err, res.MovedAside, res.Store)
		}
	}
	return "; the old store was put back"
}

// InUse reports, as an ErrInUse error saying what to do, whether a
// breakglass is using the store at storePath: serve answers on listen, or
// a process holds the database open (its WAL index lock, where the
// platform shows it).
func InUse(ctx context.Context, storePath, listen string) error {
	if listen != "" {
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(ctx, "tcp", listen); err == nil {
			c.Close()
			return fmt.Errorf("%w: something answers on server.listen %s, so serve is probably running on this store; stop it first (systemctl stop breakglass), then run restore again", ErrInUse, listen)
		}
	}
	open, err := heldOpen(storePath)
	if err != nil {
		return fmt.Errorf("checking whether %s is in use: %w", storePath, err)
	}
	if open {
		return fmt.Errorf("%w: a process has %s open (serve, or another breakglass command); stop it first, then run restore again", ErrInUse, storePath)
	}
	return nil
}

// splitHeads moves the heads file aside and writes a new one with the
// lines whose head is at or before lastSeq. A line that is not a head is
// kept: evidence verify names it.
func splitHeads(file, aside string, lastSeq int64) (*HeadsResult, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	hr := &HeadsResult{File: file, MovedAside: aside}
	var keep []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if h, err := evidence.ParseHead(bytes.TrimSpace(line)); err == nil && h.Seq > lastSeq {
			hr.Past++
			continue
		}
		if line[len(line)-1] != '\n' {
			line = append(line, '\n')
		}
		keep = append(keep, line...)
		hr.Kept++
	}
	if err := os.Rename(file, aside); err != nil {
		return nil, err
	}
	tmp := file + ".restore-tmp"
	if err := os.WriteFile(tmp, keep, 0o644); err != nil {
		return nil, err
	}
	if err := syncFile(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return nil, err
	}
	return hr, syncDir(filepath.Dir(file))
}
