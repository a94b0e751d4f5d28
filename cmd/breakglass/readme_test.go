package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/notify"
)

// TestREADMEConfigKeysExist: every key the README's configuration
// reference documents is one the configuration decoder accepts, for the
// channel or source type the row names. A key renamed in code but not in
// the README (or documented before it was built) fails here, naming the
// row.
func TestREADMEConfigKeysExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## Configuration reference")
	if start < 0 {
		t.Fatal("README has no Configuration reference section")
	}
	section := text[start+1:]
	first := strings.Count(text[:start+1], "\n") + 1 // the section's line in README.md
	if end := strings.Index(section, "\n## "); end > 0 {
		section = section[:end]
	}
	tick := regexp.MustCompile("`([^`]+)`")
	qual := regexp.MustCompile(`\(([a-z, ]+)\)\s*$`)
	rows := 0
	for i, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line[2:], " |", 2)[0]
		var types []string
		if m := qual.FindStringSubmatch(cell); m != nil {
			for _, q := range strings.Split(m[1], ",") {
				types = append(types, strings.Fields(q)[0]) // "sms twilio" is type sms
			}
		}
		var keys []string
		for _, m := range tick.FindAllStringSubmatch(cell, -1) {
			k := m[1]
			switch {
			case len(keys) == 0 || strings.Contains(strings.TrimPrefix(k, "."), "."):
				keys = append(keys, k)
			default: // ".text" or "password": a sibling of the previous key
				prev := keys[len(keys)-1]
				keys = append(keys, prev[:strings.LastIndex(prev, ".")+1]+strings.TrimPrefix(k, "."))
			}
		}
		for _, k := range keys {
			rows++
			if msg := checkKey(k, types); msg != "" {
				t.Errorf("README.md:%d: %s: %s", first+i, k, msg)
			}
		}
	}
	if rows < 100 {
		t.Fatalf("found %d documented keys; the table's format changed and this test no longer reads it", rows)
	}
}

// checkKey walks the key through config.Config's yaml fields; under
// notify.groups[].channels[] the rest belongs to each named channel type.
func checkKey(key string, types []string) string {
	const channels = "notify.groups[].channels[]."
	if rest, ok := strings.CutPrefix(key, channels); ok {
		if msg := walk(reflect.TypeFor[config.ChannelConfig](), rest); msg == "" {
			return "" // name, type, timeout: every type's
		}
		if len(types) == 0 {
			return "no channel type named in the row, and not a key of every channel"
		}
		for _, ty := range types {
			ct, ok := notify.LookupChannel(ty)
			if !ok {
				return "channel type " + ty + " is not registered"
			}
			if msg := walk(reflect.TypeOf(ct.New()), rest); msg != "" {
				return "channel type " + ty + ": " + msg
			}
		}
		return ""
	}
	return walk(reflect.TypeFor[config.Config](), key)
}

func walk(t reflect.Type, key string) string {
	for _, seg := range strings.Split(key, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		name, list := strings.CutSuffix(seg, "[]")
		if t.Kind() != reflect.Struct {
			if t.Kind() == reflect.Map {
				return "" // a map's keys are the user's
			}
			return "goes below a " + t.Kind().String() + " value at " + seg
		}
		f, ok := field(t, name)
		if !ok {
			return "no key " + name + " in " + t.String()
		}
		t = f
		if list {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() != reflect.Slice {
				return seg + " is not a list"
			}
			t = t.Elem()
		}
	}
	return ""
}

// field finds the field with yaml name, looking into inlined structs.
func field(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || f.Anonymous && tag == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if r, ok := field(ft, name); ok {
					return r, true
				}
			}
			continue
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}
