package accountlist

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("mismatch with %s (run go test -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

const (
	id1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	id2 = "9b2e7c1a-5d4f-4e3b-8a6c-1f0e2d3c4b5a"
	id3 = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	gid = "5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
	up1 = "bg1@contoso.onmicrosoft.com"
	up2 = "bg2@contoso.onmicrosoft.com"
)

// snapshot is the test snapshot: bg1 and bg2 resolved, group gid with
// members bg3 and bg2, and a refused member list for another group.
func snapshot(t *testing.T) Directory {
	t.Helper()
	s, err := collect.Load(filepath.Join("testdata", "snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	return SnapshotDirectory(s)
}

func TestRegistry(t *testing.T) {
	if got, want := Exporters(), []string{"maester", "scubagear", "sentinel-watchlist", "zta"}; !slices.Equal(got, want) {
		t.Errorf("Exporters() = %q, want %q", got, want)
	}
	if got, want := Importers(), []string{"maester", "scubagear", "zta"}; !slices.Equal(got, want) {
		t.Errorf("Importers() = %q, want %q", got, want)
	}
	for _, bad := range []Format{{}, {Name: "maester", Export: exportGlobalSettings}, {Name: "x"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", bad.Name)
				}
			}()
			Register(bad)
		}()
	}
}

// carried is what a format can hold of a list: Maester and the Zero Trust
// Assessment keep ids, UPNs and groups but no names; ScubaGear keeps
// object ids only, so a UPN-only account comes back as its resolved id.
func carried(format string, in []entra.Account, dir Directory) []entra.Account {
	var out []entra.Account
	for _, a := range in {
		a.Name = ""
		if format == "scubagear" && !a.IsGroup() {
			if a.ID == "" {
				u, _ := dir.User(a.UPN)
				a.ID = u.ID
			}
			a.UPN = ""
		}
		out = append(out, a)
	}
	return out
}

// TestRoundTrip: export then import gives the list back, as far as the
// format can hold it, for every format that does both.
func TestRoundTrip(t *testing.T) {
	lists := map[string][]entra.Account{
		"ids only":  {{ID: id1, Name: "Break-glass 1"}, {ID: strings.ToUpper(id2)}},
		"UPNs only": {{UPN: up1}, {UPN: up2, Name: "two"}},
		"both":      {{ID: id1, UPN: up1}, {ID: id2, UPN: up2}},
		"groups":    {{Group: gid, Name: "BG group"}, {Group: id3}},
		"mixed":     {{ID: id1, UPN: up1}, {UPN: up2}, {Group: gid}},
	}
	dir := snapshot(t)
	for _, format := range []string{"maester", "zta", "scubagear"} {
		f, _ := Lookup(format)
		for name, list := range lists {
			t.Run(format+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := f.Export(&buf, list, dir); err != nil {
					t.Fatalf("export: %v", err)
				}
				im, err := f.Import("out", buf.Bytes())
				if err != nil {
					t.Fatalf("import: %v\n%s", err, buf.Bytes())
				}
				if want := carried(format, list, dir); !reflect.DeepEqual(im.Accounts, want) {
					t.Errorf("round trip:\n got %+v\nwant %+v\n%s", im.Accounts, want, buf.Bytes())
				}
				if len(im.Notes) != 0 {
					t.Errorf("notes on our own export: %q", im.Notes)
				}
			})
		}
	}
}

// TestExportGoldens pins each format's exact output for a mixed list.
func TestExportGoldens(t *testing.T) {
	list := []entra.Account{
		{ID: id1, UPN: up1, Name: "Break-glass 1 (safe A)"},
		{UPN: up2},
		{Group: gid, Name: "BG\naccounts"},
	}
	ext := map[string]string{"maester": "json", "zta": "json", "scubagear": "yaml", "sentinel-watchlist": "csv"}
	for _, format := range Exporters() {
		t.Run(format, func(t *testing.T) {
			f, _ := Lookup(format)
			var buf bytes.Buffer
			if err := f.Export(&buf, list, snapshot(t)); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "golden", format+"."+ext[format]), buf.Bytes())
		})
	}
}

