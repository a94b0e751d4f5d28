package rulesio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/config"
	"breakglass/internal/kql"
)

// MaxInput bounds one input file: the largest real rule templates
// (Sentinel solutions) are a few MiB.
const MaxInput = 32 << 20

// Imported is one rule read from a file.
type Imported struct {
	File string `json:"file"`
	// Source says what it was read as: "arm" (a 2021+ scheduled query
	// rule), "arm-2018", "sentinel" (an analytic rule, YAML or ARM).
	Source string      `json:"source"`
	Rule   config.Rule `json:"-"`
	// Problems: what did not carry over (or, as notes, what changed
	// meaning); the query's parse result is among them.
	Problems []Problem `json:"problems"`
	// Parses is true when internal/kql parses the query with nothing
	// unsupported: the rule can run here.
	Parses bool `json:"parses"`

	rejected bool
}

// InputError is a file that cannot be read as a rule file at all.
type InputError struct {
	File string
	Line int // 0 when unknown
	Col  int
	// Offset is the byte offset in a JSON file (-1 when not JSON).
	Offset int64
	Msg    string
}

func (e *InputError) Error() string {
	switch {
	case e.Line > 0 && e.Offset >= 0:
		return fmt.Sprintf("%s:%d:%d: %s (byte offset %d)", e.File, e.Line, e.Col, e.Msg, e.Offset)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Import reads the rules in one file: ARM JSON (a template, a bare
// resource, or a list of resources, holding scheduledQueryRules of any API
// version or Sentinel alertRules) or Sentinel analytic-rule YAML (one rule
// per document). The error is an *InputError.
func Import(file string, data []byte) ([]Imported, error) {
	if len(data) > MaxInput {
		return nil, &InputError{File: file, Offset: -1, Msg: fmt.Sprintf("larger than %d MiB: not a rule file", MaxInput>>20)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	t := bytes.TrimLeft(data, " \t\r\n")
	var out []Imported
	var err error
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		out, err = importJSON(file, data)
	} else {
		out, err = importYAML(file, data)
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &InputError{File: file, Offset: -1, Msg: "no rule found: expected Microsoft.Insights/scheduledQueryRules resources or a Sentinel analytic rule (query:, queryFrequency:, ...)"}
	}
	for i := range out {
		checkQuery(&out[i])
	}
	return out, nil
}

// checkQuery records whether the query parses here.
func checkQuery(im *Imported) {
	q := im.Rule.Query
	if strings.TrimSpace(q) == "" {
		im.Problems = append(im.Problems, Problem{Where: im.where(), Message: "no query"})
		return
	}
	sc, err := kql.Parse(q)
	var se *kql.SyntaxError
	switch {
	case errors.As(err, &se):
		im.Problems = append(im.Problems, Problem{Where: im.where(), Message: fmt.Sprintf("query does not parse here: %s: %s", se.Pos, se.Msg)})
		return
	case err != nil:
		im.Problems = append(im.Problems, Problem{Where: im.where(), Message: "query does not parse here: " + err.Error()})
		return
	}
	if len(sc.Unsupported) > 0 {
		var fs []string
		for _, u := range sc.Unsupported {
			if !slices.Contains(fs, u.Feature) {
				fs = append(fs, u.Feature)
			}
		}
		im.Problems = append(im.Problems, Problem{Where: im.where(), Message: fmt.Sprintf("query uses %s, which breakglass cannot run (first at %s)", strings.Join(fs, ", "), sc.Unsupported[0].Pos)})
		return
	}
	im.Parses = true
}

func (im *Imported) where() string {
	return im.File + ": " + strconv.Quote(im.Rule.Name)
}

func (im *Imported) lost(format string, args ...any) {
	im.Problems = append(im.Problems, Problem{Where: im.where(), Message: fmt.Sprintf(format, args...)})
}

func (im *Imported) note(format string, args ...any) {
	im.Problems = append(im.Problems, Problem{Where: im.where(), Message: fmt.Sprintf(format, args...), Note: true})
}

// ---- ARM JSON ----

func importJSON(file string, data []byte) ([]Imported, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, jsonError(file, data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		l, c := lineCol(data, off)
		return nil, &InputError{File: file, Line: l, Col: c, Offset: off, Msg: "text after the JSON value"}
	}
	a := &armDoc{file: file}
	if m, ok := root.(map[string]any); ok {
		a.scope(m)
	}
	a.walk(root, 0)
	return a.out, nil
}

func jsonError(file string, data []byte, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		msg = "the JSON ends too early (unclosed { or [ ?)"
		off = int64(len(data))
	}
	l, c := lineCol(data, off)
	return &InputError{File: file, Line: l, Col: c, Offset: off, Msg: "not valid JSON: " + msg}
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// armDoc walks a template. Template parameters with a default value and
// literal variables are resolved in [parameters('x')] and [variables('x')]
// expressions, which is how Microsoft's own samples write every field.
type armDoc struct {
	file   string
	params map[string]any
	vars   map[string]any
	out    []Imported
}

func (a *armDoc) scope(m map[string]any) {
	if ps, ok := lookup(m, "parameters").(map[string]any); ok {
		a.params = map[string]any{}
		for k, v := range ps {
			if pm, ok := v.(map[string]any); ok {
				if dv, ok := lookupOK(pm, "defaultValue"); ok {
					a.params[strings.ToLower(k)] = dv
				}
			}
		}
	}
	if vs, ok := lookup(m, "variables").(map[string]any); ok {
		a.vars = map[string]any{}
		for k, v := range vs {
			a.vars[strings.ToLower(k)] = v
		}
	}
}

const maxWalkDepth = 64

// walk finds rule resources anywhere in the document (top level,
// resources arrays, nested deployments), in document order.
func (a *armDoc) walk(v any, depth int) {
	if depth > maxWalkDepth {
		return
	}
	switch t := v.(type) {
	case []any:
		for _, it := range t {
			a.walk(it, depth+1)
		}
	case map[string]any:
		typ, _ := lookup(t, "type").(string)
		props, _ := lookup(t, "properties").(map[string]any)
		ltyp := strings.ToLower(typ)
		switch {
		case props != nil && ltyp == strings.ToLower(TypeScheduledQueryRule):
			a.rule(t, props)
			return
		case props != nil && (strings.HasSuffix(ltyp, "/alertrules") && strings.Contains(ltyp, "securityinsights") || strings.HasPrefix(ltyp, "microsoft.operationalinsights/workspaces/providers/alertrules")):
			a.sentinel(t, props)
			return
		}
		// A nested deployment brings its own parameters and variables.
		if tmpl, ok := lookup(props, "template").(map[string]any); ok {
			saved := *a
			a.scope(tmpl)
			a.walk(lookup(tmpl, "resources"), depth+1)
			a.params, a.vars = saved.params, saved.vars
			return
		}
		for _, k := range sortedAnyKeys(t) {
			if strings.EqualFold(k, "resources") {
				a.walk(t[k], depth+1)
			}
		}
	}
}

func sortedAnyKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func lookup(m map[string]any, key string) any {
	v, _ := lookupOK(m, key)
	return v
}

// lookupOK finds key, ignoring case as ARM does.
func lookupOK(m map[string]any, key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

var simpleExpr = regexp.MustCompile(`^\[\s*(parameters|variables)\(\s*'([^']*)'\s*\)\s*\]$`)

// resolve evaluates the ARM expressions breakglass can: a literal, [[ (an
// escaped [), and [parameters('x')] or [variables('x')] with a literal
// value. ok is false for any other expression.
func (a *armDoc) resolve(v any) (any, bool, string) {
	s, isStr := v.(string)
	if !isStr {
		return v, true, ""
	}
	if strings.HasPrefix(s, "[[") {
		return s[1:], true, ""
	}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return s, true, ""
	}
	if m := simpleExpr.FindStringSubmatch(s); m != nil {
		src := a.params
		if m[1] == "variables" {
			src = a.vars
		}
		if r, ok := src[strings.ToLower(m[2])]; ok {
			if rs, ok := r.(string); ok && strings.HasPrefix(rs, "[") && !strings.HasPrefix(rs, "[[") {
				return nil, false, s
			}
			return r, true, ""
		}
	}
	return nil, false, s
}

// props is one resource's properties, read with the checks every field
// needs: ARM expressions resolved, types checked, and each key marked as
// used so the rest can be reported as not carried over.
type props struct {
	m    map[string]any
	used map[string]bool
	a    *armDoc
	im   *Imported
	path string
}

func (a *armDoc) props(m map[string]any, im *Imported, path string) *props {
	return &props{m: m, used: map[string]bool{}, a: a, im: im, path: path}
}

func (p *props) raw(key string) (any, bool) {
	for k, v := range p.m {
		if strings.EqualFold(k, key) {
			p.used[k] = true
			if p.a == nil {
				return v, v != nil
			}
			r, ok, ex := p.a.resolve(v)
			if !ok {
				p.im.lost("%s%s is the ARM expression %s, which breakglass does not evaluate: set it by hand", p.path, key, ex)
				return nil, false
			}
			return r, r != nil
		}
	}
	return nil, false
}

func (p *props) str(key string) (string, bool) {
	v, ok := p.raw(key)
	if !ok {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case int, float64, bool:
		return fmt.Sprint(t), true
	}
	p.im.lost("%s%s: want a string", p.path, key)
	return "", false
}

func (p *props) num(key string) (float64, bool) {
	v, ok := p.raw(key)
	if !ok {
		return 0, false
	}
	var f float64
	var err error
	switch t := v.(type) {
	case json.Number:
		f, err = t.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(t), 64)
	case int:
		f = float64(t)
	case float64:
		f = t
	default:
		err = errors.New("not a number")
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.im.lost("%s%s: want a number", p.path, key)
		return 0, false
	}
	return f, true
}

func (p *props) integer(key string, lo, hi int) (int, bool) {
	f, ok := p.num(key)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		p.im.lost("%s%s: want a whole number from %d to %d", p.path, key, lo, hi)
		return 0, false
	}
	return int(f), true
}

func (p *props) boolean(key string) (bool, bool) {
	v, ok := p.raw(key)
	if !ok {
		return false, false
	}
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(t)); err == nil {
			return b, true
		}
	}
	p.im.lost("%s%s: want true or false", p.path, key)
	return false, false
}

