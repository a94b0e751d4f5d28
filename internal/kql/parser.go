package kql

import (
	"errors"
	"fmt"
	"strings"
)

// MaxDepth bounds the nesting of expressions and sub-queries, so a hostile
// query of many nested parentheses gives an error, not a stack overflow.
// Real detections nest a few levels deep.
const MaxDepth = 200

// Parse parses one KQL query text (let statements and a query, separated by
// ';'). The error is a *SyntaxError; a valid text that uses something the
// engine cannot run parses without error and lists it in
// Script.Unsupported (see Check).
func Parse(src string) (*Script, error) {
	toks, err := Lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	sc, err := p.run()
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// Check parses src and returns its first problem: a *SyntaxError, else the
// first *UnsupportedError, else nil.
func Check(src string) (*Script, error) {
	sc, err := Parse(src)
	if err != nil {
		return nil, err
	}
	if len(sc.Unsupported) > 0 {
		return sc, sc.Unsupported[0]
	}
	return sc, nil
}

type bailout struct{ err error }

type parser struct {
	src   string
	toks  []Token
	i     int
	depth int
	sc    *Script
}

func (p *parser) run() (sc *Script, err error) {
	p.sc = &Script{Src: p.src}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			sc, err = nil, b.err
		}
	}()
	// An empty text (or only comments) is valid, as for Microsoft's parser;
	// callers that need a query check Script.Query.
	p.sc.Stmts = p.stmts("")
	return p.sc, nil
}

// ---- token helpers ----

func (p *parser) peek() Token { return p.toks[p.i] }
func (p *parser) peekN(k int) Token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) advance() Token {
	t := p.toks[p.i]
	if t.Kind != TokEOF {
		p.i++
	}
	return t
}

func isP(t Token, s string) bool { return t.Kind == TokPunct && t.Text == s }
func isW(t Token, w string) bool { return t.Kind == TokIdent && t.Text == w }

func (p *parser) atP(s string) bool { return isP(p.peek(), s) }
func (p *parser) atW(w string) bool { return isW(p.peek(), w) }

func (p *parser) acceptP(s string) bool {
	if p.atP(s) {
		p.i++
		return true
	}
	return false
}
func (p *parser) acceptW(w string) bool {
	if p.atW(w) {
		p.i++
		return true
	}
	return false
}

func describe(t Token) string {
	switch t.Kind {
	case TokEOF:
		return "the end of the query"
	case TokIdent:
		return fmt.Sprintf("%q", t.Text)
	case TokString:
		return "a string"
	case TokBracket:
		return fmt.Sprintf("['%s']", t.Text)
	case TokInt, TokReal:
		return "the number " + t.Text
	case TokTimespan:
		return "the timespan " + t.Text + t.Lit
	case TokTypedLit:
		return t.Lit + "(...)"
	}
	return fmt.Sprintf("%q", t.Text)
}

func (p *parser) failAt(off int, format string, args ...any) {
	panic(bailout{&SyntaxError{Pos: PosOf(p.src, off), Msg: fmt.Sprintf(format, args...)}})
}

func (p *parser) expected(what string) {
	t := p.peek()
	p.failAt(t.Off, "expected %s, found %s", what, describe(t))
}

func (p *parser) expectP(s string) Token {
	if !p.atP(s) {
		p.expected("'" + s + "'")
	}
	return p.advance()
}

func (p *parser) expectW(w string) Token {
	if !p.atW(w) {
		p.expected("'" + w + "'")
	}
	return p.advance()
}

func (p *parser) enter() {
	p.depth++
	if p.depth > MaxDepth {
		p.failAt(p.peek().Off, "the query nests more than %d levels deep", MaxDepth)
	}
}
func (p *parser) leave() { p.depth-- }

func (p *parser) unsupported(off int, feature, msg string) {
	p.sc.Unsupported = append(p.sc.Unsupported, &UnsupportedError{Pos: PosOf(p.src, off), Feature: feature, Msg: msg})
}

// word reads a hyphenated word written without spaces (project-away,
// mv-expand, parse-where) or a dotted one (hint.strategy), at token k
// ahead. It returns the word and the number of tokens it spans.
func (p *parser) wordAt(k int, sep string) (string, int) {
	t := p.peekN(k)
	if t.Kind != TokIdent {
		return "", 0
	}
	w, n := t.Text, 1
	for {
		s, nx := p.peekN(k+n), p.peekN(k+n+1)
		if isP(s, sep) && s.Off == p.peekN(k+n-1).End && nx.Kind == TokIdent && nx.Off == s.End {
			w += sep + nx.Text
			n += 2
			continue
		}
		return w, n
	}
}

// name reads a column or table name: an identifier or a bracketed name.
func (p *parser) name(what string) (string, int) {
	t := p.peek()
	if t.Kind == TokIdent || t.Kind == TokBracket {
		p.i++
		return t.Text, t.Off
	}
	p.expected(what)
	return "", 0
}

// atEnd reports whether the current operator's text ends here.
func (p *parser) atEnd() bool {
	t := p.peek()
	return t.Kind == TokEOF || isP(t, "|") || isP(t, ";") || isP(t, ")") || isP(t, "}")
}

// ---- statements ----

// stmts parses statements up to EOF (close == "") or the closing '}'.
func (p *parser) stmts(close string) []Stmt {
	// Statements are separated by ';'; one ';' may end the last. An empty
	// statement (;; or a leading ;) is an error, as for Microsoft's parser.
	var out []Stmt
	for {
		t := p.peek()
		if t.Kind == TokEOF || (close != "" && isP(t, close)) {
			return out
		}
		if isP(t, ";") {
			p.expected("a statement")
		}
		out = append(out, p.stmt())
		t = p.peek()
		if t.Kind == TokEOF || (close != "" && isP(t, close)) {
			return out
		}
		if !isP(t, ";") {
			if close != "" {
				p.expected("'|', ';' or '" + close + "'")
			}
			p.expected("'|', ';' or the end of the query")
		}
		p.advance()
	}
}

