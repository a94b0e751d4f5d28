package rulesio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// node is one value of a template, written either as ARM JSON or as Bicep
// from the same tree, so the two outputs cannot drift apart. Objects keep
// their keys in insertion order: the output is deterministic and reads in
// the order of Azure's documentation.
type node struct {
	kind  nodeKind
	str   string  // string value; for expr, the Bicep text
	arm   string  // for expr: the ARM expression without brackets
	num   float64 // number
	b     bool
	keys  []string
	vals  []*node
	items []*node
}

type nodeKind int

const (
	kObject nodeKind = iota
	kArray
	kString
	kNumber
	kBool
	kExpr // a template expression: parameters('x') in ARM, x in Bicep
)

func obj() *node                 { return &node{kind: kObject} }
func arr(items ...*node) *node   { return &node{kind: kArray, items: items} }
func str(s string) *node         { return &node{kind: kString, str: s} }
func num(f float64) *node        { return &node{kind: kNumber, num: f} }
func boolean(b bool) *node       { return &node{kind: kBool, b: b} }
func expr(arm, bic string) *node { return &node{kind: kExpr, arm: arm, str: bic} }

// param is a reference to a template parameter.
func param(name string) *node { return expr("parameters('"+name+"')", name) }

// set appends key (keys are unique: a second set replaces the value).
func (n *node) set(key string, v *node) *node {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = v
			return n
		}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
	return n
}

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// armQuote quotes s inside an ARM expression: 'it”s'.
func armQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// writeJSON writes n as indented JSON; strings are escaped by
// encoding/json, without HTML escaping (queries hold < and >).
func (n *node) writeJSON(b *bytes.Buffer, indent string) {
	switch n.kind {
	case kObject:
		if len(n.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range n.keys {
			b.WriteString(indent + "  ")
			writeJSONString(b, k)
			b.WriteString(": ")
			n.vals[i].writeJSON(b, indent+"  ")
			if i < len(n.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case kArray:
		if len(n.items) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, it := range n.items {
			b.WriteString(indent + "  ")
			it.writeJSON(b, indent+"  ")
			if i < len(n.items)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case kString:
		s := n.str
		// A literal string that starts with [ would be read as an
		// expression: ARM escapes it as [[.
		if strings.HasPrefix(s, "[") {
			s = "[" + s
		}
		writeJSONString(b, s)
	case kNumber:
		b.WriteString(formatNumber(n.num))
	case kBool:
		b.WriteString(strconv.FormatBool(n.b))
	case kExpr:
		writeJSONString(b, "["+n.arm+"]")
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

func formatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "0" // config never holds these; keep the output valid JSON
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

var bicepIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// writeBicep writes n as a Bicep value.
func (n *node) writeBicep(b *bytes.Buffer, indent string) {
	switch n.kind {
	case kObject:
		if len(n.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range n.keys {
			b.WriteString(indent + "  ")
			if bicepIdent.MatchString(k) {
				b.WriteString(k)
			} else {
				b.WriteString(bicepString(k))
			}
			b.WriteString(": ")
			n.vals[i].writeBicep(b, indent+"  ")
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case kArray:
		if len(n.items) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for _, it := range n.items {
			b.WriteString(indent + "  ")
			it.writeBicep(b, indent+"  ")
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case kString:
		b.WriteString(bicepString(n.str))
	case kNumber:
		// Bicep has integer literals only; other numbers go through json().
		if n.num == math.Trunc(n.num) && math.Abs(n.num) < 1<<53 {
			b.WriteString(strconv.FormatInt(int64(n.num), 10))
		} else {
			b.WriteString("json(" + bicepString(formatNumber(n.num)) + ")")
		}
	case kBool:
		b.WriteString(strconv.FormatBool(n.b))
	case kExpr:
		b.WriteString(n.str)
	}
}

// bicepString quotes s as a Bicep single-quoted string: \ ' and $ (which
// would start ${interpolation}) are escaped, and so is every control
// character.
func bicepString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '$':
			b.WriteString(`\$`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
				fmt.Fprintf(&b, `\u{%X}`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}
