package rulesio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/config"
)

// RulesYAML writes the imported rules as a rules: block to paste into the
// configuration. What did not carry over is written as comments above
// each rule, so it stays next to the rule it concerns; a rule config
// refuses (see Check) is written commented out.
func RulesYAML(ims []Imported) ([]byte, error) { return rulesYAML(ims, true) }

func rulesYAML(ims []Imported, comments bool) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("rules:\n")
	if len(ims) == 0 {
		b.Reset()
		b.WriteString("rules: []\n")
	}
	for _, im := range ims {
		if comments {
			c := []string{"from " + im.File + " (" + im.Source + ")"}
			for _, p := range im.Problems {
				if p.Note {
					c = append(c, "note: "+p.Message)
				} else {
					c = append(c, "NOT CARRIED OVER: "+p.Message)
				}
			}
			for _, l := range commentLines(c) {
				b.WriteString("  " + l + "\n")
			}
		}
		var rb bytes.Buffer
		enc := yaml.NewEncoder(&rb)
		enc.SetIndent(2)
		if err := enc.Encode(ruleNode(im.Rule)); err != nil {
			return nil, fmt.Errorf("writing rule %s: %w", im.Rule.Name, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("writing rule %s: %w", im.Rule.Name, err)
		}
		lines := strings.Split(strings.TrimSuffix(rb.String(), "\n"), "\n")
		for i, l := range lines {
			prefix := "    "
			if i == 0 {
				prefix = "  - "
			}
			if im.rejected {
				prefix = "  # " + prefix[2:]
			}
			if l == "" {
				prefix = strings.TrimRight(prefix, " ")
			}
			b.WriteString(prefix + l + "\n")
		}
	}
	if comments && len(ims) > 0 && allRejected(ims) {
		// Every rule is commented out: keep the block valid YAML.
		b.WriteString("  []\n")
	}
	return b.Bytes(), nil
}

func allRejected(ims []Imported) bool {
	for _, im := range ims {
		if !im.rejected {
			return false
		}
	}
	return true
}

// commentLines makes lines safe as YAML comments: one line each, no
// control characters that would end the comment early.
func commentLines(lines []string) []string {
	for i, l := range lines {
		l = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
				return ' '
			}
			return r
		}, l)
		lines[i] = "# " + l
	}
	return lines
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// value is a string value of the configuration: config expands ${VAR}
// and reads $$ as $, so every $ that config would read that way is
// doubled, and the value loads back as it was.
func value(s string) *yaml.Node {
	if !strings.Contains(s, "$") {
		return scalar(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '{') {
			b.WriteByte('$')
		}
	}
	return scalar(b.String())
}

func mapping(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: kv}
}

func numberNode(f float64) *yaml.Node {
	tag := "!!float"
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: formatNumber(f)}
}

func intNode(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

// ruleNode writes a rule in the order of config.Rule's fields.
func ruleNode(r config.Rule) *yaml.Node {
	n := mapping()
	add := func(k string, v *yaml.Node) { n.Content = append(n.Content, scalar(k), v) }
	add("name", value(r.Name))
	if r.Description != "" {
		add("description", value(r.Description))
	}
	q := value(r.Query)
	q.Style = yaml.LiteralStyle
	add("query", q)
	if r.Frequency > 0 {
		add("frequency", scalar(FormatConfig(r.Frequency)))
	}
	if r.Period > 0 {
		add("period", scalar(FormatConfig(r.Period)))
	}
	if t := r.Threshold; t != nil {
		tn := mapping(scalar("operator"), scalar(t.Operator), scalar("value"), numberNode(t.Value))
		if t.Column != "" {
			tn.Content = append(tn.Content, scalar("column"), value(t.Column))
		}
		tn.Style = yaml.FlowStyle
		add("threshold", tn)
	}
	if r.Severity != nil {
		add("severity", intNode(*r.Severity))
	}
	if r.MuteFor > 0 {
		add("mute_for", scalar(FormatConfig(r.MuteFor)))
	}
	if r.AutoResolve {
		add("auto_resolve", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if len(r.Dimensions) > 0 {
		d := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, s := range r.Dimensions {
			d.Content = append(d.Content, value(s))
		}
		add("dimensions", d)
	}
	if v := r.Violations; v != nil {
		vn := mapping(scalar("of"), intNode(v.Of), scalar("min"), intNode(v.Min))
		vn.Style = yaml.FlowStyle
		add("violations", vn)
	}
	if len(r.Labels) > 0 {
		l := mapping()
		for _, k := range sortedKeys(r.Labels) {
			l.Content = append(l.Content, scalar(k), value(r.Labels[k]))
		}
		add("labels", l)
	}
	return n
}

// JSONRule is a rule as `rules import --format json` prints it: the keys
// of the configuration, durations as the configuration writes them.
type JSONRule struct {
	Name        string                 `json:"name"`
	Description string                 `json:"description,omitempty"`
	Query       string                 `json:"query"`
	Frequency   string                 `json:"frequency,omitempty"`
	Period      string                 `json:"period,omitempty"`
	Threshold   *config.RuleThreshold  `json:"threshold,omitempty"`
	Severity    *int                   `json:"severity,omitempty"`
	MuteFor     string                 `json:"mute_for,omitempty"`
	AutoResolve bool                   `json:"auto_resolve,omitempty"`
	Dimensions  []string               `json:"dimensions,omitempty"`
	Violations  *config.RuleViolations `json:"violations,omitempty"`
	Labels      map[string]string      `json:"labels,omitempty"`
}

// JSONImport is one entry of `rules import --format json`.
type JSONImport struct {
	File     string    `json:"file"`
	Source   string    `json:"source"`
	Rule     JSONRule  `json:"rule"`
	Parses   bool      `json:"parses"`
	Carried  bool      `json:"carried_over"` // nothing lost
	Rejected bool      `json:"rejected"`     // config refuses it as it is: printed commented out
	Problems []Problem `json:"problems"`
}

// RulesJSON writes the imports as a JSON array.
func RulesJSON(ims []Imported) ([]byte, error) {
	out := make([]JSONImport, 0, len(ims))
	for _, im := range ims {
		r := im.Rule
		jr := JSONRule{Name: r.Name, Description: r.Description, Query: r.Query, Threshold: r.Threshold, Severity: r.Severity,
			AutoResolve: r.AutoResolve, Dimensions: r.Dimensions, Violations: r.Violations, Labels: r.Labels}
		if r.Frequency > 0 {
			jr.Frequency = FormatConfig(r.Frequency)
		}
		if r.Period > 0 {
			jr.Period = FormatConfig(r.Period)
		}
		if r.MuteFor > 0 {
			jr.MuteFor = FormatConfig(r.MuteFor)
		}
		ps := im.Problems
		if ps == nil {
			ps = []Problem{}
		}
		out = append(out, JSONImport{File: im.File, Source: im.Source, Rule: jr, Parses: im.Parses, Carried: !Lost(im.Problems), Rejected: im.rejected, Problems: ps})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("writing the rules: %w", err)
	}
	return b.Bytes(), nil
}