func (p *parser) stmt() Stmt {
	t := p.peek()
	if isW(t, "let") && (p.peekN(1).Kind == TokIdent || p.peekN(1).Kind == TokBracket) {
		p.advance()
		name, _ := p.name("a name after let")
		p.expectP("=")
		return &LetStmt{At: At{t.Off}, Name: name, Value: p.letValue()}
	}
	if isW(t, "set") && p.peekN(1).Kind == TokIdent && (isP(p.peekN(2), "=") || isP(p.peekN(2), ";")) {
		p.advance()
		name, _ := p.wordAt(0, ".")
		_, n := p.wordAt(0, ".")
		p.i += n
		st := &SetStmt{At: At{t.Off}, Name: name}
		if p.acceptP("=") {
			st.Value = p.primary()
		}
		return st
	}
	if isW(t, "declare") && isW(p.peekN(1), "query_parameters") {
		p.advance()
		p.advance()
		p.expectP("(")
		st := &DeclareStmt{At: At{t.Off}}
		st.Params = p.params()
		return st
	}
	for _, w := range []string{"alias", "pattern", "restrict"} {
		if isW(t, w) && p.peekN(1).Kind == TokIdent {
			p.unsupported(t.Off, w, fmt.Sprintf("the %s statement is not supported; remove it", w))
			p.skipLoose()
			return &QueryStmt{At: At{t.Off}, Expr: &Pipeline{At: At{t.Off}, Ops: []Op{&UnsupportedOp{At: At{t.Off}, Name: w}}}}
		}
	}
	return &QueryStmt{At: At{t.Off}, Expr: p.pipe()}
}

func (p *parser) letValue() Expr {
	t := p.peek()
	if isW(t, "view") && isP(p.peekN(1), "(") {
		p.advance()
		f := p.funcDef()
		f.View = true
		f.Off = t.Off
		return f
	}
	if isP(t, "(") && p.looksLikeLambda() {
		return p.funcDef()
	}
	if isW(t, "materialize") && isP(p.peekN(1), "(") {
		// materialize(...) is only valid as the value of a let.
		p.i += 2
		x := p.pipe()
		p.expectP(")")
		return &Call{At: At{t.Off}, Name: "materialize", Args: []Expr{x}}
	}
	return p.pipe()
}

func (p *parser) looksLikeLambda() bool {
	a, b := p.peekN(1), p.peekN(2)
	if isP(a, ")") {
		return isP(b, "{")
	}
	return (a.Kind == TokIdent || a.Kind == TokBracket) && isP(b, ":")
}

func (p *parser) funcDef() *FuncDef {
	p.enter()
	defer p.leave()
	t := p.expectP("(")
	f := &FuncDef{At: At{t.Off}}
	f.Params = p.params()
	p.expectP("{")
	f.Body = p.stmts("}")
	p.expectP("}")
	return f
}

// params reads name:type [= default], ... ')' (the '(' already read).
func (p *parser) params() []*Param {
	var out []*Param
	if p.acceptP(")") {
		return out
	}
	for {
		name, off := p.name("a parameter name")
		p.expectP(":")
		pr := &Param{At: At{off}, Name: name}
		if p.atP("(") {
			p.advance()
			pr.Type = "table"
			if p.acceptP("*") {
				pr.Open = true
				p.expectP(")")
			} else {
				pr.Schema = p.schema()
			}
		} else {
			pr.Type = p.typeName()
		}
		if p.acceptP("=") {
			pr.Default = p.expr()
		}
		out = append(out, pr)
		if p.acceptP(")") {
			return out
		}
		p.expectP(",")
	}
}

// scalarTypes are the type names KQL accepts (as Microsoft's parser does),
// mapped to the canonical name.
var scalarTypes = map[string]string{
	"bool": "bool", "boolean": "bool", "int": "int", "long": "long", "int64": "long", "real": "real", "double": "real",
	"decimal": "decimal", "string": "string", "datetime": "datetime", "date": "datetime", "timespan": "timespan",
	"time": "timespan", "guid": "guid", "uniqueid": "guid", "dynamic": "dynamic",
}

// anyTypeName reads a type name where Microsoft's parser takes any name
// and leaves its check to analysis (typeof(...), mv-expand to typeof(...)):
// a known name is canonical, another is kept as written for the checker.
func (p *parser) anyTypeName() string {
	t := p.peek()
	if t.Kind != TokIdent {
		p.expected("a type name")
	}
	p.advance()
	if c, ok := scalarTypes[t.Text]; ok {
		return c
	}
	return t.Text
}

// typeName reads a scalar type name and returns its canonical name.
func (p *parser) typeName() string {
	t := p.peek()
	if t.Kind == TokIdent {
		if c, ok := scalarTypes[t.Text]; ok {
			p.advance()
			return c
		}
	}
	p.expected("a type name: string, int, long, real, decimal, bool, datetime, timespan, guid or dynamic")
	return ""
}

// schema reads name:type, ... ')' (the '(' already read). A '*' entry
// (open schema, "(*, a:string)") is skipped.
func (p *parser) schema() []*ColumnDecl { return p.schemaOf(false) }

// rowSchema reads the schema of datatable and externaldata, where
// Microsoft's parser also takes one leading comma: "datatable(,a:string)".
func (p *parser) rowSchema() []*ColumnDecl {
	p.acceptP(",")
	return p.schema()
}

// schemaOf reads a schema; bare (a typeof may name a type alone).
func (p *parser) schemaOf(bare bool) []*ColumnDecl {
	out := []*ColumnDecl{}
	if p.acceptP(")") {
		return out
	}
	for {
		if p.acceptP("*") {
		} else {
			name, off := p.name("a column name")
			if p.acceptP(":") {
				out = append(out, &ColumnDecl{At: At{off}, Name: name, Type: p.typeName()})
			} else if !bare {
				p.expected("':' and a type after the column name")
			} else {
				// typeof(string): a bare type (any name, as for Microsoft's parser)
				typ := name
				if c, ok := scalarTypes[name]; ok {
					typ = c
				}
				out = append(out, &ColumnDecl{At: At{off}, Type: typ})
			}
		}
		if p.acceptP(")") {
			return out
		}
		p.expectP(",")
		if p.acceptP(")") { // a trailing comma, accepted by Microsoft's parser
			return out
		}
	}
}

// ---- tabular ----

