package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/notify"
)

// decoder walks a yaml.Node tree against a Go struct by reflection. It is
// used instead of yaml's own struct decoding because that stops at the first
// problem, reports unknown keys without the key path, and has no hook for
// expanding the environment in values only. Walking the nodes gives exact
// line numbers and lets every problem in the file be collected.
type decoder struct {
	file string
	env  func(string) (string, bool)
	errs ErrorList

	// lines records where each field path was set, so that validation,
	// which runs on the decoded struct, can still point at the file.
	lines map[string]int
	// failed marks field paths that already have an error, so validation
	// does not pile a second, derived complaint on top of the first.
	failed map[string]bool
	// nodes keeps each field's value node, for validation that needs more
	// than the line (rules.go places errors inside a query block).
	nodes map[string]*yaml.Node
}

func newDecoder(file string, env func(string) (string, bool)) *decoder {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	return &decoder{file: file, env: env, lines: map[string]int{}, failed: map[string]bool{}, nodes: map[string]*yaml.Node{}}
}

func (d *decoder) errorf(line int, field, format string, args ...any) {
	d.failed[field] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected problems, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	d.errs.sort()
	return d.errs
}

// document parses data and returns the top-level mapping, or nil after
// recording why there is none.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "", "file is empty; expected a mapping with at least an accounts: list")
		} else {
			d.syntaxError(data, err)
		}
		return nil
	}
	// A second document would be silently ignored by a plain decode, and
	// whatever the operator put there would not take effect.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(data, err)
		return nil
	default:
		d.errorf(extra.Line, "", "more than one YAML document; breakglass reads a single document")
	}
	if len(doc.Content) == 0 {
		d.errorf(0, "", "file is empty; expected a mapping with at least an accounts: list")
		return nil
	}
	root := resolve(doc.Content[0])
	switch {
	case isNull(root):
		d.errorf(0, "", "file is empty; expected a mapping with at least an accounts: list")
		return nil
	case root.Kind != yaml.MappingNode:
		d.errorf(root.Line, "", "top level must be a mapping of keys to values, got %s", describe(root))
		return nil
	}
	return root
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml parse error into a positioned Error. The yaml
// package reports most problems as "yaml: line N: msg"; for the few it
// reports without a line, the offending byte is located here so that the
// operator is never left searching the whole file.
func (d *decoder) syntaxError(data []byte, err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if strings.Contains(msg, "tab character that violates indentation") {
			line = tabIndentLine(data, line)
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		line = guessLine(data, msg)
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg, Err: err})
}

func guessLine(data []byte, msg string) int {
	lineAt := func(i int) int { return bytes.Count(data[:i], []byte("\n")) + 1 }
	switch {
	case strings.Contains(msg, "control characters"):
		for i, r := range string(data) {
			if isControl(r) {
				return lineAt(i)
			}
		}
	case strings.Contains(msg, "UTF-8"):
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				return lineAt(i)
			}
			i += n
		}
	case strings.HasPrefix(msg, "unknown anchor '"):
		name, _, _ := strings.Cut(strings.TrimPrefix(msg, "unknown anchor '"), "'")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 && name != "" {
			return lineAt(i)
		}
	}
	return 0
}

// tabIndentLine finds the line, at or after the one yaml blamed, whose
// indentation holds a tab. yaml reports this error against the line before
// the tab, which sends the reader to a line with nothing wrong on it.
func tabIndentLine(data []byte, reported int) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if i+1 < reported {
			continue
		}
		indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return i + 1
		}
	}
	return reported
}

// isControl mirrors the characters YAML refuses in a stream.
func isControl(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0xFEFF:
		return false
	case r < 0x20 || r == 0x7F:
		return true
	case r >= 0x80 && r <= 0x9F && r != 0x85:
		return true
	}
	return false
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages. It never
// includes the value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		}
		return "a tagged scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	channelType  = reflect.TypeFor[ChannelConfig]()
)

// want names what a Go type expects, for "expected X, got Y" messages.
func want(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 90s, 5m or 90d"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a sequence"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return want(t.Elem())
	}
	return "a string"
}

// decode stores n into v. field is the key path used in messages; line is
// where the value's key is, which is where an operator looks even when a
// block value starts on the next line.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string, line int) {
	if line == 0 {
		line = n.Line
	}
	n = resolve(n)
	d.lines[field] = line
	d.nodes[field] = n
	if isNull(n) {
		return // leave the zero value, which defaults may fill in
	}
	if v.Type() == channelType {
		d.channel(n, v.Addr().Interface().(*ChannelConfig), field, line)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, field, line)
	case reflect.Slice:
		d.sequence(n, v, field, line)
	case reflect.Map:
		d.mapping(n, v, field, line)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), field, line)
		v.Set(p)
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		d.scalar(n, v, field, line)
	default:
		// A programming error in the Config types, not in the file; say so
		// rather than panic.
		d.errorf(line, field, "internal error: cannot decode into Go type %s", v.Type())
	}
}

// fieldInfo is one decodable struct field.
type fieldInfo struct {
	key   string
	index int
}

// fields lists the YAML keys of a struct in declaration order, following
// the same tag rules as the yaml package so that Redacted output loads back.
func fields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch key {
		case "-":
			continue
		case "":
			key = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{key, i})
	}
	return out
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, field string, line int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(line, field, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	known := fields(v.Type())
	d.pairs(n, field, func(key string, val *yaml.Node, path string, kline int) {
		for _, f := range known {
			if f.key == key {
				d.decode(val, v.Field(f.index), path, kline)
				return
			}
		}
		names := make([]string, len(known))
		for i, f := range known {
			names[i] = f.key
		}
		d.errorf(kline, path, "unknown key (known: %s)", strings.Join(names, ", "))
	})
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, field string, line int) {
	if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
		d.errorf(line, field, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	d.pairs(n, field, func(key string, val *yaml.Node, path string, kline int) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, path, kline)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
	})
	v.Set(m)
}

