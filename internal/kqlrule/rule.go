// Package kqlrule runs the KQL alert rules of the configuration (rules:)
// with Azure Monitor's scheduled query rule semantics.
//
// A rule whose query is a pure filter (one table, then only where,
// extend and project-family operators: eval.Query.Filter) and that asks
// for nothing a single record cannot decide (no threshold beyond "any
// row", no violations, no auto_resolve) is a filter rule: a detect.Rule
// that the scanner runs on every record as it arrives, like the
// built-ins, with the filter's literals feeding the prefilter. Every
// other rule is scheduled: every frequency it runs over the records
// ingested in the last period (see Scheduler for the exact window, dedupe,
// mute and resolve rules).
//
// Rule ids are "kql." + the rule's name (config.RuleIDPrefix); alerts go
// through the same store, incidents and routes as the built-ins' and carry
// the rule's severity, labels and the rows that made it fire.
package kqlrule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/kql"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
)

// Kind is how a rule runs.
type Kind string

const (
	// KindFilter runs per record as it arrives.
	KindFilter Kind = "filter"
	// KindScheduled runs every frequency over the last period.
	KindScheduled Kind = "scheduled"
)

// MaxAlertRows caps the result rows an alert carries; the alert says how
// many there were in all.
const MaxAlertRows = 20

// Rule is a compiled rule.
type Rule struct {
	Cfg  *config.Rule
	ID   string // kql.NAME
	Kind Kind
	// Why says why a rule whose query is a pure filter is scheduled
	// anyway ("" otherwise), for `rules list`.
	Why string
	// Tables are the tables the query reads (scheduled rules keep their
	// records in the store).
	Tables []string
	// Columns is the query's result schema.
	Columns []value.Column
	// Filter is the per-record form (filter rules only).
	Filter *eval.Filter
	// Missing are the tables outside the six that the query's union
	// isfuzzy=true names: they have no rows here (see openTablesOnly).
	Missing []string

	dims    []int // Dimensions' column indexes in Columns
	measure int   // threshold.column's index, -1 for the row count
	// run evaluates the query over a catalog at now (eval.Compile + Run).
	run func(ctx context.Context, cat eval.Catalog, now time.Time) (*eval.Result, error)
}

// Literals are the literals the filter feeds the prefilter (nil: the rule
// reads every record of its table).
func (r *Rule) Literals() []string {
	if r.Filter == nil {
		return nil
	}
	return r.Filter.Literals
}

