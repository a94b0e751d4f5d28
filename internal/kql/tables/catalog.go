package tables

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/kql/value"
	"breakglass/internal/scan"
)

// The catalogs below satisfy internal/kql/eval's Catalog interface:
//
//	Schema(table string) ([]value.Column, bool)
//	Scan(ctx context.Context, table string, fn func(row []value.Value) error) error

// Every catalog here also implements eval's optional interfaces:
//
//	Tables() []string                     (eval.TableLister)
//	Verbatim(table, column string) bool   (eval.VerbatimCatalog)

// ErrNoTable is returned by Scan for a table that is not one of Names.
var ErrNoTable = errors.New("no such table")

func noTable(name string) error {
	return fmt.Errorf("%w %q (the tables are SigninLogs, AADNonInteractiveUserSignInLogs, AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs, AuditLogs, MicrosoftGraphActivityLogs)", ErrNoTable, name)
}

// ctxEvery is how many rows a scan reads between checks of its context.
const ctxEvery = 1024

// Memory is a catalog of rows held in memory, added one record at a time.
// It is safe for concurrent use; a Scan sees the rows added before it
// started.
type Memory struct {
	mu   sync.RWMutex
	rows map[string][][]value.Value
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{rows: map[string][][]value.Value{}} }

// Schema implements the catalog: the schemas of Names.
func (m *Memory) Schema(table string) ([]value.Column, bool) { return Schema(table) }

// Tables lists the catalog's tables (Names).
func (m *Memory) Tables() []string { return Names() }

// Verbatim is the package's Verbatim.
func (m *Memory) Verbatim(table, column string) bool { return Verbatim(table, column) }

// Add adds the record's row to its table and returns the table's name;
// false when the record is of a table that is not one of Names (it is
// not kept).
func (m *Memory) Add(rec *detect.Record) (string, bool) {
	name, row := Row(rec)
	if row == nil {
		return name, false
	}
	m.mu.Lock()
	m.rows[name] = append(m.rows[name], row)
	m.mu.Unlock()
	return name, true
}

// AddRow adds a row given in Schema(table) order (a copy is kept).
func (m *Memory) AddRow(table string, row []value.Value) error {
	cols, ok := Schema(table)
	if !ok {
		return noTable(table)
	}
	if len(row) != len(cols) {
		return fmt.Errorf("%s: a row of %d values for %d columns", table, len(row), len(cols))
	}
	m.mu.Lock()
	m.rows[table] = append(m.rows[table], append([]value.Value(nil), row...))
	m.mu.Unlock()
	return nil
}

// Len returns how many rows a table holds.
func (m *Memory) Len(table string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.rows[table])
}

