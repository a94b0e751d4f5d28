package eval

import (
	"strconv"

	"breakglass/internal/kql"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/value"
)

// call compiles a scalar function call: a let-bound function, one of the
// engine's own (toscalar, column_ifexists), or one from internal/kql/fn.
func (c *compiler) call(t *kql.Call, sc *scope, rs *rowScope) (*cexpr, error) {
	if t.Target != nil {
		return nil, c.fail(t, &posErr{"calls on another database or cluster are not supported"})
	}
	if b := sc.lookup(t.Name); b != nil && b.fn != nil {
		if c.fnIsTabular(b) {
			return nil, c.errAt(t, "%s returns a table, not a value; use toscalar(%s(...))", t.Name, t.Name)
		}
		return c.userScalar(t, b, sc, rs)
	}
	if c.aggHook != nil {
		if e, err := c.aggHook(t); e != nil || err != nil {
			return e, err
		}
	}
	switch t.Name {
	case "toscalar":
		if len(t.Args) != 1 {
			return nil, c.errAt(t, "toscalar takes one tabular argument")
		}
		arg := t.Args[0]
		if !c.isTabular(arg, sc, rs) {
			// toscalar(scalar) is the scalar itself.
			return c.expr(arg, sc, rs)
		}
		before := c.scans
		p, err := c.tabular(arg, sc)
		if err != nil {
			return nil, err
		}
		if c.scans != before {
			c.subTables = true
		}
		cols := p.columns()
		if len(cols) == 0 {
			return nil, c.errAt(t, "toscalar: the table has no columns")
		}
		typ := cols[0].Type
		return &cexpr{t: typ, konst: true, f: func(e *env) value.Value {
			rows, err := e.rs.materialized(p)
			if err != nil {
				e.rs.fail(err)
				return value.NullOf(typ)
			}
			if len(rows) == 0 {
				return value.NullOf(typ)
			}
			return rows[0][0]
		}}, nil
	case "column_ifexists":
		if len(t.Args) != 2 {
			return nil, c.errAt(t, "column_ifexists takes a column name and a default value")
		}
		n, err := c.constString(t.Args[0], sc)
		if err != nil {
			return nil, err
		}
		if rs.index(n) >= 0 {
			return c.ident(&kql.Ident{At: t.At, Name: n}, sc, rs)
		}
		return c.expr(t.Args[1], sc, rs)
	case "materialize", "_GetWatchlist", "view", "table":
		return nil, c.errAt(t, "%s returns a table, not a value", t.Name)
	}
	switch t.Name {
	case "ingestion_time":
		// The record's ingestion time: Log Analytics' _TimeReceived
		// standard column when the table has it, else null.
		if len(t.Args) != 0 {
			return nil, c.errAt(t, "ingestion_time takes no arguments")
		}
		if rs.index("_TimeReceived") >= 0 {
			return c.ident(&kql.Ident{At: t.At, Name: "_TimeReceived"}, sc, rs)
		}
		return konst(value.NullOf(value.DateTime)), nil
	case "pack_all":
		// A bag of the row's columns: only the engine knows the row.
		if len(t.Args) > 1 {
			return nil, c.errAt(t, "pack_all takes at most one argument (ignore_null_empty)")
		}
		skip := false
		if len(t.Args) == 1 {
			a, err := c.expr(t.Args[0], sc, rs)
			if err != nil {
				return nil, err
			}
			if !a.konst || a.t != value.Bool {
				return nil, c.errAt(t.Args[0], "pack_all's argument must be a constant bool")
			}
			skip = truthy(a.f(&env{rs: c.constRun()}))
		}
		cols := rs.cols
		return &cexpr{t: value.Dynamic, f: func(e *env) value.Value {
			m := make(map[string]any, len(cols))
			for i, col := range cols {
				if i >= len(e.row) {
					break
				}
				v := e.row[i]
				if skip && v.IsEmpty() {
					continue
				}
				m[col.Name] = v.Dynamic()
			}
			return value.NewDynamic(m)
		}}, nil
	case "parse_json", "parsejson", "todynamic", "toobject":
		// A dynamic input is used as is (parse-json-function).
		if len(t.Args) == 1 {
			if a, err := c.expr(t.Args[0], sc, rs); err == nil && a.t == value.Dynamic {
				return a, nil
			}
		}
	}
	f := fn.Lookup(t.Name)
	if t.Name == fn.GeoFunc {
		c.usesGeo = true
	}
	if f == nil {
		if fn.LookupAgg(t.Name) != nil {
			return nil, c.errAt(t, "%s is an aggregation: use it in summarize", t.Name)
		}
		names := fn.Names()
		for s := sc; s != nil; s = s.parent {
			for n, b := range s.names {
				if b.fn != nil {
					names = append(names, n)
				}
			}
		}
		return nil, c.errAt(t, "unknown function %q%s", t.Name, suggest(t.Name, names))
	}
	if len(t.Args) < f.Min || (f.Max >= 0 && len(t.Args) > f.Max) {
		return nil, c.errAt(t, "%s takes %s, not %d", t.Name, arity(f.Min, f.Max), len(t.Args))
	}
	args := make([]*cexpr, len(t.Args))
	types := make([]value.Type, len(t.Args))
	allK := true
	for i, a := range t.Args {
		if na, ok := a.(*kql.NamedArg); ok {
			a = na.Value
		}
		if tt, ok := a.(*kql.TypeOf); ok {
			// typeof(T) as an argument (extract(..., typeof(long))): the
			// string "T", as internal/kql/fn expects.
			name := "dynamic"
			if len(tt.Schema) == 1 {
				name = tt.Schema[0].Type
			}
			args[i] = konst(value.NewString(name))
			types[i] = value.String
			continue
		}
		e, err := c.expr(a, sc, rs)
		if err != nil {
			return nil, err
		}
		args[i], types[i] = e, e.t
		allK = allK && e.konst
	}
	for _, k := range f.Const {
		if k < len(args) && !args[k].konst {
			return nil, c.errAt(t.Args[k], "argument %d of %s must be a constant", k+1, t.Name)
		}
	}
	consts := make([]value.Value, len(args))
	crs := c.constRun()
	for i, a := range args {
		if a.konst && !c.dependsOnRun(t.Args[i]) {
			consts[i] = a.f(&env{rs: crs})
		}
	}
	var rt value.Type
	if f.Result != nil || f.ResultConst != nil {
		var err error
		rt, err = f.ResultFor(types, consts)
		if err != nil {
			return nil, c.fail(t, errorf("%s: %v", t.Name, err))
		}
	}
	call := f.Call
	n := len(args)
	// now(), ago() and other functions of the run only are constant per run.
	return &cexpr{t: rt, konst: allK, f: func(e *env) value.Value {
		vals := make([]value.Value, n)
		for i, a := range args {
			vals[i] = a.f(e)
		}
		v := call(&e.rs.fc, vals)
		if v.T != rt && !(v.IsNull() && rt == value.Dynamic) {
			v = convert(v, rt)
		}
		return v
	}}, nil
}

