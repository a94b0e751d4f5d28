package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// TestScanCategories runs the new categories' fixtures (see
// internal/logs/testdata/categories/SOURCES.md) through the whole scanner,
// with and without the prefilter: what decoding matches, the fast path must
// not skip. A record that names no one where its schema says who it
// concerns, but mentions an account, fails closed (bg.unparsed).
func TestScanCategories(t *testing.T) {
	accts := entra.NewAccountSet([]entra.Account{
		{ID: "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b", UPN: "bg-admin1@contoso.onmicrosoft.com"},
		{UPN: "bg-upn-only@contoso.onmicrosoft.com"},
	})
	cases := map[string][]string{
		"graphactivity-eventhub.json":          {"bg.graph_activity"},
		"graphactivity-la.json":                {"bg.graph_activity"},
		"riskevents-pt1h.json":                 {"bg.risk"},
		"riskevents-la.ndjson":                 {"bg.risk"},
		"riskdetections-graph.json":            {"bg.risk"},
		"riskyusers-pt1h.json":                 {"bg.risk"},
		"riskyusers-graph.json":                {"bg.risk"},
		"riskyusers-la.json":                   {"bg.risk"},
		"provisioning-pt1h.json":               {"bg.provisioning"},
		"provisioning-graph.json":              {"bg.provisioning"},
		"provisioning-la.json":                 {"bg.provisioning"},
		"adfs-pt1h.json":                       {"bg.signin"},
		"adfs-la.json":                         {"bg.signin"},
		"legacy-audit-eventhub.json":           {"bg.activity", "bg.change", "bg.change"},
		"thirdparty-category.json":             {"bg.activity", "bg.change"},
		"portal-signins.csv":                   {"bg.signin", "bg.signin"},
		"portal-signins.json":                  {"bg.signin"},
		"portal-audit.csv":                     {"bg.activity", "bg.change"},
		"portal-audit.json":                    {"bg.change"},
		"inline:provisioning-without-identity": {"bg.unparsed"},
	}
	inline := map[string]string{
		"inline:provisioning-without-identity": `{"time":"2026-07-18T06:30:12Z","category":"ProvisioningLogs","properties":{"id":"p9","activityDateTime":"2026-07-18T06:30:12Z","note":"4F1C2B3A-5D6E-4F70-8A9B-0C1D2E3F4A5B"}}` + "\n",
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range cases {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, exhaustive := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/exhaustive=%v", name, exhaustive), func(t *testing.T) {
				var in *strings.Reader
				if s, ok := inline[name]; ok {
					in = strings.NewReader(s)
				} else {
					b, err := os.ReadFile(filepath.Join("..", "logs", "testdata", "categories", name))
					if err != nil {
						t.Fatal(err)
					}
					in = strings.NewReader(string(b))
				}
				s := New(Options{Accounts: accts, Exhaustive: exhaustive})
				var st Stats
				var got []string
				if err := s.Scan(context.Background(), name, in, &st, func(fd Finding) error {
					got = append(got, fd.Alert.Rule)
					if len(fd.Raw) == 0 {
						t.Errorf("%s: no raw record kept", fd.Alert.Rule)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if want := cases[name]; !slices.Equal(got, want) {
					t.Errorf("alerts %q, want %q (stats %+v)", got, want, st)
				}
			})
		}
	}
}