func (p *props) duration(key string) (time.Duration, bool) {
	s, ok := p.str(key)
	if !ok {
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		p.im.lost("%s%s: %v", p.path, key, err)
		return 0, false
	}
	return d, true
}

func (p *props) object(key string) (*props, bool) {
	v, ok := p.raw(key)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.im.lost("%s%s: want an object", p.path, key)
		return nil, false
	}
	return &props{m: m, used: map[string]bool{}, a: p.a, im: p.im, path: p.path + key + "."}, true
}

func (p *props) list(key string) ([]any, bool) {
	v, ok := p.raw(key)
	if !ok {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		p.im.lost("%s%s: want a list", p.path, key)
		return nil, false
	}
	return l, true
}

// skip marks keys as read without carrying them over (they have no
// meaning here, such as scopes).
func (p *props) skip(keys ...string) {
	for _, key := range keys {
		for k := range p.m {
			if strings.EqualFold(k, key) {
				p.used[k] = true
			}
		}
	}
}

// rest reports every key not read as not carried over.
func (p *props) rest() {
	for _, k := range sortedAnyKeys(p.m) {
		if !p.used[k] {
			p.im.lost("%s%s is not carried over", p.path, k)
		}
	}
}

// azureOp maps Azure's and Sentinel's operator names to config's.
var azureOp = map[string]string{
	"greaterthan":        ">",
	"greaterthanorequal": ">=",
	"lessthan":           "<",
	"lessthanorequal":    "<=",
	"equals":             "==",
	"equal":              "==",
	"notequal":           "!=",
	"notequals":          "!=",
	"gt":                 ">",
	"ge":                 ">=",
	"lt":                 "<",
	"le":                 "<=",
	"eq":                 "==",
	"ne":                 "!=",
}

