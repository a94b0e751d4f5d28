package eval

import (
	"breakglass/internal/kql"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/value"
)

// aggSlot is one aggregation call inside summarize's aggregate expressions.
type aggSlot struct {
	agg    *fn.Agg
	args   []*cexpr
	consts []value.Value
	// argMax: arg_max / arg_min / take_any(a, b, ...) kept here because they
	// give several columns: sign +1 max, -1 min, 0 any.
	multi bool
	sign  int
	// fnMulti: an aggregation of internal/kql/fn with several columns (percentiles).
	fnMulti int
}

// multiState is arg_max/arg_min/take_any's state: the best row's values.
type multiState struct {
	sign int
	has  bool
	vals []value.Value
}

func (m *multiState) add(args []value.Value) {
	if m.sign == 0 {
		if !m.has {
			m.has, m.vals = true, copyRow(args)
		}
		return
	}
	if args[0].IsNull() {
		return // arg_max ignores rows whose measure is null
	}
	if m.has {
		c, ok := compare(args[0], m.vals[0])
		if !ok || c*m.sign <= 0 {
			return
		}
	}
	m.has, m.vals = true, copyRow(args)
}

type group struct {
	keys   []value.Value
	states []fn.State
	multi  []*multiState
}

type summarizeNode struct {
	in    plan
	cols  []value.Column
	keys  []*cexpr
	slots []*aggSlot
	// outs compute each output column after the keys from the slots'
	// results (a row holding one value per slot, or several for multi slots).
	outs  []*cexpr
	width int // values in the slot-results row
	ctx   *fn.Ctx
}

func (n *summarizeNode) columns() []value.Column { return n.cols }

func (n *summarizeNode) newGroup(rs *runState, keys []value.Value) *group {
	g := &group{keys: keys, states: make([]fn.State, len(n.slots)), multi: make([]*multiState, len(n.slots))}
	for i, s := range n.slots {
		if s.multi {
			g.multi[i] = &multiState{sign: s.sign}
		} else {
			g.states[i] = s.agg.New(&rs.fc, s.consts)
		}
	}
	return g
}

