package accountlist

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/entra"
)

// ScubaGear (cisagov/ScubaGear) takes per-policy exclusion lists of object
// ids under Aad: in its YAML (or JSON) configuration. Its
// docs/configuration/configuration.md (as of commit 4d34e9a, Aug 2026)
// lists the policies that honour CapExclusions (Conditional Access) and
// RoleExclusions (permanent role assignments); note MS.AAD.3.2 is at v2.
// Listing an account there only lets a policy that excludes it pass; it
// excludes it from nothing, so one list serves every policy whatever the
// audit's conditional_access_mode.
var (
	scubaCapPolicies  = []string{"MS.AAD.1.1v1", "MS.AAD.2.1v1", "MS.AAD.2.3v1", "MS.AAD.3.1v1", "MS.AAD.3.2v2", "MS.AAD.3.6v1", "MS.AAD.3.7v1", "MS.AAD.3.8v1", "MS.AAD.3.9v1"}
	scubaRolePolicies = []string{"MS.AAD.7.4v1"}
)

// scubaPolicyRE matches a ScubaGear Entra ID policy id of any version, so
// that a file written for an older baseline still imports.
var scubaPolicyRE = regexp.MustCompile(`^(?i:MS\.AAD\.\d+\.\d+v\d+)$`)

type scubaID struct {
	id, label string
}

