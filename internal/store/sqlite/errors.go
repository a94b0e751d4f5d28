package sqlite

import (
	"errors"
	"fmt"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"breakglass/internal/store"
)

// causeError carries a store cause (store.ErrReadOnly, ...) beside the
// driver's error, so errors.Is finds the cause and the text keeps SQLite's
// own words.
type causeError struct {
	cause error
	hint  string
	err   error
}

func (e *causeError) Error() string {
	if e.hint == "" {
		return fmt.Sprintf("%v: %v", e.cause, e.err)
	}
	return fmt.Sprintf("%v (%s): %v", e.cause, e.hint, e.err)
}

func (e *causeError) Unwrap() []error { return []error{e.cause, e.err} }

// describe names the cause of a SQLite failure that means the database
// cannot take writes; other errors come back unchanged.
func describe(err error) error {
	var se *sqlitedrv.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	var ce *causeError
	if errors.As(err, &ce) {
		return err
	}
	switch se.Code() & 0xff { // primary code; extended codes add detail above the low byte
	case sqlite3.SQLITE_READONLY:
		return &causeError{store.ErrReadOnly, "check the file's permissions and that its filesystem is mounted read-write", err}
	case sqlite3.SQLITE_FULL:
		return &causeError{store.ErrFull, "free disk space, or raise PRAGMA max_page_count if it is set", err}
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return &causeError{store.ErrCorrupt, corruptHint, err}
	}
	return err
}

const corruptHint = "restore the database from a backup, or move it aside to start a fresh one knowingly " +
	"(losing checkpoints, so inputs are read again, and the record of what was notified, so alerts are sent again)"
