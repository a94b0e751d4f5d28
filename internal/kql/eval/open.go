package eval

import (
	"slices"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// Open tables (union isfuzzy=true over tables outside the catalog).
//
// Microsoft's analyser reads a table it does not know, inside an argument
// of union isfuzzy=true, as an open table: it has every column a query
// names on it, typed unknown (value.Unknown), in the order the query first
// names them, and what is computed from it stays open (a column named
// further down is added too) until count. The engine does the same, so a
// query's result schema equals the analyser's. At run time an open table
// has no rows: breakglass reads only the catalog's tables, so such a
// branch of the union contributes nothing, and a column it added is null
// in the other branches' rows. Compiled.MissingTables names those tables,
// so that a rule that reads nothing else can be refused (fail closed).
//
// An operator over an open input is compiled twice: a first pass finds
// the names it reads that the input lacks (the input carries a marker
// column, openMark, that makes an unknown name a note instead of an
// error), then the input is padded with those columns (openNode) and the
// operator compiled for real.

// openMark is the marker column of the first pass; no query can name it.
const openMark = "\x00open"

// openNode pads its input's rows with the columns an open table gained
// (dynamic nulls: an unknown column has no values of its own).
type openNode struct {
	in   plan
	cols []value.Column
}

func (n *openNode) columns() []value.Column { return n.cols }

func (n *openNode) run(rs *runState, emit func([]value.Value) error) error {
	width := len(n.in.columns())
	return n.in.run(rs, func(row []value.Value) error {
		out := make([]value.Value, len(n.cols))
		copy(out, row[:min(width, len(row))])
		for i := width; i < len(out); i++ {
			out[i] = value.NullOf(value.Unknown)
		}
		return emit(out)
	})
}

// isOpen reports whether p is computed from an open table.
func (c *compiler) isOpen(p plan) bool { return c.open[p] }

func (c *compiler) markOpen(p plan) plan {
	if c.open == nil {
		c.open = map[plan]bool{}
	}
	c.open[p] = true
	return p
}

// openTable is a table outside the catalog read inside a fuzzy union.
func (c *compiler) openTable(name string) plan {
	if !slices.Contains(c.missing, name) {
		c.missing = append(c.missing, name)
	}
	return c.markOpen(&dataNode{})
}

// noteMissing records, in the first pass over an open input, a name the
// input lacks; it reports whether cols is such an input.
func (c *compiler) noteMissing(cols []value.Column, name string) bool {
	if c.miss == nil || name == "" || name == openMark {
		return false
	}
	if !slices.ContainsFunc(cols, func(col value.Column) bool { return col.Name == openMark }) {
		return false
	}
	if !slices.Contains(*c.miss, name) {
		*c.miss = append(*c.miss, name)
	}
	return true
}

// padOpen adds unknown columns to an open plan.
func (c *compiler) padOpen(p plan, names ...string) plan {
	cols := append([]value.Column(nil), p.columns()...)
	for _, n := range names {
		if !slices.ContainsFunc(cols, func(col value.Column) bool { return col.Name == n }) {
			cols = append(cols, value.Column{Name: n, Type: value.Unknown})
		}
	}
	if len(cols) == len(p.columns()) {
		return p
	}
	return c.markOpen(&openNode{in: p, cols: cols})
}

// op compiles one operator; over an open input in two passes (above).
func (c *compiler) op(in plan, op kql.Op, sc *scope) (plan, error) {
	if !c.isOpen(in) {
		saved := c.miss
		c.miss = nil
		defer func() { c.miss = saved }()
		return c.op1(in, op, sc)
	}
	switch op.(type) {
	case *kql.CountOp, *kql.GetSchemaOp:
		return c.op1(in, op, sc) // a closed table
	}
	probe := &openNode{in: in, cols: append(append([]value.Column(nil), in.columns()...), value.Column{Name: openMark, Type: value.Unknown})}
	savedMiss, savedHide, savedScans, savedSub := c.miss, c.starHide, c.scans, c.subTables
	var names []string
	c.miss = &names
	_, _ = c.op1(probe, op, sc) // errors are those of the real pass
	c.miss, c.scans, c.subTables = nil, savedScans, savedSub
	padded := c.padOpen(in, names...)
	c.starHide = map[string]bool{}
	for _, n := range names {
		c.starHide[n] = true
	}
	p, err := c.op1(padded, op, sc)
	c.miss, c.starHide = savedMiss, savedHide
	if err != nil {
		return nil, err
	}
	return c.markOpen(p), nil
}

// MissingTables are the tables outside the catalog that a union
// isfuzzy=true reads: they have no rows here.
func (q *Query) MissingTables() []string { return append([]string(nil), q.missing...) }

// lower is e as the run sees it: an unknown column holds dynamic values,
// so an operator over it runs as over a dynamic one.
func lower(e *cexpr) *cexpr {
	if e.t != value.Unknown {
		return e
	}
	l := *e
	l.t = value.Dynamic
	return &l
}

// operand compiles an operand that an unknown may stand in for.
func (c *compiler) operand(x kql.Expr, sc *scope, rs *rowScope) (*cexpr, error) {
	e, err := c.expr(x, sc, rs)
	if err != nil {
		return nil, err
	}
	return lower(e), nil
}

// unknownBinary is l op r with an unknown operand. The analyser accepts
// any operator there: comparisons and string operators are bool,
// arithmetic unknown. At run time the operator works on the values as
// dynamic ones; one the dynamic form refuses is null.
func (c *compiler) unknownBinary(t *kql.Binary, l, r *cexpr) (*cexpr, error) {
	st := value.Bool
	switch t.Op {
	case "+", "-", "*", "/", "%":
		st = value.Unknown
	}
	e, err := c.binaryOf(t, lower(l), lower(r))
	if err != nil && t.Op == "matches regex" {
		return nil, err // a bad pattern is the query's error whatever the column
	}
	if err != nil {
		null := value.NullOf(st)
		if st == value.Bool {
			null = nullBool()
		}
		return &cexpr{t: st, f: func(*env) value.Value { return null }}, nil
	}
	out := *e
	out.t = st
	return &out, nil
}

// UsesGeo reports whether the query calls geo_info_from_ip_address, whose
// value is null without Options.Geo.
func (q *Query) UsesGeo() bool { return q.usesGeo }

// notFuzzy compiles a let's or a function's body: it is not an argument
// of the union that names it, so a table it reads must exist (the
// analyser: let T = SecurityEvent | ...; union isfuzzy=true T is an
// unknown table).
func (c *compiler) notFuzzy(f func() (plan, error)) (plan, error) {
	saved := c.fuzzy
	c.fuzzy = 0
	defer func() { c.fuzzy = saved }()
	return f()
}
