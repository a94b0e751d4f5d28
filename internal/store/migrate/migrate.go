// Package migrate moves a whole breakglass store from one backend to
// another (breakglass store migrate): SQLite to PostgreSQL when an
// installation scales out, and back. It copies rows, not objects, so the
// target holds exactly what the source held: alerts with their evidence and
// state changes, deliveries with their ids and state (pending ones are
// still sent, delivered ones never again), checkpoints, conditions,
// incidents, the evidence log byte for byte (its chain verifies on the
// target), drills, users, tokens and sessions (hashes only, as stored),
// KQL records and any table a later migration adds, since the table list
// comes from the schemas.
//
// The copy is all or nothing: the target loads in one transaction, which
// commits only when every row arrived, the row counts agree and the source
// was not written meanwhile. A target that holds data is refused.
package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"breakglass/internal/evidence"
	"breakglass/internal/store"
)

// Source is a store that can be read whole (sqlite.Store, postgres.Store).
type Source interface {
	Dump(ctx context.Context, fn func(store.Dump) error) error
}

// Target is a store that can be filled whole (postgres.Store).
type Target interface {
	Load(ctx context.Context, fn func(store.Load) error) error
}

// TableCount is how many rows of one table were copied.
type TableCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// Result is what Copy did.
type Result struct {
	SchemaVersion int          `json:"schema_version"`
	Tables        []TableCount `json:"tables"`
	// Derived are the target's tables it filled from the copied ones.
	Derived []string `json:"derived,omitempty"`
	Rows    int64    `json:"rows"`
	Elapsed Duration `json:"elapsed"`
	// Evidence is the evidence log check made before the load committed.
	Evidence Chain `json:"evidence"`
}

// Duration is a time.Duration that reads as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).Round(time.Millisecond).String() }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Options tune Copy.
type Options struct {
	// Progress receives a line per table and one every Every rows of a
	// large one; nil: none.
	Progress io.Writer
	// Every is how many rows pass between progress lines (default 50000).
	Every int64
	// Now is the clock for Result.Elapsed (default time.Now).
	Now func() time.Time
	// Heads are heads published for the source (its heads file): the
	// copy's evidence log must hold each of them.
	Heads []evidence.HeadRef
}

// Copy copies every table of src into dst, which must be empty, and
// before the load commits verifies the evidence log as loaded against the
// source's and opt.Heads (see Verify). On error dst is left as it was
// (empty): the load is one transaction.
func Copy(ctx context.Context, src Source, dst Target, opt Options) (Result, error) {
	if opt.Every <= 0 {
		opt.Every = 50000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	start := opt.Now()
	var res Result
	err := dst.Load(ctx, func(l store.Load) error {
		return src.Dump(ctx, func(d store.Dump) error {
			res = Result{}
			if err := copyAll(ctx, d, l, opt, &res); err != nil {
				return err
			}
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "store migrate: verifying the evidence log of the copy\n")
			}
			c, err := Verify(ctx, d, l, opt.Heads)
			res.Evidence = c
			return err
		})
	})
	res.Elapsed = Duration(opt.Now().Sub(start))
	if err != nil {
		return res, err
	}
	return res, nil
}

// plan pairs the source's tables with the target's, in the target's order,
// and refuses any table one side has and the other cannot take.
func plan(d store.Dump, l store.Load) ([]store.Table, error) {
	if d.SchemaVersion() != l.SchemaVersion() {
		return nil, fmt.Errorf("source schema version %d, target %d: both must be at the same version "+
			"(open each with this breakglass once, or use the breakglass that wrote the newer one)", d.SchemaVersion(), l.SchemaVersion())
	}
	src := map[string]store.Table{}
	for _, t := range d.Tables() {
		src[t.Name] = t
	}
	dst := map[string]store.Table{}
	for _, t := range l.Tables() {
		dst[t.Name] = t
	}
	derived := l.Derived()
	var problems []string
	for _, t := range d.Tables() {
		switch tt, ok := dst[t.Name]; {
		case slices.Contains(derived, t.Name):
			problems = append(problems, fmt.Sprintf("the source carries %s, which the target derives itself", t.Name))
		case !ok:
			problems = append(problems, fmt.Sprintf("the target has no table %s", t.Name))
		default:
			for _, c := range t.Columns {
				if !slices.Contains(tt.Columns, c) {
					problems = append(problems, fmt.Sprintf("the target's table %s has no column %s", t.Name, c))
				}
			}
		}
	}
	var order []store.Table
	for _, t := range l.Tables() {
		st, ok := src[t.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("the source has no table %s", t.Name))
			continue
		}
		order = append(order, st)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the two schemas differ, nothing copied: %s", strings.Join(problems, "; "))
	}
	return order, nil
}