// Scan calls fn for every row of the table, in the order added. fn gets a
// copy it may change but not keep.
func (m *Memory) Scan(ctx context.Context, table string, fn func(row []value.Value) error) error {
	if _, ok := schemas[table]; !ok {
		return noTable(table)
	}
	m.mu.RLock()
	rows := m.rows[table]
	m.mu.RUnlock()
	var scratch []value.Value
	for i, r := range rows {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		scratch = append(scratch[:0], r...)
		if err := fn(scratch); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// FileOptions configure a Files catalog.
type FileOptions struct {
	// MaxRecord bounds one record's size (0 = the scanner's default).
	MaxRecord int
	// Workers decode records in parallel (0 = GOMAXPROCS).
	Workers int
}

// Files is a catalog that reads its rows from log files each time a table
// is scanned, in any shape `breakglass scan` reads (JSON, NDJSON, CSV,
// Event Hubs and Graph pages, gzip), routing each record to its table.
// Rows are streamed to the engine, never all held: memory is bounded by
// the scanner's batches in flight, whatever the files' size.
//
// Input that cannot be read as a record (invalid JSON, a shape no decoder
// knows) is not a row; Skipped says how much there was, so that a caller
// can say the result may be incomplete.
type Files struct {
	paths []string
	opts  FileOptions

	mu       sync.Mutex
	problems map[string]scan.Problem // by source and offset: each once, however often scanned
	first    []scan.Problem
}

// maxProblems bounds the problems Files keeps to show.
const maxProblems = 10

// NewFiles returns a catalog over the files (not directories) at paths.
func NewFiles(paths []string, o FileOptions) *Files {
	return &Files{paths: append([]string(nil), paths...), opts: o, problems: map[string]scan.Problem{}}
}

// Schema implements the catalog: the schemas of Names.
func (f *Files) Schema(table string) ([]value.Column, bool) { return Schema(table) }

// Tables lists the catalog's tables (Names).
func (f *Files) Tables() []string { return Names() }

// Verbatim is the package's Verbatim.
func (f *Files) Verbatim(table, column string) bool { return Verbatim(table, column) }

// Skipped returns how many distinct pieces of input the scans so far could
// not read as records, and the first few of them.
func (f *Files) Skipped() (int, []scan.Problem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.problems), append([]scan.Problem(nil), f.first...)
}

func (f *Files) problem(p scan.Problem) {
	if p.Alerted {
		return // read with odd fields: its row was produced
	}
	key := p.Source + "@" + strconv.FormatInt(p.Offset, 10)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.problems[key]; ok || len(f.problems) >= 1<<20 {
		return
	}
	f.problems[key] = p
	if len(f.first) < maxProblems {
		f.first = append(f.first, p)
	}
}

// Scan reads every file and calls fn for each row of the table, in file
// order and, within a file, in record order. A file that cannot be opened
// or read is an error naming it; fn's error stops the scan and is
// returned.
func (f *Files) Scan(ctx context.Context, table string, fn func(row []value.Value) error) error {
	if _, ok := schemas[table]; !ok {
		return noTable(table)
	}
	c := &collector{table: table}
	sc := scan.New(scan.Options{
		MaxRecord:   f.opts.MaxRecord,
		Workers:     f.opts.Workers,
		Rules:       []detect.Rule{c},
		FinalInputs: true,
		Problem:     f.problem,
	})
	defer sc.Close()
	emit := func(fd scan.Finding) error {
		row, ok := c.take(fd.Alert.ID)
		if !ok {
			return nil
		}
		if err := fn(row); err != nil {
			return &stopError{err}
		}
		return nil
	}
	for _, p := range f.paths {
		if err := scanFile(ctx, sc, p, emit); err != nil {
			var se *stopError
			if errors.As(err, &se) {
				return se.err
			}
			return err
		}
	}
	return nil
}

// stopError carries fn's error through the scanner.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

func scanFile(ctx context.Context, sc *scan.Scanner, path string, emit func(scan.Finding) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	var st scan.Stats
	return sc.Scan(ctx, path, io.Reader(fh), &st, emit)
}

// collector is the record rule through which Files reads a table: the
// scanner decodes every record of the table (on its worker goroutines) and
// hands it to Eval, which builds the row there, in parallel, and parks it
// under a fresh key carried by a placeholder alert; the scan's emit, which
// runs in input order, takes it back. Parked rows are bounded by the
// scanner's batches in flight.
type collector struct {
	table  string
	next   atomic.Uint64
	parked sync.Map // key -> []value.Value
}

const collectorRule = "kql.tables.row"

func (c *collector) Meta() detect.Meta {
	return detect.Meta{ID: collectorRule, Title: "row of " + c.table}
}

func (c *collector) Needs() detect.Needs { return detect.Needs{Tables: []string{c.table}} }

func (c *collector) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	name, row := Row(rec)
	if name != c.table || row == nil {
		return dst
	}
	key := strconv.FormatUint(c.next.Add(1), 36)
	c.parked.Store(key, row)
	return append(dst, alert.Alert{ID: key, Rule: collectorRule})
}

func (c *collector) take(key string) ([]value.Value, bool) {
	v, ok := c.parked.LoadAndDelete(key)
	if !ok {
		return nil, false
	}
	return v.([]value.Value), true
}
