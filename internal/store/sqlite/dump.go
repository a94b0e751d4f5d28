package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"breakglass/internal/store"
)

// notDumped are the tables a whole-store copy leaves out: the migration
// record (the target has its own, at the same version) and the heartbeat
// Writable rewrites (runtime only: the target writes its own).
var notDumped = map[string]bool{"schema_migrations": true, "heartbeat": true}

// Dump reads the whole store in one read transaction, so every table is as
// of one moment, and calls fn with it (breakglass store migrate). It
// returns an error wrapping store.ErrChanged when another connection wrote
// to the file meanwhile (a serve or scan still running on it): what fn
// copied is then not the store as it is, and fn's caller must not keep it.
// fn's error is returned as it is.
func (s *Store) Dump(ctx context.Context, fn func(store.Dump) error) error {
	c, err := s.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite %s: dump: %w", s.path, err)
	}
	defer c.Close()
	before, err := dataVersion(ctx, c)
	if err != nil {
		return fmt.Errorf("sqlite %s: dump: %w", s.path, err)
	}
	// A read transaction on one connection: in WAL mode every read in it
	// sees the snapshot its first read took.
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("sqlite %s: dump: begin: %w", s.path, err)
	}
	done := false
	defer func() {
		if !done {
			c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	d := &dump{c: c, path: s.path}
	if err := d.read(ctx); err != nil {
		return fmt.Errorf("sqlite %s: dump: %w", s.path, err)
	}
	if err := fn(d); err != nil {
		return err
	}
	done = true
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite %s: dump: end: %w", s.path, err)
	}
	after, err := dataVersion(ctx, c)
	if err != nil {
		return fmt.Errorf("sqlite %s: dump: %w", s.path, err)
	}
	if after != before {
		return fmt.Errorf("sqlite %s: %w: stop every serve and scan that uses it, then copy again", s.path, store.ErrChanged)
	}
	return nil
}

// dataVersion is SQLite's PRAGMA data_version, which changes on a
// connection when any other connection commits to the file.
func dataVersion(ctx context.Context, c *sql.Conn) (int64, error) {
	var v int64
	if err := c.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read data_version: %w", err)
	}
	return v, nil
}

type dump struct {
	c       *sql.Conn
	path    string
	version int
	tables  []store.Table
	keys    map[string][]string // primary key columns, for the row order
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (d *dump) read(ctx context.Context) error {
	if err := d.c.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&d.version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	names, err := queryStrings(ctx, d.c, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	next := map[string]int64{}
	rows, err := d.c.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`)
	if err != nil {
		return fmt.Errorf("read sqlite_sequence: %w", err)
	}
	for rows.Next() {
		var n string
		var seq int64
		if err := rows.Scan(&n, &seq); err != nil {
			rows.Close()
			return fmt.Errorf("read sqlite_sequence: %w", err)
		}
		next[n] = seq + 1
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sqlite_sequence: %w", err)
	}
	d.keys = map[string][]string{}
	for _, n := range names {
		if notDumped[n] {
			continue
		}
		t := store.Table{Name: n, Next: next[n]}
		cols, err := d.c.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, n)
		if err != nil {
			return fmt.Errorf("table %s: columns: %w", n, err)
		}
		pks := map[int]string{}
		for cols.Next() {
			var c string
			var pk int
			if err := cols.Scan(&c, &pk); err != nil {
				cols.Close()
				return fmt.Errorf("table %s: columns: %w", n, err)
			}
			t.Columns = append(t.Columns, c)
			if pk > 0 {
				pks[pk] = c
			}
		}
		cols.Close()
		if err := cols.Err(); err != nil {
			return fmt.Errorf("table %s: columns: %w", n, err)
		}
		for i := 1; i <= len(pks); i++ {
			d.keys[n] = append(d.keys[n], pks[i])
		}
		if err := d.c.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quoteIdent(n)).Scan(&t.Rows); err != nil {
			return fmt.Errorf("table %s: count: %w", n, err)
		}
		d.tables = append(d.tables, t)
	}
	return nil
}

func queryStrings(ctx context.Context, c *sql.Conn, q string, args ...any) ([]string, error) {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (d *dump) SchemaVersion() int    { return d.version }
func (d *dump) Tables() []store.Table { return append([]store.Table(nil), d.tables...) }
func (d *dump) table(name string) (store.Table, bool) {
	for _, t := range d.tables {
		if t.Name == name {
			return t, true
		}
	}
	return store.Table{}, false
}

// Rows implements store.Dump. Values come as SQLite holds them: NULL as
// nil, INTEGER as int64, TEXT as string, BLOB as []byte (a zero-length
// blob as an empty, non-nil one).
func (d *dump) Rows(ctx context.Context, table string, fn func(row []any) error) error {
	t, ok := d.table(table)
	if !ok {
		return fmt.Errorf("sqlite %s: dump: no table %q", d.path, table)
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c)
	}
	order := "rowid"
	if k := d.keys[table]; len(k) > 0 {
		q := make([]string, len(k))
		for i, c := range k {
			q[i] = quoteIdent(c)
		}
		order = strings.Join(q, ", ")
	}
	rows, err := d.c.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+quoteIdent(table)+` ORDER BY `+order)
	if err != nil {
		return fmt.Errorf("sqlite %s: dump %s: %w", d.path, table, err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := int64(0)
	for rows.Next() {
		n++
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("sqlite %s: dump %s row %d: %w", d.path, table, n, err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case nil, int64, string:
			case []byte:
				if x == nil {
					vals[i] = []byte{} // a zero-length blob, not NULL
				}
			default:
				return fmt.Errorf("sqlite %s: dump %s row %d: column %s holds %T, which no breakglass table stores", d.path, table, n, t.Columns[i], v)
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite %s: dump %s: %w", d.path, table, err)
	}
	return nil
}

// LogEntries implements store.Dump: the evidence log in the dump's
// snapshot.
func (d *dump) LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := d.c.QueryContext(ctx, `SELECT `+logColumns+` FROM evidence_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: dump: evidence log after %d: %w", d.path, after, err)
	}
	defer rows.Close()
	var out []store.LogEntry
	for rows.Next() {
		e, err := scanLogEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite %s: dump: evidence log after %d: %w", d.path, after, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
