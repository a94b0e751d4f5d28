package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

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

// Load fills the store, which must hold no data, in one write transaction
// (BEGIN IMMEDIATE: every other writer waits): fn adds every row through
// the store.Load it is given, and when fn returns nil Load continues every
// AUTOINCREMENT key after the keys copied (and store.Table.Next), checks
// the row counts and commits. Any error, fn's included, leaves the store as
// empty as it was. A store that holds data is refused with an error
// wrapping store.ErrNotEmpty that names the tables.
func (s *Store) Load(ctx context.Context, fn func(store.Load) error) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		l := &load{tx: tx, stmts: map[string]*sql.Stmt{}, inserted: map[string]int64{}, next: map[string]int64{}}
		defer l.close()
		if err := l.init(ctx); err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
		return l.finish(ctx)
	})
	if err != nil {
		return fmt.Errorf("sqlite %s: load: %w", s.path, err)
	}
	return nil
}

// liteColumn is one column as the load sees it.
type liteColumn struct {
	name    string
	typ     string // the declared type, upper case: TEXT, INTEGER, BLOB
	notNull bool
	pk      bool
}

type liteTable struct {
	name          string
	cols          []liteColumn
	refs          []string
	autoincrement bool
}

type load struct {
	tx       *sql.Tx
	version  int
	order    []*liteTable
	tables   map[string]*liteTable
	stmts    map[string]*sql.Stmt // by table and column list
	inserted map[string]int64
	next     map[string]int64
}

func (l *load) close() {
	for _, st := range l.stmts {
		st.Close()
	}
}

