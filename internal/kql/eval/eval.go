// Package eval is the KQL engine: it compiles a parsed script
// (internal/kql) against a catalog of tables into a plan whose result
// schema is known before any row is read (Kusto is statically typed), then
// runs it. Functions and aggregations come from internal/kql/fn; values
// follow internal/kql/value's null rules.
//
// Two ways to use a compiled Query:
//   - Run: the whole query over the catalog's tables, with bounded memory
//     (Options.MaxRows caps the result, Options.MaxGroups the state of
//     summarize, join and distinct: exceeding it is an error, never an OOM).
//   - Filter: for a pure per-record query (one table, then only where,
//     extend, project-family and take-less operators), the per-record form
//     the detector runs on each incoming record, with the literals a
//     prefilter can use to skip records cheaply.
package eval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/kql"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/value"
)

// Catalog is the set of tables a query can read.
type Catalog interface {
	// Schema returns a table's columns; false when there is no such table.
	Schema(table string) ([]value.Column, bool)
	// Scan calls fn for each row of the table, in the order of Schema's
	// columns. fn's error stops the scan and is returned. fn must not keep
	// row after it returns unless it copies it.
	Scan(ctx context.Context, table string, fn func(row []value.Value) error) error
}

// Options tune a compiled query.
type Options struct {
	Now        time.Time         // now()/ago(); zero = time.Now() at Run
	Watchlists map[string]*Table // _GetWatchlist(alias) results; do not change them after Compile (recompile instead)
	MaxRows    int               // result cap (0 = DefaultMaxRows); Result.Truncated says so
	MaxGroups  int               // summarize/join/distinct memory bound (0 = DefaultMaxGroups): exceeded is an error
	// Geo is geo_info_from_ip_address's database (nil: the function is
	// null; Query.UsesGeo tells callers that must refuse that).
	Geo fn.Geo
}

// Defaults for Options.
const (
	DefaultMaxRows   = 100000
	DefaultMaxGroups = 1000000
)

// Table is a materialised table: columns and rows (each row in column order).
type Table struct {
	Columns []value.Column
	Rows    [][]value.Value
}

// Result is a query's result. Truncated is true when the result had more
// rows than Options.MaxRows and only the first MaxRows are kept.
type Result struct {
	Table
	Truncated bool
}

// Query is a compiled query: its plan and static result schema.
type Query struct {
	cols   []value.Column
	opt    Options
	plan   plan
	filter *Filter
	// missing: tables outside the catalog a union isfuzzy=true reads
	// (open tables, no rows; see open.go).
	missing []string
	usesGeo bool
}

// Compile checks a parsed script against the catalog and builds its plan.
// Errors carry the line:col of the offending name or expression: an
// unknown column, table or function (with a suggestion when a close name
// exists), a type error, or a *kql.UnsupportedError for valid KQL the
// engine cannot run (make-series, evaluate, ...).
func Compile(script *kql.Script, cat Catalog, opt Options) (q *Query, err error) {
	if cat == nil {
		cat = emptyCatalog{}
	}
	c := &compiler{script: script, cat: cat, opt: opt}
	defer func() {
		// A bug in the engine must not take the daemon down: it is an error
		// that names the query, not a crash.
		if r := recover(); r != nil {
			q, err = nil, fmt.Errorf("kql/eval: internal error compiling the query: %v", r)
		}
	}()
	p, err := c.compileScript()
	if err != nil {
		return nil, err
	}
	q = &Query{cols: p.columns(), opt: opt, plan: p, missing: c.missing, usesGeo: c.usesGeo}
	if !c.subTables {
		q.filter = c.filterOf(p)
	}
	return q, nil
}

type emptyCatalog struct{}

func (emptyCatalog) Schema(string) ([]value.Column, bool) { return nil, false }
func (emptyCatalog) Scan(context.Context, string, func([]value.Value) error) error {
	return errors.New("no tables")
}

// Columns returns the query's result schema: names, types, order.
func (q *Query) Columns() []value.Column { return q.cols }

// Run executes the query. It stops with ctx's error when ctx is done.
func (q *Query) Run(ctx context.Context) (res *Result, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	rs := newRun(ctx, &q.opt)
	max := q.opt.MaxRows
	if max <= 0 {
		max = DefaultMaxRows
	}
	res = &Result{Table: Table{Columns: q.cols}}
	full := &stopErr{res}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("kql/eval: internal error running the query: %v", r)
		}
	}()
	err = q.plan.run(rs, func(row []value.Value) error {
		if len(res.Rows) >= max {
			res.Truncated = true
			return full
		}
		res.Rows = append(res.Rows, copyRow(row))
		return nil
	})
	if se, ok := err.(*stopErr); ok && se == full {
		err = nil
	}
	if err == nil {
		err = rs.err
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Filter returns the per-record form of a pure filter query: one table
// source followed only by where/filter, extend, project, project-away,
// project-rename, project-keep, project-reorder (and no aggregation, join,
// sort, take or other operator that needs more than one record). false when
// the query is not of that shape.
func (q *Query) Filter() (*Filter, bool) {
	return q.filter, q.filter != nil
}

// Filter is a compiled per-record query.
type Filter struct {
	// Table is the source table; Match takes rows in its catalog schema order.
	Table string
	// Literals are strings at least one of which occurs (ASCII
	// case-insensitively) in the raw text of every record the filter
	// matches, for a prefilter that skips records cheaply. nil when no
	// such set can be derived soundly (then every record must be matched).
	Literals []string
	// Columns is the output schema of Match (the query's Columns()).
	Columns []value.Column

	steps []rowStep // source first
	opt   *Options
	width int
	src   []value.Column
}

// Match runs the filter on one row (in the catalog schema order of Table).
// ok is false when the row is filtered out; out is the projected row, in
// Columns order.
//
// Fail closed: a row of the wrong width is padded with nulls (or cut) to
// the table's width and evaluated, not dropped; a value off its column's
// type is read as that type (see conform); should evaluation itself
// fail, the row is reported as matching (out then holds nulls in Columns
// order), so a record that may concern a break-glass account still
// reaches people.
func (f *Filter) Match(row []value.Value) (out []value.Value, ok bool) {
	if f == nil {
		return nil, false
	}
	if len(row) != f.width {
		fixed := make([]value.Value, f.width)
		copy(fixed, row)
		for i := len(row); i < f.width; i++ {
			fixed[i] = value.NullOf(f.src[i].Type)
		}
		row = fixed
	}
	row = conform(f.src, row)
	rs := newRun(context.Background(), f.opt)
	e := &env{rs: rs}
	defer func() {
		if r := recover(); r != nil {
			out, ok = make([]value.Value, len(f.Columns)), true
		}
	}()
	out = row
	for _, s := range f.steps {
		if out, ok = s.step(e, out); !ok {
			return nil, false
		}
	}
	return out, true
}
