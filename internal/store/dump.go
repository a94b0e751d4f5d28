package store

import (
	"context"
	"errors"
)

// A whole-store copy (breakglass store migrate) reads one store table by
// table and writes the rows, as they are, into another of a different
// backend. It works on rows rather than through the interfaces above so
// that nothing is left out or recomputed: the evidence log keeps its
// hashes, deliveries their ids and state, every table its keys. The table
// list comes from each backend's schema, so a table added by a migration
// is copied without changes here.

// Table is one table of a store's schema in a whole-store copy.
type Table struct {
	Name string
	// Columns are the column names, in the order a dump's rows carry them.
	Columns []string
	// Rows is how many rows the dump holds (dump side only).
	Rows int64
	// Next is the least value the table's generated key (SQLite's
	// AUTOINCREMENT, PostgreSQL's identity) may give next, so a copy never
	// hands out a key its source once used, even for rows deleted since
	// (pruned deliveries, expired KQL records). 0: no generated key.
	Next int64
}

// A row value in a whole-store copy is nil (SQL NULL), int64, string,
// []byte or bool; a loader converts each to its column's type and refuses
// one it cannot convert, naming the table, column and row.

// Dump is a consistent read of a whole store: every table as of one moment.
type Dump interface {
	// SchemaVersion is the store's migration version; a copy needs the same
	// version on both sides.
	SchemaVersion() int
	// Tables lists the tables that hold the installation's data: every
	// table of the schema except the migration record and a backend's
	// runtime-only ones (the write heartbeat).
	Tables() []Table
	// Rows calls fn with each row of table, in key order. fn must not keep
	// row after it returns.
	Rows(ctx context.Context, table string, fn func(row []any) error) error
	// LogEntries reads the evidence log as of the dump, as
	// EvidenceLog.LogEntries does, so a copy can verify it.
	LogEntries(ctx context.Context, after int64, limit int) ([]LogEntry, error)
}

// Load is the write side of a whole-store copy: one transaction into an
// empty store, committed only when the function given to the loader
// returns nil.
type Load interface {
	// SchemaVersion is the target store's migration version.
	SchemaVersion() int
	// Tables lists the tables a copy fills, in an order that satisfies
	// their references (a table before the tables that point at it).
	Tables() []Table
	// Derived lists the tables the loader fills itself from the others
	// (PostgreSQL's alert_labels, from alerts.labels): a dump need not, and
	// must not, carry them.
	Derived() []string
	// Insert adds one row to table; columns name the row's values (a
	// source's Table.Columns, which must all exist in the target table).
	// Rows may be buffered until the load ends.
	Insert(ctx context.Context, table string, columns []string, row []any) error
	// SetNext makes the table's generated key continue at no less than
	// next (see Table.Next).
	SetNext(table string, next int64)
	// LogEntries reads the evidence log as loaded so far (rows still
	// buffered included), as EvidenceLog.LogEntries does, so a copy can
	// verify it before it commits.
	LogEntries(ctx context.Context, after int64, limit int) ([]LogEntry, error)
}

// ErrNotEmpty is wrapped by a loader's error for a target store that holds
// data already: a copy never merges into or overwrites a store.
var ErrNotEmpty = errors.New("target store is not empty")

// ErrChanged is wrapped by a dump's error when the store was written while
// it was being read (a serve or scan still running on it): the copy is
// incomplete and is not committed.
var ErrChanged = errors.New("the store was written to while it was copied")
