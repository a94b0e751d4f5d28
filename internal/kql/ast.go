package kql

// The AST. Every node records the byte offset where it starts (Off); the
// Script maps offsets to line:col. Names keep the case they were written in
// (KQL names are case-sensitive); operator and keyword spellings are
// normalised to lower case in the fields that hold them, so an evaluator
// switches on one spelling ("mv-expand" for both mv-expand and mvexpand,
// with Legacy set for the latter).

// Node is any AST node.
type Node interface{ Offset() int }

// At is embedded in every node: its start offset.
type At struct{ Off int }

// Offset returns the node's start offset.
func (a At) Offset() int { return a.Off }

// Script is a parsed query text: statements separated by ';'.
type Script struct {
	Src   string
	Stmts []Stmt
	// Unsupported lists valid constructs the engine cannot run, in order.
	Unsupported []*UnsupportedError
}

// Pos converts an offset in the script's text to line:col.
func (s *Script) Pos(off int) Pos { return PosOf(s.Src, off) }

// Query returns the script's last query statement (the one whose result is
// the query's result), or nil when it has none.
func (s *Script) Query() *QueryStmt {
	for i := len(s.Stmts) - 1; i >= 0; i-- {
		if q, ok := s.Stmts[i].(*QueryStmt); ok {
			return q
		}
	}
	return nil
}

// Stmt is a statement.
type Stmt interface {
	Node
	stmt()
}

// LetStmt binds Name to a scalar, a tabular expression or a function.
type LetStmt struct {
	At
	Name  string
	Value Expr // *FuncDef for functions and views
}

// QueryStmt is a tabular (or scalar) expression whose result is returned.
type QueryStmt struct {
	At
	Expr Expr
}

// SetStmt is a request property (set x = y;). It does not change results here.
type SetStmt struct {
	At
	Name  string
	Value Expr // nil for "set x;"
}

// DeclareStmt is declare query_parameters(...). Params have names, types and defaults.
type DeclareStmt struct {
	At
	Params []*Param
}

func (*LetStmt) stmt()     {}
func (*QueryStmt) stmt()   {}
func (*SetStmt) stmt()     {}
func (*DeclareStmt) stmt() {}

// Expr is a scalar or tabular expression.
type Expr interface {
	Node
	expr()
}

// LitKind is the type of a literal.
type LitKind string

// Literal kinds: the KQL scalar type names.
const (
	LitString   LitKind = "string"
	LitLong     LitKind = "long"
	LitInt      LitKind = "int"
	LitReal     LitKind = "real"
	LitDecimal  LitKind = "decimal"
	LitBool     LitKind = "bool"
	LitDatetime LitKind = "datetime"
	LitTimespan LitKind = "timespan"
	LitGuid     LitKind = "guid"
	LitNull     LitKind = "null" // only inside dynamic(...)
)

// Literal is a scalar literal. Raw is its text as the parser saw it: the
// decoded value for strings, the digits for numbers, the inside of
// datetime(...)/guid(...)/bool(...), and "1.5h"-style text for timespans
// (Unit holds the canonical unit: d h m s ms us ns tick, or "" for time(...)).
// Null is true for the typed nulls: datetime(null), int(null), ...
type Literal struct {
	At
	Kind LitKind
	Raw  string
	Unit string
	Null bool
}

// DynamicLit is dynamic(...): a JSON-like value built from Literal,
// *ArrayLit and *ObjectLit (and Literal{Kind: LitNull}).
type DynamicLit struct {
	At
	Value Expr
}

// ArrayLit is [a, b, ...] inside dynamic(...).
type ArrayLit struct {
	At
	Elems []Expr
}

// ObjectLit is {"k": v, ...} inside dynamic(...).
type ObjectLit struct {
	At
	Keys []string
	Vals []Expr
}

// Ident is a name: a column, a table, a let-bound name, $left/$right.
// Quoted is true when it was written ['x'] or ["x"].
type Ident struct {
	At
	Name   string
	Quoted bool
}

// ComputedName is [expr]: a name given by a string expression. The checker
// requires a constant string; Microsoft's parser accepts any expression.
type ComputedName struct {
	At
	X Expr
}

// Wildcard is a name pattern with '*' (SigninLogs*, Col*, *): in union
// table lists and project-away / project-keep / project-reorder.
type Wildcard struct {
	At
	Pattern string
}

