package eval

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/kql"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/value"
)

// plan is a compiled tabular expression: a push-based stream of rows.
// run may be called several times (once per use); nodes that must compute
// once per run (materialize, as, toscalar) cache in the runState.
type plan interface {
	columns() []value.Column
	run(rs *runState, emit func(row []value.Value) error) error
}

// rowStep is a per-row operator (where, extend, project, ...): the pieces a
// Filter is made of.
type rowStep interface {
	plan
	step(e *env, row []value.Value) ([]value.Value, bool)
	input() plan
}

// runState is one run's context: the clock, caches, the first deferred error.
type runState struct {
	ctx   context.Context
	fc    fn.Ctx
	opt   *Options
	cache map[any]any
	feed  map[any][][]value.Value
	err   error
}

func newRun(ctx context.Context, opt *Options) *runState {
	now := opt.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	return &runState{ctx: ctx, fc: fn.Ctx{Now: now, Geo: opt.Geo}, opt: opt}
}

func (rs *runState) fail(err error) {
	if rs.err == nil {
		rs.err = err
	}
}

func (rs *runState) maxGroups() int {
	if rs.opt.MaxGroups > 0 {
		return rs.opt.MaxGroups
	}
	return DefaultMaxGroups
}

// ErrTooLarge is wrapped by the errors of a query that needs more memory
// than Options.MaxGroups allows (groups, join build rows, distinct keys,
// sorted or materialised rows).
var ErrTooLarge = errors.New("query needs more memory than allowed")

func (rs *runState) tooLarge(what string) error {
	return fmt.Errorf("%w: %s exceeds the limit of %d (Options.MaxGroups); narrow the query with where or a shorter time range", ErrTooLarge, what, rs.maxGroups())
}

// materialized runs p once per run and keeps its rows.
func (rs *runState) materialized(p plan) ([][]value.Value, error) {
	if rs.cache == nil {
		rs.cache = map[any]any{}
	}
	if r, ok := rs.cache[p]; ok {
		if err, isErr := r.(error); isErr {
			return nil, err
		}
		return r.([][]value.Value), nil
	}
	var rows [][]value.Value
	limit := rs.maxGroups()
	err := p.run(rs, func(row []value.Value) error {
		if len(rows) >= limit {
			return rs.tooLarge("a materialised table's rows")
		}
		rows = append(rows, copyRow(row))
		return nil
	})
	if err != nil {
		rs.cache[p] = err
		return nil, err
	}
	rs.cache[p] = rows
	return rows, nil
}

func (rs *runState) set(key *int, build func() map[string]bool) map[string]bool {
	if rs.cache == nil {
		rs.cache = map[any]any{}
	}
	if m, ok := rs.cache[key]; ok {
		return m.(map[string]bool)
	}
	m := build()
	rs.cache[key] = m
	return m
}

func copyRow(r []value.Value) []value.Value { return append([]value.Value(nil), r...) }

// compiler holds one Compile's state.
type compiler struct {
	script *kql.Script
	cat    Catalog
	opt    Options
	depth  int
	crs    *runState
	// aggHook, while compiling summarize's aggregates, turns aggregation calls into slots.
	aggHook func(t *kql.Call) (*cexpr, error)
	// subTables is set when an expression reads a catalog table (toscalar,
	// in (T)): no Filter then. A sub-query over a watchlist or a datatable
	// does not count: it reads no records.
	subTables bool
	scans     int // catalog scans compiled so far
	// Open tables (open.go): fuzzy > 0 while compiling an argument of
	// union isfuzzy=true; open marks the plans computed from an open
	// table; miss collects, in the first pass over an open input, the
	// names it lacks; starHide the columns * does not stand for; missing
	// the tables read as open tables.
	fuzzy    int
	open     map[plan]bool
	miss     *[]string
	starHide map[string]bool
	missing  []string
	usesGeo  bool                     // the query calls geo_info_from_ip_address
	inWords  map[*kql.InExpr][]string // in (static table): its strings, for literals
}

func (c *compiler) constRun() *runState {
	if c.crs == nil {
		c.crs = newRun(context.Background(), &c.opt)
	}
	return c.crs
}

// --- sources ---

type scanNode struct {
	cat   Catalog
	table string
	cols  []value.Column
}