// dependsOnRun reports whether a constant expression reads a table
// (toscalar): its value is known only at run time, not at compile time.
func (c *compiler) dependsOnRun(x kql.Expr) bool {
	found := false
	walk(x, func(e kql.Expr) {
		if call, ok := e.(*kql.Call); ok && call.Name == "toscalar" {
			found = true
		}
	})
	return found
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return itoa(lo) + " or more arguments"
	case lo == hi:
		return itoa(lo) + " arguments"
	}
	return itoa(lo) + " to " + itoa(hi) + " arguments"
}

func itoa(i int) string { return strconv.Itoa(i) }

// bindArgs binds a let function's parameters (with defaults) to call arguments.
func (c *compiler) bindArgs(t *kql.Call, b *binding, sc *scope, rs *rowScope) (*scope, error) {
	def := b.fn
	if len(t.Args) > len(def.Params) {
		return nil, c.errAt(t, "%s takes at most %d arguments, not %d", t.Name, len(def.Params), len(t.Args))
	}
	fs := b.fnEnv.child()
	c.depth += 10
	if c.depth > 200 {
		return nil, c.errAt(t, "functions call each other too deeply")
	}
	for i, p := range def.Params {
		var arg kql.Expr
		var argSc *scope = sc
		var argRs = rs
		if i < len(t.Args) {
			arg = t.Args[i]
			if na, ok := arg.(*kql.NamedArg); ok {
				arg = na.Value
			}
		} else if p.Default != nil {
			arg, argSc, argRs = p.Default, b.fnEnv, &rowScope{}
		} else {
			return nil, c.errAt(t, "%s: missing argument %s", t.Name, p.Name)
		}
		if p.Type == "table" {
			if !c.isTabular(arg, argSc, argRs) {
				return nil, c.errAt(arg, "%s: argument %s must be a table", t.Name, p.Name)
			}
			a, as := arg, argSc
			fs.names[p.Name] = &binding{tab: func() (plan, error) { return c.tabular(a, as) }}
			continue
		}
		e, err := c.expr(arg, argSc, argRs)
		if err != nil {
			return nil, err
		}
		if want, ok := value.ParseType(p.Type); ok && p.Type != "" && want != e.t && !(e.t.Numeric() && want.Numeric()) && want != value.Dynamic && e.t != value.Dynamic {
			return nil, c.errAt(arg, "%s: argument %s must be %s, not %s", t.Name, p.Name, want, e.t)
		}
		fs.names[p.Name] = &binding{scalar: e}
	}
	return fs, nil
}

func (c *compiler) userScalar(t *kql.Call, b *binding, sc *scope, rs *rowScope) (*cexpr, error) {
	defer func() { c.depth -= 10 }()
	fs, err := c.bindArgs(t, b, sc, rs)
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
		return nil, c.errAt(t, "%s's body does not end with a value", t.Name)
	}
	// The body sees the caller's row: a function may name the row's columns.
	return c.expr(q.Expr, fs, rs)
}
