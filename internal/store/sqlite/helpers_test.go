package sqlite_test

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
)

// rawDB opens path directly, bypassing Store, to inspect or damage the file
// the way an operator with the sqlite3 shell could.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}