// startOps are the operators Microsoft's parser accepts with no input
// before them: sources (print, union, range, search, find, evaluate) and
// the few whose name is reserved, so "where x" cannot be read as a name.
var startOps = map[string]bool{
	"print": true, "union": true, "search": true, "find": true, "evaluate": true, "where": true, "project": true,
	"project-away": true, "project-keep": true, "project-rename": true, "project-reorder": true, "mv-expand": true,
	"mv-apply": true, "parse-where": true, "invoke": true, "sample": true, "sample-distinct": true, "as": true,
	"render": true, "make-series": true, "top-nested": true, "top-hitters": true,
}

// pipe parses a pipeline, or a plain expression when there is no pipe.
func (p *parser) pipe() Expr { return p.pipeFrom(true) }

// pipeFrom parses a pipeline; start says whether it may begin with an
// operator (not inside an in (...) list).
func (p *parser) pipeFrom(start bool) Expr {
	p.enter()
	defer p.leave()
	t := p.peek()
	pl := &Pipeline{At: At{t.Off}}
	w, _ := p.wordAt(0, "-")
	switch {
	case start && startOps[w] && !isP(p.peekN(1), "|"):
		pl.Ops = append(pl.Ops, p.op())
	case w == "range" && p.peekN(1).Kind == TokIdent && isW(p.peekN(2), "from"):
		pl.Ops = append(pl.Ops, p.op())
	default:
		pl.Source = p.expr()
	}
	for p.acceptP("|") {
		pl.Ops = append(pl.Ops, p.op())
	}
	if len(pl.Ops) == 0 {
		return pl.Source
	}
	return pl
}

// subPipe parses '(' ops ')' where the first operator has no source (mv-apply ... on (...)).
func (p *parser) subPipe() *Pipeline {
	p.enter()
	defer p.leave()
	t := p.expectP("(")
	pl := &Pipeline{At: At{t.Off}}
	pl.Ops = append(pl.Ops, p.op()) // no leading '|' here: Microsoft's parser wants an operator
	for p.acceptP("|") {
		pl.Ops = append(pl.Ops, p.op())
	}
	p.expectP(")")
	return pl
}

var unsupportedOps = map[string]string{
	"make-series": "make-series", "search": "search", "find": "find", "fork": "fork", "facet": "facet",
	"partition": "partition", "scan": "scan", "top-nested": "top-nested", "top-hitters": "top-hitters",
	"reduce": "reduce", "consume": "consume", "project-smart": "project-smart", "graph-match": "graph-match", "make-graph": "make-graph", "graph-merge": "graph-merge",
	"sample-distinct": "sample-distinct", "macro-expand": "macro-expand", "assert-schema": "assert-schema",
}