// threshold turns "operator value" on the row count into a config
// threshold; "more than 0 rows" is the default (nil), except on an
// auto-resolving rule, which config wants to have a condition that clears.
func threshold(op string, v float64, column string, autoResolve bool) *config.RuleThreshold {
	if op == ">" && v == 0 && column == "" && !autoResolve {
		return nil
	}
	return &config.RuleThreshold{Operator: op, Value: v, Column: column}
}

func (a *armDoc) name(res map[string]any, p *props, n int) string {
	if s, ok := p.str("displayName"); ok && strings.TrimSpace(s) != "" {
		return strings.TrimSpace(s)
	}
	if s, ok, _ := a.resolve(lookup(res, "name")); ok {
		if s, ok := s.(string); ok && s != "" {
			// Nested resource names are "workspace/Microsoft.SecurityInsights/id".
			return s[strings.LastIndexByte(s, '/')+1:]
		}
	}
	return fmt.Sprintf("%s-rule-%d", strings.TrimSuffix(filepath.Base(a.file), filepath.Ext(a.file)), n)
}

// rule reads one Microsoft.Insights/scheduledQueryRules resource.
func (a *armDoc) rule(res map[string]any, m map[string]any) {
	im := Imported{File: a.file, Source: "arm"}
	p := a.props(m, &im, "properties.")
	im.Rule.Name = a.name(res, p, len(a.out)+1)
	if _, ok := lookupOK(m, "source"); ok {
		im.Source = "arm-2018"
		a.rule2018(&im, p)
	} else {
		a.rule2021(&im, p)
	}
	p.rest()
	a.out = append(a.out, im)
}