func exportScubaGear(w io.Writer, accounts []entra.Account, dir Directory) error {
	var users, groups []scubaID
	var problems []error
	firstID := map[string]int{}
	for i, a := range accounts {
		id, label := a.ID, oneLine(a.Label())
		switch {
		case a.IsGroup():
			id = a.Group
		case id == "" && dir == nil:
			problems = append(problems, fmt.Errorf("%s: ScubaGear takes object ids only; add id: to the entry, or pass --snapshot DIR of a collect that resolved it", entryName(i, a)))
			continue
		case id == "":
			u, ok := dir.User(a.UPN)
			if !ok || u.ID == "" {
				problems = append(problems, fmt.Errorf("%s: ScubaGear takes object ids only, and the snapshot did not resolve this UPN; add id: to the entry", entryName(i, a)))
				continue
			}
			id = u.ID
		}
		if !entra.IsGUID(id) {
			problems = append(problems, fmt.Errorf("%s: %q is not an object id", entryName(i, a), id))
			continue
		}
		if j, dup := firstID[strings.ToLower(id)]; dup {
			problems = append(problems, fmt.Errorf("%s: the same object as %s", entryName(i, a), entryName(j, accounts[j])))
			continue
		}
		firstID[strings.ToLower(id)] = i
		if strings.EqualFold(label, id) || strings.EqualFold(label, "group "+id) {
			label = ""
		}
		if a.IsGroup() {
			groups = append(groups, scubaID{id, label})
		} else {
			users = append(users, scubaID{id, label})
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	var b bytes.Buffer
	b.WriteString("# Break-glass accounts for ScubaGear, written by breakglass accounts export.\n")
	b.WriteString("# Merge the Aad: key into your ScubaGear configuration file. Listing an account\n")
	b.WriteString("# lets a policy that excludes it pass; it excludes the account from nothing.\n")
	b.WriteString("Aad:\n")
	section := func(policy, key string) {
		fmt.Fprintf(&b, "  %s:\n    %s:\n", policy, key)
		for _, l := range []struct {
			name string
			ids  []scubaID
		}{{"Users", users}, {"Groups", groups}} {
			if len(l.ids) == 0 {
				continue
			}
			fmt.Fprintf(&b, "      %s:\n", l.name)
			for _, x := range l.ids {
				if x.label != "" {
					fmt.Fprintf(&b, "        - %s # %s\n", x.id, x.label)
				} else {
					fmt.Fprintf(&b, "        - %s\n", x.id)
				}
			}
		}
	}
	for _, p := range scubaCapPolicies {
		section(p, "CapExclusions")
	}
	for _, p := range scubaRolePolicies {
		section(p, "RoleExclusions")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// maxScubaEntries bounds the ids an import reads, counting every YAML
// alias expansion: far above any real file (a few accounts in a dozen
// policies), far below what would stall the command.
const maxScubaEntries = 100_000

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isYAMLNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "an alias"
}

// yamlPairs calls fn for each key of a mapping, rejecting non-scalar,
// merge and duplicate keys (ScubaGear reads keys ignoring case).
func yamlPairs(e *errs, n *yaml.Node, field string, fn func(key string, k, v *yaml.Node, path string)) {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			e.add(n.Content[i].Line, n.Content[i].Column, field, "keys must be strings, got %s", yamlKind(k))
			continue
		}
		path := k.Value
		if field != "" {
			path = field + "." + k.Value
		}
		if k.ShortTag() == "!!merge" {
			e.add(k.Line, k.Column, path, "merge keys are not supported; write the keys out")
			continue
		}
		if l, dup := first[strings.ToLower(k.Value)]; dup {
			e.add(k.Line, k.Column, path, "duplicate key (first at line %d); keys are compared ignoring case", l)
			continue
		}
		first[strings.ToLower(k.Value)] = k.Line
		fn(k.Value, n.Content[i], v, path)
	}
}

func importScubaGear(name string, data []byte) (*Imported, error) {
	e := &errs{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			e.add(0, 0, "", "file is empty")
		} else if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			e.add(line, 0, "", "invalid YAML: %s", m[2])
		} else {
			e.add(0, 0, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, e.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		e.add(extra.Line, 0, "", "more than one YAML document; ScubaGear reads one")
		return nil, e.err()
	}
	if len(doc.Content) == 0 || resolveAlias(doc.Content[0]).Kind != yaml.MappingNode {
		e.add(0, 0, "", "not a ScubaGear configuration: the top level must be a mapping with an Aad: key")
		return nil, e.err()
	}
	var aad *yaml.Node
	yamlPairs(e, resolveAlias(doc.Content[0]), "", func(key string, k, v *yaml.Node, path string) {
		if strings.EqualFold(key, "Aad") {
			aad = v
		}
	})
	if len(e.list) > 0 {
		return nil, e.err()
	}
	if aad == nil || isYAMLNull(aad) {
		e.add(0, 0, "", "no Aad: key, so no break-glass exclusions to import")
		return nil, e.err()
	}
	if aad.Kind != yaml.MappingNode {
		e.add(aad.Line, aad.Column, "Aad", "expected a mapping of policy ids, got %s", yamlKind(aad))
		return nil, e.err()
	}

	type found struct {
		group     bool
		line, col int
		field     string
		lists     map[string]bool // the policy exclusion lists naming it
	}
	im := &Imported{}
	byID := map[string]*found{}
	var order []string
	var lists []string // every policy exclusion list read
	var ignored []string
	// entries counts the ids read, every YAML alias expansion included: a
	// small file can name one anchored list from thousands of policies.
	entries, tooMany := 0, false
	yamlPairs(e, aad, "Aad", func(policy string, k, pol *yaml.Node, path string) {
		if tooMany {
			return
		}
		if !scubaPolicyRE.MatchString(policy) {
			ignored = append(ignored, policy)
			return
		}
		if isYAMLNull(pol) {
			return
		}
		if pol.Kind != yaml.MappingNode {
			e.add(pol.Line, pol.Column, path, "expected a mapping, got %s", yamlKind(pol))
			return
		}
		yamlPairs(e, pol, path, func(kind string, k, ex *yaml.Node, path string) {
			var known []string
			switch {
			case strings.EqualFold(kind, "CapExclusions"):
				known = []string{"Users", "Groups", "Applications", "GuestUserTypes"}
			case strings.EqualFold(kind, "RoleExclusions"):
				known = []string{"Users", "Groups"}
			default:
				return // other policy settings are not about accounts
			}
			if isYAMLNull(ex) {
				return
			}
			if ex.Kind != yaml.MappingNode {
				e.add(ex.Line, ex.Column, path, "expected a mapping with Users and Groups, got %s", yamlKind(ex))
				return
			}
			list := policy + " " + kind
			lists = append(lists, list)
			yamlPairs(e, ex, path, func(key string, k, ids *yaml.Node, path string) {
				i := slices.IndexFunc(known, func(s string) bool { return strings.EqualFold(s, key) })
				switch {
				case i < 0:
					e.add(k.Line, k.Column, path, "unknown key (known: %s)", strings.Join(known, ", "))
					return
				case i >= 2, isYAMLNull(ids):
					return // applications and guest types are not accounts
				case ids.Kind != yaml.SequenceNode:
					e.add(ids.Line, ids.Column, path, "expected a sequence of object ids, got %s", yamlKind(ids))
					return
				}
				group := i == 1
				if entries += len(ids.Content); entries > maxScubaEntries {
					if !tooMany {
						e.add(ids.Line, ids.Column, path, "the exclusion lists name over %d ids (YAML aliases counted as expanded); a break-glass list holds a few accounts: write the lists out, or check the file", maxScubaEntries)
					}
					tooMany = true
					return
				}
				for j, raw := range ids.Content {
					item := resolveAlias(raw)
					f := path + "[" + strconv.Itoa(j) + "]"
					if item == nil || item.Kind != yaml.ScalarNode || isYAMLNull(item) {
						e.add(raw.Line, raw.Column, f, "expected an object id")
						continue
					}
					id := strings.TrimSpace(item.Value)
					what := "the user's object id; ScubaGear takes no UPNs"
					if group {
						what = "the group's object id"
					}
					if !checkID(e, [2]int{raw.Line, raw.Column}, f, id, what) {
						continue
					}
					key := strings.ToLower(id)
					fd := byID[key]
					switch {
					case fd == nil:
						fd = &found{group: group, line: raw.Line, col: raw.Column, field: f, lists: map[string]bool{}}
						byID[key] = fd
						order = append(order, id)
					case fd.group != group:
						e.add(raw.Line, raw.Column, f, "listed as a user in one place and a group in another (first at %s, line %d)", fd.field, fd.line)
						continue
					}
					fd.lists[list] = true
				}
			})
		})
	})
	if err := e.err(); err != nil {
		return nil, err
	}
	if len(order) == 0 {
		e.add(aad.Line, aad.Column, "Aad", "no users or groups in any CapExclusions or RoleExclusions: nothing to import")
		return nil, e.err()
	}
	for _, id := range order {
		fd := byID[strings.ToLower(id)]
		a := entra.Account{ID: id}
		if fd.group {
			a = entra.Account{Group: id}
		}
		im.Accounts = append(im.Accounts, a)
		if len(fd.lists) < len(lists) {
			var missing []string
			for _, l := range lists {
				if !fd.lists[l] {
					missing = append(missing, l)
				}
			}
			im.note(len(im.Accounts)-1, "only %d of %d exclusion lists name it (not %s): check that it is a break-glass account",
				len(fd.lists), len(lists), strings.Join(missing, ", "))
		}
	}
	if len(ignored) > 0 {
		im.note(-1, "Aad keys that are not policy ids were not read: %s", strings.Join(ignored, ", "))
	}
	return im, nil
}

func init() {
	Register(Format{
		Name:   "scubagear",
		Title:  "CISA ScubaGear configuration (Aad: CapExclusions and RoleExclusions)",
		Export: exportScubaGear,
		Import: importScubaGear,
	})
}