func (p *parser) op() Op {
	t := p.peek()
	w, n := p.wordAt(0, "-")
	if n == 0 {
		p.failAt(t.Off, "expected a tabular operator such as where, extend, project or summarize, found %s", describe(t))
	}
	p.i += n
	at := At{t.Off}
	switch w {
	case "where", "filter":
		return &WhereOp{At: at, Pred: p.expr()}
	case "extend":
		return &ExtendOp{At: at, Cols: p.assigns()}
	case "project":
		o := &ProjectOp{At: at, Kind: "project"}
		if !p.atEnd() {
			o.Cols = p.assigns()
		}
		return o
	case "project-away", "project-keep":
		o := &ProjectOp{At: at, Kind: w}
		if p.atEnd() {
			return o
		}
		for {
			o.Cols = append(o.Cols, &Assign{At: At{p.peek().Off}, Value: p.pattern()})
			if !p.acceptP(",") {
				return o
			}
		}
	case "project-reorder":
		o := &ProjectOp{At: at, Kind: w}
		for {
			o.Cols = append(o.Cols, &Assign{At: At{p.peek().Off}, Value: p.pattern()})
			ord := ""
			if ow, on := p.wordAt(0, "-"); ow == "asc" || ow == "desc" || ow == "granny-asc" || ow == "granny-desc" {
				ord = ow
				p.i += on
			}
			o.Order = append(o.Order, ord)
			if !p.acceptP(",") {
				return o
			}
		}
	case "project-rename":
		// New = Old. Microsoft's parser accepts any expression list here
		// (even "project-rename New" or "New ['x']") and rejects what is
		// not New = Old in semantic analysis; so does this one (the
		// evaluator reports it).
		return &ProjectOp{At: at, Kind: w, Cols: p.assigns()}
	case "summarize":
		o := &SummarizeOp{At: at, Params: p.opParams(nil)}
		if !p.atW("by") && !p.atEnd() {
			o.Aggs = p.assigns()
		}
		if p.acceptW("by") {
			o.By = p.assigns()
		}
		return o
	case "count":
		o := &CountOp{At: at}
		if p.acceptW("as") {
			o.As, _ = p.name("a column name after count as")
		}
		return o
	case "take", "limit":
		return &TakeOp{At: at, N: p.expr()}
	case "top":
		o := &TopOp{At: at, N: p.expr()}
		p.expectW("by")
		o.By = p.sortKeys()
		if len(o.By) > 1 {
			p.failAt(o.By[1].Off, "top takes one key: sort by several keys, then take")
		}
		return o
	case "sort", "order":
		p.opParams(nil)
		p.expectW("by")
		return &SortOp{At: at, Keys: p.sortKeys()}
	case "distinct":
		o := &DistinctOp{At: at}
		if p.acceptP("*") {
			o.All = true
			return o
		}
		o.Cols = p.assigns() // distinct x = f(y) names its column
		return o
	case "union":
		o := &UnionOp{At: at, Params: p.opParams(map[string]bool{"kind": true, "withsource": true, "isfuzzy": true})}
		for {
			o.Tables = append(o.Tables, p.unionTable())
			if !p.acceptP(",") {
				return o
			}
		}
	case "join", "lookup":
		params := p.opParams(map[string]bool{"kind": true, "withsource": true})
		right := p.rightTable()
		p.expectW("on")
		var on []Expr
		for {
			on = append(on, p.expr())
			if !p.acceptP(",") {
				break
			}
		}
		if w == "join" {
			return &JoinOp{At: at, Params: params, Right: right, On: on}
		}
		return &LookupOp{At: at, Params: params, Right: right, On: on}
	case "mv-expand", "mvexpand":
		o := &MvExpandOp{At: at, Legacy: w == "mvexpand",
			Params: p.opParams(map[string]bool{"bagexpansion": true, "with_itemindex": true, "kind": true})}
		o.Items = p.mvItems()
		if p.acceptW("limit") {
			o.Limit = p.expr()
		}
		return o
	case "mv-apply", "mvapply":
		o := &MvApplyOp{At: at, Params: p.opParams(map[string]bool{"with_itemindex": true})}
		o.Items = p.mvItems()
		if p.acceptW("limit") {
			o.Limit = p.expr()
		}
		if p.atW("id") && isP(p.peekN(1), "=") {
			p.unsupported(p.peek().Off, "mv-apply id", "mv-apply id= is not supported")
			p.i += 2
			p.primary()
		}
		p.expectW("on")
		o.On = p.subPipe()
		return o
	case "parse", "parse-where":
		o := &ParseOp{At: at, Where: w == "parse-where", Params: p.opParams(map[string]bool{"kind": true, "flags": true})}
		o.Source = p.expr()
		p.expectW("with")
		o.Pattern = p.parsePattern(o.Params)
		return o
	case "as":
		o := &AsOp{At: at, Params: p.opParams(nil)}
		o.Name, _ = p.name("a name after as")
		return o
	case "render":
		o := &RenderOp{At: at}
		if p.peek().Kind == TokIdent {
			o.Kind = p.advance().Text
		} else {
			p.expected("a chart kind such as timechart after render")
		}
		if p.acceptW("with") {
			p.expectP("(")
			// Microsoft's parser takes one leading comma, "with (,title='x')",
			// and no trailing one.
			p.acceptP(",")
			for !p.acceptP(")") {
				if pt := p.peek(); pt.Kind != TokIdent || !renderProps[pt.Text] {
					p.expected("a render property such as title, xtitle, ytitle, kind or legend")
				}
				nm, off := p.name("a render property name")
				p.expectP("=")
				o.With = append(o.With, &NamedArg{At: At{off}, Name: nm, Value: p.expr()})
				if !p.atP(")") {
					p.expectP(",")
					if p.atP(")") {
						p.expected("a render property such as title, xtitle, ytitle, kind or legend")
					}
				}
			}
		}
		// Legacy "render barchart kind=stacked" properties (name=value).
		for p.peek().Kind == TokIdent && renderProps[p.peek().Text] && isP(p.peekN(1), "=") {
			nt := p.advance()
			p.advance()
			o.With = append(o.With, &NamedArg{At: At{nt.Off}, Name: nt.Text, Value: p.paramValue()})
		}
		return o
	case "print":
		return &PrintOp{At: at, Cols: p.assigns()}
	case "range":
		o := &RangeOp{At: at}
		o.Col, _ = p.name("a column name after range")
		p.expectW("from")
		o.From = p.expr()
		p.expectW("to")
		o.To = p.expr()
		p.expectW("step")
		o.Step = p.expr()
		return o
	case "sample":
		return &SampleOp{At: at, N: p.expr()}
	case "serialize":
		o := &SerializeOp{At: at}
		if !p.atEnd() {
			o.Cols = p.assigns()
		}
		return o
	case "getschema":
		return &GetSchemaOp{At: at}
	case "invoke":
		x := p.postfix()
		c, ok := x.(*Call)
		if !ok {
			p.failAt(x.Offset(), "expected a function call after invoke, such as invoke f(1)")
		}
		return &InvokeOp{At: at, Call: c}
	case "evaluate":
		o := &UnsupportedOp{At: at, Name: "evaluate", Params: p.opParams(nil)}
		x := p.postfix()
		if _, ok := x.(*Call); !ok {
			p.failAt(x.Offset(), "expected a plugin call after evaluate, such as evaluate bag_unpack(Col)")
		}
		o.Args = []Expr{x}
		p.unsupported(t.Off, "evaluate", "evaluate (plugins) is not supported yet")
		// evaluate pivot(...) : (schema) output schema
		if p.acceptP(":") {
			p.expectP("(")
			p.schema()
		}
		return o
	case "datatable":
		p.i -= n
		return &SourceOp{At: at, X: p.primary()}
	case "make-series":
		return p.makeSeries(at)
	}
	if f, ok := unsupportedOps[w]; ok && f != "" {
		p.unsupported(t.Off, f, fmt.Sprintf("the %s operator is not supported yet", f))
		p.skipLoose()
		return &UnsupportedOp{At: at, Name: f}
	}
	p.failAt(t.Off, "unknown operator %q: expected a tabular operator such as where, extend, project or summarize", w)
	return nil
}

// renderProps are the legacy "render kind ... name=value" properties.
var renderProps = map[string]bool{"kind": true, "title": true, "xcolumn": true, "ycolumns": true, "series": true,
	"xtitle": true, "ytitle": true, "legend": true, "ysplit": true, "accumulate": true, "xaxis": true, "yaxis": true,
	"ymin": true, "ymax": true, "xmin": true, "xmax": true, "anomalycolumns": true}

// makeSeries reads make-series [params] [Col =] Agg [default = x], ...
// on Axis (from A] [to B] step S | in range(A, B, S)) [by keys]. It parses
// in full so errors inside it are found, and is reported as unsupported.
func (p *parser) makeSeries(at At) Op {
	o := &UnsupportedOp{At: at, Name: "make-series", Params: p.opParams(map[string]bool{"kind": true})}
	for {
		a := p.assign()
		o.Args = append(o.Args, a.Value)
		if p.atW("default") && isP(p.peekN(1), "=") {
			p.i += 2
			o.Args = append(o.Args, p.expr())
		}
		if !p.acceptP(",") {
			break
		}
	}
	p.expectW("on")
	o.Args = append(o.Args, p.add()) // not expr: "in range(...)" follows
	if p.acceptW("in") {
		p.expectW("range")
		p.expectP("(")
		for i := 0; i < 3; i++ {
			if i > 0 {
				p.expectP(",")
			}
			o.Args = append(o.Args, p.expr())
		}
		p.expectP(")")
	} else {
		if p.acceptW("from") {
			o.Args = append(o.Args, p.expr())
		}
		if p.acceptW("to") {
			o.Args = append(o.Args, p.expr())
		}
		p.expectW("step")
		o.Args = append(o.Args, p.expr())
	}
	if p.acceptW("by") {
		for _, a := range p.assigns() {
			o.Args = append(o.Args, a.Value)
		}
	}
	p.unsupported(at.Off, "make-series", "make-series is not supported yet")
	return o
}