func (a *armDoc) rule2021(im *Imported, p *props) {
	r := &im.Rule
	r.Description, _ = p.str("description")
	if sev, ok := p.integer("severity", 0, 4); ok {
		r.Severity = &sev
	} else {
		zero := 0
		r.Severity = &zero
	}
	if en, ok := p.boolean("enabled"); ok && !en {
		im.note("disabled in Azure (enabled: false); imported as a rule that runs")
	}
	r.Frequency, _ = p.duration("evaluationFrequency")
	r.Period, _ = p.duration("windowSize")
	if d, ok := p.duration("overrideQueryTimeRange"); ok {
		im.note("overrideQueryTimeRange %s is not needed: breakglass selects records by ingestion time, so late ones still count once", FormatConfig(d))
	}
	r.MuteFor, _ = p.duration("muteActionsDuration")
	// Azure's default is true (stateful).
	if b, ok := p.boolean("autoMitigate"); ok {
		r.AutoResolve = b
	} else {
		r.AutoResolve = true
		im.note("autoMitigate is absent, which in Azure means true: imported with auto_resolve: true")
	}
	p.skip("scopes", "targetResourceTypes", "checkWorkspaceAlertsStorageConfigured", "skipQueryValidation", "isWorkspaceAlertsStorageConfigured", "createdWithApiVersion", "isLegacyLogAnalyticsRule")
	if act, ok := p.object("actions"); ok {
		if ags, ok := act.list("actionGroups"); ok && len(ags) > 0 {
			im.note("%d action group(s) in Azure: breakglass notifies by notify.groups and notify.routes instead", len(ags))
		}
		if cp, ok := act.object("customProperties"); ok {
			for _, k := range sortedAnyKeys(cp.m) {
				if s, ok := cp.str(k); ok {
					if r.Labels == nil {
						r.Labels = map[string]string{}
					}
					r.Labels[k] = s
				}
			}
		}
		act.rest()
	}
	crit, ok := p.object("criteria")
	if !ok {
		im.lost("properties.criteria is missing: no query")
		return
	}
	all, _ := crit.list("allOf")
	crit.rest()
	if len(all) == 0 {
		im.lost("properties.criteria.allOf is empty: no query")
		return
	}
	if len(all) > 1 {
		im.lost("criteria.allOf has %d conditions: only the first is carried over (import the others as rules of their own)", len(all))
	}
	cm, ok := all[0].(map[string]any)
	if !ok {
		im.lost("criteria.allOf[0]: want an object")
		return
	}
	c := &props{m: cm, used: map[string]bool{}, a: a, im: im, path: "criteria.allOf[0]."}
	r.Query, _ = c.str("query")
	if ct, ok := c.str("criterionType"); ok && !strings.EqualFold(ct, "StaticThresholdCriterion") {
		im.lost("criterionType %s (dynamic thresholds learn from history): not carried over; imported as 'any row fires'", ct)
		c.skip("alertSensitivity", "ignoreDataBefore")
	}
	agg, _ := c.str("timeAggregation")
	col, _ := c.str("metricMeasureColumn")
	opName, _ := c.str("operator")
	val, hasVal := c.num("threshold")
	op, known := azureOp[strings.ToLower(opName)]
	switch {
	case opName == "" && !hasVal:
		// No condition: any row fires.
	case !known:
		im.lost("operator %q is not carried over: imported as 'any row fires'", opName)
	default:
		if col != "" && strings.EqualFold(agg, "Count") {
			im.note("timeAggregation Count counts rows: metricMeasureColumn %s is not used", col)
			col = ""
		}
		if col != "" {
			want := map[string]string{">": "maximum", ">=": "maximum", "<": "minimum", "<=": "minimum", "==": "total"}[op]
			if !strings.EqualFold(agg, want) {
				im.note("Azure aggregates %s with %s per dimension; breakglass compares each row's value: summarize in the query to match", col, agg)
			}
		}
		r.Threshold = threshold(op, val, col, r.AutoResolve)
	}
	if r.AutoResolve && r.Threshold == nil {
		// Azure resolves "any row" when no row comes back.
		r.Threshold = threshold(">", 0, "", true)
	}
	if ds, ok := c.list("dimensions"); ok {
		for i, d := range ds {
			dm, ok := d.(map[string]any)
			if !ok {
				im.lost("dimensions[%d]: want an object", i)
				continue
			}
			dp := &props{m: dm, used: map[string]bool{}, a: a, im: im, path: fmt.Sprintf("dimensions[%d].", i)}
			name, _ := dp.str("name")
			dop, _ := dp.str("operator")
			vals, _ := dp.list("values")
			dp.rest()
			if name == "" {
				im.lost("dimensions[%d] has no name", i)
				continue
			}
			r.Dimensions = append(r.Dimensions, name)
			all := len(vals) == 0 || len(vals) == 1 && vals[0] == "*"
			if !strings.EqualFold(dop, "Include") && dop != "" || !all {
				im.lost("dimension %s: %s %v is not carried over (all values are split); filter in the query instead", name, dop, vals)
			}
		}
	}
	if fp, ok := c.object("failingPeriods"); ok {
		of, ok1 := fp.integer("numberOfEvaluationPeriods", 1, 1000)
		mn, ok2 := fp.integer("minFailingPeriodsToAlert", 1, 1000)
		fp.rest()
		if !ok1 {
			of = 1
		}
		if !ok2 {
			mn = 1
		}
		if of != 1 || mn != 1 {
			r.Violations = &config.RuleViolations{Of: of, Min: mn}
		}
	}
	c.rest()
}