func (n *scanNode) columns() []value.Column { return n.cols }
func (n *scanNode) run(rs *runState, emit func([]value.Value) error) error {
	k := 0
	return n.cat.Scan(rs.ctx, n.table, func(row []value.Value) error {
		if k++; k&1023 == 0 {
			if err := rs.ctx.Err(); err != nil {
				return err
			}
		}
		if len(row) != len(n.cols) {
			return fmt.Errorf("table %s: a row has %d values, the schema %d columns", n.table, len(row), len(n.cols))
		}
		return emit(conform(n.cols, row))
	})
}

type dataNode struct {
	cols []value.Column
	rows [][]value.Value
}

func (n *dataNode) columns() []value.Column { return n.cols }
func (n *dataNode) run(rs *runState, emit func([]value.Value) error) error {
	for i, r := range n.rows {
		if i&1023 == 1023 {
			if err := rs.ctx.Err(); err != nil {
				return err
			}
		}
		if err := emit(copyRow(r)); err != nil {
			return err
		}
	}
	return nil
}

// printNode evaluates its expressions at run time (now() is the run's).
type printNode struct {
	cols  []value.Column
	exprs []*cexpr
}

func (n *printNode) columns() []value.Column { return n.cols }
func (n *printNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	row := make([]value.Value, len(n.exprs))
	for i, x := range n.exprs {
		row[i] = x.f(e)
	}
	return emit(row)
}

type rangeNode struct {
	cols           []value.Column
	from, to, step *cexpr
}

func (n *rangeNode) columns() []value.Column { return n.cols }
func (n *rangeNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	from, to, step := n.from.f(e), n.to.f(e), n.step.f(e)
	t := n.cols[0].Type
	if from.IsNull() || to.IsNull() || step.IsNull() {
		return nil
	}
	limit := rs.maxGroups()
	cnt := 0
	cur := from
	for {
		c, ok := compare(cur, to)
		if !ok {
			return nil
		}
		if st := scalar(step); (st.T == value.Real && st.F < 0) || (st.T != value.Real && st.I < 0) {
			if c < 0 {
				return nil
			}
		} else if c > 0 {
			return nil
		}
		if cnt++; cnt > limit {
			return rs.tooLarge("range's rows")
		}
		if cnt&1023 == 0 {
			if err := rs.ctx.Err(); err != nil {
				return err
			}
		}
		if err := emit([]value.Value{cur}); err != nil {
			return err
		}
		next := arith("+", t, cur, step)
		if next.IsNull() || next == cur {
			return nil
		}
		cur = next
	}
}

// matNode computes its input once per run (materialize, as).
type matNode struct{ in plan }

func (n *matNode) columns() []value.Column { return n.in.columns() }
func (n *matNode) run(rs *runState, emit func([]value.Value) error) error {
	rows, err := rs.materialized(n.in)
	if err != nil {
		return err
	}
	for i, r := range rows {
		if i&1023 == 1023 {
			if err := rs.ctx.Err(); err != nil {
				return err
			}
		}
		if err := emit(copyRow(r)); err != nil {
			return err
		}
	}
	return nil
}

// feedNode is the source of mv-apply's sub-query: the current row's expansion.
type feedNode struct{ cols []value.Column }

func (n *feedNode) columns() []value.Column { return n.cols }
func (n *feedNode) run(rs *runState, emit func([]value.Value) error) error {
	for _, r := range rs.feed[n] {
		if err := emit(copyRow(r)); err != nil {
			return err
		}
	}
	return nil
}

// --- per-row operators ---

type whereNode struct {
	in   plan
	pred *cexpr
}

func (n *whereNode) columns() []value.Column { return n.in.columns() }
func (n *whereNode) input() plan             { return n.in }
func (n *whereNode) step(e *env, row []value.Value) ([]value.Value, bool) {
	e.row = row
	return row, truthy(n.pred.f(e))
}
func (n *whereNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	return n.in.run(rs, func(row []value.Value) error {
		if _, ok := n.step(e, row); ok {
			return emit(row)
		}
		return nil
	})
}

// extendNode computes columns in order, each seeing the ones before it.
type extendNode struct {
	in    plan
	cols  []value.Column
	exprs []*cexpr
	at    []int // output index each expression writes
	width int   // input width plus appended columns
}