// Star is '*' as a call argument: arg_max(TimeGenerated, *), take_any(*).
type Star struct{ At }

// Binary is a binary operator. Op is lower case: "or", "and", "==", "!=",
// "<", "<=", ">", ">=", "=~", "!~", "+", "-", "*", "/", "%", and the string
// operators: "has", "!has", "has_cs", "!has_cs", "hasprefix", "hassuffix",
// "contains", "!contains", "contains_cs", "!contains_cs", "startswith",
// "!startswith", "startswith_cs", "!startswith_cs", "endswith", "!endswith",
// "endswith_cs", "!endswith_cs", "matches regex".
// (notcontains and notcontains_cs are normalised to !contains/!contains_cs.)
type Binary struct {
	At
	Op   string
	L, R Expr
}

// Unary is -x or +x.
type Unary struct {
	At
	Op string
	X  Expr
}

// InExpr is X in (...), !in, in~, !in~, has_any, has_all. List holds the
// right side's elements: scalars, or one tabular expression or dynamic.
type InExpr struct {
	At
	Op   string // "in", "!in", "in~", "!in~", "has_any", "has_all"
	X    Expr
	List []Expr
}

// Between is X between (Lo .. Hi); Not for !between.
type Between struct {
	At
	X, Lo, Hi Expr
	Not       bool
}

// Call is a function call: Name(args). Args may hold *NamedArg and *Star.
type Call struct {
	At
	Name string
	Args []Expr
	// Target, when set, is the value the call is made on: database("x").T is
	// Member, but workspace("w").table("t") is a Call with Target.
	Target Expr
}

// NamedArg is name = value inside a call's arguments.
type NamedArg struct {
	At
	Name  string
	Value Expr
}

// Member is X.Name (dynamic navigation, or $left.Col).
type Member struct {
	At
	X    Expr
	Name string
}

// Index is X[I] (dynamic navigation: d[0], d["key"], d['key']).
type Index struct {
	At
	X, I Expr
}

// TypeOf is typeof(string) or typeof(a:string, b:int) (a schema).
type TypeOf struct {
	At
	Schema []*ColumnDecl
}

// ColumnDecl is name:type in a schema. Name is "" for a bare type.
type ColumnDecl struct {
	At
	Name string
	Type string
}

// Param is a function parameter: name:type [= default]. A tabular
// parameter has Type "table" and Schema set ((*) is Schema nil, Open true).
type Param struct {
	At
	Name    string
	Type    string
	Schema  []*ColumnDecl
	Open    bool
	Default Expr
}

// FuncDef is a function or view body bound by let: (params) { lets; result }.
type FuncDef struct {
	At
	View   bool
	Params []*Param
	Body   []Stmt // lets, then the result's QueryStmt
}

// Paren is a parenthesised expression, kept so a tabular sub-query in
// parentheses (join (T | where ...)) is visible as such.
type Paren struct {
	At
	X Expr
}

// Pipeline is Source | op | op ... Source is nil when the pipeline starts
// with an operator (print, range, union, datatable as an operator, or a
// sub-query of mv-apply / facet that starts with its first operator).
type Pipeline struct {
	At
	Source Expr
	Ops    []Op
}

// DataTable is datatable(schema)[values...], also as an expression.
type DataTable struct {
	At
	Schema []*ColumnDecl
	Values []Expr
}

// ExternalData is externaldata(schema)[urls] with(...). Unsupported to run.
type ExternalData struct {
	At
	Schema []*ColumnDecl
	URLs   []Expr
	With   []*NamedArg
}

func (*Literal) expr()      {}
func (*DynamicLit) expr()   {}
func (*ArrayLit) expr()     {}
func (*ObjectLit) expr()    {}
func (*Ident) expr()        {}
func (*Wildcard) expr()     {}
func (*ComputedName) expr() {}
func (*Star) expr()         {}
func (*Binary) expr()       {}
func (*Unary) expr()        {}
func (*InExpr) expr()       {}
func (*Between) expr()      {}
func (*Call) expr()         {}
func (*NamedArg) expr()     {}
func (*Member) expr()       {}
func (*Index) expr()        {}
func (*TypeOf) expr()       {}
func (*FuncDef) expr()      {}
func (*Paren) expr()        {}
func (*Pipeline) expr()     {}
func (*DataTable) expr()    {}
func (*ExternalData) expr() {}