func (a *armDoc) rule2018(im *Imported, p *props) {
	r := &im.Rule
	r.Description, _ = p.str("description")
	if en, ok := p.boolean("enabled"); ok && !en {
		im.note("disabled in Azure (enabled: false); imported as a rule that runs")
	}
	p.skip("provisioningState", "lastUpdatedTime", "autoMitigate")
	if src, ok := p.object("source"); ok {
		r.Query, _ = src.str("query")
		src.skip("dataSourceId", "queryType", "authorizedResources")
		src.rest()
	}
	if s, ok := p.object("schedule"); ok {
		if f, ok := s.integer("frequencyInMinutes", 1, 1440); ok {
			r.Frequency = time.Duration(f) * time.Minute
		}
		if w, ok := s.integer("timeWindowInMinutes", 1, 2880); ok {
			r.Period = time.Duration(w) * time.Minute
		}
		s.rest()
	}
	zero := 0
	r.Severity = &zero
	act, ok := p.object("action")
	if !ok {
		im.lost("properties.action is missing: imported as 'any row fires'")
		return
	}
	if t, ok := act.str("odata.type"); ok && !strings.Contains(t, "AlertingAction") {
		im.lost("action %s is not an alert: not carried over", t)
	}
	if sev, ok := act.integer("severity", 0, 4); ok {
		r.Severity = &sev
	}
	if m, ok := act.integer("throttlingInMin", 0, 10080); ok {
		r.MuteFor = time.Duration(m) * time.Minute
	}
	if az, ok := act.object("aznsAction"); ok {
		if ags, ok := az.list("actionGroup"); ok && len(ags) > 0 {
			im.note("%d action group(s) in Azure: breakglass notifies by notify.groups and notify.routes instead", len(ags))
		}
		az.skip("emailSubject")
		az.rest()
	}
	if tr, ok := act.object("trigger"); ok {
		opName, _ := tr.str("thresholdOperator")
		val, _ := tr.num("threshold")
		op, known := azureOp[strings.ToLower(opName)]
		if !known {
			im.lost("trigger.thresholdOperator %q is not carried over: imported as 'any row fires'", opName)
		}
		col := ""
		if mt, ok := tr.object("metricTrigger"); ok {
			// Metric measurement: the query returns AggregatedValue per
			// metricColumn; the trigger applies to each value.
			col = "AggregatedValue"
			if mc, ok := mt.str("metricColumn"); ok {
				for _, d := range strings.Split(mc, ",") {
					if d = strings.TrimSpace(d); d != "" {
						r.Dimensions = append(r.Dimensions, d)
					}
				}
			}
			mop, _ := mt.str("thresholdOperator")
			mv, _ := mt.num("threshold")
			mtype, _ := mt.str("metricTriggerType")
			mt.rest()
			im.lost("metricTrigger: Azure fires when the %s breaches are %s %g; breakglass fires on each breach", strings.ToLower(mtype), mop, mv)
		}
		if known {
			r.Threshold = threshold(op, val, col, false)
		}
		tr.rest()
	}
	act.rest()
}