// skipLoose skips the rest of an operator: balanced brackets, up to the next
// '|' , ';' or closing bracket at this level.
func (p *parser) skipLoose() {
	depth := 0
	for {
		t := p.peek()
		switch {
		case t.Kind == TokEOF:
			return
		case isP(t, "(") || isP(t, "[") || isP(t, "{"):
			depth++
		case isP(t, ")") || isP(t, "]") || isP(t, "}"):
			if depth == 0 {
				return
			}
			depth--
		case (isP(t, "|") || isP(t, ";")) && depth == 0:
			return
		}
		p.advance()
	}
}

// hints are the hint.* operator parameters Microsoft's parser knows.
var hints = map[string]bool{
	"hint.strategy": true, "hint.shufflekey": true, "hint.materialized": true, "hint.remote": true, "hint.concurrency": true,
	"hint.spread": true, "hint.distribution": true, "hint.progressive_top": true, "hint.num_partitions": true,
}

// opParams reads name=value parameters: those in allowed, and any hint.*.
func (p *parser) opParams(allowed map[string]bool) []*OpParam {
	var out []*OpParam
	for {
		t := p.peek()
		if t.Kind != TokIdent {
			return out
		}
		w, n := p.wordAt(0, ".")
		if !(allowed[strings.ToLower(w)] || hints[strings.ToLower(w)]) || !isP(p.peekN(n), "=") {
			return out
		}
		p.i += n + 1
		if v := p.peek(); hints[strings.ToLower(w)] && v.Kind == TokIdent && reservedName[v.Text] {
			p.failAt(v.Off, "%s=%s: expected a hint value such as shuffle or broadcast", w, v.Text)
		}
		out = append(out, &OpParam{At: At{t.Off}, Name: strings.ToLower(w), Value: p.paramValue()})
	}
}

func (p *parser) paramValue() Expr {
	t := p.peek()
	if t.Kind == TokIdent {
		w, n := p.wordAt(0, "-")
		if lw := strings.ToLower(w); n == 1 && reservedName[lw] && lw != "simple" && lw != "relaxed" {
			// kind=where: a keyword is not a value (Microsoft's parser says
			// so too); parse kind=simple and kind=relaxed are the exceptions.
			p.failAt(t.Off, "expected a parameter value, found the keyword %q", w)
		}
		p.i += n
		return &Ident{At: At{t.Off}, Name: w}
	}
	if t.Kind == TokBracket {
		p.advance()
		return &Ident{At: At{t.Off}, Name: t.Text, Quoted: true}
	}
	return p.primary()
}

// assigns reads [Name =] expr, ...
func (p *parser) assigns() []*Assign {
	var out []*Assign
	for {
		out = append(out, p.assign())
		if !p.acceptP(",") {
			return out
		}
	}
}

func (p *parser) assign() *Assign {
	t := p.peek()
	a := &Assign{At: At{t.Off}}
	if (t.Kind == TokIdent || t.Kind == TokBracket) && isP(p.peekN(1), "=") {
		if t.Kind == TokIdent && reservedAssign[t.Text] {
			p.failAt(t.Off, "the column name %q is a keyword: write ['%s']", t.Text, t.Text)
		}
		p.i += 2
		a.Names = []string{t.Text}
	} else if isP(t, "(") {
		// (A, B) = expr
		k := 1
		var names []string
		for {
			nt := p.peekN(k)
			if nt.Kind != TokIdent && nt.Kind != TokBracket {
				names = nil
				break
			}
			names = append(names, nt.Text)
			k++
			if isP(p.peekN(k), ",") {
				k++
				continue
			}
			if isP(p.peekN(k), ")") && isP(p.peekN(k+1), "=") {
				k += 2
				break
			}
			names = nil
			break
		}
		if names != nil {
			p.i += k
			a.Names = names
		}
	}
	a.Value = p.expr()
	return a
}

// pattern reads a column name or a wildcard pattern (Col*, *).
func (p *parser) pattern() Expr {
	t := p.peek()
	if t.Kind == TokBracket {
		p.advance()
		return &Ident{At: At{t.Off}, Name: t.Text, Quoted: true}
	}
	var b strings.Builder
	end := -1
	for {
		c := p.peek()
		if (c.Kind == TokIdent || isP(c, "*") || c.Kind == TokInt) && (end < 0 || c.Off == end) {
			if c.Kind == TokInt && end < 0 {
				break
			}
			b.WriteString(c.Text)
			end = c.End
			p.advance()
			continue
		}
		break
	}
	s := b.String()
	if s == "" {
		p.expected("a column name")
	}
	if reservedName[s] {
		p.failAt(t.Off, "expected a column name, found the keyword %q (write ['%s'] to use it as a name)", s, s)
	}
	if strings.Contains(s, "*") {
		return &Wildcard{At: At{t.Off}, Pattern: s}
	}
	return &Ident{At: At{t.Off}, Name: s}
}

func (p *parser) sortKeys() []*SortKey {
	var out []*SortKey
	for {
		k := &SortKey{At: At{p.peek().Off}, X: p.expr()}
		if p.acceptW("asc") {
			k.Asc = true
		} else {
			p.acceptW("desc")
		}
		k.NullsFirst = k.Asc
		if p.atW("nulls") {
			p.advance()
			k.NullsSet = true
			switch {
			case p.acceptW("first"):
				k.NullsFirst = true
			case p.acceptW("last"):
				k.NullsFirst = false
			default:
				p.expected("first or last after nulls")
			}
		}
		out = append(out, k)
		if !p.acceptP(",") {
			return out
		}
	}
}

func (p *parser) unionTable() Expr {
	t := p.peek()
	if isP(t, "(") {
		p.advance()
		x := p.pipe()
		p.expectP(")")
		return &Paren{At: At{t.Off}, X: x}
	}
	if (t.Kind == TokIdent && !isP(p.peekN(1), "(") && !isP(p.peekN(1), ".")) || isP(t, "*") {
		return p.pattern()
	}
	return p.postfix()
}

// rightTable reads a join's or lookup's right side: a table name or a
// (sub-query). Microsoft's parser takes any expression here and leaves
// the check that it is tabular to analysis; so does this one.
func (p *parser) rightTable() Expr {
	t := p.peek()
	if t.Kind == TokEOF || isP(t, "|") || isW(t, "on") && !isP(p.peekN(1), "(") {
		// "join on (U) on x" calls a function named on: Microsoft's parser takes it
		p.expected("the right side: a table name or a (sub-query)")
	}
	return p.expr()
}