func (n *summarizeNode) run(rs *runState, emit func([]value.Value) error) error {
	groups := map[string]*group{}
	var order []*group
	e := &env{rs: rs}
	limit := rs.maxGroups()
	argBuf := make([][]value.Value, len(n.slots))
	for i, s := range n.slots {
		argBuf[i] = make([]value.Value, len(s.args))
	}
	err := n.in.run(rs, func(row []value.Value) error {
		e.row = row
		keys := make([]value.Value, len(n.keys))
		for i, k := range n.keys {
			keys[i] = k.f(e)
		}
		k := rowKey(keys)
		g := groups[k]
		if g == nil {
			if len(groups) >= limit {
				return rs.tooLarge("summarize's groups")
			}
			g = n.newGroup(rs, keys)
			groups[k] = g
			order = append(order, g)
		}
		for i, s := range n.slots {
			a := argBuf[i]
			for j, x := range s.args {
				a[j] = x.f(e)
			}
			if s.multi {
				g.multi[i].add(a)
			} else {
				g.states[i].Add(a)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(n.keys) == 0 && len(order) == 0 {
		// summarize without by over no rows: one row of the empty aggregates.
		order = append(order, n.newGroup(rs, nil))
	}
	for _, g := range order {
		res := make([]value.Value, 0, n.width)
		for i, s := range n.slots {
			if s.multi {
				m := g.multi[i]
				for j, a := range s.args {
					if m.has {
						res = append(res, m.vals[j])
					} else {
						res = append(res, value.NullOf(a.t))
					}
				}
				continue
			}
			if s.fnMulti > 0 {
				ms, ok := g.states[i].(fn.MultiState)
				var vals []value.Value
				if ok {
					vals = ms.Results()
				}
				for j := 0; j < s.fnMulti; j++ {
					if j < len(vals) {
						res = append(res, vals[j])
					} else {
						res = append(res, value.Value{})
					}
				}
				continue
			}
			res = append(res, g.states[i].Result())
		}
		out := make([]value.Value, 0, len(n.cols))
		out = append(out, g.keys...)
		re := &env{row: res, rs: rs}
		for _, o := range n.outs {
			out = append(out, o.f(re))
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) summarize(in plan, o *kql.SummarizeOp, sc *scope) (plan, error) {
	incols := in.columns()
	rs := &rowScope{cols: incols}
	n := &summarizeNode{in: in}
	taken := map[string]bool{}
	explicit := map[string]bool{}
	for _, a := range append(append([]*kql.Assign(nil), o.By...), o.Aggs...) {
		names := a.Names
		if id, ok := a.Value.(*kql.Ident); ok && len(names) == 0 && isBy(o, a) {
			// A key that is a bare column declares its name, as an explicit
			// name does (Microsoft's analyser refuses "by a, a" and
			// "a = count() by a"; computed keys get suffixes instead).
			names = []string{id.Name}
		}
		for _, nm := range names {
			if explicit[nm] {
				return nil, c.errAt(a, "a column named %s is already declared: name one of them differently (x = ...)", nm)
			}
			explicit[nm] = true
		}
	}
	// Group keys first.
	for _, a := range o.By {
		if c.hasAgg(a.Value) {
			return nil, c.errAt(a, "an aggregation is not allowed in summarize's by clause")
		}
		e, err := c.expr(a.Value, sc, rs)
		if err != nil {
			return nil, err
		}
		if e.t == value.Dynamic {
			return nil, c.errAt(a.Value, "summarize cannot group by a dynamic value; convert it, e.g. tostring(%s)", displayName(a.Value))
		}
		name := ""
		if len(a.Names) > 0 {
			name = a.Names[0]
		} else if name = exprName(a.Value); name == "" {
			name = columnN(taken, "Column", 1)
		}
		if len(a.Names) == 0 {
			name = uniqName(name, taken)
		}
		taken[name] = true
		n.cols = append(n.cols, value.Column{Name: name, Type: e.t})
		n.keys = append(n.keys, e)
	}
	byCols := nameSet(n.cols)
	// Then the aggregates.
	for _, a := range o.Aggs {
		if call, ok := a.Value.(*kql.Call); ok && (call.Name == "arg_max" || call.Name == "arg_min" || call.Name == "take_any" && (len(call.Args) != 1 || isStar(call.Args[0]))) {
			if err := c.multiAgg(n, call, a, rs, sc, taken, byCols); err != nil {
				return nil, err
			}
			continue
		}
		if call, ok := a.Value.(*kql.Call); ok && call.Name != "take_any" && call.Name != "arg_max" && call.Name != "arg_min" {
			if agg := fn.LookupAgg(call.Name); agg != nil && agg.Multi != nil {
				if err := c.fnMultiAgg(n, agg, call, a, rs, sc, taken); err != nil {
					return nil, err
				}
				continue
			}
		}
		slotBase := n.width
		var slotTypes []value.Type
		var firstSlot *aggSlot
		var firstArgName string
		c.aggHook = func(t *kql.Call) (*cexpr, error) {
			agg := fn.LookupAgg(t.Name)
			if agg == nil {
				return nil, nil
			}
			hook := c.aggHook
			c.aggHook = nil
			defer func() { c.aggHook = hook }()
			s, err := c.aggSlot(agg, t, rs, sc)
			if err != nil {
				return nil, err
			}
			if firstSlot == nil {
				firstSlot = s
				if len(t.Args) > 0 {
					firstArgName = exprName(t.Args[0])
					if t.Name == "percentile" || t.Name == "percentiles" {
						if len(t.Args) > 1 {
							if l, ok := t.Args[1].(*kql.Literal); ok {
								firstArgName += "_" + l.Raw
							}
						}
					}
				}
			}
			n.slots = append(n.slots, s)
			types := make([]value.Type, len(s.args))
			for i, x := range s.args {
				types[i] = x.t
			}
			rt, err := agg.Result(types)
			if err != nil {
				return nil, c.fail(t, errorf("%s: %v", t.Name, err))
			}
			i := n.width
			n.width++
			slotTypes = append(slotTypes, rt)
			return &cexpr{t: rt, f: func(e *env) value.Value { return e.row[i] }}, nil
		}
		e, err := c.expr(a.Value, sc, &rowScope{})
		c.aggHook = nil
		if err != nil {
			return nil, err
		}
		if n.width == slotBase {
			return nil, c.errAt(a.Value, "summarize needs an aggregation here, such as count() or make_set(x)")
		}
		name := ""
		if len(a.Names) > 0 {
			name = a.Names[0]
		} else {
			if call, ok := a.Value.(*kql.Call); ok && firstSlot != nil && call.Name == firstSlot.agg.Name || ok && fn.LookupAgg(call.Name) == firstSlot.agg {
				if firstSlot.agg.Column != nil {
					name = firstSlot.agg.Column(firstArgName)
				}
			}
			if name == "" {
				name = columnN(taken, "Column", 1)
			}
			name = uniqName(name, taken)
		}
		taken[name] = true
		n.cols = append(n.cols, value.Column{Name: name, Type: e.t})
		n.outs = append(n.outs, e)
		_ = slotTypes
	}
	return n, nil
}

func isBy(o *kql.SummarizeOp, a *kql.Assign) bool {
	for _, b := range o.By {
		if b == a {
			return true
		}
	}
	return false
}

// fnMultiAgg compiles an aggregation whose columns internal/kql/fn names (Agg.Multi).
func (c *compiler) fnMultiAgg(n *summarizeNode, agg *fn.Agg, t *kql.Call, a *kql.Assign, rs *rowScope, sc *scope, taken map[string]bool) error {
	s, err := c.aggSlot(agg, t, rs, sc)
	if err != nil {
		return err
	}
	names := make([]string, len(t.Args))
	types := make([]value.Type, len(s.args))
	for i, x := range t.Args {
		names[i] = exprName(x)
	}
	for i, x := range s.args {
		types[i] = x.t
	}
	cols, err := agg.Multi(names, types, s.consts)
	if err != nil {
		return c.fail(t, errorf("%s: %v", t.Name, err))
	}
	if len(cols) == 0 {
		return c.errAt(t, "%s gives no columns", t.Name)
	}
	if len(a.Names) > 0 {
		for i := range cols {
			if i < len(a.Names) {
				cols[i].Name = a.Names[i]
			}
		}
	}
	s.fnMulti = len(cols)
	base := n.width
	n.slots = append(n.slots, s)
	n.width += len(cols)
	for j, col := range cols {
		name := uniqName(col.Name, taken)
		taken[name] = true
		i, typ := base+j, col.Type
		n.cols = append(n.cols, value.Column{Name: name, Type: typ})
		n.outs = append(n.outs, &cexpr{t: typ, f: func(e *env) value.Value {
			v := e.row[i]
			if v.T != typ && !v.IsNull() {
				v = convert(v, typ)
			} else if v.IsNull() {
				v = value.NullOf(typ)
			}
			return v
		}})
	}
	return nil
}

func isStar(x kql.Expr) bool { _, ok := x.(*kql.Star); return ok }

// aggSlot compiles one aggregation call's arguments over the input row.
func (c *compiler) aggSlot(agg *fn.Agg, t *kql.Call, rs *rowScope, sc *scope) (*aggSlot, error) {
	if len(t.Args) < agg.Min || (agg.Max >= 0 && len(t.Args) > agg.Max) {
		return nil, c.errAt(t, "%s takes %s, not %d", t.Name, arity(agg.Min, agg.Max), len(t.Args))
	}
	s := &aggSlot{agg: agg}
	crs := c.constRun()
	for _, a := range t.Args {
		if isStar(a) {
			return nil, c.errAt(a, "%s does not take '*'", t.Name)
		}
		if c.hasAgg(a) {
			return nil, c.errAt(a, "an aggregation cannot be nested in another")
		}
		e, err := c.expr(a, sc, rs)
		if err != nil {
			return nil, err
		}
		s.args = append(s.args, e)
		if e.konst && !c.dependsOnRun(a) {
			s.consts = append(s.consts, e.f(&env{rs: crs}))
		} else {
			s.consts = append(s.consts, value.Value{})
		}
	}
	for _, k := range agg.Const {
		if k < len(s.args) && !s.args[k].konst {
			return nil, c.errAt(t.Args[k], "argument %d of %s must be a constant", k+1, t.Name)
		}
	}
	return s, nil
}

// multiAgg compiles arg_max/arg_min/take_any, which give several columns.
func (c *compiler) multiAgg(n *summarizeNode, t *kql.Call, a *kql.Assign, rs *rowScope, sc *scope, taken, byCols map[string]bool) error {
	s := &aggSlot{multi: true}
	switch t.Name {
	case "arg_max":
		s.sign = 1
	case "arg_min":
		s.sign = -1
	}
	if s.sign != 0 && len(t.Args) < 1 {
		return c.errAt(t, "%s takes the measure and the columns to return", t.Name)
	}
	var names []string
	first := ""
	for i, arg := range t.Args {
		if isStar(arg) {
			for j, col := range rs.cols {
				if byCols[col.Name] || (i > 0 && col.Name == first) || c.starHide[col.Name] || col.Name == openMark {
					continue
				}
				j, typ := j, col.Type
				s.args = append(s.args, &cexpr{t: typ, f: func(e *env) value.Value { return e.row[j] }})
				names = append(names, col.Name)
			}
			continue
		}
		x, nm := arg, ""
		if na, ok := arg.(*kql.NamedArg); ok {
			x, nm = na.Value, na.Name
		}
		e, err := c.expr(x, sc, rs)
		if err != nil {
			return err
		}
		if nm == "" {
			nm = exprName(x)
		}
		if nm == "" {
			nm = columnN(taken, "Column", 1)
		}
		if i == 0 {
			first = nm
		}
		if i < len(a.Names) { // (a, b) = arg_max(X, Y) names the columns in order
			nm = a.Names[i]
		}
		if i == 0 {
			if s.sign != 0 && (e.t == value.Dynamic) {
				return c.errAt(x, "%s needs an orderable measure (number, datetime, timespan, string), not dynamic", t.Name)
			}
		}
		s.args = append(s.args, e)
		names = append(names, nm)
	}
	base := n.width
	n.slots = append(n.slots, s)
	n.width += len(s.args)
	for j, x := range s.args {
		name := uniqName(names[j], taken)
		taken[name] = true
		i := base + j
		n.cols = append(n.cols, value.Column{Name: name, Type: x.t})
		n.outs = append(n.outs, &cexpr{t: x.t, f: func(e *env) value.Value { return e.row[i] }})
	}
	return nil
}

// hasAgg reports whether x calls an aggregation.
func (c *compiler) hasAgg(x kql.Expr) bool {
	found := false
	walk(x, func(e kql.Expr) {
		if call, ok := e.(*kql.Call); ok && (fn.LookupAgg(call.Name) != nil || call.Name == "arg_max" || call.Name == "arg_min") {
			found = true
		}
	})
	return found
}

// walk visits x and its scalar sub-expressions (not tabular ones).
func walk(x kql.Expr, f func(kql.Expr)) {
	if x == nil {
		return
	}
	f(x)
	switch t := x.(type) {
	case *kql.Paren:
		walk(t.X, f)
	case *kql.Binary:
		walk(t.L, f)
		walk(t.R, f)
	case *kql.Unary:
		walk(t.X, f)
	case *kql.InExpr:
		walk(t.X, f)
		for _, e := range t.List {
			walk(e, f)
		}
	case *kql.Between:
		walk(t.X, f)
		walk(t.Lo, f)
		walk(t.Hi, f)
	case *kql.Call:
		if t.Name == "toscalar" {
			return
		}
		for _, a := range t.Args {
			walk(a, f)
		}
	case *kql.NamedArg:
		walk(t.Value, f)
	case *kql.Member:
		walk(t.X, f)
	case *kql.Index:
		walk(t.X, f)
		walk(t.I, f)
	}
}

func displayName(x kql.Expr) string {
	if n := exprName(x); n != "" {
		return n
	}
	return "x"
}
