package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"breakglass/internal/store"
)

// Whole-store copies (breakglass store migrate): Load fills an empty
// database from another store's dump in one transaction; Dump reads this
// one in one snapshot.

// notCopied are the tables a copy neither reads nor fills: the migration
// record (each side has its own, at the same version) and the heartbeat
// (runtime only; Open writes it, so it is never empty).
var notCopied = map[string]bool{"schema_migrations": true, "heartbeat": true}

// derived are the tables filled from others, which SQLite has no twin of:
// alert_labels holds the pairs of alerts.labels (see 0003).
var derived = []string{"alert_labels"}

// column is one column of a table as the copy sees it.
type column struct {
	name     string
	typ      string // information_schema data_type: text, bigint, integer, boolean, bytea
	nullable bool
	identity bool
}

type pgTable struct {
	name string
	cols []column
	refs []string // tables its foreign keys point at
}

// schemaTables reads the tables of the connection's schema.
func schemaTables(ctx context.Context, c conn) (map[string]*pgTable, error) {
	rows, err := c.query(ctx, `SELECT table_name, column_name, data_type, is_nullable = 'YES', is_identity = 'YES'
		FROM information_schema.columns
		WHERE table_schema = current_schema()
		  AND table_name IN (SELECT table_name FROM information_schema.tables
		                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables := map[string]*pgTable{}
	for rows.Next() {
		var t string
		var col column
		if err := scan(rows, &t, &col.name, &col.typ, &col.nullable, &col.identity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if notCopied[t] {
			continue
		}
		if tables[t] == nil {
			tables[t] = &pgTable{name: t}
		}
		tables[t].cols = append(tables[t].cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	fks, err := c.query(ctx, `SELECT t.relname, r.relname
		FROM pg_constraint k
		JOIN pg_class t ON t.oid = k.conrelid
		JOIN pg_class r ON r.oid = k.confrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE k.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("list references: %w", err)
	}
	defer fks.Close()
	for fks.Next() {
		var from, to string
		if err := scan(fks, &from, &to); err != nil {
			return nil, fmt.Errorf("list references: %w", err)
		}
		if t := tables[from]; t != nil && from != to {
			t.refs = append(t.refs, to)
		}
	}
	return tables, fks.Err()
}

// loadOrder sorts tables so each comes after the tables it references,
// by name among equals.
func loadOrder(tables map[string]*pgTable) ([]*pgTable, error) {
	var out []*pgTable
	done := map[string]bool{}
	for len(done) < len(tables) {
		var ready []*pgTable
		for _, t := range tables {
			if done[t.name] {
				continue
			}
			ok := true
			for _, r := range t.refs {
				if tables[r] != nil && !done[r] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, t)
			}
		}
		if len(ready) == 0 {
			return nil, fmt.Errorf("the tables' references form a cycle")
		}
		slices.SortFunc(ready, func(a, b *pgTable) int { return cmp.Compare(a.name, b.name) })
		for _, t := range ready {
			done[t.name] = true
		}
		out = append(out, ready...)
	}
	return out, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Load fills the database, which must hold no data, in one transaction:
// fn adds every row through the store.Load it is given, and when fn
// returns nil Load derives alert_labels from the alerts, continues every
// identity column after the keys copied (and store.Table.Next), checks the
// row counts and commits. Any error, fn's included, leaves the database as
// empty as it was. Every table is locked against writes meanwhile, so a
// serve started on the database waits rather than writing into the copy.
// A database that holds data is refused with an error wrapping
// store.ErrNotEmpty that names the tables.
func (s *Store) Load(ctx context.Context, fn func(store.Load) error) error {
	err := s.tx(ctx, nil, func(c conn) error {
		l := &load{c: c, pending: map[string]*batch{}, inserted: map[string]int64{}, next: map[string]int64{}}
		if err := l.init(ctx); err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
		return l.finish(ctx)
	})
	if err != nil {
		return fmt.Errorf("postgres: load: %w", describe(err))
	}
	return nil
}

type load struct {
	c        conn
	version  int
	order    []*pgTable
	tables   map[string]*pgTable
	pending  map[string]*batch
	inserted map[string]int64
	next     map[string]int64
	labels   []labelRow
	current  string // the table Insert last added to
}

type labelRow struct{ alert, key, value string }

// batch is rows of one table with one column list, inserted together.
type batch struct {
	cols []column
	args []any
	rows int
}