func (p *parser) mvItems() []*MvItem {
	var out []*MvItem
	for {
		it := &MvItem{At: At{p.peek().Off}}
		it.Assign = *p.assign()
		if p.acceptW("to") {
			p.expectW("typeof")
			p.expectP("(")
			if !p.atP(")") { // to typeof() is accepted, as by Microsoft's parser: dynamic
				it.To = p.anyTypeName()
			}
			p.expectP(")")
		}
		out = append(out, it)
		if !p.acceptP(",") {
			return out
		}
	}
}

func (p *parser) parsePattern(params []*OpParam) []*ParsePart {
	regex := false
	for _, pr := range params {
		if id, ok := pr.Value.(*Ident); ok && pr.Name == "kind" {
			switch id.Name {
			case "regex":
				regex = true
			case "simple", "relaxed":
			default:
				p.failAt(id.Off, "parse kind=%s: expected simple, regex or relaxed", id.Name)
			}
		}
	}
	var out []*ParsePart
	for !p.atEnd() {
		t := p.peek()
		switch {
		case t.Kind == TokString:
			p.advance()
			s := t.Text
			for p.peek().Kind == TokString {
				s += p.advance().Text
			}
			out = append(out, &ParsePart{At: At{t.Off}, Lit: s, IsLit: true, IsRegex: regex})
		case isP(t, "*"):
			p.advance()
			out = append(out, &ParsePart{At: At{t.Off}, Star: true})
		case t.Kind == TokIdent || t.Kind == TokBracket:
			if t.Kind == TokIdent && reservedAssign[t.Text] {
				p.failAt(t.Off, "the column name %q in the parse pattern is a keyword: write ['%s']", t.Text, t.Text)
			}
			p.advance()
			pp := &ParsePart{At: At{t.Off}, Name: t.Text}
			if p.acceptP(":") {
				pp.Type = p.typeName()
			}
			out = append(out, pp)
		default:
			p.expected("a string, a column name or * in the parse pattern")
		}
	}
	if len(out) == 0 {
		p.expected("a parse pattern after with")
	}
	return out
}

// ---- scalar expressions ----

func (p *parser) expr() Expr { return p.or() }

func (p *parser) or() Expr {
	l := p.and()
	for p.atW("or") {
		t := p.advance()
		l = &Binary{At: At{t.Off}, Op: "or", L: l, R: p.and()}
	}
	return l
}

func (p *parser) and() Expr {
	l := p.cmp()
	for p.atW("and") {
		t := p.advance()
		l = &Binary{At: At{t.Off}, Op: "and", L: l, R: p.cmp()}
	}
	return l
}

var stringOps = map[string]bool{
	"has": true, "has_cs": true, "hasprefix": true, "hasprefix_cs": true, "hassuffix": true, "hassuffix_cs": true,
	"contains": true, "contains_cs": true, "startswith": true, "startswith_cs": true, "endswith": true, "endswith_cs": true,
	"like": true, "likecs": true,
}

// Comparison levels, loosest first, as Microsoft's parser nests them (each
// level is non-associative: a == b == c is an error):
//
//	0: ==  !=  <>  in  !in  in~  !in~  has_any  has_all  between  !between
//	1: <  <=  >  >=
//	2: =~  !~  has  contains  startswith  endswith  matches regex  like, and their _cs and ! forms
//
// so a == b has c is a == (b has c), and a < b in (1) is (a < b) in (1).

// cmpOp reads an operator of the given level at the current token, returning
// "" (and reading nothing) when there is none.
func (p *parser) cmpOp(level int) string {
	t := p.peek()
	op, n := "", 0
	switch t.Kind {
	case TokPunct:
		switch t.Text {
		case "==", "!=", "<", "<=", ">", ">=", "=~", "!~":
			op, n = t.Text, 1
		case "<>":
			op, n = "!=", 1
		case "!":
			nx := p.peekN(1)
			if nx.Kind == TokIdent && nx.Off == t.End {
				switch {
				case stringOps[nx.Text]:
					op, n = "!"+nx.Text, 2
				case nx.Text == "in":
					op, n = "!in", 2
					if tl := p.peekN(2); isP(tl, "~") && tl.Off == nx.End {
						op, n = "!in~", 3
					}
				case nx.Text == "between":
					op, n = "!between", 2
				}
			}
		}
	case TokIdent:
		switch {
		case stringOps[t.Text]:
			op, n = t.Text, 1
		case t.Text == "notcontains" || t.Text == "notcontains_cs" || t.Text == "notlike" || t.Text == "notlikecs":
			op, n = "!"+strings.TrimPrefix(t.Text, "not"), 1
		case t.Text == "notbetween":
			op, n = "!between", 1
		case t.Text == "has_any" || t.Text == "has_all" || t.Text == "between":
			op, n = t.Text, 1
		case t.Text == "in":
			op, n = "in", 1
			if tl := p.peekN(1); isP(tl, "~") && tl.Off == t.End {
				op, n = "in~", 2
			}
		case t.Text == "matches" && isW(p.peekN(1), "regex"):
			op, n = "matches regex", 2
		}
	}
	if op == "" || opLevel(op) != level {
		return ""
	}
	p.i += n
	return op
}

// starOperand reports whether the '*' at the current token is followed by
// a comparison operator (Microsoft's parser takes "* has x", "* == x", but
// not a bare "*").
func (p *parser) starOperand() bool {
	save := p.i
	defer func() { p.i = save }()
	p.i++
	for level := 0; level <= 2; level++ {
		if p.cmpOp(level) != "" {
			return true
		}
		p.i = save + 1
	}
	return false
}

func opLevel(op string) int {
	switch op {
	case "==", "!=", "in", "!in", "in~", "!in~", "has_any", "has_all", "between", "!between":
		return 0
	case "<", "<=", ">", ">=":
		return 1
	}
	return 2
}

func (p *parser) cmp() Expr { return p.cmpLevel(0) }

