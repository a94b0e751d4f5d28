package accountlist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"

	"breakglass/internal/config"
	"breakglass/internal/entra"
)

// The GlobalSettings shape is Maester's maester-config.json, which the Zero
// Trust Assessment's zt-config.json copies:
//
//	{"GlobalSettings": {"EmergencyAccessAccounts": [
//	    {"Id": "<object id>", "UserPrincipalName": "<upn>", "Type": "User"},
//	    {"Id": "<object id>", "Type": "Group"}]}}
//
// Both tools resolve an entry themselves and read keys case-insensitively
// (PowerShell). Maester uses Id when both are given and treats a missing
// Type as User; the Zero Trust Assessment uses the UPN when both are given,
// skips an entry without a Type and needs an Id for a group. The export
// writes both identifiers when the config has both, and always a Type.

type globalSettingsEntry struct {
	ID   string `json:"Id,omitempty"`
	UPN  string `json:"UserPrincipalName,omitempty"`
	Type string `json:"Type"`
}

func exportGlobalSettings(w io.Writer, accounts []entra.Account, _ Directory) error {
	entries := make([]globalSettingsEntry, 0, len(accounts))
	for i, a := range accounts {
		switch {
		case a.IsGroup():
			entries = append(entries, globalSettingsEntry{ID: a.Group, Type: "Group"})
		case a.ID == "" && a.UPN == "":
			return fmt.Errorf("accounts[%d]: neither id nor upn", i)
		default:
			entries = append(entries, globalSettingsEntry{ID: a.ID, UPN: a.UPN, Type: "User"})
		}
	}
	doc := map[string]any{"GlobalSettings": map[string]any{"EmergencyAccessAccounts": entries}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// importGlobalSettings reads GlobalSettings.EmergencyAccessAccounts.
// needType says whether an entry without a Type is an error (the Zero
// Trust Assessment skips such entries) or a user (Maester's default).
func importGlobalSettings(name string, data []byte, needType bool) (*Imported, error) {
	e := &errs{file: name}
	data, err := utf8JSON(data)
	if err != nil {
		e.add(0, 0, "", "%v", err)
		return nil, e.err()
	}
	p := &jsonWalk{data: data, dec: json.NewDecoder(bytes.NewReader(data)), e: e}
	p.dec.UseNumber()
	var entries []rawEntry
	found := false
	ok := p.object("", func(key string, kline, kcol int) bool {
		if !strings.EqualFold(key, "GlobalSettings") {
			return p.skip()
		}
		return p.object("GlobalSettings", func(key string, kline, kcol int) bool {
			if !strings.EqualFold(key, "EmergencyAccessAccounts") {
				return p.skip()
			}
			found = true
			return p.array("GlobalSettings.EmergencyAccessAccounts", func(i, line, col int) bool {
				f := "GlobalSettings.EmergencyAccessAccounts[" + strconv.Itoa(i) + "]"
				ent := rawEntry{line: line, col: col, field: f}
				before := len(e.list)
				ok := p.object(f, func(key string, kline, kcol int) bool {
					kf := f + "." + key
					v, isStr, ok := p.stringOrNull(kf)
					if !ok {
						return false
					}
					switch {
					case !isStr:
						// null: as absent, the way PowerShell reads it.
					case strings.EqualFold(key, "Id"):
						ent.id, ent.idPos = strings.TrimSpace(v), [2]int{kline, kcol}
					case strings.EqualFold(key, "UserPrincipalName"):
						ent.upn, ent.upnPos = strings.TrimSpace(v), [2]int{kline, kcol}
					case strings.EqualFold(key, "Type"):
						ent.typ = strings.TrimSpace(v)
					}
					if !strings.EqualFold(key, "Id") && !strings.EqualFold(key, "UserPrincipalName") && !strings.EqualFold(key, "Type") {
						e.add(kline, kcol, kf, "unknown key (known: Id, UserPrincipalName, Type)")
					}
					return true
				})
				// An entry with a malformed part has its error; checking
				// the rest would only pile derived complaints on it.
				ent.bad = len(e.list) > before
				entries = append(entries, ent)
				return ok
			})
		})
	})
	if !ok {
		return nil, e.err() // the document could not be read to its end
	}
	p.end()
	if !found && len(e.list) == 0 {
		e.add(0, 0, "", "no GlobalSettings.EmergencyAccessAccounts: not a Maester or Zero Trust Assessment configuration, or it lists no emergency access accounts")
		return nil, e.err()
	}
	if found && len(entries) == 0 && len(e.list) == 0 {
		e.add(0, 0, "GlobalSettings.EmergencyAccessAccounts", "empty: nothing to import")
		return nil, e.err()
	}
	im := &Imported{}
	seen := newSeen(e)
	for _, ent := range entries {
		if ent.bad {
			continue
		}
		typ := strings.ToLower(ent.typ)
		if typ == "" && !needType {
			typ = "user"
		}
		switch typ {
		case "user":
			if ent.id == "" && ent.upn == "" {
				e.add(ent.line, ent.col, ent.field, "a User entry needs Id or UserPrincipalName")
				continue
			}
			a := entra.Account{ID: ent.id, UPN: ent.upn}
			okID := ent.id == "" || checkID(e, ent.idPos, ent.field+".Id", ent.id, "the user's object id; a UPN goes in UserPrincipalName")
			okUPN := ent.upn == "" || checkUPN(e, ent.upnPos, ent.field+".UserPrincipalName", ent.upn)
			if okID && okUPN && seen.user(a, ent.line, ent.col, ent.field) {
				im.Accounts = append(im.Accounts, a)
			}
		case "group":
			if ent.id == "" {
				e.add(ent.line, ent.col, ent.field, "a Group entry needs Id: breakglass names groups by object id, not by mail")
				continue
			}
			if checkID(e, ent.idPos, ent.field+".Id", ent.id, "the group's object id") && seen.group(ent.id, ent.line, ent.col, ent.field) {
				im.Accounts = append(im.Accounts, entra.Account{Group: ent.id})
			}
		case "":
			e.add(ent.line, ent.col, ent.field, "no Type; the Zero Trust Assessment skips such an entry: add \"Type\": \"User\" or \"Group\"")
		default:
			e.add(ent.line, ent.col, ent.field+".Type", "must be User or Group")
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return im, nil
}

// rawEntry is one EmergencyAccessAccounts item before it is checked.
type rawEntry struct {
	line, col     int
	field         string
	id, upn, typ  string
	idPos, upnPos [2]int
	bad           bool
}

func checkID(e *errs, pos [2]int, field, v, what string) bool {
	switch {
	case !entra.IsGUID(v):
		e.add(pos[0], pos[1], field, "not a GUID (expected %s)", what)
		return false
	case v == "00000000-0000-0000-0000-000000000000":
		e.add(pos[0], pos[1], field, "the all-zero GUID names no object")
		return false
	}
	return true
}

func checkUPN(e *errs, pos [2]int, field, v string) bool {
	if !config.IsUPN(v) {
		e.add(pos[0], pos[1], field, "not a user principal name (expected user@domain)")
		return false
	}
	return true
}

// seen rejects an account or group listed twice, the way config does, so
// the block an import prints loads.
type seen struct {
	e     *errs
	first map[string]string // folded id or UPN -> field that listed it
}

func newSeen(e *errs) *seen { return &seen{e: e, first: map[string]string{}} }

func (s *seen) claim(key string, line, col int, field string) bool {
	key = strings.ToLower(key)
	if f, dup := s.first[key]; dup {
		s.e.add(line, col, field, "the same object as %s; list each account once", f)
		return false
	}
	s.first[key] = field
	return true
}

func (s *seen) user(a entra.Account, line, col int, field string) bool {
	ok := true
	if a.ID != "" {
		ok = s.claim(a.ID, line, col, field)
	}
	if ok && a.UPN != "" {
		ok = s.claim(a.UPN, line, col, field)
	}
	return ok
}

func (s *seen) group(id string, line, col int, field string) bool {
	return s.claim(id, line, col, field)
}

// utf8JSON returns the document as UTF-8 without a byte order mark.
// PowerShell writes UTF-8 with a BOM, and Windows PowerShell's Out-File
// writes UTF-16: both are common for these files.
func utf8JSON(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:], nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		le := data[0] == 0xFF
		body := data[2:]
		if len(body)%2 != 0 {
			return nil, errors.New("UTF-16 file with an odd number of bytes: the file is cut short")
		}
		u := make([]uint16, len(body)/2)
		for i := range u {
			if le {
				u[i] = uint16(body[2*i]) | uint16(body[2*i+1])<<8
			} else {
				u[i] = uint16(body[2*i])<<8 | uint16(body[2*i+1])
			}
		}
		return []byte(string(utf16.Decode(u))), nil
	}
	return data, nil
}

func init() {
	Register(Format{
		Name:   "maester",
		Title:  "Maester maester-config.json (GlobalSettings.EmergencyAccessAccounts)",
		Export: exportGlobalSettings,
		Import: func(name string, data []byte) (*Imported, error) { return importGlobalSettings(name, data, false) },
	})
}