func copyAll(ctx context.Context, d store.Dump, l store.Load, opt Options, res *Result) error {
	order, err := plan(d, l)
	if err != nil {
		return err
	}
	res.SchemaVersion = d.SchemaVersion()
	res.Derived = l.Derived()
	var total int64
	for _, t := range order {
		total += t.Rows
	}
	for i, t := range order {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "store migrate: [%d/%d] %s: %d rows\n", i+1, len(order), t.Name, t.Rows)
		}
		var n int64
		err := d.Rows(ctx, t.Name, func(row []any) error {
			n++
			if err := l.Insert(ctx, t.Name, t.Columns, row); err != nil {
				return err
			}
			if opt.Progress != nil && n%opt.Every == 0 {
				fmt.Fprintf(opt.Progress, "store migrate:   %s: %d of %d rows\n", t.Name, n, t.Rows)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("copying %s: %w", t.Name, err)
		}
		if n != t.Rows {
			return fmt.Errorf("copying %s: read %d rows, but the source counted %d", t.Name, n, t.Rows)
		}
		if t.Next > 0 {
			l.SetNext(t.Name, t.Next)
		}
		res.Tables = append(res.Tables, TableCount{Table: t.Name, Rows: n})
		res.Rows += n
	}
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "store migrate: %d rows read; committing\n", total)
	}
	return nil
}

// ErrChainDiffers is wrapped by Verify's error when the target's evidence
// log does not verify, or ends elsewhere than the source's.
var ErrChainDiffers = errors.New("the evidence log of the target differs from the source's")

// Chain is the evidence log check of both stores after a copy.
type Chain struct {
	Entries int64  `json:"entries"`
	Head    string `json:"head,omitempty"` // SEQ:HASH of the newest entry
	Pruned  int64  `json:"pruned_entries,omitempty"`
	// HeadsChecked counts the published heads (heads file) the target's
	// chain was checked against.
	HeadsChecked int `json:"heads_checked"`
}

// Log is what Verify reads of each store (a store, a store.Dump, a
// store.Load).
type Log interface {
	evidence.LogPager
}

// Verify walks the evidence log of src and of dst and checks that dst's
// verifies against heads (published heads, e.g. the source's heads file)
// and holds the same chain as src: same entries, same head. A broken
// source is reported as such: the copy is then as broken as the source.
func Verify(ctx context.Context, src, dst Log, heads []evidence.HeadRef) (Chain, error) {
	s, err := evidence.Verify(ctx, src, heads)
	if err != nil {
		return Chain{}, fmt.Errorf("verifying the source's evidence log: %w", err)
	}
	t, err := evidence.Verify(ctx, dst, heads)
	if err != nil {
		return Chain{}, fmt.Errorf("verifying the target's evidence log: %w", err)
	}
	c := Chain{Entries: t.Entries, HeadsChecked: t.HeadsChecked}
	if t.Entries > 0 {
		c.Head = t.Last.String()
	}
	if t.Pruned != nil {
		c.Pruned = t.Pruned.Entries
	}
	switch {
	case !t.OK() && !s.OK():
		return c, fmt.Errorf("the source's evidence log is broken (%v), and so is its copy: keep the source file as it is", s.Break)
	case !t.OK():
		return c, fmt.Errorf("%w: %v", ErrChainDiffers, t.Break)
	case s.Entries != t.Entries || s.Last != t.Last:
		return c, fmt.Errorf("%w: source %d entries up to %v, target %d up to %v", ErrChainDiffers, s.Entries, s.Last, t.Entries, t.Last)
	}
	return c, nil
}