func (n *extendNode) columns() []value.Column { return n.cols }
func (n *extendNode) input() plan             { return n.in }
func (n *extendNode) step(e *env, row []value.Value) ([]value.Value, bool) {
	out := make([]value.Value, n.width)
	copy(out, row)
	e.row = row // the expressions read the input row (see compiler.extend)
	for i, x := range n.exprs {
		out[n.at[i]] = x.f(e)
	}
	return out, true
}
func (n *extendNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	return n.in.run(rs, func(row []value.Value) error {
		out, _ := n.step(e, row)
		return emit(out)
	})
}

// projectNode computes a new row from the input row.
type projectNode struct {
	in    plan
	cols  []value.Column
	exprs []*cexpr
}

func (n *projectNode) columns() []value.Column { return n.cols }
func (n *projectNode) input() plan             { return n.in }
func (n *projectNode) step(e *env, row []value.Value) ([]value.Value, bool) {
	e.row = row
	out := make([]value.Value, len(n.exprs))
	for i, x := range n.exprs {
		out[i] = x.f(e)
	}
	return out, true
}
func (n *projectNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	return n.in.run(rs, func(row []value.Value) error {
		out, _ := n.step(e, row)
		return emit(out)
	})
}

// permNode picks input columns by index (project-away/keep/reorder/rename).
type permNode struct {
	in   plan
	cols []value.Column
	idx  []int
}

func (n *permNode) columns() []value.Column { return n.cols }
func (n *permNode) input() plan             { return n.in }
func (n *permNode) step(e *env, row []value.Value) ([]value.Value, bool) {
	out := make([]value.Value, len(n.idx))
	for i, j := range n.idx {
		out[i] = row[j]
	}
	return out, true
}
func (n *permNode) run(rs *runState, emit func([]value.Value) error) error {
	return n.in.run(rs, func(row []value.Value) error {
		out, _ := n.step(nil, row)
		return emit(out)
	})
}

// identNode passes rows through (render).
type identNode struct{ in plan }

func (n *identNode) columns() []value.Column { return n.in.columns() }
func (n *identNode) input() plan             { return n.in }
func (n *identNode) step(e *env, row []value.Value) ([]value.Value, bool) {
	return row, true
}
func (n *identNode) run(rs *runState, emit func([]value.Value) error) error {
	return n.in.run(rs, emit)
}

// --- take, count, sort, top, distinct ---

type stopErr struct{ n any }

func (s *stopErr) Error() string { return "stop" }

type takeNode struct {
	in plan
	n  *cexpr
}

func (n *takeNode) columns() []value.Column { return n.in.columns() }
func (n *takeNode) run(rs *runState, emit func([]value.Value) error) error {
	lim := scalar(n.n.f(&env{rs: rs}))
	limit := lim.I
	if lim.T == value.Real {
		limit = int64(lim.F)
	}
	if limit <= 0 || lim.IsNull() {
		return nil
	}
	stop := &stopErr{n}
	var k int64
	err := n.in.run(rs, func(row []value.Value) error {
		if err := emit(row); err != nil {
			return err
		}
		if k++; k >= limit {
			return stop
		}
		return nil
	})
	if se, ok := err.(*stopErr); ok && se == stop {
		return nil
	}
	return err
}

type countNode struct {
	in   plan
	cols []value.Column
}

func (n *countNode) columns() []value.Column { return n.cols }
func (n *countNode) run(rs *runState, emit func([]value.Value) error) error {
	var k int64
	if err := n.in.run(rs, func([]value.Value) error { k++; return nil }); err != nil {
		return err
	}
	return emit([]value.Value{value.NewLong(k)})
}

type sortKey struct {
	x          *cexpr
	asc        bool
	nullsFirst bool
}

type sortNode struct {
	in    plan
	keys  []sortKey
	limit *cexpr // top N; nil = sort all
}

func (n *sortNode) columns() []value.Column { return n.in.columns() }

func (n *sortNode) less(a, b []value.Value) bool {
	for i, k := range n.keys {
		x, y := a[len(a)-len(n.keys)+i], b[len(b)-len(n.keys)+i]
		xn, yn := x.IsNull(), y.IsNull()
		if xn || yn {
			if xn && yn {
				continue
			}
			return xn == k.nullsFirst
		}
		c, ok := compare(x, y)
		if !ok {
			c = strings.Compare(x.String(), y.String())
		}
		if c == 0 {
			continue
		}
		if k.asc {
			return c < 0
		}
		return c > 0
	}
	return false
}