// TestExportRefuses: what a format cannot hold fails the export, naming
// every entry, rather than being left out.
func TestExportRefuses(t *testing.T) {
	tests := []struct {
		format string
		list   []entra.Account
		dir    bool
		want   []string
	}{
		{"scubagear", []entra.Account{{ID: id1}, {UPN: up2}, {UPN: "nobody@contoso.onmicrosoft.com"}}, false, []string{
			"accounts[1] (bg2@contoso.onmicrosoft.com): ScubaGear takes object ids only; add id: to the entry, or pass --snapshot DIR of a collect that resolved it",
			"accounts[2] (nobody@contoso.onmicrosoft.com): ScubaGear takes object ids only; add id: to the entry, or pass --snapshot DIR of a collect that resolved it",
		}},
		{"scubagear", []entra.Account{{UPN: "nobody@contoso.onmicrosoft.com"}}, true, []string{
			"accounts[0] (nobody@contoso.onmicrosoft.com): ScubaGear takes object ids only, and the snapshot did not resolve this UPN; add id: to the entry",
		}},
		{"scubagear", []entra.Account{{ID: id1}, {UPN: up1}}, true, []string{
			"accounts[1] (bg1@contoso.onmicrosoft.com): the same object as accounts[0] (id " + id1 + ")",
		}},
		{"sentinel-watchlist", []entra.Account{{ID: id1, UPN: up1}, {Group: gid}, {ID: id2}}, false, []string{
			"accounts[1] (group " + gid + "): a watchlist lists users, and a group's members are known only to Graph; pass --snapshot DIR of a collect with this config",
			"accounts[2] (id " + id2 + "): a watchlist row needs both the object id and the UPN (rules match on either); the UPN is unknown: add it to the entry, or pass --snapshot DIR of a collect that resolved it",
		}},
		{"sentinel-watchlist", []entra.Account{{Group: "aaaaaaaa-1a2b-4c3d-9e8f-0a1b2c3d4e5f"}, {Group: id1}, {UPN: "nobody@contoso.onmicrosoft.com"}}, true, []string{
			"accounts[0] (group aaaaaaaa-1a2b-4c3d-9e8f-0a1b2c3d4e5f): the snapshot has no members for it: group_members.aaaaaaaa-1a2b-4c3d-9e8f-0a1b2c3d4e5f was refused (permission)",
			"accounts[1] (group " + id1 + "): the snapshot has no members for it (no dataset group_members." + id1 + "); collect with this config",
			"accounts[2] (nobody@contoso.onmicrosoft.com): a watchlist row needs both the object id and the UPN (rules match on either); the object id is unknown: add it to the entry",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, _ := Lookup(tt.format)
			var dir Directory
			if tt.dir {
				dir = snapshot(t)
			}
			var buf bytes.Buffer
			err := f.Export(&buf, tt.list, dir)
			if err == nil {
				t.Fatalf("exported:\n%s", buf.Bytes())
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSentinelExpandsGroups(t *testing.T) {
	f, _ := Lookup("sentinel-watchlist")
	var buf bytes.Buffer
	// bg2 is listed and a member of the group: one row.
	if err := f.Export(&buf, []entra.Account{{ID: id2}, {Group: gid}}, snapshot(t)); err != nil {
		t.Fatal(err)
	}
	want := "User Principal Name,User AAD Object Id,UserPrincipalName,UserId,Tags\n" +
		up2 + "," + id2 + "," + up2 + "," + id2 + ",\"[\"\"break-glass\"\"]\"\n" +
		"bg3@contoso.onmicrosoft.com," + id3 + ",bg3@contoso.onmicrosoft.com," + id3 + ",\"[\"\"break-glass\"\"]\"\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestImportErrors(t *testing.T) {
	tests := []struct {
		name, format, data string
		want               []string
	}{
		{"empty", "maester", "", []string{"f: file is empty"}},
		{"not JSON", "maester", "GlobalSettings:\n", []string{"f:1:1: invalid JSON: invalid character 'G' looking for beginning of value"}},
		{"comment", "maester", "{\n  // break glass\n}", []string{"f:2:3: invalid JSON: invalid character '/' (comments are not JSON; remove them)"}},
		{"cut short", "maester", `{"GlobalSettings": {"EmergencyAccessAccounts": [{"Id": "` + id1 + `"`, []string{"f:1:94: invalid JSON: the file ends in the middle of the document"}},
		{"trailing data", "maester", `{"GlobalSettings": {"EmergencyAccessAccounts": [{"Id": "` + id1 + `"}]}} {}`, []string{"f:1:99: unexpected data after the JSON document"}},
		{"not an object", "maester", `[]`, []string{"f:1:1: expected an object, got an array"}},
		{"no list", "maester", `{"GlobalSettings": {}, "TestSettings": [{"Id": "MT.1005"}]}`, []string{"f: no GlobalSettings.EmergencyAccessAccounts: not a Maester or Zero Trust Assessment configuration, or it lists no emergency access accounts"}},
		{"empty list", "maester", `{"GlobalSettings": {"EmergencyAccessAccounts": []}}`, []string{"f: GlobalSettings.EmergencyAccessAccounts: empty: nothing to import"}},
		{"list not array", "maester", `{"GlobalSettings": {"EmergencyAccessAccounts": {"Id": "x"}}}`, []string{"f:1:48: GlobalSettings.EmergencyAccessAccounts: expected an array, got an object"}},
		{"duplicate key any case", "maester", "{\"GlobalSettings\": {\"EmergencyAccessAccounts\": [{\"Id\": \"" + id1 + "\"}]},\n \"globalsettings\": {}}", []string{"f:2:2: globalsettings: duplicate key (first at line 1); keys are compared ignoring case"}},
		{"entry problems", "maester", `{"GlobalSettings": {"EmergencyAccessAccounts": [
  {"Id": "bg@contoso.com", "Type": "User"},
  {"UserPrincipalName": "not a upn", "Type": "User"},
  {"Type": "User"},
  {"UserPrincipalName": "bg@contoso.com", "Type": "Group"},
  {"Id": "` + id1 + `", "Type": "Robot"},
  {"Id": 12, "UPN": "x@y.z"},
  "just a string",
  {"Id": "00000000-0000-0000-0000-000000000000"},
  {"Id": "` + strings.ToUpper(id1) + `"},
  {"Id": "` + id1 + `", "Type": "Group"},
  {"id": "` + id2 + `", "ID": "` + id2 + `"}
]}}`, []string{
			"f:2:4: GlobalSettings.EmergencyAccessAccounts[0].Id: not a GUID (expected the user's object id; a UPN goes in UserPrincipalName)",
			"f:3:4: GlobalSettings.EmergencyAccessAccounts[1].UserPrincipalName: not a user principal name (expected user@domain)",
			"f:4:3: GlobalSettings.EmergencyAccessAccounts[2]: a User entry needs Id or UserPrincipalName",
			"f:5:3: GlobalSettings.EmergencyAccessAccounts[3]: a Group entry needs Id: breakglass names groups by object id, not by mail",
			"f:6:3: GlobalSettings.EmergencyAccessAccounts[4].Type: must be User or Group",
			"f:7:10: GlobalSettings.EmergencyAccessAccounts[5].Id: expected a string, got a number",
			"f:7:14: GlobalSettings.EmergencyAccessAccounts[5].UPN: unknown key (known: Id, UserPrincipalName, Type)",
			"f:8:3: GlobalSettings.EmergencyAccessAccounts[6]: expected an object, got a string",
			"f:9:4: GlobalSettings.EmergencyAccessAccounts[7].Id: the all-zero GUID names no object",
			"f:11:3: GlobalSettings.EmergencyAccessAccounts[9]: the same object as GlobalSettings.EmergencyAccessAccounts[8]; list each account once",
			"f:12:50: GlobalSettings.EmergencyAccessAccounts[10].ID: duplicate key (first at line 12); keys are compared ignoring case",
		}},
		{"zta needs Type", "zta", `{"GlobalSettings": {"EmergencyAccessAccounts": [{"Id": "` + id1 + `"}]}}`, []string{
			`f:1:49: GlobalSettings.EmergencyAccessAccounts[0]: no Type; the Zero Trust Assessment skips such an entry: add "Type": "User" or "Group"`}},
		{"utf-16 odd", "maester", "\xff\xfe{", []string{"f: UTF-16 file with an odd number of bytes: the file is cut short"}},

		{"yaml empty", "scubagear", "", []string{"f: file is empty"}},
		{"yaml syntax", "scubagear", "Aad:\n  MS.AAD.1.1v1: [\n", []string{"f:2: invalid YAML: did not find expected node content"}},
		{"yaml no Aad", "scubagear", "ProductNames: [aad]\n", []string{"f: no Aad: key, so no break-glass exclusions to import"}},
		{"yaml scalar top", "scubagear", "just text\n", []string{"f: not a ScubaGear configuration: the top level must be a mapping with an Aad: key"}},
		{"yaml two docs", "scubagear", "Aad: {}\n---\nAad: {}\n", []string{"f:2: more than one YAML document; ScubaGear reads one"}},
		{"yaml nothing", "scubagear", "Aad:\n  MS.AAD.1.1v1:\n    CapExclusions:\n      Users: []\n", []string{"f:2:3: Aad: no users or groups in any CapExclusions or RoleExclusions: nothing to import"}},
		{"yaml problems", "scubagear", `Aad:
  MS.AAD.1.1v1:
    CapExclusions:
      Users:
        - bg1@contoso.onmicrosoft.com
        - ` + id1 + `
        - [x]
      Group:
        - ` + gid + `
  MS.AAD.3.1v1:
    CapExclusions:
      Groups:
        - ` + id1 + `
  MS.AAD.7.4v1:
    RoleExclusions:
      Users: ` + id2 + `
      Applications: []
  ms.aad.7.4V1: {}
  MS.AAD.2.1v1: [a]
`, []string{
			"f:5:11: Aad.MS.AAD.1.1v1.CapExclusions.Users[0]: not a GUID (expected the user's object id; ScubaGear takes no UPNs)",
			"f:7:11: Aad.MS.AAD.1.1v1.CapExclusions.Users[2]: expected an object id",
			"f:8:7: Aad.MS.AAD.1.1v1.CapExclusions.Group: unknown key (known: Users, Groups, Applications, GuestUserTypes)",
			"f:13:11: Aad.MS.AAD.3.1v1.CapExclusions.Groups[0]: listed as a user in one place and a group in another (first at Aad.MS.AAD.1.1v1.CapExclusions.Users[1], line 6)",
			"f:16:14: Aad.MS.AAD.7.4v1.RoleExclusions.Users: expected a sequence of object ids, got a scalar",
			"f:17:7: Aad.MS.AAD.7.4v1.RoleExclusions.Applications: unknown key (known: Users, Groups)",
			"f:18:3: Aad.ms.aad.7.4V1: duplicate key (first at line 14); keys are compared ignoring case",
			"f:19:17: Aad.MS.AAD.2.1v1: expected a mapping, got a sequence",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := Lookup(tt.format)
			im, err := f.Import("f", []byte(tt.data))
			if err == nil {
				t.Fatalf("imported %+v", im)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("%T is not an ErrorList", err)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestImportReal reads files the way the tools' own users write them:
// Maester's documented example (BOM, other settings, any key case), a
// UTF-16 file from Windows PowerShell, and ScubaGear's sample with anchors,
// applications and guest types, and an exclusion only some policies list.
func TestImportReal(t *testing.T) {
	maester := "\xef\xbb\xbf" + `{
  "GlobalSettings": {
    "EmergencyAccessAccounts": [
      { "UserPrincipalName": "BreakGlass1@contoso.com", "Type": "User" },
      { "id": "` + id1 + `", "type": "user" },
      { "Id": "` + gid + `", "Type": "Group", "UserPrincipalName": null }
    ]
  },
  "TestSettings": [ { "Id": "MT.1005", "Severity": "High" } ]
}`
	want := []entra.Account{{UPN: "BreakGlass1@contoso.com"}, {ID: id1}, {Group: gid}}
	f, _ := Lookup("maester")
	for name, data := range map[string][]byte{"utf-8 with BOM": []byte(maester), "utf-16": utf16LE(maester[3:])} {
		im, err := f.Import("maester-config.json", data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(im.Accounts, want) {
			t.Errorf("%s: got %+v, want %+v", name, im.Accounts, want)
		}
	}

	scuba := `ProductNames: [aad]
Aad:
  MS.AAD.1.1v1: &CommonCapExclusions
    CapExclusions:
      Groups:
        - ` + gid + ` # Break glass admin group
      Users:
        - ` + id1 + ` # Emergency access account 1
      Applications: [Office365]
      GuestUserTypes: [internalGuest]
  MS.AAD.2.1v1: *CommonCapExclusions
  MS.AAD.3.1v1:
    CapExclusions:
      Users: [` + id1 + `, ` + id2 + `]
  MS.AAD.7.4v1:
    RoleExclusions:
      Users: [` + id1 + `]
  NotAPolicy: {}
Exo: {}
`
	s, _ := Lookup("scubagear")
	im, err := s.Import("scuba.yaml", []byte(scuba))
	if err != nil {
		t.Fatal(err)
	}
	if want := []entra.Account{{Group: gid}, {ID: id1}, {ID: id2}}; !reflect.DeepEqual(im.Accounts, want) {
		t.Errorf("got %+v, want %+v", im.Accounts, want)
	}
	wantNotes := []string{
		"only 2 of 4 exclusion lists name it (not MS.AAD.3.1v1 CapExclusions, MS.AAD.7.4v1 RoleExclusions): check that it is a break-glass account",
		"only 1 of 4 exclusion lists name it (not MS.AAD.1.1v1 CapExclusions, MS.AAD.2.1v1 CapExclusions, MS.AAD.7.4v1 RoleExclusions): check that it is a break-glass account",
		"Aad keys that are not policy ids were not read: NotAPolicy",
	}
	if !slices.Equal(im.Notes, wantNotes) || !slices.Equal(im.NoteFor, []int{0, 2, -1}) {
		t.Errorf("notes %q for %v", im.Notes, im.NoteFor)
	}
}

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, r := range s { // ASCII test input
		out = append(out, byte(r), 0)
	}
	return out
}

func TestSnapshotDirectory(t *testing.T) {
	dir := snapshot(t)
	if u, ok := dir.User(strings.ToUpper(up2)); !ok || u.ID != id2 {
		t.Errorf("User(upn) = %+v, %v", u, ok)
	}
	if u, ok := dir.User(id1); !ok || u.UPN != up1 {
		t.Errorf("User(id) = %+v, %v", u, ok)
	}
	if _, ok := dir.User("nobody@contoso.onmicrosoft.com"); ok {
		t.Error("found a user the snapshot does not have")
	}
	m, err := dir.Members(strings.ToUpper(gid))
	if err != nil || len(m) != 2 || m[0].ID != id3 {
		t.Errorf("Members = %+v, %v", m, err)
	}
}
