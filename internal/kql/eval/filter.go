package eval

import (
	"sort"
	"strings"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// VerbatimCatalog is a Catalog that says which string columns hold text
// exactly as it appears in the raw record (not derived, re-cased or
// re-encoded by the decoder). Filter.Literals are derived only from
// conditions on such columns, or on dynamic columns reported verbatim; a
// catalog that does not implement it gets no literals (fail closed: no
// prefilter, every record evaluated).
type VerbatimCatalog interface {
	Verbatim(table, column string) bool
}

// filterOf returns the per-record form of p, or nil when p is not a pure
// filter: a catalog scan followed by per-row operators only.
func (c *compiler) filterOf(p plan) *Filter {
	var steps []rowStep
	for {
		if s, ok := p.(*scanNode); ok {
			for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
				steps[i], steps[j] = steps[j], steps[i]
			}
			f := &Filter{Table: s.table, Columns: c.outCols(steps, s.cols), steps: steps, opt: &c.opt, width: len(s.cols), src: s.cols}
			f.Literals = c.literals(s, steps)
			return f
		}
		s, ok := p.(rowStep)
		if !ok {
			return nil
		}
		steps = append(steps, s)
		p = s.input()
	}
}

func (c *compiler) outCols(steps []rowStep, src []value.Column) []value.Column {
	if len(steps) == 0 {
		return src
	}
	return steps[len(steps)-1].columns()
}

// The literals. A record the filter matches must contain at least one of
// them (ASCII case-insensitively) in its raw text. Soundness, per rule:
//
//   - Only a where condition contributes, and only as a top-level conjunct
//     (every where of the chain and each side of its and-chains must hold,
//     so any one conjunct's literals are necessary). An or contributes only
//     when both sides do (the union of both sets is then necessary).
//   - The column side must be a source column unchanged since the scan
//     (tracked through project, project-rename, project-reorder/keep/away;
//     a column computed by extend or by a project expression is not), or a
//     dynamic path into one (Props.a): the value is then part of the raw
//     record's text, and the catalog vouches for it with Verbatim.
//   - ==, =~, has, has_cs, contains(_cs), startswith(_cs), endswith(_cs),
//     hasprefix/hassuffix: the matched value contains the literal as a
//     substring, so the record does. eval's case-insensitive operators fold
//     ASCII letters only by ASCII rules and never map a non-ASCII letter
//     onto an ASCII one (see fold), so an ASCII literal matched
//     case-insensitively is in the record ASCII-case-insensitively.
//   - in / in~ / has_any with string literals: the value equals (or has)
//     one of them, so one of them occurs: the whole list is the set.
//   - Negations (!=, !has, !in, ...) and non-string comparisons give none.
//   - A literal is used only when it is non-empty printable ASCII without
//     the characters JSON encoders may escape (" \ / < > &): the raw
//     record's encoding of the value then holds the literal as written.
//     On a dynamic column it must also pass dynSafe (numbers are
//     re-rendered, so a literal must not be able to come from one).
func (c *compiler) literals(src *scanNode, steps []rowStep) []string {
	vc, ok := c.cat.(VerbatimCatalog)
	if !ok {
		return nil
	}
	// origin[i] = the source column index current column i is, or -1.
	origin := make([]int, len(src.cols))
	for i := range origin {
		origin[i] = i
	}
	var best []string
	consider := func(set []string) {
		if len(set) == 0 {
			return
		}
		if best == nil || score(set) > score(best) {
			best = set
		}
	}
	for _, s := range steps {
		switch n := s.(type) {
		case *whereNode:
			consider(c.condLiterals(n.pred, src, origin, vc))
		case *extendNode:
			next := append([]int(nil), origin...)
			for len(next) < n.width {
				next = append(next, -1)
			}
			for _, at := range n.at {
				next[at] = -1
			}
			origin = next
		case *projectNode:
			next := make([]int, len(n.exprs))
			for i, x := range n.exprs {
				next[i] = -1
				if x.ref > 0 && x.ref <= len(origin) {
					next[i] = origin[x.ref-1]
				}
			}
			origin = next
		case *permNode:
			next := make([]int, len(n.idx))
			for i, j := range n.idx {
				next[i] = origin[j]
			}
			origin = next
		}
	}
	if best == nil {
		return nil
	}
	sort.Strings(best)
	return best
}

// score prefers sets whose shortest literal is longest (fewer false hits).
func score(set []string) int {
	m := 1 << 30
	for _, s := range set {
		if len(s) < m {
			m = len(s)
		}
	}
	return m*100 - len(set)
}

func safeLiteral(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x20 || b >= 0x7f || strings.IndexByte(`"\/<>&`, b) >= 0 {
			return false
		}
	}
	return true
}

// condLiterals returns the literal set a condition implies, nil for none.
func (c *compiler) condLiterals(x *cexpr, src *scanNode, origin []int, vc VerbatimCatalog) []string {
	if x.lit == nil {
		return nil
	}
	return x.lit.set(func(col int, word string) bool {
		if col < 0 || col >= len(origin) || origin[col] < 0 || !safeLiteral(word) {
			return false
		}
		sc := src.cols[origin[col]]
		switch sc.Type {
		case value.String:
		case value.Dynamic:
			if !dynSafe(word) {
				return false
			}
		default:
			return false
		}
		return vc.Verbatim(src.table, sc.Name)
	})
}

