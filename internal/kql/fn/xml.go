package fn

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"

	"breakglass/internal/kql/value"
)

// parse_xml (https://learn.microsoft.com/kusto/query/parse-xml-function):
// <e/> is {"e":null}, <e>text</e> {"e":"text"}, attributes are "@name",
// text beside children or attributes "#text", repeated children an array.
// Only elements, attributes and text are kept; input over 1 MB, invalid
// XML or nesting deeper than maxXMLDepth gives null.

const maxXMLDepth = 256

func init() {
	Register(&Scalar{Name: "parse_xml", Min: 1, Max: 1, Result: sig(value.Dynamic, kStr),
		Call: func(_ *Ctx, a []value.Value) value.Value {
			x, ok := ParseXML(text(a[0]))
			if !ok {
				return nullDyn
			}
			return dyn(x)
		}})
}

type xmlNode struct {
	name  string
	attrs map[string]any
	kids  []*xmlNode
	text  strings.Builder
}

// ParseXML converts XML text to the dynamic value parse_xml gives.
func ParseXML(s string) (any, bool) {
	if len(s) > maxOut || strings.TrimSpace(s) == "" {
		return nil, false
	}
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	root := &xmlNode{}
	stack := []*xmlNode{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, false
			}
			n := &xmlNode{name: t.Name.Local}
			for _, at := range t.Attr {
				if n.attrs == nil {
					n.attrs = map[string]any{}
				}
				n.attrs["@"+at.Name.Local] = at.Value
			}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 1 {
				return nil, false
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text.Write(t)
		}
	}
	if len(stack) != 1 || len(root.kids) != 1 || strings.TrimSpace(root.text.String()) != "" {
		return nil, false
	}
	return map[string]any{root.kids[0].name: xmlValue(root.kids[0])}, true
}

// xmlValue converts one element (recursion depth is bounded by maxXMLDepth).
func xmlValue(n *xmlNode) any {
	txt := strings.TrimSpace(n.text.String())
	if len(n.kids) == 0 && n.attrs == nil {
		if txt == "" {
			return nil
		}
		return xmlScalar(txt)
	}
	out := map[string]any{}
	for k, v := range n.attrs {
		out[k] = v
	}
	if txt != "" {
		out["#text"] = xmlScalar(txt)
	}
	count := map[string]int{}
	for _, k := range n.kids {
		count[k.name]++
	}
	for _, k := range n.kids {
		v := xmlValue(k)
		if count[k.name] == 1 {
			out[k.name] = v
			continue
		}
		arr, _ := out[k.name].([]any)
		out[k.name] = append(arr, v)
	}
	return out
}

// xmlScalar gives numeric text as a number, as the docs' example shows
// (<value>118.0</value> is 118.0); other text stays a string.
func xmlScalar(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_nNiI") {
		return f
	}
	return s
}