// ---- Sentinel ----

// sentinelSeverity maps Sentinel's four severities onto Azure Monitor's
// 0-4. Sentinel has no Critical: its top, High, is Sev1 (Error), and each
// step down is one Azure step, so Informational is Sev4 (Verbose). A
// break-glass rule that should page as critical wants severity: 0, which
// Microsoft recommends for break-glass alerts; the import says so.
var sentinelSeverity = map[string]int{"high": 1, "medium": 2, "low": 3, "informational": 4}

// sentinel reads a Sentinel alert rule from an ARM resource.
func (a *armDoc) sentinel(res map[string]any, m map[string]any) {
	im := Imported{File: a.file, Source: "sentinel"}
	p := a.props(m, &im, "properties.")
	im.Rule.Name = a.name(res, p, len(a.out)+1)
	if k, ok, _ := a.resolve(lookup(res, "kind")); ok {
		if ks, ok := k.(string); ok {
			p.m = withKind(p.m, ks)
		}
	}
	sentinelRule(&im, p)
	a.out = append(a.out, im)
}

func withKind(m map[string]any, k string) map[string]any {
	c := make(map[string]any, len(m)+1)
	for key, v := range m {
		c[key] = v
	}
	if _, ok := lookupOK(c, "kind"); !ok {
		c["kind"] = k
	}
	return c
}

// sentinelRule maps the fields of a Sentinel analytic rule (the same in
// YAML and in ARM properties).
func sentinelRule(im *Imported, p *props) {
	r := &im.Rule
	if s, ok := p.str("name"); ok && strings.TrimSpace(s) != "" {
		r.Name = strings.TrimSpace(s)
	}
	p.skip("displayName")
	if s, ok := p.str("description"); ok {
		s = strings.TrimSpace(s)
		// Azure-Sentinel's files quote the text inside a block scalar
		// (description: |\n  'Text.'): the quotes are not part of it.
		if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
			s = strings.TrimSpace(s[1 : len(s)-1])
		}
		r.Description = s
	}
	r.Query, _ = p.str("query")
	kind := "scheduled"
	if k, ok := p.str("kind"); ok {
		kind = strings.ToLower(k)
	}
	switch kind {
	case "scheduled":
	case "nrt":
		r.Frequency, r.Period = time.Minute, time.Minute
		im.note("an NRT rule (every minute, on ingestion time): imported with frequency and period 1m; a pure filter query runs here on each record as it arrives")
	default:
		im.lost("kind %s is not a query rule: only its query is carried over", kind)
	}
	if sv, ok := p.str("severity"); ok {
		if n, ok := sentinelSeverity[strings.ToLower(strings.TrimSpace(sv))]; ok {
			r.Severity = &n
			im.note("severity %s is Azure Sev%d here; set severity: 0 if it must page as critical (Microsoft's advice for break-glass alerts)", sv, n)
		} else {
			zero := 0
			r.Severity = &zero
			im.lost("severity %q is not High, Medium, Low or Informational: imported as 0 (critical)", sv)
		}
	}
	if d, ok := p.duration("queryFrequency"); ok {
		r.Frequency = d
	}
	if d, ok := p.duration("queryPeriod"); ok {
		r.Period = d
	}
	opName, hasOp := p.str("triggerOperator")
	val, hasVal := p.num("triggerThreshold")
	if hasOp || hasVal {
		op, known := azureOp[strings.ToLower(strings.TrimSpace(opName))]
		if !known {
			op = ">"
			if hasOp {
				im.lost("triggerOperator %q is not gt, lt, eq or ne: imported as gt", opName)
			}
		}
		r.Threshold = threshold(op, val, "", false)
	}
	if kind == "scheduled" && r.Frequency == 0 && r.Period == 0 && !hasOp {
		im.note("no schedule or trigger (a hunting query?): fires on any row, with the default frequency and period")
	}
	if en, ok := p.boolean("suppressionEnabled"); ok {
		d, hasD := p.duration("suppressionDuration")
		if en && hasD {
			r.MuteFor = d
		}
	} else {
		p.skip("suppressionDuration")
	}
	if en, ok := p.boolean("enabled"); ok && !en {
		im.note("disabled in Sentinel (enabled: false); imported as a rule that runs")
	}
	if eg, ok := p.object("eventGroupingSettings"); ok {
		if k, ok := eg.str("aggregationKind"); ok && !strings.EqualFold(k, "SingleAlert") {
			im.lost("eventGroupingSettings.aggregationKind %s (an alert per result row) is not carried over: breakglass raises one alert per evaluation (or per dimension)", k)
		}
		eg.rest()
	}
	// Metadata that means nothing to the evaluation.
	p.skip("id", "version", "status", "requiredDataConnectors", "metadata", "templateVersion", "alertRuleTemplateName", "kind", "lastModifiedUtc", "queryResultsAggregationSettings")
	for _, k := range []string{"entityMappings", "incidentConfiguration", "alertDetailsOverride", "customDetails", "tactics", "relevantTechniques", "techniques", "subTechniques", "tags", "sentinelEntitiesMappings"} {
		if v, ok := p.raw(k); ok && !empty(v) {
			im.lost("%s is not carried over", k)
		}
	}
	p.rest()
}