// pairs calls fn for each key of a mapping after rejecting what a strict
// schema cannot accept: non-string keys, merge keys and duplicate keys
// (which YAML forbids but the node parser lets through, and which would
// otherwise make the later value silently win).
func (d *decoder) pairs(n *yaml.Node, field string, fn func(key string, val *yaml.Node, path string, line int)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, val := n.Content[i], n.Content[i+1]
		kline := kn.Line
		kn = resolve(kn)
		if kn.Kind != yaml.ScalarNode {
			d.errorf(kline, field, "keys must be strings, got %s", describe(kn))
			continue
		}
		path := join(field, kn.Value)
		if kn.ShortTag() == "!!merge" {
			d.errorf(kline, path, "merge keys are not supported; write the keys out")
			continue
		}
		if first, dup := seen[kn.Value]; dup {
			d.errorf(kline, path, "duplicate key (first at line %d)", first)
			continue
		}
		seen[kn.Value] = kline
		fn(kn.Value, val, path, kline)
	}
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// join extends a key path. Keys that are not plain words are quoted, and
// long ones shortened, so that a message stays on one readable line.
func join(field, key string) string {
	if plainKeyRE.MatchString(key) && len(key) <= 64 {
		if field == "" {
			return key
		}
		return field + "." + key
	}
	if len(key) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
		key = key[:cut] + "..."
	}
	return field + "[" + strconv.Quote(key) + "]"
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, field string, line int) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(line, field, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), field+"["+strconv.Itoa(i)+"]", item.Line)
	}
	v.Set(s)
}

// scalarTags are the tags a configuration value may carry. Others (binary,
// application tags) would need a meaning breakglass does not give them.
var scalarTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!timestamp": true,
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, field string, line int) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(line, field, "expected %s, got %s", want(v.Type()), describe(n))
		return
	}
	if !scalarTags[n.ShortTag()] {
		d.errorf(line, field, "unsupported YAML tag; write the value as a plain string")
		return
	}
	s, ok := d.expand(n.Value, field, line)
	if !ok {
		return
	}
	bad := func() { d.errorf(line, field, "expected %s", want(v.Type())) }
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			bad()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == durationType {
			dur, err := parseDuration(s)
			if err != nil {
				bad()
				return
			}
			v.SetInt(int64(dur))
			return
		}
		i, err := strconv.ParseInt(s, 0, v.Type().Bits())
		if err != nil {
			bad()
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(s, 0, v.Type().Bits())
		if err != nil {
			bad()
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			bad()
			return
		}
		v.SetFloat(f)
	}
}

// parseDuration is time.ParseDuration plus whole days ("90d"), because
// intervals such as the drill interval are thought of in days and 2160h
// invites arithmetic mistakes.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// channel decodes one notify.groups[].channels[] entry: the common keys
// (name, type, timeout) into ch, every other key strictly into the struct
// the registered type's New returns, with the same rules as the rest of
// the file (line numbers, ${VAR}, unknown keys named).
func (d *decoder) channel(n *yaml.Node, ch *ChannelConfig, field string, line int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(line, field, "expected a mapping, got %s", describe(n))
		return
	}
	type pair struct {
		key, path string
		val       *yaml.Node
		line      int
	}
	var rest []pair
	common := reflect.ValueOf(ch).Elem()
	d.pairs(n, field, func(key string, val *yaml.Node, path string, kline int) {
		switch key {
		case "name":
			d.decode(val, common.FieldByName("Name"), path, kline)
		case "type":
			d.decode(val, common.FieldByName("Type"), path, kline)
		case "timeout":
			d.decode(val, common.FieldByName("Timeout"), path, kline)
		default:
			rest = append(rest, pair{key, path, val, kline})
		}
	})
	ch.Type = strings.ToLower(strings.TrimSpace(ch.Type))
	types := strings.Join(notify.ChannelTypes(), ", ")
	tf := field + ".type"
	switch {
	case d.failed[tf]:
		return
	case ch.Type == "":
		d.errorf(line, tf, "required: one of %s", types)
		return
	}
	ct, ok := notify.LookupChannel(ch.Type)
	if !ok {
		d.errorf(d.lines[tf], tf, "unknown channel type %s (known: %s)", quoteShort(ch.Type), types)
		return
	}
	known := []string{"name", "type"}
	if ct.NoTimeout {
		if l, set := d.lines[field+".timeout"]; set {
			d.errorf(l, field+".timeout", "not used by type %s", ct.Name)
		}
	} else {
		known = append(known, "timeout")
	}
	settings := ct.New()
	sv := reflect.ValueOf(settings)
	if settings == nil || sv.Kind() != reflect.Pointer || sv.Elem().Kind() != reflect.Struct {
		d.errorf(line, field, "internal error: channel type %s has no configuration struct", ct.Name)
		return
	}
	own := fields(sv.Elem().Type())
	for _, f := range own {
		known = append(known, f.key)
	}
	for _, p := range rest {
		i := slices.IndexFunc(own, func(f fieldInfo) bool { return f.key == p.key })
		if i < 0 {
			d.errorf(p.line, p.path, "unknown key for type %s (known: %s)", ct.Name, strings.Join(known, ", "))
			continue
		}
		d.decode(p.val, sv.Elem().Field(own[i].index), p.path, p.line)
	}
	ch.Settings = settings
}