func (l *load) init(ctx context.Context) error {
	var err error
	if l.version, err = schemaVersion(ctx, l.c.q); err != nil {
		return err
	}
	if l.tables, err = schemaTables(ctx, l.c); err != nil {
		return err
	}
	if l.order, err = loadOrder(l.tables); err != nil {
		return err
	}
	names := make([]string, len(l.order))
	for i, t := range l.order {
		names[i] = quoteIdent(t.name)
	}
	// EXCLUSIVE allows reads only: no one writes into the copy, and a
	// check for emptiness cannot be overtaken by a write.
	if _, err := l.c.exec(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock the tables: %w", err)
	}
	var full []string
	for _, t := range l.order {
		var holds bool
		if err := l.c.row(ctx, `SELECT EXISTS (SELECT 1 FROM `+quoteIdent(t.name)+`)`).Scan(&holds); err != nil {
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

func (l *load) SchemaVersion() int { return l.version }

func (l *load) Tables() []store.Table {
	out := make([]store.Table, 0, len(l.order))
	for _, t := range l.order {
		if slices.Contains(derived, t.name) {
			continue
		}
		st := store.Table{Name: t.name}
		for _, c := range t.cols {
			st.Columns = append(st.Columns, c.name)
		}
		out = append(out, st)
	}
	return out
}

func (l *load) Derived() []string { return slices.Clone(derived) }

func (l *load) SetNext(table string, next int64) { l.next[table] = next }

// maxParams keeps a batch under PostgreSQL's 65535 parameters a statement.
const maxParams = 30000

func (l *load) Insert(ctx context.Context, table string, columns []string, row []any) error {
	t := l.tables[table]
	if t == nil || slices.Contains(derived, table) {
		return fmt.Errorf("table %s: not a table this store fills from a copy", table)
	}
	if len(row) != len(columns) {
		return fmt.Errorf("table %s: %d values for %d columns", table, len(row), len(columns))
	}
	if table != l.current {
		// Rows of the table before must be in before this one's: its
		// references may point at them.
		for name := range l.pending {
			if err := l.flush(ctx, name); err != nil {
				return err
			}
		}
		if err := l.flushLabels(ctx); err != nil {
			return err
		}
		l.current = table
	}
	b := l.pending[table]
	if b == nil || !sameColumns(b.cols, columns) {
		if err := l.flush(ctx, table); err != nil {
			return err
		}
		b = &batch{}
		for _, name := range columns {
			i := slices.IndexFunc(t.cols, func(c column) bool { return c.name == name })
			if i < 0 {
				return fmt.Errorf("table %s has no column %s", table, name)
			}
			b.cols = append(b.cols, t.cols[i])
		}
		l.pending[table] = b
	}
	rowNum := l.inserted[table] + int64(b.rows) + 1
	for i, v := range row {
		cv, err := convert(v, b.cols[i])
		if err != nil {
			return fmt.Errorf("table %s row %d column %s: %w", table, rowNum, b.cols[i].name, err)
		}
		b.args = append(b.args, cv)
	}
	b.rows++
	if table == "alerts" {
		if err := l.collectLabels(columns, row, rowNum); err != nil {
			return err
		}
	}
	if len(b.args)+len(b.cols) > maxParams {
		return l.flush(ctx, table)
	}
	return nil
}

func sameColumns(cols []column, names []string) bool {
	return slices.EqualFunc(cols, names, func(c column, n string) bool { return c.name == n })
}

// convert makes a dump value what the column takes. Text is passed as a
// string, which conn escapes like every other (text.go).
func convert(v any, c column) (any, error) {
	if v == nil {
		if !c.nullable {
			return nil, fmt.Errorf("NULL in a NOT NULL column")
		}
		return nil, nil
	}
	switch c.typ {
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case "bytea":
		switch x := v.(type) {
		case []byte:
			if x == nil {
				x = []byte{} // empty, which bytea keeps apart from NULL
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
			return nil, fmt.Errorf("%d is not a boolean (0 or 1)", x)
		}
	case "timestamp with time zone":
		// Times travel as the fixed-width text both backends store
		// elsewhere (timeLayout); timestamptz keeps microseconds.
		switch x := v.(type) {
		case time.Time:
			return x, nil
		case string:
			t, err := time.Parse(timeLayout, x)
			if err != nil {
				if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
					return nil, fmt.Errorf("%q is not a time", x)
				}
			}
			return t, nil
		}
	default:
		return nil, fmt.Errorf("column type %s is not one a copy knows", c.typ)
	}
	return nil, fmt.Errorf("a %T does not fit a %s column", v, c.typ)
}

// collectLabels keeps an alert's label pairs for alert_labels.
func (l *load) collectLabels(columns []string, row []any, rowNum int64) error {
	id, labels := -1, -1
	for i, c := range columns {
		switch c {
		case "id":
			id = i
		case "labels":
			labels = i
		}
	}
	if id < 0 || labels < 0 || row[labels] == nil {
		return nil
	}
	alertID, _ := row[id].(string)
	var raw []byte
	switch x := row[labels].(type) {
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("table alerts row %d (alert %q): labels: %w", rowNum, alertID, err)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		l.labels = append(l.labels, labelRow{alertID, k, m[k]})
	}
	return nil
}

func (l *load) flush(ctx context.Context, table string) error {
	b := l.pending[table]
	if b == nil || b.rows == 0 {
		return nil
	}
	names := make([]string, len(b.cols))
	identity := false
	for i, c := range b.cols {
		names[i] = quoteIdent(c.name)
		identity = identity || c.identity
	}
	var q strings.Builder
	fmt.Fprintf(&q, "INSERT INTO %s (%s) ", quoteIdent(table), strings.Join(names, ", "))
	if identity {
		q.WriteString("OVERRIDING SYSTEM VALUE ")
	}
	q.WriteString("VALUES ")
	p := 0
	for r := 0; r < b.rows; r++ {
		if r > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for i := range b.cols {
			if i > 0 {
				q.WriteString(", ")
			}
			p++
			fmt.Fprintf(&q, "$%d", p)
		}
		q.WriteByte(')')
	}
	if _, err := l.c.exec(ctx, q.String(), b.args...); err != nil {
		return fmt.Errorf("table %s, rows %d to %d: %w", table, l.inserted[table]+1, l.inserted[table]+int64(b.rows), err)
	}
	l.inserted[table] += int64(b.rows)
	b.args, b.rows = b.args[:0], 0
	return nil
}

// flushLabels adds the label pairs of the alerts inserted so far.
func (l *load) flushLabels(ctx context.Context) error {
	for len(l.labels) > 0 {
		n := min(len(l.labels), 10000)
		var a, k, v []string
		for _, r := range l.labels[:n] {
			a, k, v = append(a, r.alert), append(k, r.key), append(v, r.value)
		}
		if _, err := l.c.exec(ctx, insertLabelsSQL, a, k, v); err != nil {
			return fmt.Errorf("alert_labels: %w", err)
		}
		l.inserted["alert_labels"] += int64(n)
		l.labels = l.labels[n:]
	}
	l.labels = nil
	return nil
}

func (l *load) finish(ctx context.Context) error {
	for _, t := range l.order {
		if err := l.flush(ctx, t.name); err != nil {
			return err
		}
	}
	if err := l.flushLabels(ctx); err != nil {
		return err
	}
	for _, t := range l.order {
		for _, c := range t.cols {
			if !c.identity {
				continue
			}
			var top sql.NullInt64
			if err := l.c.row(ctx, `SELECT MAX(`+quoteIdent(c.name)+`) FROM `+quoteIdent(t.name)).Scan(&top); err != nil {
				return fmt.Errorf("table %s: %w", t.name, err)
			}
			last := max(top.Int64, l.next[t.name]-1)
			if last < 1 {
				continue // untouched: the identity starts at 1
			}
			if _, err := l.c.exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3)`, quoteIdent(t.name), c.name, last); err != nil {
				return fmt.Errorf("table %s: continue %s after %d: %w", t.name, c.name, last, err)
			}
		}
		var n int64
		if err := l.c.row(ctx, `SELECT COUNT(*) FROM `+quoteIdent(t.name)).Scan(&n); err != nil {
			return fmt.Errorf("table %s: count: %w", t.name, err)
		}
		if n != l.inserted[t.name] {
			return fmt.Errorf("table %s holds %d rows after the copy, but %d were added", t.name, n, l.inserted[t.name])
		}
	}
	return nil
}

// Dump reads the whole database in one read-only snapshot (REPEATABLE
// READ) and calls fn with it; fn's error is returned as it is. Text comes
// unescaped, as the store reads it.
func (s *Store) Dump(ctx context.Context, fn func(store.Dump) error) error {
	var fnErr error
	var counted []store.Table
	err := s.tx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, func(c conn) error {
		d := &pgDump{c: c}
		var err error
		if d.version, err = schemaVersion(ctx, c.q); err != nil {
			return err
		}
		if d.tables, err = schemaTables(ctx, c); err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(d.tables)) {
			if slices.Contains(derived, name) {
				continue
			}
			t := d.tables[name]
			st := store.Table{Name: name}
			for _, col := range t.cols {
				st.Columns = append(st.Columns, col.name)
				if col.identity {
					next, err := identityNext(ctx, c, name, col.name)
					if err != nil {
						return fmt.Errorf("table %s: %w", name, err)
					}
					st.Next = next
				}
			}
			if err := c.row(ctx, `SELECT COUNT(*) FROM `+quoteIdent(name)).Scan(&st.Rows); err != nil {
				return fmt.Errorf("table %s: count: %w", name, err)
			}
			d.list = append(d.list, st)
		}
		counted = d.list
		if err := fn(d); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("postgres: dump: %w", describe(err))
	}
	// A snapshot does not say whether others wrote meanwhile; rows added
	// or removed since do (a serve still running stores alerts, appends
	// to the evidence log). Updates in place are not seen: stop serve.
	for _, t := range counted {
		var n int64
		if err := s.read().row(ctx, `SELECT COUNT(*) FROM `+quoteIdent(t.Name)).Scan(&n); err != nil {
			return fmt.Errorf("postgres: dump: recount %s: %w", t.Name, describe(err))
		}
		if n != t.Rows {
			return fmt.Errorf("postgres: %w (table %s: %d rows, %d when the copy began): stop every serve and scan that uses it, then copy again", store.ErrChanged, t.Name, n, t.Rows)
		}
	}
	return nil
}

// identityNext is the value an identity column gives next (0: none yet).
func identityNext(ctx context.Context, c conn, table, col string) (int64, error) {
	var seq sql.NullString
	if err := c.row(ctx, `SELECT pg_get_serial_sequence($1, $2)`, quoteIdent(table), col).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sequence of %s: %w", col, err)
	}
	if !seq.Valid {
		return 0, nil
	}
	var last int64
	var called bool
	// seq is the sequence's name as PostgreSQL quotes it.
	if err := c.row(ctx, `SELECT last_value, is_called FROM `+seq.String).Scan(&last, &called); err != nil {
		return 0, fmt.Errorf("sequence of %s: %w", col, err)
	}
	if !called {
		return 0, nil
	}
	return last + 1, nil
}

type pgDump struct {
	c       conn
	version int
	tables  map[string]*pgTable
	list    []store.Table
}

func (d *pgDump) SchemaVersion() int    { return d.version }
func (d *pgDump) Tables() []store.Table { return slices.Clone(d.list) }

// Rows implements store.Dump: text as string (unescaped), bytea as []byte,
// integers as int64, booleans as bool, timestamptz as fixed-width UTC text
// (timeLayout), the form SQLite keeps. Rows come in the order of every
// column, which for these tables starts with the primary key.
func (d *pgDump) Rows(ctx context.Context, table string, fn func(row []any) error) error {
	t := d.tables[table]
	if t == nil || slices.Contains(derived, table) {
		return fmt.Errorf("postgres: dump: no table %q", table)
	}
	names := make([]string, len(t.cols))
	order := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = quoteIdent(c.name)
		order[i] = fmt.Sprint(i + 1)
	}
	rows, err := d.c.query(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+quoteIdent(table)+` ORDER BY `+strings.Join(order, ", "))
	if err != nil {
		return fmt.Errorf("postgres: dump %s: %w", table, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range ptrs {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		n++
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("postgres: dump %s row %d: %w", table, n, err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case nil, int64, bool:
			case int32:
				vals[i] = int64(x)
			case time.Time:
				vals[i] = x.UTC().Format(timeLayout) // as SQLite keeps times
			case string:
				if t.cols[i].typ == "bytea" {
					vals[i] = []byte(x)
					break
				}
				u, err := unescapeText(x)
				if err != nil {
					return fmt.Errorf("postgres: dump %s row %d column %s: %w", table, n, t.cols[i].name, err)
				}
				vals[i] = u
			case []byte:
				if t.cols[i].typ != "bytea" {
					u, err := unescapeText(string(x))
					if err != nil {
						return fmt.Errorf("postgres: dump %s row %d column %s: %w", table, n, t.cols[i].name, err)
					}
					vals[i] = u
				} else if x == nil {
					vals[i] = []byte{}
				}
			default:
				return fmt.Errorf("postgres: dump %s row %d: column %s holds %T, which no breakglass table stores", table, n, t.cols[i].name, v)
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: dump %s: %w", table, err)
	}
	return nil
}

// queryLogOn is the evidence log read of LogEntries on c.
func queryLogOn(ctx context.Context, c conn, after int64, limit int) ([]store.LogEntry, error) {
	if limit <= 0 || limit > maxLogPage {
		limit = maxLogPage
	}
	rows, err := c.query(ctx, `SELECT `+logColumns+` FROM evidence_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
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

// LogEntries implements store.Load: the evidence log as this transaction
// holds it, its buffered rows flushed first.
func (l *load) LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error) {
	if err := l.flush(ctx, "evidence_log"); err != nil {
		return nil, err
	}
	return queryLogOn(ctx, l.c, after, limit)
}

// LogEntries implements store.Dump: the evidence log in the snapshot.
func (d *pgDump) LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error) {
	return queryLogOn(ctx, d.c, after, limit)
}
