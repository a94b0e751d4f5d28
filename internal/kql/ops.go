package kql

// Op is a tabular operator in a pipeline.
type Op interface {
	Node
	// OpName is the operator's canonical name: "where", "mv-expand", ...
	OpName() string
}

// Assign is [Name =] Value, or (N1, N2) = Value. Names is empty when the
// output column is named by the engine (summarize count(), extend of a
// dotted path, print).
type Assign struct {
	At
	Names []string
	Value Expr
}

// OpParam is a name=value operator parameter: kind=inner, hint.strategy=shuffle,
// withsource=Source, isfuzzy=true, bagexpansion=array, with_itemindex=I.
// Value is an *Ident for bare words, else a literal.
type OpParam struct {
	At
	Name  string // lower case
	Value Expr
}

// SortKey is an order-by key.
type SortKey struct {
	At
	X          Expr
	Asc        bool // false = desc, KQL's default
	NullsFirst bool
	NullsSet   bool // nulls first/last written explicitly; else the default for the direction
}

// WhereOp is where / filter.
type WhereOp struct {
	At
	Pred Expr
}

// ExtendOp is extend.
type ExtendOp struct {
	At
	Cols []*Assign
}

// ProjectOp is project, project-away, project-keep, project-reorder and
// project-rename (Kind). For project-away/keep/reorder the Cols' Values are
// *Ident or *Wildcard; project-reorder keeps asc/desc in Order. For
// project-rename each Assign is New = Old; Old should be an *Ident (anything
// else is a semantic error, as in Microsoft's analyser, not a syntax error).
type ProjectOp struct {
	At
	Kind  string
	Cols  []*Assign
	Order []string // project-reorder: "", "asc", "desc", "granny-asc", "granny-desc" per column
}

// SummarizeOp is summarize [hints] aggs [by keys].
type SummarizeOp struct {
	At
	Params []*OpParam
	Aggs   []*Assign
	By     []*Assign
}

// CountOp is count [as Name].
type CountOp struct {
	At
	As string
}

// TakeOp is take / limit N.
type TakeOp struct {
	At
	N Expr
}

// TopOp is top N by keys (top-nested and top-hitters are unsupported).
type TopOp struct {
	At
	N  Expr
	By []*SortKey
}

// SortOp is sort / order by keys.
type SortOp struct {
	At
	Keys []*SortKey
}

// DistinctOp is distinct cols, or distinct *.
type DistinctOp struct {
	At
	Cols []*Assign
	All  bool
}

// UnionOp is union [params] tables. As the first operator of a pipeline it
// is the source; after a pipe the piped input is its first table.
type UnionOp struct {
	At
	Params []*OpParam
	Tables []Expr // *Ident, *Wildcard, *Paren (sub-query), *Call
}

// JoinOp is join [params] (Right) on keys [where pred is not KQL]. Each On
// entry is a column *Ident (same name on both sides) or a *Binary "==" of
// $left.X and $right.Y members (or an "and" chain of them).
type JoinOp struct {
	At
	Params []*OpParam
	Right  Expr
	On     []Expr
}

// LookupOp is lookup [kind=...] (Right) on keys.
type LookupOp struct {
	At
	Params []*OpParam
	Right  Expr
	On     []Expr
}

// MvItem is one mv-expand / mv-apply column: [Name =] X [to typeof(T)].
type MvItem struct {
	At
	Assign
	To string // "" = dynamic
}

// MvExpandOp is mv-expand / mvexpand.
type MvExpandOp struct {
	At
	Legacy bool // mvexpand: default limit 128
	Params []*OpParam
	Items  []*MvItem
	Limit  Expr
}

// MvApplyOp is mv-apply items [limit N] [id=...] on (sub-query).
type MvApplyOp struct {
	At
	Params []*OpParam
	Items  []*MvItem
	Limit  Expr
	On     *Pipeline // Source nil: its first op applies to the expanded rows
}

// ParseOp is parse / parse-where [kind=...] [flags=...] Source with Pattern.
type ParseOp struct {
	At
	Where   bool
	Params  []*OpParam
	Source  Expr
	Pattern []*ParsePart
}

// ParsePart is one element of a parse pattern: a string literal to match,
// a column capture (Name, Type "" = string), or '*' (skip).
type ParsePart struct {
	At
	Lit     string
	IsLit   bool
	Star    bool
	Name    string
	Type    string
	IsRegex bool // kind=regex: Lit is a regular expression
}

// AsOp is as [hint.materialized=true] Name.
type AsOp struct {
	At
	Params []*OpParam
	Name   string
}

// RenderOp is render Kind [with (...)]: accepted and ignored.
type RenderOp struct {
	At
	Kind string
	With []*NamedArg
}

// PrintOp is print [Name =] expr, ... (a pipeline source).
type PrintOp struct {
	At
	Cols []*Assign
}

// RangeOp is range Col from A to B step S (a pipeline source).
type RangeOp struct {
	At
	Col            string
	From, To, Step Expr
}

// SampleOp is sample N, or sample-distinct N of Col.
type SampleOp struct {
	At
	Distinct bool
	N        Expr
	Of       Expr
}

// SerializeOp is serialize [Name = expr, ...].
type SerializeOp struct {
	At
	Cols []*Assign
}

// GetSchemaOp is getschema.
type GetSchemaOp struct{ At }

// InvokeOp is invoke f(args): the input is the function's first argument.
type InvokeOp struct {
	At
	Call *Call
}

// SourceOp wraps an expression used as an operator after a pipe or at the
// start of a sub-query (datatable(...)[...], a table name): rare.
type SourceOp struct {
	At
	X Expr
}

// UnsupportedOp is a valid operator breakglass parses but cannot run:
// make-series, evaluate, search, find, fork, facet, partition, scan, ...
// Its pieces are kept only as far as the parser read them. Script.Unsupported
// has a matching entry.
type UnsupportedOp struct {
	At
	Name   string
	Params []*OpParam
	Args   []Expr
}

func (*WhereOp) OpName() string     { return "where" }
func (*ExtendOp) OpName() string    { return "extend" }
func (o *ProjectOp) OpName() string { return o.Kind }
func (*SummarizeOp) OpName() string { return "summarize" }
func (*CountOp) OpName() string     { return "count" }
func (*TakeOp) OpName() string      { return "take" }
func (*TopOp) OpName() string       { return "top" }
func (*SortOp) OpName() string      { return "sort" }
func (*DistinctOp) OpName() string  { return "distinct" }
func (*UnionOp) OpName() string     { return "union" }
func (*JoinOp) OpName() string      { return "join" }
func (*LookupOp) OpName() string    { return "lookup" }
func (*MvExpandOp) OpName() string  { return "mv-expand" }
func (*MvApplyOp) OpName() string   { return "mv-apply" }
func (o *ParseOp) OpName() string {
	if o.Where {
		return "parse-where"
	}
	return "parse"
}
func (*AsOp) OpName() string            { return "as" }
func (*RenderOp) OpName() string        { return "render" }
func (*PrintOp) OpName() string         { return "print" }
func (*RangeOp) OpName() string         { return "range" }
func (*SampleOp) OpName() string        { return "sample" }
func (*SerializeOp) OpName() string     { return "serialize" }
func (*GetSchemaOp) OpName() string     { return "getschema" }
func (*InvokeOp) OpName() string        { return "invoke" }
func (*SourceOp) OpName() string        { return "source" }
func (o *UnsupportedOp) OpName() string { return o.Name }