// litInfo is what a compiled condition knows for the prefilter.
type litInfo struct {
	op    string // "and", "or", "match"
	l, r  *litInfo
	col   int // "match": the current-row column the value comes from
	words []string
}

// dynSafe: a literal matched in a dynamic value's text is in the raw JSON
// only if it cannot come from the engine's own rendering of a number (raw
// 1e3 is rendered 1000, and "1000" == 1000 holds): it needs a letter that no
// number rendering holds (not e or E), and only letters, digits, space and
// @ . _ - so that it cannot span JSON punctuation either.
func dynSafe(s string) bool {
	letter := false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
			if b != 'e' && b != 'E' {
				letter = true
			}
		case b >= '0' && b <= '9', b == ' ', b == '@', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return letter
}

func (li *litInfo) set(verbatim func(col int, word string) bool) []string {
	switch li.op {
	case "and":
		a, b := li.l.set(verbatim), li.r.set(verbatim)
		if a == nil {
			return b
		}
		if b == nil || score(a) >= score(b) {
			return a
		}
		return b
	case "or":
		a, b := li.l.set(verbatim), li.r.set(verbatim)
		if a == nil || b == nil {
			return nil
		}
		return append(append([]string(nil), a...), b...)
	case "match":
		for _, w := range li.words {
			if !verbatim(li.col, w) {
				return nil
			}
		}
		return li.words
	}
	return nil
}

// literalOps are the operators whose match implies the literal occurs in the value.
var literalOps = map[string]bool{
	"==": true, "=~": true, "has": true, "has_cs": true, "contains": true, "contains_cs": true,
	"startswith": true, "startswith_cs": true, "endswith": true, "endswith_cs": true,
	"hasprefix": true, "hasprefix_cs": true, "hassuffix": true, "hassuffix_cs": true,
}

// sourceCol returns the current-row column a column-side expression reads
// (a column or a dynamic path into one), or -1.
func sourceCol(x kql.Expr, rs *rowScope) int {
	switch t := x.(type) {
	case *kql.Ident:
		return rs.index(t.Name)
	case *kql.Paren:
		return sourceCol(t.X, rs)
	case *kql.Member:
		if i := sourceCol(t.X, rs); i >= 0 && rs.cols[i].Type == value.Dynamic {
			return i
		}
	case *kql.Index:
		if i := sourceCol(t.X, rs); i >= 0 && rs.cols[i].Type == value.Dynamic {
			return i
		}
	}
	return -1
}

func stringLit(x kql.Expr) (string, bool) {
	l, ok := unparen(x).(*kql.Literal)
	if !ok || l.Kind != kql.LitString {
		return "", false
	}
	return l.Raw, true
}

// litOf derives a condition's litInfo from its syntax (nil for none).
func (c *compiler) litOf(x kql.Expr, rs *rowScope) *litInfo {
	switch t := unparen(x).(type) {
	case *kql.Binary:
		switch {
		case t.Op == "and" || t.Op == "or":
			l, r := c.litOf(t.L, rs), c.litOf(t.R, rs)
			if t.Op == "and" {
				if l == nil {
					return r
				}
				if r == nil {
					return l
				}
			} else if l == nil || r == nil {
				return nil
			}
			return &litInfo{op: t.Op, l: l, r: r}
		case literalOps[t.Op]:
			col, lit := sourceCol(t.L, rs), ""
			s, ok := stringLit(t.R)
			if col < 0 || !ok {
				if t.Op == "==" || t.Op == "=~" { // "x" == Col
					col = sourceCol(t.R, rs)
					s, ok = stringLit(t.L)
				}
			}
			lit = s
			if col < 0 || !ok {
				return nil
			}
			return &litInfo{op: "match", col: col, words: []string{lit}}
		}
	case *kql.InExpr:
		if t.Op != "in" && t.Op != "in~" && t.Op != "has_any" {
			return nil
		}
		col := sourceCol(t.X, rs)
		if col < 0 || len(t.List) == 0 {
			return nil
		}
		if words, ok := c.inWords[t]; ok { // in (watchlist | project Col)
			if len(words) == 0 {
				return nil
			}
			return &litInfo{op: "match", col: col, words: words}
		}
		var words []string
		for _, e := range t.List {
			if d, ok := unparen(e).(*kql.DynamicLit); ok { // in (dynamic(["a", "b"]))
				arr, ok := d.Value.(*kql.ArrayLit)
				if !ok {
					return nil
				}
				for _, el := range arr.Elems {
					s, ok := stringLit(el)
					if !ok {
						return nil
					}
					words = append(words, s)
				}
				continue
			}
			s, ok := stringLit(e)
			if !ok {
				return nil
			}
			words = append(words, s)
		}
		if len(words) == 0 {
			return nil
		}
		return &litInfo{op: "match", col: col, words: words}
	}
	return nil
}
