package eval

import (
	"path"
	"slices"
	"strings"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

var joinKinds = map[string]bool{
	"innerunique": true, "inner": true, "leftouter": true, "rightouter": true, "fullouter": true,
	"leftsemi": true, "leftanti": true, "anti": true, "leftantisemi": true, "rightsemi": true,
	"rightanti": true, "rightantisemi": true,
}

type joinNode struct {
	left, right plan
	kind        string
	lk, rk      []int
	cols        []value.Column
	lookup      bool
	rightKeep   []int // right columns in the output (lookup drops the keys)
}

func (n *joinNode) columns() []value.Column { return n.cols }

func keyOf(row []value.Value, idx []int) (string, bool) {
	var buf [128]byte
	b := buf[:0]
	for _, i := range idx {
		v := row[i]
		if v.IsNull() {
			return "", false // a null key matches nothing
		}
		b = appendKeyPart(b, v)
	}
	return string(b), true
}

func (n *joinNode) run(rs *runState, emit func([]value.Value) error) error {
	// Hash join: build the right side, stream the left.
	type bucket struct{ rows []int }
	var right [][]value.Value
	table := map[string]*bucket{}
	limit := rs.maxGroups()
	err := n.right.run(rs, func(row []value.Value) error {
		if len(right) >= limit {
			return rs.tooLarge("the join's right side rows")
		}
		r := copyRow(row)
		right = append(right, r)
		if k, ok := keyOf(r, n.rk); ok {
			b := table[k]
			if b == nil {
				b = &bucket{}
				table[k] = b
			}
			b.rows = append(b.rows, len(right)-1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	matched := make([]bool, len(right))
	lw := len(n.left.columns())
	rw := len(n.rightKeep)
	seen := map[string]bool{}
	combine := func(l, r []value.Value) []value.Value {
		out := make([]value.Value, 0, lw+rw)
		if l == nil {
			for _, c := range n.left.columns() {
				out = append(out, value.NullOf(c.Type))
			}
		} else {
			out = append(out, l...)
		}
		rc := n.right.columns()
		for _, j := range n.rightKeep {
			if r == nil {
				out = append(out, value.NullOf(rc[j].Type))
			} else {
				out = append(out, r[j])
			}
		}
		return out
	}
	kind := n.kind
	steps := 0
	err = n.left.run(rs, func(l []value.Value) error {
		if steps++; steps&1023 == 0 {
			if err := rs.ctx.Err(); err != nil {
				return err
			}
		}
		k, ok := keyOf(l, n.lk)
		var b *bucket
		if ok {
			b = table[k]
		}
		switch kind {
		case "innerunique":
			if !ok || seen[k] {
				return nil
			}
			if len(seen) >= limit {
				return rs.tooLarge("the join's left keys")
			}
			seen[k] = true
			fallthrough
		case "inner":
			if b == nil {
				return nil
			}
			for _, j := range b.rows {
				if err := emit(combine(l, right[j])); err != nil {
					return err
				}
			}
		case "leftouter", "fullouter", "rightouter":
			if b == nil {
				if kind == "rightouter" {
					return nil
				}
				return emit(combine(l, nil))
			}
			for _, j := range b.rows {
				matched[j] = true
				if err := emit(combine(l, right[j])); err != nil {
					return err
				}
			}
		case "leftsemi":
			if b != nil {
				return emit(l)
			}
		case "leftanti", "anti", "leftantisemi":
			if b == nil {
				return emit(l)
			}
		case "rightsemi", "rightanti", "rightantisemi":
			if b != nil {
				for _, j := range b.rows {
					matched[j] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch kind {
	case "rightouter", "fullouter":
		for j, r := range right {
			if !matched[j] {
				if err := emit(combine(nil, r)); err != nil {
					return err
				}
			}
		}
	case "rightsemi", "rightanti", "rightantisemi":
		want := kind == "rightsemi"
		for j, r := range right {
			if matched[j] == want {
				if err := emit(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// join compiles join and lookup.
func (c *compiler) join(in plan, params []*kql.OpParam, rightX kql.Expr, on []kql.Expr, sc *scope, lookup bool, at kql.Node) (out plan, err error) {
	var right plan
	defer func() {
		if err == nil && right != nil && c.isOpen(right) {
			c.markOpen(out) // a join with an open table is open
		}
	}()
	kind := "innerunique"
	if lookup {
		kind = "leftouter"
	}
	for _, p := range params {
		if p.Name != "kind" {
			continue // hints change nothing here
		}
		v := ""
		if id, ok := p.Value.(*kql.Ident); ok {
			v = id.Name
		}
		if lookup && v != "leftouter" && v != "inner" {
			return nil, c.errAt(p, "lookup kind must be leftouter or inner, not %q", v)
		}
		if !joinKinds[v] {
			return nil, c.errAt(p, "unknown join kind %q (use inner, innerunique, leftouter, rightouter, fullouter, leftsemi, leftanti, rightsemi or rightanti)", v)
		}
		kind = v
	}
	right, err = c.tabular(rightX, sc)
	if err != nil {
		return nil, err
	}
	lc, rc := in.columns(), right.columns()
	n := &joinNode{left: in, right: right, kind: kind, lookup: lookup}
	lr, rr := &rowScope{cols: lc}, &rowScope{cols: rc}
	var addKey func(x kql.Expr) error
	var common []bool // per key: named once (on User), not $left.A == $right.B
	side := func(x kql.Expr) (string, string, bool) {
		m, ok := x.(*kql.Member)
		if !ok {
			return "", "", false
		}
		id, ok := m.X.(*kql.Ident)
		if !ok || (id.Name != "$left" && id.Name != "$right") {
			return "", "", false
		}
		return id.Name, m.Name, true
	}
	addKey = func(x kql.Expr) error {
		switch t := unparen(x).(type) {
		case *kql.Ident:
			li, ri := lr.index(t.Name), rr.index(t.Name)
			if li < 0 {
				c.noteMissing(lc, t.Name)
			}
			if ri < 0 && c.isOpen(right) {
				right = c.padOpen(right, t.Name)
				rc = right.columns()
				rr.cols, n.right = rc, right
				ri = rr.index(t.Name)
			}
			if li < 0 {
				return c.errAt(t, "join key %q is not a column of the left side%s", t.Name, suggest(t.Name, colNames(lc)))
			}
			if ri < 0 {
				return c.errAt(t, "join key %q is not a column of the right side%s", t.Name, suggest(t.Name, colNames(rc)))
			}
			n.lk, n.rk = append(n.lk, li), append(n.rk, ri)
			common = append(common, true)
			return nil
		case *kql.Binary:
			if t.Op == "and" {
				if err := addKey(t.L); err != nil {
					return err
				}
				return addKey(t.R)
			}
			if t.Op == "==" {
				s1, n1, ok1 := side(t.L)
				s2, n2, ok2 := side(t.R)
				if ok1 && ok2 && s1 != s2 {
					if s1 == "$right" {
						n1, n2 = n2, n1
					}
					li, ri := lr.index(n1), rr.index(n2)
					if li < 0 {
						c.noteMissing(lc, n1)
					}
					if ri < 0 && c.isOpen(right) {
						right = c.padOpen(right, n2)
						rc = right.columns()
						rr.cols, n.right = rc, right
						ri = rr.index(n2)
					}
					if li < 0 {
						return c.errAt(t.L, "$left.%s is not a column of the left side%s", n1, suggest(n1, colNames(lc)))
					}
					if ri < 0 {
						return c.errAt(t.R, "$right.%s is not a column of the right side%s", n2, suggest(n2, colNames(rc)))
					}
					n.lk, n.rk = append(n.lk, li), append(n.rk, ri)
					common = append(common, false)
					return nil
				}
			}
		}
		return c.errAt(x, "join on takes column names or $left.A == $right.B, joined by and")
	}
	for _, x := range on {
		if err := addKey(x); err != nil {
			return nil, err
		}
	}
	if len(n.lk) == 0 {
		return nil, c.errAt(at, "join needs an on clause naming the key columns")
	}
	for i := range n.lk {
		a, b := lc[n.lk[i]].Type, rc[n.rk[i]].Type
		if a == value.Unknown || b == value.Unknown {
			continue // a key of an open table: it matches nothing here
		}
		if !comparable(a, b) || a == value.Dynamic || b == value.Dynamic {
			return nil, c.errAt(at, "join keys %s (%s) and %s (%s) have types that cannot be matched", lc[n.lk[i]].Name, a, rc[n.rk[i]].Name, b)
		}
		// Microsoft's analyser: a common column must have one type on both
		// sides; $left.A == $right.B also lets int meet long, nothing else.
		intish := func(t value.Type) bool { return t == value.Int || t == value.Long }
		if a != b && (common[i] || !intish(a) || !intish(b)) {
			return nil, c.errAt(at, "join keys %s (%s) and %s (%s) must have the same type: cast one side (tostring(), tolong(), ...)", lc[n.lk[i]].Name, a, rc[n.rk[i]].Name, b)
		}
	}
	switch kind {
	case "leftsemi", "leftanti", "anti", "leftantisemi":
		n.cols = lc
		return n, nil
	case "rightsemi", "rightanti", "rightantisemi":
		n.cols = rc
		return n, nil
	}
	n.cols = append([]value.Column(nil), lc...)
	taken := nameSet(lc)
	rkey := map[int]bool{}
	for _, ri := range n.rk {
		if lookup { // lookup adds only the right side's non-key columns
			rkey[ri] = true
		}
	}
	for j, col := range rc {
		if lookup && rkey[j] {
			continue
		}
		name := uniqName(col.Name, taken)
		taken[name] = true
		n.cols = append(n.cols, value.Column{Name: name, Type: col.Type})
		n.rightKeep = append(n.rightKeep, j)
	}
	return n, nil
}

// --- union ---

type unionNode struct {
	inputs []plan
	maps   [][]int // per input: output column -> input column, -1 = null
	// conv, per input: output columns whose input column has another
	// type (one column of one type from inputs of several: convert).
	conv   [][]bool
	names  []string
	cols   []value.Column
	source bool
}

func (n *unionNode) columns() []value.Column { return n.cols }
func (n *unionNode) run(rs *runState, emit func([]value.Value) error) error {
	for i, p := range n.inputs {
		if err := rs.ctx.Err(); err != nil {
			return err
		}
		m := n.maps[i]
		var conv []bool
		if i < len(n.conv) {
			conv = n.conv[i]
		}
		name := value.NewString(n.names[i])
		err := p.run(rs, func(row []value.Value) error {
			out := make([]value.Value, len(n.cols))
			for j, k := range m {
				switch {
				case k >= 0 && k < len(row) && conv != nil && conv[j]:
					out[j] = convert(row[k], n.cols[j].Type)
				case k >= 0 && k < len(row):
					out[j] = row[k]
				case k == -2:
					out[j] = name
				default:
					out[j] = value.NullOf(n.cols[j].Type)
				}
			}
			return emit(out)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) union(in plan, o *kql.UnionOp, sc *scope) (plan, error) {
	n := &unionNode{}
	kind, src := "outer", ""
	fuzzy := false
	for _, p := range o.Params {
		switch p.Name {
		case "isfuzzy":
			switch v := p.Value.(type) {
			case *kql.Literal: // isfuzzy=bool(true)
				fuzzy = v.Kind == kql.LitBool && strings.EqualFold(v.Raw, "true")
			case *kql.Ident: // isfuzzy=true: a word, as operator parameters are
				fuzzy = strings.EqualFold(v.Name, "true")
			}
		case "kind":
			if id, ok := p.Value.(*kql.Ident); ok {
				kind = id.Name
			}
			if kind != "inner" && kind != "outer" {
				return nil, c.errAt(p, "union kind must be inner or outer, not %q", kind)
			}
		case "withsource":
			if id, ok := p.Value.(*kql.Ident); ok {
				src = id.Name
			}
		}
	}
	if in != nil {
		n.inputs = append(n.inputs, in)
		n.names = append(n.names, "union_arg0")
	}
	for _, t := range o.Tables {
		switch x := t.(type) {
		case *kql.Wildcard:
			found := false
			for _, name := range c.tableNames() {
				if ok, _ := path.Match(x.Pattern, name); ok {
					p, err := c.tabular(&kql.Ident{At: x.At, Name: name}, sc)
					if err != nil {
						return nil, err
					}
					n.inputs = append(n.inputs, p)
					n.names = append(n.names, name)
					found = true
				}
			}
			if !found {
				return nil, c.errAt(x, "no table matches %q", x.Pattern)
			}
			continue
		}
		if id, ok := t.(*kql.Ident); ok && fuzzy && sc.lookup(id.Name) == nil {
			if _, known := c.cat.Schema(id.Name); !known {
				// isfuzzy=true: a missing table is skipped (the analyser
				// gives it no columns; in parentheses it is open).
				if !slices.Contains(c.missing, id.Name) {
					c.missing = append(c.missing, id.Name)
				}
				continue
			}
		}
		if fuzzy {
			c.fuzzy++
		}
		p, err := c.tabular(t, sc)
		if fuzzy {
			c.fuzzy--
		}
		if err != nil {
			return nil, err
		}
		name := "union_arg" + itoa(len(n.inputs))
		if id, ok := unparen(t).(*kql.Ident); ok {
			name = id.Name
		}
		n.inputs = append(n.inputs, p)
		n.names = append(n.names, name)
	}
	// Output columns: by name in order of appearance; a name with two types
	// becomes Name_type for each (Kusto's rule), unless its first two
	// inputs agree on its type: then it is one column of that type
	// (Microsoft's analyser: string, string, datetime is one string
	// column; string, datetime, string three... two; unknown, unknown,
	// datetime one unknown column). kind=inner has the same
	// columns: the union-operator page says it keeps only the columns every
	// input has, but Microsoft's analyser gives every column, and the
	// result schema follows the analyser (issue 12's oracle must-show). Its
	// rows are every input's rows, as the page says; a column an input
	// lacks is null in that input's rows.
	type entry struct {
		name  string
		types []value.Type
		first [2]value.Type // the types of its first two inputs
		seen  int
	}
	var entries []*entry
	byName := map[string]*entry{}
	for _, p := range n.inputs {
		for _, col := range p.columns() {
			e := byName[col.Name]
			if e == nil {
				e = &entry{name: col.Name}
				byName[col.Name] = e
				entries = append(entries, e)
			}
			if e.seen < 2 {
				e.first[e.seen] = col.Type
			}
			e.seen++
			has := false
			for _, t := range e.types {
				has = has || t == col.Type
			}
			if !has {
				e.types = append(e.types, col.Type)
			}
		}
	}
	type outCol struct {
		name string
		typ  value.Type
		full bool // the column carries one type: match by name only
	}
	var outs []outCol
	if src != "" {
		n.cols = append(n.cols, value.Column{Name: src, Type: value.String})
	}
	for _, e := range entries {
		if len(e.types) == 1 || e.first[0] == e.first[1] {
			outs = append(outs, outCol{e.name, e.types[0], true})
			continue
		}
		for _, t := range e.types {
			outs = append(outs, outCol{e.name, t, false})
		}
	}
	for _, oc := range outs {
		name := oc.name
		if !oc.full {
			name = oc.name + "_" + oc.typ.String()
		}
		n.cols = append(n.cols, value.Column{Name: name, Type: oc.typ})
	}
	for _, p := range n.inputs {
		pc := p.columns()
		var m []int
		if src != "" {
			m = append(m, -2)
		}
		var conv []bool
		if src != "" {
			conv = append(conv, false)
		}
		for _, oc := range outs {
			k := -1
			for i, col := range pc {
				if col.Name == oc.name && (oc.full || col.Type == oc.typ) {
					k = i
				}
			}
			m = append(m, k)
			conv = append(conv, k >= 0 && pc[k].Type != oc.typ)
		}
		n.maps = append(n.maps, m)
		n.conv = append(n.conv, conv)
	}
	for _, p := range n.inputs {
		if c.isOpen(p) {
			return c.markOpen(n), nil
		}
	}
	return n, nil
}
