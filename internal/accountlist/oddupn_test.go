package accountlist

import (
	"bytes"
	"reflect"
	"testing"

	"breakglass/internal/entra"
)

// TestRoundTripOddUPNs: UPNs as Entra allows them (apostrophes, non-ASCII
// letters, a guest's #EXT#, a plus, an ampersand) and names with quotes,
// commas and a line break come back as they went out.
func TestRoundTripOddUPNs(t *testing.T) {
	list := []entra.Account{
		{ID: id1, UPN: "o'brien@contoso.onmicrosoft.com", Name: `O'Brien, "BG" 1`},
		{UPN: "jörg.ñ@contoso.onmicrosoft.com", Name: "line\nbreak"},
		{UPN: "bg_fabrikam.com#EXT#@contoso.onmicrosoft.com"},
		{UPN: "a+b&c@contoso.onmicrosoft.com"},
		{UPN: `back\slash"q@contoso.onmicrosoft.com`},
	}
	for _, format := range []string{"maester", "zta"} {
		f, _ := Lookup(format)
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := f.Export(&buf, list, nil); err != nil {
				t.Fatalf("export: %v", err)
			}
			im, err := f.Import("out", buf.Bytes())
			if err != nil {
				t.Fatalf("import: %v\n%s", err, buf.Bytes())
			}
			if want := carried(format, list, nil); !reflect.DeepEqual(im.Accounts, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v\n%s", im.Accounts, want, buf.Bytes())
			}
		})
	}
}
