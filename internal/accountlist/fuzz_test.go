package accountlist

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/entra"
)

// fuzzImport checks an importer against any input: it never panics, an
// error is an ErrorList whose every element names the file and says
// something, and an accepted list is valid and survives its own format's
// export and import unchanged.
func fuzzImport(f *testing.F, format string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	golden, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	for _, g := range golden {
		if data, err := os.ReadFile(g); err == nil {
			f.Add(data)
		}
	}
	fm, _ := Lookup(format)
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := fm.Import("fuzz", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %q is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "fuzz" || e.Msg == "" {
					t.Fatalf("error without file or message: %+v", e)
				}
			}
			return
		}
		if len(im.Accounts) == 0 {
			t.Fatal("accepted an empty list")
		}
		for _, a := range im.Accounts {
			switch {
			case a.IsGroup() && (a.ID != "" || a.UPN != "" || !entra.IsGUID(a.Group)):
				t.Fatalf("bad group entry %+v", a)
			case !a.IsGroup() && (a.ID == "" && a.UPN == "" || a.ID != "" && !entra.IsGUID(a.ID) || a.UPN != "" && !config.IsUPN(a.UPN)):
				t.Fatalf("bad user entry %+v", a)
			}
		}
		if len(im.Notes) != len(im.NoteFor) {
			t.Fatal("notes and their accounts differ in number")
		}
		var buf bytes.Buffer
		if err := fm.Export(&buf, im.Accounts, nil); err != nil {
			t.Fatalf("an imported list does not export: %v", err)
		}
		again, err := fm.Import("fuzz", buf.Bytes())
		if err != nil {
			t.Fatalf("own export does not import: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(again.Accounts, im.Accounts) {
			t.Fatalf("round trip changed the list:\n got %+v\nwant %+v", again.Accounts, im.Accounts)
		}
	})
}

func FuzzImportMaester(f *testing.F) {
	fuzzImport(f, "maester",
		`{"GlobalSettings":{"EmergencyAccessAccounts":[{"Id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","Type":"User"},{"UserPrincipalName":"a@b.c"}]}}`,
		"\xef\xbb\xbf{\"globalsettings\":{\"emergencyaccessaccounts\":[{\"id\":\"5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f\",\"type\":\"group\"}]}}",
		"\xff\xfe{\x00}\x00", `[[[[[[[[[[]]]]]]]]]]`, `{"a":{"b":[1,{"c":null}]},"GlobalSettings":{"EmergencyAccessAccounts":[null,"x",{}]}}`)
}

func FuzzImportZTA(f *testing.F) {
	fuzzImport(f, "zta",
		`{"GlobalSettings":{"EmergencyAccessAccounts":[{"Type":"User","UserPrincipalName":"bg@contoso.com"}]}}`)
}

func FuzzImportScubaGear(f *testing.F) {
	fuzzImport(f, "scubagear",
		"Aad:\n  MS.AAD.1.1v1: &x\n    CapExclusions:\n      Users: [3f2504e0-4f89-11d3-9a0c-0305e82c3301]\n  MS.AAD.2.1v1: *x\n",
		"Aad: {MS.AAD.7.4v1: {RoleExclusions: {Groups: [5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f]}}}",
		"a: &a [*a, *a]\nAad: *a\n", "Aad:\n  <<: {x: 1}\n", "Aad: !!binary aGk=\n")
}