// Compile compiles every rule of cfg against the tables' schemas. Its
// error is a config.ErrorList naming each rule's problem at its place in
// the file (an unknown column at the query's line, a dimension that is
// not a result column at dimensions:), so `config check`, `rules` and
// `serve` report the same thing the same way.
func Compile(cfg *config.Config) ([]*Rule, error) {
	watch := Watchlists(cfg)
	geo, err := Geo(cfg)
	if err != nil {
		return nil, err
	}
	var out []*Rule
	var errs config.ErrorList
	for i := range cfg.Rules {
		r, err := compileRule(cfg, i, watch, geo)
		if err != nil {
			var ce *config.Error
			if errors.As(err, &ce) {
				errs = append(errs, ce)
			} else {
				errs = append(errs, cfg.RuleQueryError(i, err))
			}
			continue
		}
		out = append(out, r)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// schemaCatalog is the catalog rules compile against: the six tables'
// schemas, no rows; it notes which tables the query reads.
type schemaCatalog struct{ read *[]string }

func (c schemaCatalog) Schema(table string) ([]value.Column, bool) {
	cols, ok := tables.Schema(table)
	if ok && c.read != nil && !slices.Contains(*c.read, table) {
		*c.read = append(*c.read, table)
	}
	return cols, ok
}

func (schemaCatalog) Scan(context.Context, string, func([]value.Value) error) error { return nil }

// Verbatim implements eval.VerbatimCatalog with the tables' own rule
// (tables.Verbatim): filter literals come only from columns whose text
// occurs as such in the raw record, so the prefilter never skips a record
// the filter would match.
func (schemaCatalog) Verbatim(table, column string) bool { return tables.Verbatim(table, column) }

// Tables lists the catalog's tables.
func (schemaCatalog) Tables() []string { return tables.Names() }

func compileRule(cfg *config.Config, i int, watch map[string]*eval.Table, geo fn.Geo) (*Rule, error) {
	c := &cfg.Rules[i]
	script, err := kql.Parse(c.Query)
	if err != nil {
		return nil, err
	}
	var read []string
	q, err := eval.Compile(script, schemaCatalog{&read}, eval.Options{Watchlists: watch, Geo: geo})
	if err != nil {
		var ee *eval.Error
		if errors.As(err, &ee) { // placed in the query like a syntax error
			return nil, &kql.SyntaxError{Pos: ee.Pos, Msg: ee.Msg}
		}
		return nil, err
	}
	slices.Sort(read)
	if err := openTablesOnly(cfg, i, q, read); err != nil {
		return nil, err
	}
	if err := geoWithoutDatabase(cfg, i, q, geo); err != nil {
		return nil, err
	}
	r := &Rule{Cfg: c, ID: c.ID(), Kind: KindScheduled, Tables: read, Columns: q.Columns(), measure: -1, Missing: q.MissingTables()}
	field := func(k string) string { return fmt.Sprintf("rules[%d].%s", i, k) }
	colIndex := func(name string) int {
		return slices.IndexFunc(r.Columns, func(col value.Column) bool { return col.Name == name })
	}
	for j, d := range c.Dimensions {
		k := colIndex(d)
		if k < 0 {
			return nil, &config.Error{File: cfg.Path, Line: c.Line(fmt.Sprintf("dimensions[%d]", j)), Field: field(fmt.Sprintf("dimensions[%d]", j)),
				Msg: fmt.Sprintf("%q is not a column of the query's result (%s)", d, columnNames(r.Columns))}
		}
		r.dims = append(r.dims, k)
	}
	if t := c.Threshold; t != nil && t.Column != "" {
		k := colIndex(t.Column)
		switch {
		case k < 0:
			return nil, &config.Error{File: cfg.Path, Line: c.Line("threshold.column"), Field: field("threshold.column"),
				Msg: fmt.Sprintf("%q is not a column of the query's result (%s)", t.Column, columnNames(r.Columns))}
		case !r.Columns[k].Type.Numeric():
			return nil, &config.Error{File: cfg.Path, Line: c.Line("threshold.column"), Field: field("threshold.column"),
				Msg: fmt.Sprintf("%q is a %s column; a measure must be a number (int, long, real)", t.Column, r.Columns[k].Type)}
		}
		r.measure = k
	}
	r.run = func(ctx context.Context, cat eval.Catalog, now time.Time) (*eval.Result, error) {
		q, err := eval.Compile(script, cat, eval.Options{Now: now, Watchlists: watch, Geo: geo})
		if err != nil {
			return nil, err
		}
		return q.Run(ctx)
	}
	if f, ok := q.Filter(); ok {
		r.Why = perRecordBlocker(c)
		if r.Why == "" {
			r.Kind, r.Filter = KindFilter, f
		}
	}
	return r, nil
}

// perRecordBlocker says what keeps a pure filter rule from running per
// record, or "". mute_for does not: filter rules are muted per account
// like the built-ins (notify.mute_for's mechanism).
func perRecordBlocker(c *config.Rule) string {
	switch {
	case c.Threshold != nil && !anyRow(c.Threshold):
		return "its threshold needs the rows of a whole period"
	case c.Violations != nil && (c.Violations.Of > 1 || c.Violations.Min > 1):
		return "violations count evaluations"
	case c.AutoResolve:
		return "auto_resolve needs evaluations that find nothing"
	}
	return ""
}

// anyRow reports whether t means "at least one row", which a single
// record decides.
func anyRow(t *config.RuleThreshold) bool {
	if t.Column != "" {
		return false
	}
	return (t.Operator == ">" && t.Value >= 0 && t.Value < 1) || (t.Operator == ">=" && t.Value > 0 && t.Value <= 1)
}

func columnNames(cols []value.Column) string {
	if len(cols) == 0 {
		return "no columns"
	}
	s := ""
	for i, c := range cols {
		if i == 8 {
			return s + fmt.Sprintf(", ... %d more", len(cols)-8)
		}
		if i > 0 {
			s += ", "
		}
		s += c.Name
	}
	return s
}

// Watchlists returns the _GetWatchlist tables of cfg: each alias of
// cfg.KQL.Watchlists (with the defaults) gives the accounts: list, one
// row per user entry, with the columns Sentinel's break-glass content
// reads: SearchKey (the UPN, else the object id, as a watchlist's search
// key), UserPrincipalName, UserId, ObjectId, AccountUPN, AccountObjectId
// and Name. Group entries have no members until Graph resolves them and
// are not listed.
func Watchlists(cfg *config.Config) map[string]*eval.Table {
	t := AccountsTable(cfg.Users())
	out := map[string]*eval.Table{}
	aliases := cfg.KQL.Watchlists
	if aliases == nil {
		aliases = config.DefaultWatchlists
	}
	for alias, src := range aliases {
		if src == config.WatchlistAccounts {
			out[alias] = t
		}
	}
	for alias, src := range config.DefaultWatchlists {
		if _, ok := out[alias]; !ok && src == config.WatchlistAccounts {
			out[alias] = t
		}
	}
	return out
}

// AccountsTable is the accounts watchlist (see Watchlists).
func AccountsTable(users []entra.Account) *eval.Table {
	t := &eval.Table{Columns: []value.Column{
		{Name: "SearchKey", Type: value.String},
		{Name: "UserPrincipalName", Type: value.String},
		{Name: "UserId", Type: value.String},
		{Name: "ObjectId", Type: value.String},
		{Name: "AccountUPN", Type: value.String},
		{Name: "AccountObjectId", Type: value.String},
		{Name: "Name", Type: value.String},
	}}
	for _, a := range users {
		key := a.UPN
		if key == "" {
			key = a.ID
		}
		s := value.NewString
		t.Rows = append(t.Rows, []value.Value{s(key), s(a.UPN), s(a.ID), s(a.ID), s(a.UPN), s(a.ID), s(a.Name)})
	}
	return t
}
