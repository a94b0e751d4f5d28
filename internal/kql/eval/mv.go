package eval

import (
	"regexp"
	"sort"
	"strings"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

type mvItem struct {
	x  *cexpr
	at int        // output column
	to value.Type // element type (Dynamic unless to typeof(T))
}

// mvExpander expands one row's items into rows, in parallel, padded with null.
type mvExpander struct {
	items    []mvItem
	width    int
	bagArray bool
	index    int // with_itemindex column, -1 = none
	limit    *cexpr
}

func (m *mvExpander) expand(e *env, row []value.Value, emit func([]value.Value) error) error {
	e.row = row
	lists := make([][]any, len(m.items))
	scalarOf := make([]bool, len(m.items))
	n := 0
	for i, it := range m.items {
		v := it.x.f(e)
		var list []any
		switch {
		case v.IsNull():
			list, scalarOf[i] = []any{nil}, true // a null expands to one row
		case v.T == value.Dynamic:
			switch d := v.D.(type) {
			case []any:
				list = d
			case map[string]any:
				keys := make([]string, 0, len(d))
				for k := range d {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if m.bagArray {
						list = append(list, []any{k, d[k]})
					} else {
						list = append(list, map[string]any{k: d[k]})
					}
				}
			default:
				list, scalarOf[i] = []any{d}, true
			}
		default:
			list, scalarOf[i] = []any{v.Dynamic()}, true
		}
		lists[i] = list
		if len(list) > n {
			n = len(list)
		}
	}
	if m.limit != nil {
		if l := scalar(m.limit.f(e)); !l.IsNull() && int(l.I) < n {
			n = int(l.I)
		}
	}
	for k := 0; k < n; k++ {
		out := make([]value.Value, m.width)
		copy(out, row)
		for i, it := range m.items {
			var el any
			if k < len(lists[i]) {
				el = lists[i][k]
			}
			var v value.Value
			if it.to == value.Dynamic || it.to == value.Unknown {
				v = value.NewDynamic(el)
			} else {
				v = convert(value.FromDynamic(el), it.to)
			}
			out[it.at] = v
		}
		if m.index >= 0 {
			out[m.index] = value.NewLong(int64(k))
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

type mvExpandNode struct {
	in   plan
	cols []value.Column
	mv   *mvExpander
}

func (n *mvExpandNode) columns() []value.Column { return n.cols }
func (n *mvExpandNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	return n.in.run(rs, func(row []value.Value) error { return n.mv.expand(e, row, emit) })
}

// mvItems compiles mv-expand / mv-apply items over the input columns.
func (c *compiler) mvItems(incols []value.Column, params []*kql.OpParam, items []*kql.MvItem, limit kql.Expr, legacy bool, sc *scope) ([]value.Column, *mvExpander, error) {
	cols := append([]value.Column(nil), incols...)
	rs := &rowScope{cols: incols}
	m := &mvExpander{index: -1}
	indexName := ""
	for _, p := range params {
		v := ""
		if id, ok := p.Value.(*kql.Ident); ok {
			v = id.Name
		}
		switch p.Name {
		case "bagexpansion":
			if v != "bag" && v != "array" {
				return nil, nil, c.errAt(p, "bagexpansion must be bag or array, not %q", v)
			}
			m.bagArray = v == "array"
		case "with_itemindex":
			indexName = v
		}
	}
	for _, it := range items {
		e, err := c.expr(it.Value, sc, rs)
		if err != nil {
			return nil, nil, err
		}
		unknown := e.t == value.Unknown // an open table's column: its elements are unknown too
		e = lower(e)
		if e.t != value.Dynamic {
			// Microsoft's analyser: "The expression must have the type dynamic."
			return nil, nil, c.errAt(it.Value, "mv-expand needs a dynamic value (an array or a property bag), not %s: wrap it in todynamic()", e.t)
		}
		to := value.Dynamic
		if it.To != "" {
			t, ok := value.ParseType(it.To)
			if !ok {
				return nil, nil, c.errAt(it, "unknown type %q", it.To)
			}
			to = t
		} else if unknown {
			to = value.Unknown
		}
		name := ""
		if len(it.Names) > 0 {
			name = it.Names[0]
		} else if name = exprName(it.Value); name == "" {
			name = columnN(nameSet(cols), "Column", 1)
		}
		at := -1
		for i, col := range cols {
			if col.Name == name {
				at = i
			}
		}
		if at < 0 {
			at = len(cols)
			cols = append(cols, value.Column{Name: name, Type: to})
		} else {
			cols[at].Type = to
		}
		m.items = append(m.items, mvItem{x: e, at: at, to: to})
	}
	if indexName != "" {
		m.index = len(cols)
		cols = append(cols, value.Column{Name: uniqName(indexName, nameSet(cols)), Type: value.Long})
	}
	if limit != nil {
		e, err := c.countArg(limit, sc)
		if err != nil {
			return nil, nil, err
		}
		m.limit = e
	} else if legacy {
		m.limit = konst(value.NewLong(128))
	}
	m.width = len(cols)
	return cols, m, nil
}

func (c *compiler) mvExpand(in plan, o *kql.MvExpandOp, sc *scope) (plan, error) {
	cols, m, err := c.mvItems(in.columns(), o.Params, o.Items, o.Limit, o.Legacy, sc)
	if err != nil {
		return nil, err
	}
	return &mvExpandNode{in: in, cols: cols, mv: m}, nil
}

type mvApplyNode struct {
	in   plan
	cols []value.Column
	mv   *mvExpander
	feed *feedNode
	sub  plan
	// pick: per output column, the sub-query column (>= 0) or the input column (-1 - i).
	pick []int
}

func (n *mvApplyNode) columns() []value.Column { return n.cols }
func (n *mvApplyNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	if rs.feed == nil {
		rs.feed = map[any][][]value.Value{}
	}
	return n.in.run(rs, func(row []value.Value) error {
		var rows [][]value.Value
		if err := n.mv.expand(e, row, func(r []value.Value) error { rows = append(rows, r); return nil }); err != nil {
			return err
		}
		saved := rs.feed[n.feed]
		rs.feed[n.feed] = rows
		// The sub-query's caches (materialize, toscalar) are per row.
		cache := rs.cache
		rs.cache = nil
		err := n.sub.run(rs, func(s []value.Value) error {
			out := make([]value.Value, len(n.pick))
			for i, k := range n.pick {
				if k >= 0 {
					out[i] = s[k]
				} else {
					out[i] = row[-1-k]
				}
			}
			return emit(out)
		})
		rs.cache = cache
		rs.feed[n.feed] = saved
		return err
	})
}

func (c *compiler) mvApply(in plan, o *kql.MvApplyOp, sc *scope) (plan, error) {
	incols := in.columns()
	cols, m, err := c.mvItems(incols, o.Params, o.Items, o.Limit, false, sc)
	if err != nil {
		return nil, err
	}
	feed := &feedNode{cols: cols}
	if o.On == nil {
		return nil, c.errAt(o, "mv-apply needs on (sub-query)")
	}
	var sub plan = feed
	if o.On.Source != nil {
		return nil, c.errAt(o.On, "mv-apply's sub-query starts with an operator, not a table")
	}
	if sub, err = c.ops(feed, o.On.Ops, sc.child()); err != nil {
		return nil, err
	}
	n := &mvApplyNode{in: in, mv: m, feed: feed, sub: sub}
	subcols := sub.columns()
	subIdx := map[string]int{}
	for i, col := range subcols {
		subIdx[col.Name] = i
	}
	inNames := map[string]bool{}
	for i, col := range incols {
		inNames[col.Name] = true
		if k, ok := subIdx[col.Name]; ok && subcols[k].Type == col.Type {
			n.pick = append(n.pick, k)
		} else if ok {
			n.pick = append(n.pick, k)
			col.Type = subcols[k].Type
		} else {
			n.pick = append(n.pick, -1-i)
		}
		n.cols = append(n.cols, value.Column{Name: col.Name, Type: col.Type})
	}
	for i, col := range subcols {
		if !inNames[col.Name] {
			n.pick = append(n.pick, i)
			n.cols = append(n.cols, col)
		}
	}
	return n, nil
}

// --- parse ---

type parseNode struct {
	in      plan
	cols    []value.Column
	src     *cexpr
	re      *regexp.Regexp
	at      []int // output index of each capture group
	groups  []int // submatch index of each capture group
	types   []value.Type
	where   bool
	relaxed bool
	width   int
}

func (n *parseNode) columns() []value.Column { return n.cols }
func (n *parseNode) run(rs *runState, emit func([]value.Value) error) error {
	e := &env{rs: rs}
	return n.in.run(rs, func(row []value.Value) error {
		e.row = row
		out := make([]value.Value, n.width)
		copy(out, row)
		m := n.re.FindStringSubmatch(str(n.src.f(e)))
		ok := m != nil
		vals := make([]value.Value, len(n.at))
		for i, t := range n.types {
			if !ok {
				vals[i] = value.NullOf(t)
				continue
			}
			v := convert(value.NewString(m[n.groups[i]]), t)
			if v.IsNull() && t != value.String && !n.relaxed {
				ok = false // simple and regex modes: a capture of the wrong type fails the parse
			}
			vals[i] = v
		}
		if !ok {
			if n.where {
				return nil
			}
			for i, t := range n.types {
				vals[i] = value.NullOf(t)
			}
		}
		for i, k := range n.at {
			out[k] = vals[i]
		}
		return emit(out)
	})
}

func (c *compiler) parse(in plan, o *kql.ParseOp, sc *scope) (plan, error) {
	incols := in.columns()
	src, err := c.expr(o.Source, sc, &rowScope{cols: incols})
	if err != nil {
		return nil, err
	}
	kind, flags := "simple", ""
	for _, p := range o.Params {
		switch p.Name {
		case "kind":
			if id, ok := p.Value.(*kql.Ident); ok {
				kind = id.Name
			}
		case "flags":
			switch v := p.Value.(type) {
			case *kql.Ident:
				flags = v.Name
			case *kql.Literal:
				flags = v.Raw
			}
		}
	}
	if kind != "simple" && kind != "regex" && kind != "relaxed" {
		return nil, c.errAt(o, "parse kind must be simple, regex or relaxed, not %q", kind)
	}
	n := &parseNode{in: in, src: src, where: o.Where, relaxed: kind == "relaxed"}
	n.cols = append([]value.Column(nil), incols...)
	var b strings.Builder
	b.WriteString("(?s)")
	if flags != "" {
		clean := ""
		for _, r := range flags {
			if strings.ContainsRune("imsU", r) {
				clean += string(r)
			}
		}
		if clean != "" {
			b.WriteString("(?" + clean + ")")
		}
	}
	b.WriteString("^")
	for i, part := range o.Pattern {
		last := i == len(o.Pattern)-1
		switch {
		case part.IsLit:
			if kind == "regex" {
				b.WriteString("(?:" + part.Lit + ")")
			} else {
				b.WriteString(regexp.QuoteMeta(part.Lit))
			}
		case part.Star:
			if last {
				b.WriteString(".*")
			} else {
				b.WriteString(".*?")
			}
		default:
			t := value.String
			if part.Type != "" {
				tt, ok := value.ParseType(part.Type)
				if !ok {
					return nil, c.errAt(part, "unknown type %q", part.Type)
				}
				t = tt
			}
			// Named groups, so a regex part's own groups (kind=regex) do
			// not shift the columns' captures.
			b.WriteString("(?P<" + parseGroup(len(n.at)) + ">")
			switch {
			case kind != "relaxed" && (t == value.Long || t == value.Int):
				b.WriteString(`-?\d+)`)
			case kind != "relaxed" && (t == value.Real || t == value.Decimal):
				b.WriteString(`-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)`)
			case last:
				b.WriteString(".*)")
			default:
				b.WriteString(".*?)")
			}
			// A capture named like an existing column is a new column
			// with a suffix (oracle: parse Issuer with ... Issuer adds Issuer1).
			at := len(n.cols)
			n.cols = append(n.cols, value.Column{Name: uniqName(part.Name, nameSet(n.cols)), Type: t})
			n.at = append(n.at, at)
			n.types = append(n.types, t)
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, c.errAt(o, "the parse pattern is not a valid regular expression: %v", err)
	}
	for i := range n.at {
		g := re.SubexpIndex(parseGroup(i))
		if g < 0 {
			return nil, c.errAt(o, "the parse pattern's regular expressions must not name a group %s", parseGroup(i))
		}
		n.groups = append(n.groups, g)
	}
	n.re = re
	n.width = len(n.cols)
	return n, nil
}

// parseGroup names the regexp group of parse's i-th column.
func parseGroup(i int) string { return "bgparsecol" + itoa(i) }