func (l *load) init(ctx context.Context) error {
	if err := l.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&l.version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	rows, err := l.tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	l.tables = map[string]*liteTable{}
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			rows.Close()
			return fmt.Errorf("list tables: %w", err)
		}
		if !notDumped[name] {
			l.tables[name] = &liteTable{name: name, autoincrement: strings.Contains(strings.ToUpper(text), "AUTOINCREMENT")}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, t := range l.tables {
		cols, err := l.tx.QueryContext(ctx, `SELECT name, upper(type), "notnull", pk > 0 FROM pragma_table_info(?) ORDER BY cid`, t.name)
		if err != nil {
			return fmt.Errorf("table %s: columns: %w", t.name, err)
		}
		for cols.Next() {
			var c liteColumn
			if err := cols.Scan(&c.name, &c.typ, &c.notNull, &c.pk); err != nil {
				cols.Close()
				return fmt.Errorf("table %s: columns: %w", t.name, err)
			}
			t.cols = append(t.cols, c)
		}
		cols.Close()
		if err := cols.Err(); err != nil {
			return fmt.Errorf("table %s: columns: %w", t.name, err)
		}
		refs, err := queryStringsTx(ctx, l.tx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t.name)
		if err != nil {
			return fmt.Errorf("table %s: references: %w", t.name, err)
		}
		for _, r := range refs {
			if r != t.name {
				t.refs = append(t.refs, r)
			}
		}
	}
	// Referenced tables first, by name among equals.
	done := map[string]bool{}
	for len(done) < len(l.tables) {
		var ready []string
		for name, t := range l.tables {
			if done[name] {
				continue
			}
			ok := true
			for _, r := range t.refs {
				if l.tables[r] != nil && !done[r] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, name)
			}
		}
		if len(ready) == 0 {
			return fmt.Errorf("the tables' references form a cycle")
		}
		slices.Sort(ready)
		for _, n := range ready {
			done[n] = true
			l.order = append(l.order, l.tables[n])
		}
	}
	var full []string
	for _, t := range l.order {
		var holds bool
		if err := l.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+quoteIdent(t.name)+`)`).Scan(&holds); err != nil {
			return fmt.Errorf("table %s: %w", t.name, err)
		}
		if holds {
			full = append(full, t.name)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s hold data", store.ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

func queryStringsTx(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
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

func (l *load) SchemaVersion() int { return l.version }

func (l *load) Tables() []store.Table {
	out := make([]store.Table, 0, len(l.order))
	for _, t := range l.order {
		st := store.Table{Name: t.name}
		for _, c := range t.cols {
			st.Columns = append(st.Columns, c.name)
		}
		out = append(out, st)
	}
	return out
}

// Derived implements store.Load: SQLite derives no table.
func (l *load) Derived() []string { return nil }

func (l *load) SetNext(table string, next int64) { l.next[table] = next }

func (l *load) Insert(ctx context.Context, table string, columns []string, row []any) error {
	t := l.tables[table]
	if t == nil {
		return fmt.Errorf("table %s: not a table this store fills from a copy", table)
	}
	if len(row) != len(columns) {
		return fmt.Errorf("table %s: %d values for %d columns", table, len(row), len(columns))
	}
	rowNum := l.inserted[table] + 1
	args := make([]any, len(row))
	quoted := make([]string, len(columns))
	for i, name := range columns {
		j := slices.IndexFunc(t.cols, func(c liteColumn) bool { return c.name == name })
		if j < 0 {
			return fmt.Errorf("table %s has no column %s", table, name)
		}
		v, err := liteValue(row[i], t.cols[j])
		if err != nil {
			return fmt.Errorf("table %s row %d column %s: %w", table, rowNum, name, err)
		}
		args[i], quoted[i] = v, quoteIdent(name)
	}
	key := table + "\x00" + strings.Join(columns, "\x00")
	st := l.stmts[key]
	if st == nil {
		var err error
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")
		st, err = l.tx.PrepareContext(ctx, `INSERT INTO `+quoteIdent(table)+` (`+strings.Join(quoted, ", ")+`) VALUES (`+marks+`)`)
		if err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		l.stmts[key] = st
	}
	if _, err := st.ExecContext(ctx, args...); err != nil {
		return fmt.Errorf("table %s row %d: %w", table, rowNum, err)
	}
	l.inserted[table]++
	return nil
}

// liteValue makes a dump value what the column holds, as the store writes
// it: TEXT as string, INTEGER as int64 (a boolean as 0 or 1), BLOB as
// []byte (empty, not NULL, for a zero-length one).
func liteValue(v any, c liteColumn) (any, error) {
	if v == nil {
		if c.notNull {
			return nil, fmt.Errorf("NULL in a NOT NULL column")
		}
		return nil, nil
	}
	switch c.typ {
	case "TEXT":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case time.Time:
			return x.UTC().Format(timeLayout), nil
		}
	case "BLOB":
		switch x := v.(type) {
		case []byte:
			if x == nil {
				x = []byte{}
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "INTEGER":
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	default:
		return nil, fmt.Errorf("column type %q is not one a copy knows", c.typ)
	}
	return nil, fmt.Errorf("a %T does not fit a %s column", v, c.typ)
}

// LogEntries implements store.Load: the evidence log as this transaction
// holds it.
func (l *load) LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := l.tx.QueryContext(ctx, `SELECT `+logColumns+` FROM evidence_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("evidence log after %d: %w", after, err)
	}
	defer rows.Close()
	var out []store.LogEntry
	for rows.Next() {
		e, err := scanLogEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("evidence log after %d: %w", after, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (l *load) finish(ctx context.Context) error {
	for _, t := range l.order {
		if t.autoincrement {
			key := ""
			for _, c := range t.cols {
				if c.pk && c.typ == "INTEGER" {
					key = c.name // AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY
				}
			}
			var top sql.NullInt64
			if key != "" {
				if err := l.tx.QueryRowContext(ctx, `SELECT MAX(`+quoteIdent(key)+`) FROM `+quoteIdent(t.name)).Scan(&top); err != nil {
					return fmt.Errorf("table %s: %w", t.name, err)
				}
			}
			if last := max(top.Int64, l.next[t.name]-1); last > 0 {
				if _, err := l.tx.ExecContext(ctx, `DELETE FROM sqlite_sequence WHERE name = ?`, t.name); err != nil {
					return fmt.Errorf("table %s: continue its key: %w", t.name, err)
				}
				if _, err := l.tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, t.name, last); err != nil {
					return fmt.Errorf("table %s: continue its key after %d: %w", t.name, last, err)
				}
			}
		}
		var n int64
		if err := l.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quoteIdent(t.name)).Scan(&n); err != nil {
			return fmt.Errorf("table %s: count: %w", t.name, err)
		}
		if n != l.inserted[t.name] {
			return fmt.Errorf("table %s holds %d rows after the copy, but %d were added", t.name, n, l.inserted[t.name])
		}
	}
	return nil
}
