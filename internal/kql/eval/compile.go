package eval

import (
	"path"
	"sort"
	"strings"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// TableLister is a Catalog that can list its tables (for union T* and for
// "unknown table" suggestions). Optional.
type TableLister interface {
	Tables() []string
}

func (c *compiler) tableNames() []string {
	var names []string
	if tl, ok := c.cat.(TableLister); ok {
		names = append(names, tl.Tables()...)
	}
	sort.Strings(names)
	return names
}

func (c *compiler) compileScript() (plan, error) {
	if c.script == nil {
		return nil, &Error{Msg: "no query"}
	}
	if len(c.script.Unsupported) > 0 {
		return nil, c.script.Unsupported[0]
	}
	sc := &scope{names: map[string]*binding{}}
	var last *kql.QueryStmt
	for _, st := range c.script.Stmts {
		switch s := st.(type) {
		case *kql.QueryStmt:
			last = s
		case *kql.LetStmt, *kql.DeclareStmt:
			if err := c.lets([]kql.Stmt{s}, sc); err != nil {
				return nil, err
			}
		}
	}
	if last == nil {
		return nil, &Error{Pos: c.script.Pos(len(c.script.Src)), Msg: "the script has no query: its last statement must be a query, not a let"}
	}
	if c.isTabular(last.Expr, sc, nil) {
		return c.tabular(last.Expr, sc)
	}
	// A scalar query is printed, as Kusto does.
	return c.printOp(&kql.PrintOp{At: last.At, Cols: []*kql.Assign{{At: last.At, Value: last.Expr}}}, sc)
}

// lets binds let statements (and declare query_parameters defaults) in sc.
func (c *compiler) lets(stmts []kql.Stmt, sc *scope) error {
	for _, st := range stmts {
		switch s := st.(type) {
		case *kql.LetStmt:
			// Microsoft's analyser refuses a second let of one name in one
			// scope ("already declared"); a nested scope (a function's body)
			// may shadow an outer name, and the innermost binding applies
			// (let-statement).
			if _, dup := sc.names[s.Name]; dup {
				return c.errAt(s, "a variable named %s is already declared in this scope: rename one of them", s.Name)
			}
			if fd, ok := s.Value.(*kql.FuncDef); ok {
				sc.names[s.Name] = &binding{fn: fd, fnEnv: sc.snapshot()}
				continue
			}
			if c.isTabular(s.Value, sc, nil) {
				// The value is compiled lazily, so it gets the names bound so
				// far, not itself nor the lets after it.
				x, env := s.Value, sc.snapshot()
				var cached plan
				sc.names[s.Name] = &binding{tab: func() (plan, error) {
					if cached != nil {
						return cached, nil
					}
					p, err := c.tabular(x, env)
					if err != nil {
						return nil, err
					}
					cached = p
					return p, nil
				}}
				continue
			}
			e, err := c.expr(s.Value, sc, &rowScope{})
			if err != nil {
				return err
			}
			sc.names[s.Name] = &binding{scalar: e}
		case *kql.DeclareStmt:
			for _, p := range s.Params {
				if p.Default == nil {
					return c.errAt(p, "query parameter %s has no value: give it a default (%s:%s = ...)", p.Name, p.Name, p.Type)
				}
				e, err := c.expr(p.Default, sc, &rowScope{})
				if err != nil {
					return err
				}
				sc.names[p.Name] = &binding{scalar: e}
			}
		}
	}
	return nil
}

// tabular compiles a tabular expression.
func (c *compiler) tabular(x kql.Expr, sc *scope) (plan, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 200 {
		return nil, c.errAt(x, "the query nests too deeply")
	}
	switch t := unparen(x).(type) {
	case *kql.Pipeline:
		var p plan
		ops := t.Ops
		if t.Source != nil {
			var err error
			if p, err = c.tabular(t.Source, sc); err != nil {
				return nil, err
			}
		} else {
			if len(ops) == 0 {
				return nil, c.errAt(t, "an empty query")
			}
			var err error
			if p, err = c.sourceOp(ops[0], sc); err != nil {
				return nil, err
			}
			ops = ops[1:]
		}
		return c.ops(p, ops, sc)
	case *kql.Ident:
		if b := sc.lookup(t.Name); b != nil {
			switch {
			case b.tab != nil:
				return c.notFuzzy(b.tab)
			case b.fn != nil:
				return c.notFuzzy(func() (plan, error) { return c.tabCall(&kql.Call{At: t.At, Name: t.Name}, b, sc) })
			case b.scalar != nil:
				return nil, c.errAt(t, "%s is a value, not a table", t.Name)
			}
		}
		cols, ok := c.cat.Schema(t.Name)
		if !ok && c.fuzzy > 0 {
			return c.openTable(t.Name), nil
		}
		if !ok {
			return nil, c.errAt(t, "unknown table %q%s", t.Name, suggest(t.Name, c.tableNames()))
		}
		c.scans++
		return &scanNode{cat: c.cat, table: t.Name, cols: cols}, nil
	case *kql.DataTable:
		return c.datatable(t, sc)
	case *kql.Call:
		switch t.Name {
		case "materialize":
			if len(t.Args) != 1 {
				return nil, c.errAt(t, "materialize takes one tabular argument")
			}
			p, err := c.tabular(t.Args[0], sc)
			if err != nil {
				return nil, err
			}
			return &matNode{in: p}, nil
		case "_GetWatchlist":
			if len(t.Args) != 1 {
				return nil, c.errAt(t, "_GetWatchlist takes the watchlist's alias")
			}
			alias, err := c.constString(t.Args[0], sc)
			if err != nil {
				return nil, err
			}
			w, ok := c.opt.Watchlists[alias]
			if !ok || w == nil {
				var names []string
				for n := range c.opt.Watchlists {
					names = append(names, n)
				}
				sort.Strings(names)
				return nil, c.errAt(t, "no watchlist %q is configured%s; add it to the config's watchlists", alias, suggest(alias, names))
			}
			return watchlistNode(w), nil
		case "table", "view":
			if len(t.Args) < 1 {
				return nil, c.errAt(t, "%s takes a table name", t.Name)
			}
			n, err := c.constString(t.Args[0], sc)
			if err != nil {
				return nil, err
			}
			return c.tabular(&kql.Ident{At: t.At, Name: n}, sc)
		}
		if b := sc.lookup(t.Name); b != nil && b.fn != nil {
			return c.notFuzzy(func() (plan, error) { return c.tabCall(t, b, sc) })
		}
		return nil, c.errAt(t, "%s(...) is not a table", t.Name)
	case *kql.ExternalData:
		return nil, &kql.UnsupportedError{Pos: c.script.Pos(t.Off), Feature: "externaldata", Msg: "externaldata is not supported: breakglass reads no URLs"}
	}
	return nil, c.errAt(x, "expected a table here")
}

// watchlistNode serves a watchlist's rows. A row of the wrong width is
// padded with nulls (or cut) rather than refused: an odd row must not stop
// a break-glass rule from running, nor crash it.
func watchlistNode(w *Table) plan {
	rows := make([][]value.Value, len(w.Rows))
	for i, r := range w.Rows {
		if len(r) == len(w.Columns) {
			rows[i] = r
			continue
		}
		fixed := make([]value.Value, len(w.Columns))
		copy(fixed, r)
		for j := len(r); j < len(w.Columns); j++ {
			fixed[j] = value.NullOf(w.Columns[j].Type)
		}
		rows[i] = fixed
	}
	return &dataNode{cols: w.Columns, rows: rows}
}

// tabCall expands a let function that returns a table.
func (c *compiler) tabCall(t *kql.Call, b *binding, sc *scope) (plan, error) {
	defer func() { c.depth -= 10 }()
	fs, err := c.bindArgs(t, b, sc, &rowScope{})
	if err != nil {
		return nil, err
	}
	body := b.fn.Body
	if len(body) == 0 {
		return nil, c.errAt(t, "%s has an empty body", t.Name)
	}
	if err := c.lets(body[:len(body)-1], fs); err != nil {
		return nil, err
	}
	q, ok := body[len(body)-1].(*kql.QueryStmt)
	if !ok {
		return nil, c.errAt(t, "%s's body does not end with a query", t.Name)
	}
	return c.tabular(q.Expr, fs)
}

func (c *compiler) datatable(t *kql.DataTable, sc *scope) (plan, error) {
	cols := make([]value.Column, len(t.Schema))
	for i, d := range t.Schema {
		typ, ok := value.ParseType(d.Type)
		if !ok {
			return nil, c.errAt(d, "unknown type %q", d.Type)
		}
		cols[i] = value.Column{Name: d.Name, Type: typ}
	}
	if len(cols) == 0 {
		return nil, c.errAt(t, "datatable needs at least one column")
	}
	if len(t.Values)%len(cols) != 0 {
		return nil, c.errAt(t, "datatable has %d values, not a multiple of its %d columns", len(t.Values), len(cols))
	}
	var rows [][]value.Value
	crs := c.constRun()
	for i := 0; i < len(t.Values); i += len(cols) {
		row := make([]value.Value, len(cols))
		for j := range cols {
			e, err := c.expr(t.Values[i+j], sc, &rowScope{})
			if err != nil {
				return nil, err
			}
			v := e.f(&env{rs: crs})
			if v.T != cols[j].Type {
				if !(v.T.Numeric() && cols[j].Type.Numeric()) && !v.IsNull() && cols[j].Type != value.Dynamic && !(v.T == value.String && cols[j].Type == value.Guid) {
					return nil, c.errAt(t.Values[i+j], "datatable column %s is %s, this value is %s", cols[j].Name, cols[j].Type, v.T)
				}
				v = convert(v, cols[j].Type)
			}
			row[j] = v
		}
		rows = append(rows, row)
	}
	return &dataNode{cols: cols, rows: rows}, nil
}

// sourceOp compiles the first operator of a pipeline without a source.
func (c *compiler) sourceOp(op kql.Op, sc *scope) (plan, error) {
	switch o := op.(type) {
	case *kql.PrintOp:
		return c.printOp(o, sc)
	case *kql.RangeOp:
		return c.rangeOp(o, sc)
	case *kql.UnionOp:
		return c.union(nil, o, sc)
	case *kql.SourceOp:
		return c.tabular(o.X, sc)
	case *kql.UnsupportedOp:
		return nil, c.unsupported(o)
	}
	return nil, c.errAt(op, "%s needs an input table: start the query with a table name", op.OpName())
}

func (c *compiler) unsupported(o *kql.UnsupportedOp) error {
	return &kql.UnsupportedError{Pos: c.script.Pos(o.Off), Feature: o.Name, Msg: o.Name + " is not supported by breakglass's KQL engine"}
}

func (c *compiler) printOp(o *kql.PrintOp, sc *scope) (plan, error) {
	n := &printNode{}
	taken := map[string]bool{}
	for i, a := range o.Cols {
		e, err := c.expr(a.Value, sc, &rowScope{})
		if err != nil {
			return nil, err
		}
		name := "print_" + itoa(i)
		if len(a.Names) > 0 {
			name = a.Names[0]
		}
		name = uniqName(name, taken)
		taken[name] = true
		n.cols = append(n.cols, value.Column{Name: name, Type: e.t})
		n.exprs = append(n.exprs, e)
	}
	return n, nil
}

func (c *compiler) rangeOp(o *kql.RangeOp, sc *scope) (plan, error) {
	var es [3]*cexpr
	for i, x := range []kql.Expr{o.From, o.To, o.Step} {
		e, err := c.expr(x, sc, &rowScope{})
		if err != nil {
			return nil, err
		}
		if !e.konst {
			return nil, c.errAt(x, "range needs constant bounds")
		}
		es[i] = e
	}
	t := es[0].t
	if t == value.Int {
		t = value.Long
	}
	if t != value.Long && t != value.Real && t != value.DateTime && t != value.TimeSpan {
		return nil, c.errAt(o.From, "range needs numbers, datetimes or timespans, not %s", es[0].t)
	}
	return &rangeNode{cols: []value.Column{{Name: o.Col, Type: t}}, from: es[0], to: es[1], step: es[2]}, nil
}

// ops applies a pipeline's operators.
func (c *compiler) ops(p plan, ops []kql.Op, sc *scope) (plan, error) {
	for _, op := range ops {
		var err error
		if p, err = c.op(p, op, sc); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// op1 compiles one operator (op in open.go handles open inputs).
func (c *compiler) op1(in plan, op kql.Op, sc *scope) (plan, error) {
	rs := &rowScope{cols: in.columns()}
	switch o := op.(type) {
	case *kql.WhereOp:
		e, err := c.expr(o.Pred, sc, rs)
		if err != nil {
			return nil, err
		}
		if e.t != value.Bool && e.t != value.Unknown {
			return nil, c.errAt(o.Pred, "where needs a bool condition, not %s; for a dynamic value use tobool()", e.t)
		}
		pred := *e
		pred.lit = c.litOf(o.Pred, rs)
		return &whereNode{in: in, pred: &pred}, nil
	case *kql.ExtendOp:
		return c.extend(in, o.Cols, sc)
	case *kql.SerializeOp:
		if len(o.Cols) == 0 {
			return in, nil
		}
		return c.extend(in, o.Cols, sc)
	case *kql.ProjectOp:
		return c.project(in, o, sc)
	case *kql.SummarizeOp:
		return c.summarize(in, o, sc)
	case *kql.CountOp:
		name := "Count"
		if o.As != "" {
			name = o.As
		}
		return &countNode{in: in, cols: []value.Column{{Name: name, Type: value.Long}}}, nil
	case *kql.TakeOp:
		e, err := c.countArg(o.N, sc)
		if err != nil {
			return nil, err
		}
		return &takeNode{in: in, n: e}, nil
	case *kql.SampleOp:
		e, err := c.countArg(o.N, sc)
		if err != nil {
			return nil, err
		}
		if o.Distinct {
			d, err := c.distinct(in, &kql.DistinctOp{At: o.At, Cols: []*kql.Assign{{At: o.At, Value: o.Of}}}, sc)
			if err != nil {
				return nil, err
			}
			return &takeNode{in: d, n: e}, nil
		}
		return &takeNode{in: in, n: e}, nil
	case *kql.TopOp:
		e, err := c.countArg(o.N, sc)
		if err != nil {
			return nil, err
		}
		keys, err := c.sortKeys(o.By, sc, rs)
		if err != nil {
			return nil, err
		}
		return &sortNode{in: in, keys: keys, limit: e}, nil
	case *kql.SortOp:
		keys, err := c.sortKeys(o.Keys, sc, rs)
		if err != nil {
			return nil, err
		}
		return &sortNode{in: in, keys: keys}, nil
	case *kql.DistinctOp:
		return c.distinct(in, o, sc)
	case *kql.UnionOp:
		return c.union(in, o, sc)
	case *kql.JoinOp:
		return c.join(in, o.Params, o.Right, o.On, sc, false, o)
	case *kql.LookupOp:
		return c.join(in, o.Params, o.Right, o.On, sc, true, o)
	case *kql.MvExpandOp:
		return c.mvExpand(in, o, sc)
	case *kql.MvApplyOp:
		return c.mvApply(in, o, sc)
	case *kql.ParseOp:
		return c.parse(in, o, sc)
	case *kql.AsOp:
		m := &matNode{in: in}
		sc.names[o.Name] = &binding{tab: func() (plan, error) { return m, nil }}
		return m, nil
	case *kql.RenderOp:
		return &identNode{in: in}, nil
	case *kql.GetSchemaOp:
		cols := []value.Column{{Name: "ColumnName", Type: value.String}, {Name: "ColumnOrdinal", Type: value.Long},
			{Name: "DataType", Type: value.String}, {Name: "ColumnType", Type: value.String}}
		var rows [][]value.Value
		for i, col := range in.columns() {
			rows = append(rows, []value.Value{value.NewString(col.Name), value.NewLong(int64(i)),
				value.NewString(typeName(col.Type)), value.NewString(col.Type.String())})
		}
		return &dataNode{cols: cols, rows: rows}, nil
	case *kql.InvokeOp:
		b := sc.lookup(o.Call.Name)
		if b == nil || b.fn == nil {
			return nil, c.errAt(o, "invoke: unknown function %q", o.Call.Name)
		}
		if len(b.fn.Params) == 0 || b.fn.Params[0].Type != "table" {
			return nil, c.errAt(o, "invoke: %s does not take a table as its first parameter", o.Call.Name)
		}
		inner := sc.child()
		inName := "\x00invoke" + itoa(o.Off)
		inner.names[inName] = &binding{tab: func() (plan, error) { return in, nil }}
		call := *o.Call
		call.Args = append([]kql.Expr{&kql.Ident{At: o.At, Name: inName}}, o.Call.Args...)
		return c.tabCall(&call, b, inner)
	case *kql.SourceOp:
		return nil, c.errAt(o, "a table cannot follow '|' here")
	case *kql.PrintOp, *kql.RangeOp:
		return nil, c.errAt(o, "%s starts a query; it cannot follow '|'", op.OpName())
	case *kql.UnsupportedOp:
		return nil, c.unsupported(o)
	}
	return nil, c.errAt(op, "the operator %s is not supported", op.OpName())
}

func (c *compiler) countArg(x kql.Expr, sc *scope) (*cexpr, error) {
	e, err := c.expr(x, sc, &rowScope{})
	if err != nil {
		return nil, err
	}
	if !e.t.Numeric() {
		return nil, c.errAt(x, "a row count must be a number, not %s", e.t)
	}
	return e, nil
}

func (c *compiler) sortKeys(keys []*kql.SortKey, sc *scope, rs *rowScope) ([]sortKey, error) {
	var out []sortKey
	for _, k := range keys {
		e, err := c.expr(k.X, sc, rs)
		if err != nil {
			return nil, err
		}
		if e.t == value.Dynamic {
			return nil, c.errAt(k.X, "cannot sort by a dynamic value; convert it, e.g. tostring(%s)", displayName(k.X))
		}
		nf := k.Asc // defaults: nulls first ascending, last descending
		if k.NullsSet {
			nf = k.NullsFirst
		}
		out = append(out, sortKey{x: e, asc: k.Asc, nullsFirst: nf})
	}
	return out, nil
}

func (c *compiler) extend(in plan, cols []*kql.Assign, sc *scope) (plan, error) {
	n := &extendNode{in: in, cols: append([]value.Column(nil), in.columns()...)}
	n.width = len(n.cols)
	// Every expression is a calculation over the input (extend-operator):
	// it sees the input's columns, not those this extend adds or replaces
	// (Microsoft's analyser: in extend x = 1, y = x, "the name 'x' does
	// not refer to any known column"; in extend a = "s", b = a, b is the
	// input's a).
	rs := &rowScope{cols: in.columns()}
	for _, a := range cols {
		if len(a.Names) > 1 {
			return nil, c.errAt(a, "extend (a, b) = ... is not supported")
		}
		e, err := c.expr(a.Value, sc, rs)
		if err != nil {
			return nil, err
		}
		name := ""
		if len(a.Names) == 1 {
			name = a.Names[0]
		} else {
			name = exprName(a.Value)
		}
		if name == "" {
			name = columnN(nameSet(n.cols), "Column", 1)
		}
		at := -1
		for i, col := range n.cols {
			if col.Name == name {
				at = i
			}
		}
		if at < 0 {
			at = len(n.cols)
			n.cols = append(n.cols, value.Column{Name: name, Type: e.t})
			n.width++
		} else {
			n.cols[at].Type = e.t
		}
		n.exprs = append(n.exprs, e)
		n.at = append(n.at, at)
	}
	return n, nil
}

func (c *compiler) project(in plan, o *kql.ProjectOp, sc *scope) (plan, error) {
	incols := in.columns()
	rs := &rowScope{cols: incols}
	switch o.Kind {
	case "project":
		n := &projectNode{in: in}
		taken := map[string]bool{}
		for _, a := range o.Cols {
			if len(a.Names) > 1 {
				return nil, c.errAt(a, "project (a, b) = ... is not supported")
			}
			e, err := c.expr(a.Value, sc, rs)
			if err != nil {
				return nil, err
			}
			name := ""
			if len(a.Names) == 1 {
				name = a.Names[0]
				if taken[name] {
					return nil, c.errAt(a, "a column named %s is already declared", name)
				}
			} else if name = exprName(a.Value); name != "" {
				name = uniqName(name, taken)
			} else {
				name = columnN(taken, "Column", 1)
			}
			taken[name] = true
			n.cols = append(n.cols, value.Column{Name: name, Type: e.t})
			n.exprs = append(n.exprs, e)
		}
		return n, nil
	case "project-rename":
		cols := append([]value.Column(nil), incols...)
		idx := make([]int, len(cols))
		for i := range idx {
			idx[i] = i
		}
		// As Microsoft's analyser decides: a new name may be neither a
		// column of the input (even one renamed away here, even the old
		// name itself) nor a name this project-rename already gave; a
		// column renamed twice keeps its first new name.
		given := map[string]bool{}
		renamed := make([]bool, len(cols))
		for _, a := range o.Cols {
			old, ok := a.Value.(*kql.Ident)
			if !ok || len(a.Names) != 1 {
				return nil, c.errAt(a, "project-rename takes New = Old column names")
			}
			i := rs.index(old.Name)
			if i < 0 {
				c.noteMissing(incols, old.Name)
				return nil, c.errAt(old, "unknown column %q%s", old.Name, suggest(old.Name, colNames(incols)))
			}
			nn := a.Names[0]
			if rs.index(nn) >= 0 || given[nn] {
				return nil, c.errAt(a, "a column named %s is already declared: project-away it first, or pick another name", nn)
			}
			given[nn] = true
			if !renamed[i] {
				cols[i].Name = nn
				renamed[i] = true
			}
		}
		return &permNode{in: in, cols: cols, idx: idx}, nil
	case "project-away", "project-keep", "project-reorder":
		match := make([]bool, len(incols))
		var order []int
		for k, a := range o.Cols {
			first := len(order)
			pat := ""
			switch v := a.Value.(type) {
			case *kql.Ident:
				pat = v.Name
			case *kql.Wildcard:
				pat = v.Pattern
			default:
				return nil, c.errAt(a, "%s takes column names or patterns", o.Kind)
			}
			found := false
			for i, col := range incols {
				if ok, _ := path.Match(pat, col.Name); ok || col.Name == pat {
					found = true
					if !match[i] {
						order = append(order, i)
					}
					match[i] = true
				}
			}
			if !found {
				if _, isW := a.Value.(*kql.Wildcard); !isW {
					c.noteMissing(incols, pat)
					return nil, c.errAt(a, "unknown column %q%s", pat, suggest(pat, colNames(incols)))
				}
			}
			if o.Kind == "project-reorder" && k < len(o.Order) && o.Order[k] != "" {
				// project-reorder-operator: the columns a pattern matches are
				// ordered by name; granny- orders treat digit runs as numbers.
				sortNames(order[first:], incols, o.Order[k])
			}
		}
		var idx []int
		switch o.Kind {
		case "project-away":
			for i := range incols {
				if !match[i] {
					idx = append(idx, i)
				}
			}
		case "project-keep":
			for i := range incols {
				if match[i] {
					idx = append(idx, i)
				}
			}
		case "project-reorder":
			idx = append(idx, order...)
			for i := range incols {
				if !match[i] {
					idx = append(idx, i)
				}
			}
		}
		cols := make([]value.Column, len(idx))
		for i, j := range idx {
			cols[i] = incols[j]
		}
		return &permNode{in: in, cols: cols, idx: idx}, nil
	}
	return nil, c.errAt(o, "unknown operator %s", o.Kind)
}

func (c *compiler) distinct(in plan, o *kql.DistinctOp, sc *scope) (plan, error) {
	incols := in.columns()
	rs := &rowScope{cols: incols}
	n := &distinctNode{in: in}
	if o.All {
		n.cols = incols
		for i := range incols {
			i, t := i, incols[i].Type
			n.exprs = append(n.exprs, &cexpr{t: t, f: func(e *env) value.Value { return e.row[i] }})
		}
		return n, nil
	}
	taken := map[string]bool{}
	for _, a := range o.Cols {
		if _, ok := a.Value.(*kql.Star); ok {
			return c.distinct(in, &kql.DistinctOp{At: o.At, All: true}, sc)
		}
		e, err := c.expr(a.Value, sc, rs)
		if err != nil {
			return nil, err
		}
		name := ""
		if len(a.Names) > 0 {
			name = a.Names[0]
		} else if name = exprName(a.Value); name == "" {
			name = columnN(taken, "Column", 1)
		}
		name = uniqName(name, taken)
		taken[name] = true
		n.cols = append(n.cols, value.Column{Name: name, Type: e.t})
		n.exprs = append(n.exprs, e)
	}
	return n, nil
}

// sortNames orders column indexes by their names: "asc", "desc",
// "granny-asc" or "granny-desc" (a2 before a10).
func sortNames(idx []int, cols []value.Column, order string) {
	less := func(a, b string) bool { return a < b }
	if strings.HasPrefix(order, "granny-") {
		less = grannyLess
	}
	desc := strings.HasSuffix(order, "desc")
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := cols[idx[i]].Name, cols[idx[j]].Name
		if desc {
			a, b = b, a
		}
		return less(a, b)
	})
}

// grannyLess compares names with runs of digits compared as numbers.
func grannyLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			x, y := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(x) != len(y) {
				return len(x) < len(y)
			}
			if x != y {
				return x < y
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