func (p *parser) cmpLevel(level int) Expr {
	operand := func() Expr {
		if level == 2 {
			return p.add()
		}
		return p.cmpLevel(level + 1)
	}
	l := operand()
	t := p.peek()
	op := p.cmpOp(level)
	switch op {
	case "":
		return l
	case "in", "!in", "in~", "!in~", "has_any", "has_all":
		return &InExpr{At: At{t.Off}, Op: op, X: l, List: p.inList()}
	case "between", "!between":
		p.expectP("(")
		lo := p.add()
		p.expectP("..")
		hi := p.add()
		p.expectP(")")
		return &Between{At: At{t.Off}, X: l, Lo: lo, Hi: hi, Not: op == "!between"}
	}
	return &Binary{At: At{t.Off}, Op: op, L: l, R: operand()}
}

func (p *parser) inList() []Expr {
	if !p.atP("(") {
		p.expected("'(' and a list after the operator, such as in (\"a\", \"b\")")
	}
	p.advance()
	var out []Expr
	if p.acceptP(")") {
		return out
	}
	for {
		out = append(out, p.pipeFrom(false))
		if p.acceptP(")") {
			return out
		}
		p.expectP(",")
	}
}

func (p *parser) add() Expr {
	l := p.mul()
	for p.atP("+") || p.atP("-") {
		t := p.advance()
		l = &Binary{At: At{t.Off}, Op: t.Text, L: l, R: p.mul()}
	}
	return l
}

func (p *parser) mul() Expr {
	l := p.unary()
	for p.atP("*") || p.atP("/") || p.atP("%") {
		t := p.advance()
		l = &Binary{At: At{t.Off}, Op: t.Text, L: l, R: p.unary()}
	}
	return l
}

func (p *parser) unary() Expr {
	p.enter()
	defer p.leave()
	if p.atP("-") || p.atP("+") {
		// One sign only: - -1 is an error in KQL, -(-1) is not.
		t := p.advance()
		return &Unary{At: At{t.Off}, Op: t.Text, X: p.postfix()}
	}
	return p.postfix()
}

func (p *parser) postfix() Expr {
	x := p.primary()
	for {
		t := p.peek()
		switch {
		case isP(t, "."):
			p.advance()
			n := p.peek()
			switch n.Kind {
			case TokIdent, TokBracket:
				if n.Kind == TokIdent && reservedName[n.Text] {
					p.failAt(n.Off, "the member name %q is a keyword: write ['%s']", n.Text, n.Text)
				}
				p.advance()
				if isP(p.peek(), "(") && n.Kind == TokIdent {
					c := p.call(n)
					c.Target = x
					x = c
				} else {
					x = &Member{At: At{t.Off}, X: x, Name: n.Text}
				}
			case TokTypedLit:
				// d.time or d.int: a member named like a literal word
				p.failAt(n.Off, "write ['%s'] for a member named %s", n.Lit, n.Lit)
			case TokPunct:
				if n.Text == "[" { // d.[0]
					p.advance()
					i := p.expr()
					p.expectP("]")
					x = &Index{At: At{t.Off}, X: x, I: i}
					continue
				}
				p.expected("a member name after '.'")
			default:
				p.expected("a member name after '.'")
			}
		case isP(t, "["):
			p.advance()
			i := p.expr()
			p.expectP("]")
			x = &Index{At: At{t.Off}, X: x, I: i}
		case t.Kind == TokBracket:
			p.advance()
			x = &Index{At: At{t.Off}, X: x, I: &Literal{At: At{t.Off}, Kind: LitString, Raw: t.Text}}
		default:
			return x
		}
	}
}

var typedKinds = map[string]LitKind{
	"datetime": LitDatetime, "date": LitDatetime, "time": LitTimespan, "timespan": LitTimespan, "guid": LitGuid,
	"bool": LitBool, "boolean": LitBool, "int": LitInt, "long": LitLong, "real": LitReal, "double": LitReal, "decimal": LitDecimal,
}

func (p *parser) primary() Expr {
	t := p.peek()
	at := At{t.Off}
	if isP(t, "*") && p.starOperand() {
		// where * has "x": every column, as the left side of a comparison
		p.advance()
		return &Star{At: at}
	}
	switch t.Kind {
	case TokInt:
		p.advance()
		return &Literal{At: at, Kind: LitLong, Raw: t.Text}
	case TokReal:
		p.advance()
		return &Literal{At: at, Kind: LitReal, Raw: t.Text}
	case TokTimespan:
		p.advance()
		return &Literal{At: at, Kind: LitTimespan, Raw: t.Text, Unit: t.Lit}
	case TokString:
		p.advance()
		s := t.Text
		for p.peek().Kind == TokString {
			s += p.advance().Text
		}
		return &Literal{At: at, Kind: LitString, Raw: s}
	case TokTypedLit:
		p.advance()
		return &Literal{At: at, Kind: typedKinds[t.Lit], Raw: t.Text, Null: strings.EqualFold(t.Text, "null")}
	case TokBracket:
		p.advance()
		if isP(p.peek(), "(") { // ['my function'](x)
			return p.call(t)
		}
		return &Ident{At: at, Name: t.Text, Quoted: true}
	case TokIdent:
		nx := p.peekN(1)
		switch t.Text {
		case "true", "false":
			p.advance()
			return &Literal{At: at, Kind: LitBool, Raw: t.Text}
		case "dynamic":
			if isP(nx, "(") {
				p.i += 2
				v := p.dynValue()
				p.expectP(")")
				return &DynamicLit{At: at, Value: v}
			}
		case "typeof":
			if isP(nx, "(") {
				p.i += 2
				return &TypeOf{At: at, Schema: p.schemaOf(true)}
			}
		case "datatable":
			if isP(nx, "(") {
				p.i += 2
				dt := &DataTable{At: at, Schema: p.rowSchema()}
				dt.Values = p.valueList()
				return dt
			}
		case "externaldata":
			if isP(nx, "(") {
				p.i += 2
				ed := &ExternalData{At: at, Schema: p.rowSchema()}
				ed.URLs = p.valueList()
				if p.acceptW("with") {
					p.expectP("(")
					for !p.acceptP(")") {
						nm, off := p.name("a property name")
						p.expectP("=")
						ed.With = append(ed.With, &NamedArg{At: At{off}, Name: nm, Value: p.expr()})
						if !p.atP(")") {
							p.expectP(",")
						}
					}
				}
				p.unsupported(t.Off, "externaldata", "externaldata is not supported: breakglass reads no URLs")
				return ed
			}
		}
		if isP(nx, "(") {
			if t.Text == "toscalar" {
				// toscalar takes a tabular expression: the one call whose argument may hold pipes.
				p.i += 2
				x := p.pipe()
				p.expectP(")")
				return &Call{At: at, Name: t.Text, Args: []Expr{x}}
			}
			if reservedCall[t.Text] {
				p.failAt(t.Off, "%q is a keyword here, not a function", t.Text)
			}
			p.advance()
			return p.call(t)
		}
		if reservedName[t.Text] {
			p.failAt(t.Off, "expected an expression, found the keyword %q (write ['%s'] to use it as a name)", t.Text, t.Text)
		}
		p.advance()
		return &Ident{At: at, Name: t.Text}
	case TokPunct:
		if t.Text == "(" {
			p.advance()
			x := p.pipe()
			p.expectP(")")
			return &Paren{At: at, X: x}
		}
		if t.Text == "[" {
			// [expr]: a name computed from a string expression (['a'] is the
			// usual, constant form and is lexed as a quoted name).
			p.advance()
			x := p.expr()
			p.expectP("]")
			return &ComputedName{At: at, X: x}
		}
	}
	p.expected("an expression")
	return nil
}