func (n *sortNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	limit := int64(-1)
	if n.limit != nil {
		lv := scalar(n.limit.f(e))
		if lv.IsNull() || lv.I <= 0 {
			return nil
		}
		limit = lv.I
	}
	// Each buffered row carries its sort keys at its end.
	var buf [][]value.Value
	maxRows := rs.maxGroups()
	width := len(n.in.columns())
	trim := func() {
		sort.SliceStable(buf, func(i, j int) bool { return n.less(buf[i], buf[j]) })
		if limit >= 0 && int64(len(buf)) > limit {
			buf = buf[:limit]
		}
	}
	err := n.in.run(rs, func(row []value.Value) error {
		r := make([]value.Value, width, width+len(n.keys))
		copy(r, row)
		e.row = row
		for _, k := range n.keys {
			r = append(r, k.x.f(e))
		}
		buf = append(buf, r)
		if limit >= 0 && int64(len(buf)) > 2*limit+1024 {
			trim()
		}
		if len(buf) > maxRows {
			return rs.tooLarge("the rows to sort")
		}
		return nil
	})
	if err != nil {
		return err
	}
	trim()
	for _, r := range buf {
		if err := emit(r[:width]); err != nil {
			return err
		}
	}
	return nil
}

type distinctNode struct {
	in    plan
	cols  []value.Column
	exprs []*cexpr
}

func (n *distinctNode) columns() []value.Column { return n.cols }
func (n *distinctNode) run(rs *runState, emit func([]value.Value) error) error {
	seen := map[string]bool{}
	e := &env{rs: rs}
	limit := rs.maxGroups()
	return n.in.run(rs, func(row []value.Value) error {
		e.row = row
		out := make([]value.Value, len(n.exprs))
		for i, x := range n.exprs {
			out[i] = x.f(e)
		}
		k := rowKey(out)
		if seen[k] {
			return nil
		}
		if len(seen) >= limit {
			return rs.tooLarge("distinct's values")
		}
		seen[k] = true
		return emit(out)
	})
}

// appendKeyPart appends one value's key, length-prefixed: strings may hold
// any byte, so a separator alone could make two different tuples collide.
func appendKeyPart(b []byte, v value.Value) []byte {
	var buf [64]byte
	k := appendKey(buf[:0], v, false)
	b = strconv.AppendInt(b, int64(len(k)), 10)
	b = append(b, ':')
	return append(b, k...)
}

func rowKey(vals []value.Value) string {
	var buf [128]byte
	b := buf[:0]
	for _, v := range vals {
		b = appendKeyPart(b, v)
	}
	return string(b)
}

// --- names ---

// uniqName returns name, or name1, name2, ... when taken (Kusto's rule).
func uniqName(name string, taken map[string]bool) string {
	if !taken[name] {
		return name
	}
	for i := 1; ; i++ {
		n := name + strconv.Itoa(i)
		if !taken[n] {
			return n
		}
	}
}

// columnN returns the first ColumnN not taken.
func columnN(taken map[string]bool, prefix string, start int) string {
	for i := start; ; i++ {
		n := prefix + strconv.Itoa(i)
		if !taken[n] {
			return n
		}
	}
}

func nameSet(cols []value.Column) map[string]bool {
	m := make(map[string]bool, len(cols))
	for _, c := range cols {
		m[c.Name] = true
	}
	return m
}

// typeName is getschema's DataType for a Kusto type.
func typeName(t value.Type) string {
	switch t {
	case value.Bool:
		return "System.Boolean"
	case value.Int:
		return "System.Int32"
	case value.Long:
		return "System.Int64"
	case value.Real:
		return "System.Double"
	case value.Decimal:
		return "System.Data.SqlTypes.SqlDecimal"
	case value.String:
		return "System.String"
	case value.DateTime:
		return "System.DateTime"
	case value.TimeSpan:
		return "System.TimeSpan"
	case value.Guid:
		return "System.Guid"
	}
	return "System.Object"
}
