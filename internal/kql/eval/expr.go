package eval

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// Error is a compile error at a place in the query text.
type Error struct {
	Pos kql.Pos
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// posErr is an error without a place yet; the compiler adds the node's.
type posErr struct{ msg string }

func (e *posErr) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &posErr{fmt.Sprintf(format, args...)} }

// env is what a compiled expression reads: the current row and the run.
type env struct {
	row []value.Value
	rs  *runState
}

// cexpr is a compiled scalar expression.
type cexpr struct {
	t     value.Type
	f     func(e *env) value.Value
	konst bool // depends on no row (may still depend on the run: now(), toscalar)
	ref   int  // for a plain column reference: 1 + its index in the row, else 0
	lit   *litInfo
}

// binding is what a let name stands for.
type binding struct {
	scalar *cexpr               // let x = <scalar>
	tab    func() (plan, error) // let t = <tabular>; compiled at each use (materialize caches)
	fn     *kql.FuncDef         // let f = (...) { ... }
	fnEnv  *scope               // the scope f was defined in
	lambda []*cexpr             // bound arguments while compiling a function body
}

type scope struct {
	parent *scope
	names  map[string]*binding
}

func (s *scope) lookup(n string) *binding {
	for ; s != nil; s = s.parent {
		if b, ok := s.names[n]; ok {
			return b
		}
	}
	return nil
}

func (s *scope) child() *scope { return &scope{parent: s, names: map[string]*binding{}} }

// snapshot is a scope that sees what s binds now, and not the names bound
// in s later: what a lazily compiled let value may name.
func (s *scope) snapshot() *scope {
	names := make(map[string]*binding, len(s.names))
	for k, v := range s.names {
		names[k] = v
	}
	return &scope{parent: s.parent, names: names}
}

// rowScope is the columns an expression can name.
type rowScope struct {
	cols []value.Column
	// left/right: inside join on, $left.X and $right.X.
	left, right []value.Column
}