// call reads '(' args ')' after the function name token n.
func (p *parser) call(n Token) *Call {
	p.expectP("(")
	c := &Call{At: At{n.Off}, Name: n.Text}
	if p.acceptP(")") {
		return c
	}
	for {
		t := p.peek()
		switch {
		case isP(t, "*") && (isP(p.peekN(1), ")") || isP(p.peekN(1), ",")):
			p.advance()
			c.Args = append(c.Args, &Star{At: At{t.Off}})
		case t.Kind == TokIdent && isP(p.peekN(1), "="):
			if reservedAssign[t.Text] {
				p.failAt(t.Off, "the argument name %q is a keyword: write ['%s']", t.Text, t.Text)
			}
			p.i += 2
			c.Args = append(c.Args, &NamedArg{At: At{t.Off}, Name: t.Text, Value: p.expr()})
		default:
			c.Args = append(c.Args, p.expr())
		}
		if p.acceptP(")") {
			return c
		}
		if !p.atP(",") {
			p.expected("',' or ')' in the arguments of " + n.Text + "()")
		}
		p.advance()
	}
}

// valueList reads '[' expr, ... ']' (datatable and externaldata values).
func (p *parser) valueList() []Expr {
	if t := p.peek(); t.Kind == TokBracket { // ['one value'] lexed as a quoted name
		p.advance()
		return []Expr{&Literal{At: At{t.Off}, Kind: LitString, Raw: t.Text}}
	}
	p.expectP("[")
	var out []Expr
	// Microsoft's parser accepts a leading comma ([, 1, 2]); so does this one.
	if len(out) == 0 && p.atP(",") && !isP(p.peekN(1), "]") {
		p.advance()
	}
	for !p.acceptP("]") {
		out = append(out, p.literalValue())
		if !p.atP("]") {
			if !p.atP(",") {
				p.expected("',' or ']' in the values")
			}
			p.advance()
		}
	}
	return out
}

// literalValue reads a datatable value: a literal, a signed number, or dynamic(...).
func (p *parser) literalValue() Expr {
	t := p.peek()
	switch {
	case isP(t, "-") || isP(t, "+"):
		p.advance()
		n := p.peek()
		if n.Kind != TokInt && n.Kind != TokReal && n.Kind != TokTimespan {
			p.expected("a number after the sign")
		}
		return &Unary{At: At{t.Off}, Op: t.Text, X: p.primary()}
	case t.Kind == TokInt || t.Kind == TokReal || t.Kind == TokTimespan || t.Kind == TokString || t.Kind == TokTypedLit,
		isW(t, "true"), isW(t, "false"), isW(t, "dynamic") && isP(p.peekN(1), "("):
		return p.primary()
	}
	p.expected("a literal value (a string, a number, true, false, datetime(...), dynamic(...))")
	return nil
}

// dynValue reads the inside of dynamic(...): JSON-like, with KQL literals.
func (p *parser) dynValue() Expr {
	p.enter()
	defer p.leave()
	t := p.peek()
	at := At{t.Off}
	switch {
	case isP(t, "["):
		p.advance()
		a := &ArrayLit{At: at}
		for !p.acceptP("]") {
			a.Elems = append(a.Elems, p.dynValue())
			if !p.atP("]") {
				if !p.atP(",") {
					p.expected("',' or ']' in the dynamic array")
				}
				p.advance()
				if p.atP("]") {
					p.expected("a value after ','")
				}
			}
		}
		return a
	case isP(t, "{"):
		p.advance()
		o := &ObjectLit{At: at}
		for !p.acceptP("}") {
			k := p.peek()
			if k.Kind != TokString && k.Kind != TokIdent {
				p.expected("a string key in the dynamic object")
			}
			p.advance()
			p.expectP(":")
			o.Keys = append(o.Keys, k.Text)
			o.Vals = append(o.Vals, p.dynValue())
			if !p.atP("}") {
				if !p.atP(",") {
					p.expected("',' or '}' in the dynamic object")
				}
				p.advance()
				if p.atP("}") {
					p.expected("a key after ','")
				}
			}
		}
		return o
	case t.Kind == TokBracket: // ['a'] lexed as a quoted name
		p.advance()
		return &ArrayLit{At: at, Elems: []Expr{&Literal{At: at, Kind: LitString, Raw: t.Text}}}
	case isW(t, "null"):
		p.advance()
		return &Literal{At: at, Kind: LitNull, Raw: "null"}
	case isP(t, "-") || isP(t, "+"):
		p.advance()
		return &Unary{At: at, Op: t.Text, X: p.dynValue()}
	case t.Kind == TokInt || t.Kind == TokReal || t.Kind == TokTimespan || t.Kind == TokString || t.Kind == TokTypedLit || isW(t, "true") || isW(t, "false"):
		return p.primary()
	}
	p.expected("a value inside dynamic(): [..], {..}, a string, a number, true, false or null")
	return nil
}

// IsUnsupported reports whether err is (or wraps) an *UnsupportedError.
func IsUnsupported(err error) bool {
	var u *UnsupportedError
	return errors.As(err, &u)
}