func empty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	case string:
		return strings.TrimSpace(t) == ""
	}
	return false
}

// ---- YAML ----

func importYAML(file string, data []byte) ([]Imported, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Imported
	for n := 0; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, yamlError(file, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		top := doc.Content[0]
		if top.Kind != yaml.MappingNode {
			return nil, &InputError{File: file, Line: top.Line, Offset: -1, Msg: "want a Sentinel rule (a mapping with query:, name:, ...)"}
		}
		if err := checkKeys(top); err != nil {
			return nil, &InputError{File: file, Line: err.line, Offset: -1, Msg: err.msg}
		}
		var m map[string]any
		if err := top.Decode(&m); err != nil {
			return nil, yamlError(file, err)
		}
		if _, ok := lookupOK(m, "query"); !ok {
			return nil, &InputError{File: file, Line: top.Line, Offset: -1, Msg: "no query: key: not a Sentinel analytic rule"}
		}
		im := Imported{File: file, Source: "sentinel"}
		im.Rule.Name = fmt.Sprintf("%s-%d", strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), n+1)
		if n == 0 {
			im.Rule.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		}
		p := &props{m: m, used: map[string]bool{}, im: &im}
		sentinelRule(&im, p)
		out = append(out, im)
	}
	return out, nil
}

type keyErr struct {
	line int
	msg  string
}

// checkKeys rejects duplicate keys (YAML decoding would keep one silently)
// and aliases, which can blow a small file up into a huge value.
func checkKeys(n *yaml.Node) *keyErr {
	var walk func(n *yaml.Node, depth int) *keyErr
	walk = func(n *yaml.Node, depth int) *keyErr {
		if depth > maxWalkDepth {
			return &keyErr{n.Line, "nested too deeply"}
		}
		switch n.Kind {
		case yaml.AliasNode:
			return &keyErr{n.Line, "YAML aliases (*name) are not accepted in rule files"}
		case yaml.MappingNode:
			seen := map[string]bool{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if seen[k.Value] {
					return &keyErr{k.Line, fmt.Sprintf("key %q appears twice", k.Value)}
				}
				seen[k.Value] = true
				if e := walk(n.Content[i+1], depth+1); e != nil {
					return e
				}
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if e := walk(c, depth+1); e != nil {
					return e
				}
			}
		}
		return nil
	}
	return walk(n, 0)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(yamlLine.ReplaceAllString(msg, ""))
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, ":"), " ")
	}
	return &InputError{File: file, Line: line, Offset: -1, Msg: "not valid YAML: " + msg}
}