func (r *rowScope) index(name string) int {
	for i, c := range r.cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func (c *compiler) fail(n kql.Node, err error) error {
	if err == nil {
		return nil
	}
	var pe *posErr
	if e, ok := err.(*posErr); ok {
		pe = e
		off := 0
		if n != nil {
			off = n.Offset()
		}
		return &Error{Pos: c.script.Pos(off), Msg: pe.msg}
	}
	return err
}

func (c *compiler) errAt(n kql.Node, format string, args ...any) error {
	return c.fail(n, errorf(format, args...))
}

// suggest returns ` (did you mean "X"?)` for a close name among names.
func suggest(name string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
		if d := editDistance(strings.ToLower(n), strings.ToLower(name)); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" && bestD <= 2 && bestD < len(name) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func colNames(cols []value.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

func konst(v value.Value) *cexpr {
	return &cexpr{t: v.T, f: func(*env) value.Value { return v }, konst: true}
}

// unparen strips parentheses.
func unparen(x kql.Expr) kql.Expr {
	for {
		p, ok := x.(*kql.Paren)
		if !ok {
			return x
		}
		x = p.X
	}
}

// isTabular reports whether x is a tabular expression in scope sc.
func (c *compiler) isTabular(x kql.Expr, sc *scope, rs *rowScope) bool {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 200 {
		return false // a function that calls itself: reported where it is compiled
	}
	switch t := unparen(x).(type) {
	case *kql.Pipeline, *kql.DataTable:
		return true
	case *kql.Ident:
		if rs != nil && rs.index(t.Name) >= 0 {
			return false
		}
		if b := sc.lookup(t.Name); b != nil {
			return b.tab != nil || (b.fn != nil && c.fnIsTabular(b))
		}
		_, ok := c.cat.Schema(t.Name)
		return ok
	case *kql.Call:
		switch t.Name {
		case "materialize", "_GetWatchlist", "view", "table":
			return true
		}
		if b := sc.lookup(t.Name); b != nil && b.fn != nil {
			return c.fnIsTabular(b)
		}
	}
	return false
}

// fnIsTabular: a function whose body's result is a tabular expression.
func (c *compiler) fnIsTabular(b *binding) bool {
	if len(b.fn.Body) == 0 {
		return false
	}
	q, ok := b.fn.Body[len(b.fn.Body)-1].(*kql.QueryStmt)
	if !ok {
		return false
	}
	sc := b.fnEnv.child()
	for _, p := range b.fn.Params {
		if p.Type == "table" {
			sc.names[p.Name] = &binding{tab: func() (plan, error) { return nil, errorf("unbound") }}
		} else {
			sc.names[p.Name] = &binding{scalar: konst(value.Value{})}
		}
	}
	for _, st := range b.fn.Body[:len(b.fn.Body)-1] {
		if l, ok := st.(*kql.LetStmt); ok {
			if _, isF := l.Value.(*kql.FuncDef); isF {
				sc.names[l.Name] = &binding{fn: l.Value.(*kql.FuncDef), fnEnv: sc}
			} else if c.isTabular(l.Value, sc, nil) {
				sc.names[l.Name] = &binding{tab: func() (plan, error) { return nil, errorf("unbound") }}
			} else {
				sc.names[l.Name] = &binding{scalar: konst(value.Value{})}
			}
		}
	}
	return c.isTabular(q.Expr, sc, nil)
}

// expr compiles a scalar expression over the columns of rs.
func (c *compiler) expr(x kql.Expr, sc *scope, rs *rowScope) (*cexpr, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 200 {
		return nil, c.errAt(x, "the expression nests too deeply")
	}
	switch t := x.(type) {
	case *kql.Literal:
		v, err := literal(t)
		if err != nil {
			return nil, c.fail(t, err)
		}
		return konst(v), nil
	case *kql.DynamicLit:
		d, err := c.dynamicValue(t.Value)
		if err != nil {
			return nil, err
		}
		return konst(value.NewDynamic(d)), nil
	case *kql.Paren:
		if c.isTabular(t.X, sc, rs) {
			return nil, c.errAt(t, "a tabular expression is not allowed here; use toscalar(...) for one value")
		}
		return c.expr(t.X, sc, rs)
	case *kql.Ident:
		return c.ident(t, sc, rs)
	case *kql.Member:
		return c.member(t, sc, rs)
	case *kql.Index:
		return c.index(t, sc, rs)
	case *kql.Unary:
		a, err := c.expr(t.X, sc, rs)
		if err != nil {
			return nil, err
		}
		if t.Op == "+" {
			return a, nil
		}
		unknown := a.t == value.Unknown
		a = lower(a)
		rt := a.t
		switch {
		case rt == value.Int:
			rt = value.Int
		case rt.Numeric() || rt == value.TimeSpan:
		case rt == value.Dynamic: // -dynamic(1) is dynamic (oracle)
		default:
			return nil, c.errAt(t, "the operator '-' is not defined for %s", a.t)
		}
		st := rt // the schema's type
		if unknown {
			st = value.Unknown
		}
		return &cexpr{t: st, konst: a.konst, f: func(e *env) value.Value {
			v := scalar(a.f(e))
			if v.IsNull() {
				return value.NullOf(rt)
			}
			if rt == value.Dynamic {
				switch v.T {
				case value.Real, value.Decimal:
					return value.NewDynamic(-v.F)
				case value.Int, value.Long:
					return value.NewDynamic(-v.I)
				}
				return value.NullOf(rt)
			}
			switch v.T {
			case value.Real, value.Decimal:
				return value.Value{T: rt, F: -v.F}
			case value.Int, value.Long, value.TimeSpan:
				if rt == value.Real {
					return value.NewReal(-float64(v.I))
				}
				return value.Value{T: rt, I: -v.I}
			}
			return value.NullOf(rt)
		}}, nil
	case *kql.Binary:
		return c.binary(t, sc, rs)
	case *kql.InExpr:
		return c.inExpr(t, sc, rs)
	case *kql.Between:
		return c.between(t, sc, rs)
	case *kql.Call:
		return c.call(t, sc, rs)
	case *kql.Pipeline, *kql.DataTable:
		return nil, c.errAt(t, "a tabular expression is not allowed here; use toscalar(...) for one value")
	case *kql.ComputedName:
		n, err := c.constString(t.X, sc)
		if err != nil {
			return nil, err
		}
		return c.ident(&kql.Ident{At: t.At, Name: n, Quoted: true}, sc, rs)
	case *kql.Star:
		return nil, c.errAt(t, "'*' is only allowed as an aggregation argument")
	case *kql.NamedArg:
		return nil, c.errAt(t, "a named argument (%s = ...) is not allowed here", t.Name)
	}
	return nil, c.errAt(x, "this expression is not supported here")
}

// starBinary is "* op x" (where * has "admin"): true when the comparison
// holds for any column of the row. A column whose type the operator
// cannot take is left out, as Kusto searches only the columns it can.
func (c *compiler) starBinary(t *kql.Binary, sc *scope, rs *rowScope) (*cexpr, error) {
	var fs []func(e *env) value.Value
	for _, col := range rs.cols {
		x, err := c.binary(&kql.Binary{At: t.At, Op: t.Op, L: &kql.Ident{At: t.At, Name: col.Name, Quoted: true}, R: t.R}, sc, rs)
		if err != nil || x.t != value.Bool {
			continue
		}
		fs = append(fs, x.f)
	}
	if len(fs) == 0 {
		return nil, c.errAt(t, "'* %s' compares no column: none of the row's columns can be compared so", t.Op)
	}
	return &cexpr{t: value.Bool, f: func(e *env) value.Value {
		for _, f := range fs {
			if v := f(e); !v.IsNull() && truthy(v) {
				return value.NewBool(true)
			}
		}
		return value.NewBool(false)
	}}, nil
}

func (c *compiler) constString(x kql.Expr, sc *scope) (string, error) {
	e, err := c.expr(x, sc, &rowScope{})
	if err != nil {
		return "", err
	}
	if !e.konst || e.t != value.String {
		return "", c.errAt(x, "a constant string is required here")
	}
	return e.f(&env{rs: c.constRun()}).S, nil
}

func (c *compiler) dynamicValue(x kql.Expr) (any, error) {
	switch t := x.(type) {
	case *kql.Literal:
		v, err := literal(t)
		if err != nil {
			return nil, c.fail(t, err)
		}
		return v.Dynamic(), nil
	case *kql.ArrayLit:
		out := make([]any, 0, len(t.Elems))
		for _, e := range t.Elems {
			d, err := c.dynamicValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	case *kql.ObjectLit:
		out := make(map[string]any, len(t.Keys))
		for i, k := range t.Keys {
			d, err := c.dynamicValue(t.Vals[i])
			if err != nil {
				return nil, err
			}
			out[k] = d
		}
		return out, nil
	case *kql.Unary:
		d, err := c.dynamicValue(t.X)
		if err != nil {
			return nil, err
		}
		if t.Op == "-" {
			switch n := d.(type) {
			case int64:
				return -n, nil
			case float64:
				return -n, nil
			}
		}
		return d, nil
	case nil:
		return nil, nil
	}
	return nil, c.errAt(x, "only literals are allowed inside dynamic(...)")
}

func (c *compiler) ident(t *kql.Ident, sc *scope, rs *rowScope) (*cexpr, error) {
	if i := rs.index(t.Name); i >= 0 {
		typ := rs.cols[i].Type
		return &cexpr{t: typ, ref: i + 1, f: func(e *env) value.Value {
			if i < len(e.row) {
				return e.row[i]
			}
			return value.NullOf(typ)
		}}, nil
	}
	if b := sc.lookup(t.Name); b != nil {
		switch {
		case b.scalar != nil:
			return b.scalar, nil
		case b.fn != nil && len(b.fn.Params) == 0 && !c.fnIsTabular(b):
			return c.call(&kql.Call{At: t.At, Name: t.Name}, sc, rs)
		case b.tab != nil || b.fn != nil:
			return nil, c.errAt(t, "%s is a table here, not a value; use toscalar(%s) for one value", t.Name, t.Name)
		}
	}
	if _, ok := c.cat.Schema(t.Name); ok {
		return nil, c.errAt(t, "%s is a table here, not a value", t.Name)
	}
	if c.noteMissing(rs.cols, t.Name) {
		// first pass over an open input: the column will be there
		return &cexpr{t: value.Unknown, f: func(*env) value.Value { return value.NullOf(value.Unknown) }}, nil
	}
	return nil, c.errAt(t, "unknown column or variable %q%s", t.Name, suggest(t.Name, c.visibleNames(sc, rs)))
}

func (c *compiler) visibleNames(sc *scope, rs *rowScope) []string {
	names := colNames(rs.cols)
	for s := sc; s != nil; s = s.parent {
		for n := range s.names {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// navigate reads d.key / d[i] on a dynamic value: null when missing.
func navigate(v value.Value, key any) value.Value {
	if v.IsNull() {
		return value.NewDynamic(nil)
	}
	d := v.Dynamic()
	if v.T == value.String { // a string holding JSON is navigated as JSON
		d = value.ParseJSON(v.S).D
	}
	switch k := key.(type) {
	case string:
		if m, ok := d.(map[string]any); ok {
			if x, ok := m[k]; ok {
				return value.NewDynamic(x)
			}
		}
	case int64:
		if a, ok := d.([]any); ok {
			if k < 0 {
				k += int64(len(a))
			}
			if k >= 0 && k < int64(len(a)) {
				return value.NewDynamic(a[k])
			}
		}
	}
	return value.NewDynamic(nil)
}

func (c *compiler) member(t *kql.Member, sc *scope, rs *rowScope) (*cexpr, error) {
	if id, ok := t.X.(*kql.Ident); ok && (id.Name == "$left" || id.Name == "$right") {
		return nil, c.errAt(t, "%s.%s is only allowed in a join's on clause", id.Name, t.Name)
	}
	x, err := c.expr(t.X, sc, rs)
	if err != nil {
		return nil, err
	}
	rt := value.Dynamic
	if x.t == value.Unknown { // unknown.key is unknown (the analyser)
		x, rt = lower(x), value.Unknown
	}
	if x.t != value.Dynamic {
		return nil, c.errAt(t, "%s is not dynamic (it is %s): '.%s' needs a dynamic value; use parse_json() first", exprName(t.X), x.t, t.Name)
	}
	key := t.Name
	return &cexpr{t: rt, konst: x.konst, f: func(e *env) value.Value { return navigate(x.f(e), key) }}, nil
}

func (c *compiler) index(t *kql.Index, sc *scope, rs *rowScope) (*cexpr, error) {
	x, err := c.expr(t.X, sc, rs)
	if err != nil {
		return nil, err
	}
	i, err := c.operand(t.I, sc, rs)
	if err != nil {
		return nil, err
	}
	rt := value.Dynamic
	if x.t == value.Unknown { // unknown[i] is unknown (the analyser)
		x, rt = lower(x), value.Unknown
	}
	if x.t != value.Dynamic {
		return nil, c.errAt(t, "%s is not dynamic (it is %s): '[...]' needs a dynamic value", exprName(t.X), x.t)
	}
	if i.t != value.String && i.t != value.Long && i.t != value.Int && i.t != value.Dynamic {
		return nil, c.errAt(t.I, "an index must be a string or a number, not %s", i.t)
	}
	return &cexpr{t: rt, konst: x.konst && i.konst, f: func(e *env) value.Value {
		k := scalar(i.f(e))
		switch k.T {
		case value.String:
			return navigate(x.f(e), k.S)
		case value.Long, value.Int:
			if !k.Null {
				return navigate(x.f(e), k.I)
			}
		}
		return value.NewDynamic(nil)
	}}, nil
}

var stringOps = map[string]bool{
	"has": true, "!has": true, "has_cs": true, "!has_cs": true, "hasprefix": true, "!hasprefix": true,
	"hasprefix_cs": true, "!hasprefix_cs": true, "hassuffix": true, "!hassuffix": true, "hassuffix_cs": true,
	"!hassuffix_cs": true, "contains": true, "!contains": true, "contains_cs": true, "!contains_cs": true,
	"startswith": true, "!startswith": true, "startswith_cs": true, "!startswith_cs": true, "endswith": true,
	"!endswith": true, "endswith_cs": true, "!endswith_cs": true, "=~": true, "!~": true,
}

// stringish: the types string operators take on their left (oracle).
func stringish(t value.Type) bool {
	return t == value.String || t == value.Dynamic || t == value.Guid
}

// orderable: the pairs <, <=, >, >= are defined for (oracle): numbers,
// datetimes, timespans (a dynamic with any of them), not strings.
func orderable(a, b value.Type) bool {
	ok := func(t value.Type) bool {
		return t.Numeric() || t == value.DateTime || t == value.TimeSpan
	}
	switch {
	case a == value.Dynamic && b == value.Dynamic:
		return true
	case a == value.Dynamic:
		return ok(b)
	case b == value.Dynamic:
		return ok(a)
	case a.Numeric() && b.Numeric():
		return true
	}
	return ok(a) && a == b
}

func comparable(a, b value.Type) bool {
	if a == value.Dynamic || b == value.Dynamic {
		return true
	}
	if (a.Numeric() || a == value.Bool) && (b.Numeric() || b == value.Bool) {
		return a.Numeric() == b.Numeric()
	}
	if (a == value.String || a == value.Guid) && (b == value.String || b == value.Guid) {
		return true
	}
	return a == b
}

func (c *compiler) binary(t *kql.Binary, sc *scope, rs *rowScope) (*cexpr, error) {
	if _, ok := t.L.(*kql.Star); ok {
		return c.starBinary(t, sc, rs)
	}
	l, err := c.expr(t.L, sc, rs)
	if err != nil {
		return nil, err
	}
	r, err := c.expr(t.R, sc, rs)
	if err != nil {
		return nil, err
	}
	if l.t == value.Unknown || r.t == value.Unknown {
		return c.unknownBinary(t, l, r)
	}
	return c.binaryOf(t, l, r)
}

// binaryOf compiles l op r over compiled operands.
func (c *compiler) binaryOf(t *kql.Binary, l, r *cexpr) (*cexpr, error) {
	k := l.konst && r.konst
	lf, rf := l.f, r.f
	boolT := func(f func(e *env) value.Value) (*cexpr, error) {
		return &cexpr{t: value.Bool, konst: k, f: f}, nil
	}
	op := t.Op
	switch {
	case op == "and" || op == "or":
		for _, s := range []*cexpr{l, r} {
			if s.t != value.Bool && s.t != value.Dynamic {
				return nil, c.errAt(t, "'%s' needs bool operands, not %s and %s", op, l.t, r.t)
			}
		}
		if op == "and" {
			return boolT(func(e *env) value.Value {
				a := lf(e)
				if !a.IsNull() && !truthy(a) {
					return value.NewBool(false)
				}
				b := rf(e)
				if !b.IsNull() && !truthy(b) {
					return value.NewBool(false)
				}
				if a.IsNull() || b.IsNull() {
					return nullBool()
				}
				return value.NewBool(true)
			})
		}
		return boolT(func(e *env) value.Value {
			a := lf(e)
			if truthy(a) {
				return value.NewBool(true)
			}
			b := rf(e)
			if truthy(b) {
				return value.NewBool(true)
			}
			if a.IsNull() || b.IsNull() {
				return nullBool()
			}
			return value.NewBool(false)
		})
	case op == "==" || op == "!=" || op == "<>":
		// Kusto accepts == and != between any two types (oracle): values
		// of kinds that cannot be equal compare false.
		if op == "==" {
			return boolT(func(e *env) value.Value { return equal(lf(e), rf(e)) })
		}
		return boolT(func(e *env) value.Value {
			a, b := lf(e), rf(e)
			if a.IsNull() != b.IsNull() {
				return value.NewBool(true) // null != value is true
			}
			return not(equal(a, b))
		})
	case op == "<" || op == "<=" || op == ">" || op == ">=":
		if !orderable(l.t, r.t) {
			return nil, c.errAt(t, "the operator '%s' is not defined for %s and %s", op, l.t, r.t)
		}
		return boolT(func(e *env) value.Value {
			cv, ok := compare(lf(e), rf(e))
			if !ok {
				return nullBool()
			}
			switch op {
			case "<":
				return value.NewBool(cv < 0)
			case "<=":
				return value.NewBool(cv <= 0)
			case ">":
				return value.NewBool(cv > 0)
			}
			return value.NewBool(cv >= 0)
		})
	case stringOps[op]:
		if !stringish(l.t) {
			return nil, c.errAt(t, "'%s' needs a string on its left, not %s; convert it with tostring()", op, l.t)
		}
		if r.t != value.String && r.t != value.Dynamic {
			return nil, c.errAt(t.R, "'%s' needs a string on its right, not %s", op, r.t)
		}
		if op == "!~" {
			return boolT(func(e *env) value.Value { return stringOp("!~", lf(e), rf(e)) })
		}
		return boolT(func(e *env) value.Value { return stringOp(op, lf(e), rf(e)) })
	case op == "matches regex":
		if !stringish(l.t) {
			return nil, c.errAt(t, "matches regex needs a string on its left, not %s; convert it with tostring()", l.t)
		}
		if !r.konst || r.t != value.String {
			return nil, c.errAt(t.R, "matches regex needs a constant string pattern")
		}
		pat := r.f(&env{rs: c.constRun()}).S
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, c.errAt(t.R, "bad regular expression %q: %v", pat, err)
		}
		return boolT(func(e *env) value.Value { return value.NewBool(re.MatchString(str(lf(e)))) })
	case op == "+" || op == "-" || op == "*" || op == "/" || op == "%":
		rt, err := arithType(op, l.t, r.t)
		if err != nil {
			return nil, c.fail(t, err)
		}
		return &cexpr{t: rt, konst: k, f: func(e *env) value.Value { return arith(op, rt, lf(e), rf(e)) }}, nil
	}
	return nil, c.errAt(t, "the operator %q is not supported", op)
}

// arithType is Kusto's result type for l op r.
func arithType(op string, l, r value.Type) (value.Type, error) {
	bad := errorf("the operator '%s' is not defined for %s and %s", op, l, r)
	if op == "+" && l == value.String && r == value.String {
		return 0, errorf("the operator '+' is not defined for string and string: join strings with strcat(a, b)")
	}
	// A dynamic operand takes the other side's type (Props.a + 1 is long).
	if l == value.Dynamic && r == value.Dynamic {
		return value.Dynamic, nil // oracle: dynamic(1) * dynamic(2) is dynamic
	}
	if l == value.Dynamic {
		l = dynAs(r)
	}
	if r == value.Dynamic {
		r = dynAs(l)
	}
	num := func(t value.Type) bool { return t.Numeric() }
	switch {
	case num(l) && num(r):
		if l == value.Decimal || r == value.Decimal { // decimal outranks real (oracle)
			return value.Decimal, nil
		}
		if l == value.Real || r == value.Real {
			return value.Real, nil
		}
		return value.Long, nil
	case l == value.DateTime && r == value.TimeSpan && (op == "+" || op == "-"):
		return value.DateTime, nil
	case l == value.TimeSpan && r == value.DateTime && op == "+":
		return value.DateTime, nil
	case l == value.DateTime && r == value.DateTime && op == "-":
		return value.TimeSpan, nil
	case l == value.TimeSpan && r == value.TimeSpan:
		switch op {
		case "+", "-", "%":
			return value.TimeSpan, nil
		case "/":
			return value.Real, nil
		}
	case l == value.TimeSpan && num(r) && (op == "*" || op == "/"):
		return value.TimeSpan, nil
	case num(l) && r == value.TimeSpan && op == "*":
		return value.TimeSpan, nil
	}
	return 0, bad
}

func dynAs(other value.Type) value.Type {
	switch other {
	case value.Int, value.Long:
		return value.Long
	case value.Real, value.Decimal, value.Dynamic:
		return value.Real
	case value.DateTime:
		return value.TimeSpan
	case value.TimeSpan:
		return value.TimeSpan
	}
	return other
}

func (c *compiler) between(t *kql.Between, sc *scope, rs *rowScope) (*cexpr, error) {
	x, err := c.operand(t.X, sc, rs)
	if err != nil {
		return nil, err
	}
	lo, err := c.operand(t.Lo, sc, rs)
	if err != nil {
		return nil, err
	}
	hi, err := c.operand(t.Hi, sc, rs)
	if err != nil {
		return nil, err
	}
	if !comparable(x.t, lo.t) {
		return nil, c.errAt(t, "between: %s cannot be compared with %s", x.t, lo.t)
	}
	hiF := hi.f
	if (x.t == value.DateTime || lo.t == value.DateTime) && hi.t == value.TimeSpan {
		// datetime between (start .. timespan): the end is start + timespan.
		lf := lo.f
		hiF = func(e *env) value.Value { return arith("+", value.DateTime, lf(e), hi.f(e)) }
	} else if !comparable(x.t, hi.t) {
		return nil, c.errAt(t, "between: %s cannot be compared with %s", x.t, hi.t)
	}
	neg := t.Not
	return &cexpr{t: value.Bool, konst: x.konst && lo.konst && hi.konst, f: func(e *env) value.Value {
		v := x.f(e)
		c1, ok1 := compare(v, lo.f(e))
		c2, ok2 := compare(v, hiF(e))
		if !ok1 || !ok2 {
			return nullBool()
		}
		in := c1 >= 0 && c2 <= 0
		return value.NewBool(in != neg)
	}}, nil
}

// inExpr compiles in, !in, in~, !in~, has_any, has_all.
func (c *compiler) inExpr(t *kql.InExpr, sc *scope, rs *rowScope) (*cexpr, error) {
	x, err := c.operand(t.X, sc, rs)
	if err != nil {
		return nil, err
	}
	// The right side: scalars (dynamic arrays flattened) or one tabular expression (its first column).
	var items []*cexpr
	var tab plan
	if len(t.List) == 1 && c.isTabular(t.List[0], sc, rs) {
		before := c.scans
		p, err := c.tabular(t.List[0], sc)
		if err != nil {
			return nil, err
		}
		if len(p.columns()) == 0 {
			return nil, c.errAt(t.List[0], "the table on the right of %s has no columns", t.Op)
		}
		if c.scans != before {
			c.subTables = true
		} else if words, ok := c.staticStrings(p); ok {
			if c.inWords == nil {
				c.inWords = map[*kql.InExpr][]string{}
			}
			c.inWords[t] = words
		}
		tab = p
	} else {
		for _, it := range t.List {
			e, err := c.operand(it, sc, rs)
			if err != nil {
				return nil, err
			}
			items = append(items, e)
		}
	}
	if (t.Op == "has_any" || t.Op == "has_all") && len(items)+btoi(tab != nil) == 0 {
		return nil, c.errAt(t, "%s needs at least one value", t.Op)
	}
	allConst := tab == nil
	for _, it := range items {
		allConst = allConst && it.konst
	}
	ci := t.Op == "in~" || t.Op == "!in~"
	neg := strings.HasPrefix(t.Op, "!")
	op := t.Op
	values := func(e *env) []value.Value {
		var out []value.Value
		if tab != nil {
			rows, err := e.rs.materialized(tab)
			if err != nil {
				e.rs.fail(err)
				return nil
			}
			for _, r := range rows {
				out = append(out, r[0])
			}
			return out
		}
		for _, it := range items {
			v := it.f(e)
			if v.T == value.Dynamic {
				if a, ok := v.D.([]any); ok {
					out = flatten(out, a)
					continue
				}
			}
			out = append(out, v)
		}
		return out
	}
	// A constant list is turned into a set once per run, or once at compile
	// time when it holds only literals (the per-record Filter then does not
	// rebuild it for each record).
	var setKey = new(int)
	var fixed map[string]bool
	if tab == nil && allConst && literalsOnly(t.List) {
		fixed = map[string]bool{}
		for _, n := range values(&env{rs: c.constRun()}) {
			fixed[setKeyOf(inAs(n, x.t), ci)] = true
		}
	}
	return &cexpr{t: value.Bool, konst: x.konst && allConst, f: func(e *env) value.Value {
		v := x.f(e)
		switch op {
		case "has_any", "has_all":
			h := str(v)
			vals := values(e)
			for _, n := range vals {
				hit := hasTerm(h, str(n), false, false, false)
				if op == "has_any" && hit {
					return value.NewBool(true)
				}
				if op == "has_all" && !hit {
					return value.NewBool(false)
				}
			}
			return value.NewBool(op == "has_all")
		}
		if v.IsNull() {
			return value.NewBool(neg)
		}
		var found bool
		if fixed != nil {
			found = fixed[setKeyOf(v, ci)]
		} else if allConst || tab != nil {
			set := e.rs.set(setKey, func() map[string]bool {
				m := map[string]bool{}
				for _, n := range values(e) {
					m[setKeyOf(inAs(n, x.t), ci)] = true
				}
				return m
			})
			found = set[setKeyOf(v, ci)]
		} else {
			for _, n := range values(e) {
				if ci {
					if foldEq(str(v), str(n)) {
						found = true
						break
					}
				} else if truthy(equal(v, inAs(n, x.t))) {
					found = true
					break
				}
			}
		}
		return value.NewBool(found != neg)
	}}, nil
}

// inAs converts an in-list element to the left side's kind, as == does:
// ResultType in (50126) compares a string column with the number's text.
func inAs(v value.Value, t value.Type) value.Value {
	s := scalar(v)
	switch {
	case t == value.String && s.T.Numeric():
		return value.NewString(s.String())
	case t.Numeric() && s.T == value.String:
		if n := convert(s, value.Real); !n.IsNull() {
			return n
		}
	}
	return v
}

// staticStrings returns the first column of a sub-query that is fixed at
// compile time (a watchlist or datatable, then only project/project-keep/
// project-away/project-rename of its columns) when it is a string column.
func (c *compiler) staticStrings(p plan) ([]string, bool) {
	for q := p; ; {
		switch n := q.(type) {
		case *dataNode:
			if p.columns()[0].Type != value.String {
				return nil, false
			}
			rows, err := c.constRun().materialized(p)
			if err != nil {
				return nil, false
			}
			out := make([]string, 0, len(rows))
			for _, r := range rows {
				out = append(out, r[0].S)
			}
			return out, true
		case *permNode:
			q = n.in
		case *projectNode:
			for _, x := range n.exprs {
				if x.ref == 0 {
					return nil, false
				}
			}
			q = n.in
		default:
			return nil, false
		}
	}
}

func literalsOnly(xs []kql.Expr) bool {
	for _, x := range xs {
		switch t := unparen(x).(type) {
		case *kql.Literal, *kql.DynamicLit:
		case *kql.Unary:
			if _, ok := t.X.(*kql.Literal); !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func flatten(out []value.Value, a []any) []value.Value {
	for _, x := range a {
		if inner, ok := x.([]any); ok {
			out = flatten(out, inner)
			continue
		}
		out = append(out, value.FromDynamic(x))
	}
	return out
}

// setKeyOf is the in-set key: numbers by value, strings by text (folded
// for in~ as =~ folds: the docs promise case-insensitivity for ASCII only,
// but in~ must not miss a value that =~ matches, so "Jürgen" in~ ("JÜRGEN")
// is true as "Jürgen" =~ "JÜRGEN" is).
func setKeyOf(v value.Value, ci bool) string {
	return string(appendKey(nil, v, ci))
}

// appendKey appends v's grouping key: equal values (a long 1 and a real
// 1.0 included) give equal keys, and keys of different kinds never collide.
func appendKey(b []byte, v value.Value, ci bool) []byte {
	v = scalar(v)
	if v.IsNull() {
		return append(b, 0)
	}
	switch v.T {
	case value.Int, value.Long, value.Bool:
		return strconv.AppendInt(append(b, 'n'), v.I, 10)
	case value.Real, value.Decimal:
		if v.F == float64(int64(v.F)) {
			return strconv.AppendInt(append(b, 'n'), int64(v.F), 10)
		}
		return strconv.AppendFloat(append(b, 'r'), v.F, 'g', -1, 64)
	case value.String, value.Guid:
		b = append(b, 's')
		if ci {
			return append(b, fold(v.S)...)
		}
		return append(b, v.S...)
	case value.DateTime:
		return strconv.AppendInt(append(b, 'd'), v.I, 10)
	case value.TimeSpan:
		return strconv.AppendInt(append(b, 't'), v.I, 10)
	}
	return append(append(b, 'j'), value.JSON(v.Dynamic())...)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// nameFromFirstArg lists the functions whose unnamed result takes the name
// of their first argument (oracle: tostring(Props.a) is Props_a, bin(T, 1h) is T).
var nameFromFirstArg = map[string]bool{
	"tostring": true, "toint": true, "tolong": true, "todouble": true, "toreal": true, "todecimal": true,
	"tobool": true, "toboolean": true, "todatetime": true, "totimespan": true, "toguid": true, "todynamic": true,
	"toobject": true, "parse_json": true, "parsejson": true, "bin": true, "floor": true, "bin_at": true,
	"bin_auto": true, "startofday": true, "round": true, "ceiling": true, "tohex": true, "format_datetime": true,
	"abs": true, "exp": true, "log10": true,
}

// exprName is the column name Kusto gives an unnamed expression ("" = none).
func exprName(x kql.Expr) string {
	switch t := x.(type) {
	case *kql.Ident:
		return t.Name
	case *kql.Paren:
		return exprName(t.X)
	case *kql.Member:
		b := pathBase(t.X)
		if b == "" {
			return ""
		}
		return b + "_" + t.Name
	case *kql.Index:
		b := pathBase(t.X)
		if b == "" {
			return ""
		}
		switch i := t.I.(type) {
		case *kql.Literal:
			if i.Kind == kql.LitString || i.Kind == kql.LitLong || i.Kind == kql.LitInt {
				return b + "_" + i.Raw
			}
		case *kql.Unary:
			if l, ok := i.X.(*kql.Literal); ok && i.Op == "-" {
				return b + "_" + l.Raw
			}
		}
		return ""
	case *kql.Call:
		if nameFromFirstArg[t.Name] && len(t.Args) > 0 {
			return exprName(t.Args[0])
		}
		if t.Name == "column_ifexists" && len(t.Args) > 0 {
			if s, ok := stringLit(t.Args[0]); ok {
				return s
			}
		}
	}
	return ""
}

// pathBase names the base of d.a / d[0]: as exprName, but a call lends the
// name of its first argument (oracle: split(User, "@")[0] is User_0).
func pathBase(x kql.Expr) string {
	if n := exprName(x); n != "" {
		return n
	}
	if c, ok := unparen(x).(*kql.Call); ok && len(c.Args) > 0 {
		return exprName(c.Args[0])
	}
	return ""
}
