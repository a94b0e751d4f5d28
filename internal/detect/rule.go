package detect

import (
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// Rule judges decoded records. The scanner takes a set of rules; each says
// what it needs to see, so that the fast path can skip, without decoding,
// every record no rule could fire on.
type Rule interface {
	Meta() Meta
	Needs() Needs
	// Eval appends the alerts rec raises to dst.
	Eval(dst []alert.Alert, rec *Record) []alert.Alert
}

// Needs says which records a rule must see.
type Needs struct {
	// Literals: the rule can only fire on a record in which one of these
	// occurs, ASCII-case-insensitively (the prefilter's contract). Records
	// containing none of any rule's literals are skipped undecoded.
	Literals []string
	// Tables: the rule must see every record of these Log Analytics tables
	// (entra.Tables names), whatever it contains; "*" means every table.
	// Records of such tables bypass the prefilter and are decoded.
	Tables []string
}

// AllTables in Needs.Tables asks for every record.
const AllTables = "*"

// Record is one decoded record as a rule sees it.
type Record struct {
	Event  *entra.Event
	Table  string // Log Analytics table (entra.TableOf the category)
	Raw    []byte // the record's bytes; valid only during Eval
	Source string // where it was read (file:line)
	Now    time.Time

	row map[string]any
}

// Row returns the record's columns by their Log Analytics names, computed
// on first use: rules that do not ask pay nothing.
func (r *Record) Row() map[string]any {
	if r.row == nil {
		r.row = logs.Columns(r.Event)
	}
	return r.row
}

// Set is a compiled set of rules.
type Set struct {
	rules    []Rule
	literals []string
	tables   map[string]bool
	all      bool
}

// NewSet compiles rules into a set.
func NewSet(rules ...Rule) *Set {
	s := &Set{rules: rules, tables: map[string]bool{}}
	seen := map[string]bool{}
	for _, r := range rules {
		n := r.Needs()
		for _, l := range n.Literals {
			if k := entra.FoldASCII(l); k != "" && !seen[k] {
				seen[k] = true
				s.literals = append(s.literals, k)
			}
		}
		for _, t := range n.Tables {
			if t == AllTables {
				s.all = true
			}
			s.tables[t] = true
		}
	}
	return s
}

// Rules returns the set's rules.
func (s *Set) Rules() []Rule { return s.rules }

// Literals returns the union of the rules' literals, folded: what the
// prefilter searches for.
func (s *Set) Literals() []string { return s.literals }

// AnyTables reports whether some rule asks for every record of a table.
func (s *Set) AnyTables() bool { return s.all || len(s.tables) > 0 }

// WantsTable reports whether some rule must see every record of table.
func (s *Set) WantsTable(table string) bool { return s.all || s.tables[table] }

// Eval runs every rule over rec.
func (s *Set) Eval(dst []alert.Alert, rec *Record) []alert.Alert {
	for _, r := range s.rules {
		dst = r.Eval(dst, rec)
	}
	return dst
}
