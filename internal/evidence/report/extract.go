package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// extras are sign-in details the log decoders do not keep, read from the
// raw record: device, client, authentication methods and strength, and the
// Conditional Access policies with their results.
type extras struct {
	device, client, methods, strength, policies string
}

// maxDecodeDepth bounds how deep DecodeValue and extract unwrap
// JSON-in-strings: Entra nests them two levels at most.
const maxDecodeDepth = 3

// extract reads the extras from a Graph, diagnostic-settings or Log
// Analytics record. Field names differ in case between the shapes, and Log
// Analytics exports nested objects as JSON strings; both are handled. A
// field that is absent or odd is left out, never guessed.
func extract(raw []byte) extras {
	var top map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&top) != nil {
		return extras{}
	}
	obj := top
	if p, ok := object(get(top, "properties")); ok {
		obj = p // diagnostic settings: the sign-in is under properties
	}
	var x extras
	if dev, ok := object(get(obj, "deviceDetail")); ok {
		var parts []string
		if n := str(get(dev, "displayName")); n != "" {
			parts = append(parts, n)
		}
		if id := str(get(dev, "deviceId")); id != "" {
			parts = append(parts, "id "+id)
		} else {
			parts = append(parts, "no device id (not a registered device)")
		}
		if os := str(get(dev, "operatingSystem")); os != "" {
			parts = append(parts, os)
		}
		if tt := str(get(dev, "trustType")); tt != "" {
			parts = append(parts, "trust "+tt)
		}
		switch str(get(dev, "isCompliant")) {
		case "true":
			parts = append(parts, "compliant")
		case "false":
			parts = append(parts, "NOT compliant")
		}
		switch str(get(dev, "isManaged")) {
		case "true":
			parts = append(parts, "managed")
		case "false":
			parts = append(parts, "not managed")
		}
		x.device = strings.Join(parts, ", ")
		x.client = str(get(dev, "browser"))
	}
	var methods []string
	for _, m := range array(get(obj, "authenticationDetails")) {
		mo, ok := object(m)
		if !ok {
			continue
		}
		name := str(get(mo, "authenticationMethod"))
		if name == "" {
			continue
		}
		if detail := str(get(mo, "authenticationMethodDetail")); detail != "" {
			name += " (" + detail + ")"
		}
		switch str(get(mo, "succeeded")) {
		case "true":
			name += ": succeeded"
		case "false":
			name += ": failed"
		}
		if !slices.Contains(methods, name) {
			methods = append(methods, name)
		}
	}
	x.methods = strings.Join(methods, "; ")
	var strengths, policies []string
	addStrength := func(v any) {
		if so, ok := object(v); ok {
			v = get(so, "displayName")
		}
		if s := str(v); s != "" && !slices.Contains(strengths, s) {
			strengths = append(strengths, s)
		}
	}
	for _, p := range array(cmpAny(get(obj, "appliedConditionalAccessPolicies"), get(obj, "conditionalAccessPolicies"))) {
		po, ok := object(p)
		if !ok {
			continue
		}
		name := str(get(po, "displayName"))
		if name == "" {
			name = str(get(po, "id"))
		}
		if name == "" {
			continue
		}
		res := str(get(po, "result"))
		if res == "" {
			res = "no result"
		}
		policies = append(policies, name+" → "+res)
		addStrength(get(po, "authenticationStrength"))
	}
	for _, p := range array(get(obj, "authenticationRequirementPolicies")) {
		if po, ok := object(p); ok {
			if str(get(po, "requirementProvider")) == "authenticationStrengths" {
				addStrength(get(po, "detail"))
			}
		}
	}
	x.strength = strings.Join(strengths, "; ")
	x.policies = strings.Join(policies, "; ")
	return x
}

func cmpAny(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// get finds key in o, case-insensitively (Graph writes deviceDetail, Log
// Analytics DeviceDetail).
func get(o map[string]any, key string) any {
	if v, ok := o[key]; ok {
		return v
	}
	for k, v := range o {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// unwrap decodes a value that is JSON written into a string.
func unwrap(v any) any {
	for range maxDecodeDepth {
		s, ok := v.(string)
		if !ok {
			return v
		}
		t := strings.TrimSpace(s)
		if t == "" || (t[0] != '{' && t[0] != '[') {
			return v
		}
		var inner any
		d := json.NewDecoder(strings.NewReader(t))
		d.UseNumber()
		if d.Decode(&inner) != nil {
			return v
		}
		v = inner
	}
	return v
}

func object(v any) (map[string]any, bool) {
	o, ok := unwrap(v).(map[string]any)
	return o, ok
}

func array(v any) []any {
	a, _ := unwrap(v).([]any)
	return a
}

// str renders a scalar; objects and arrays are not scalars ("").
func str(v any) string {
	switch t := unwrap(v).(type) {
	case string:
		return strings.TrimSpace(t)
	case json.Number:
		return t.String()
	case bool:
		return fmt.Sprint(t)
	}
	return ""
}

// DecodeValue renders a modified property's old or new value. Entra writes
// them as JSON inside a string ("[\"Global Administrator\"]", "[true]",
// "[{\"MethodType\":6}]"), sometimes twice over; each level is unwrapped,
// lists are joined, objects shown as key: value. Anything that is not JSON
// is shown as it is. An empty value or list is "(none)".
func DecodeValue(s string) string {
	return render(decodeText(s, 0), 0)
}

func decodeText(s string, depth int) any {
	t := strings.TrimSpace(s)
	if t == "" || t == "null" {
		return nil
	}
	if depth >= maxDecodeDepth || !(t[0] == '[' || t[0] == '{' || t[0] == '"') {
		return s
	}
	var v any
	d := json.NewDecoder(strings.NewReader(t))
	d.UseNumber()
	if d.Decode(&v) != nil || d.More() {
		return s
	}
	if inner, ok := v.(string); ok {
		return decodeText(inner, depth+1)
	}
	return v
}

func render(v any, depth int) string {
	switch t := v.(type) {
	case nil:
		return "(none)"
	case string:
		if depth < maxDecodeDepth {
			if dv := decodeText(t, depth+1); dv != any(t) {
				if _, isStr := dv.(string); !isStr {
					return render(dv, depth+1)
				}
			}
		}
		if strings.TrimSpace(t) == "" {
			return `""`
		}
		return t
	case json.Number:
		return t.String()
	case bool:
		return fmt.Sprint(t)
	case []any:
		if len(t) == 0 {
			return "(none)"
		}
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = render(e, depth+1)
		}
		sep := ", "
		for _, e := range t {
			if _, ok := e.(map[string]any); ok {
				sep = "; "
			}
		}
		return strings.Join(parts, sep)
	case map[string]any:
		if len(t) == 0 {
			return "(none)"
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + render(t[k], depth+1)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
