package scan

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

const (
	bg1  = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	bg2  = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
	upn3 = "emergency@contoso.onmicrosoft.com"
)

func testAccounts() *entra.AccountSet {
	return entra.NewAccountSet([]entra.Account{
		{ID: bg1, UPN: "bg-admin1@contoso.onmicrosoft.com", Name: "Break glass 1"},
		{ID: strings.ToUpper(bg2), UPN: "BG-Admin2@contoso.onmicrosoft.com"},
		{UPN: upn3, Name: "UPN only"},
		// Accounts that appear in the real samples.
		{ID: "26be570a-1111-5555-b4e2-a37c6808512d"},
		{ID: "aead923d-498b-4f64-a66c-2af91447a8b6"},
		{UPN: "bob@contoso.com"},
	})
}

type want struct {
	records map[string]int64
	skipped map[string]int64
	alerts  []string // "rule event-id account" sorted
}

func TestScanShapes(t *testing.T) {
	A, N, SP, MI, AU := entra.CategorySignIn, entra.CategoryNonInteractive, entra.CategoryServicePrincipal, entra.CategoryManagedIdentity, entra.CategoryAudit
	diag := want{
		// ProvisioningLogs is decoded since spine v2 (bg.provisioning).
		records: map[string]int64{A: 2, N: 1, SP: 1, MI: 1, AU: 1, "ProvisioningLogs": 1},
		alerts: []string{
			"bg.change Directory_bbbb0001-0000-4000-8000-000000000001_XYZAB_1 " + bg1,
			"bg.signin 22222222-0000-4000-8000-000000000001 " + bg1,
			"bg.signin 22222222-0000-4000-8000-000000000002 " + strings.ToUpper(bg2),
			"bg.provisioning prov-1 " + bg1, // ProvisioningLogs is decoded (spine-cats)
		},
	}
	cases := map[string]want{
		"graph-signin-single.json": {records: map[string]int64{A: 1}, alerts: []string{"bg.signin 11111111-0000-4000-8000-000000000001 " + bg1}},
		"graph-signin-beta-page.json": {records: map[string]int64{A: 2, N: 1, SP: 1}, alerts: []string{
			"bg.signin 11111111-0000-4000-8000-000000000003 " + strings.ToUpper(bg2),
			"bg.signin 11111111-0000-4000-8000-000000000005 " + upn3,
		}},
		"graph-audit-page.json": {records: map[string]int64{AU: 5}, alerts: []string{
			"bg.activity Directory_aaaa0001-0000-4000-8000-000000000001_ABCDE_1 " + bg1,
			"bg.activity Directory_aaaa0005-0000-4000-8000-000000000005_ABCDE_5 " + bg1,
			"bg.change Directory_aaaa0002-0000-4000-8000-000000000002_ABCDE_2 " + strings.ToUpper(bg2),
			"bg.change Directory_aaaa0003-0000-4000-8000-000000000003_ABCDE_3 " + upn3,
			"bg.change Directory_aaaa0005-0000-4000-8000-000000000005_ABCDE_5 " + bg1,
		}},
		"eventhub.json":            diag,
		"PT1H.json":                diag,
		"PT1H.json.gz":             diag,
		"la-signinlogs.json":       {records: map[string]int64{A: 2}, alerts: []string{"bg.signin 33333333-0000-4000-8000-000000000001 " + bg1}},
		"la-noninteractive.ndjson": {records: map[string]int64{N: 2}, alerts: []string{"bg.signin 33333333-0000-4000-8000-000000000003 " + strings.ToUpper(bg2)}},
		"la-auditlogs.csv": {records: map[string]int64{AU: 3}, alerts: []string{
			"bg.activity Directory_cccc0002-0000-4000-8000-000000000002_QWERT_2 " + strings.ToUpper(bg2),
			"bg.change Directory_cccc0001-0000-4000-8000-000000000001_QWERT_1 " + bg1,
		}},
		"mixed.ndjson": {records: map[string]int64{A: 3, AU: 1}, alerts: []string{
			"bg.change Directory_dddd0001-0000-4000-8000-000000000001_MIXED_1 " + strings.ToUpper(bg2),
			"bg.signin 44444444-0000-4000-8000-000000000001 " + bg1,
			"bg.signin 44444444-0000-4000-8000-000000000001 " + bg1, // same record in two shapes: same alert id
		}},
		"bad-mixed.ndjson": {
			// Lines 3 (userId an object, UPN intact) and 5 (no usable
			// time) are read leniently and alert (fail closed); line 2,
			// torn mid-record, names bg1 and so raises bg.unparsed.
			records: map[string]int64{A: 4},
			skipped: map[string]int64{"invalid_json": 2, "not_an_object": 3, "truncated": 1},
			alerts: []string{
				"bg.signin 55555555-0000-4000-8000-000000000001 " + bg1,
				"bg.signin 55555555-0000-4000-8000-000000000002 " + bg1,
				"bg.signin 55555555-0000-4000-8000-000000000003 " + strings.ToUpper(bg2),
				"bg.signin 55555555-0000-4000-8000-000000000004 " + strings.ToUpper(bg2),
				"bg.unparsed sha256:0fe4543b6d26db586a6c433d8e569c857297fbc3d0fce0b1866be9957be2b104 " + bg1,
			},
		},
		"empty.json": {},
		"real/beta-signin-list.example1.response.json": {records: map[string]int64{A: 1},
			alerts: []string{"bg.signin 1691d37b-8579-43a7-966a-0f35583c1300 26be570a-1111-5555-b4e2-a37c6808512d"}},
		"real/v1.0-signin-list.example1.response.json":         {skipped: map[string]int64{"invalid_json": 1}},
		"real/v1.0-directoryaudit-list.example1.response.json": {records: map[string]int64{AU: 1}, alerts: []string{"bg.change id bob@contoso.com"}},
		"real/v1.0-directoryaudit-list.example2.response.json": {records: map[string]int64{AU: 1}},
		"real/otrf-AADAuditEvents.json": {records: map[string]int64{AU: 4}, alerts: []string{
			"bg.activity Directory_630d7f0c-acc4-4596-85ab-7e5d839b4291_9VRQI_37762000 aead923d-498b-4f64-a66c-2af91447a8b6",
			"bg.activity Directory_ae69aa7a-e9b7-4066-84f2-58582994d8cb_7H1JL_8584070 aead923d-498b-4f64-a66c-2af91447a8b6",
			"bg.activity Directory_10065ffb-8199-48bc-8ff5-912cb5b8295a_AUMVX_13992832 aead923d-498b-4f64-a66c-2af91447a8b6",
			"bg.activity Directory_10065ffb-8199-48bc-8ff5-912cb5b8295a_AUMVX_13992832 aead923d-498b-4f64-a66c-2af91447a8b6",
		}},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		w := cases[name]
		for _, exhaustive := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/exhaustive=%v", name, exhaustive), func(t *testing.T) {
				path := filepath.Join("..", "logs", "testdata", name)
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var problems []string
				s := New(Options{Accounts: testAccounts(), Exhaustive: exhaustive, Problem: func(p Problem) { problems = append(problems, p.String()) }})
				var st Stats
				var got []string
				err = s.Scan(context.Background(), name, f, &st, func(fd Finding) error {
					acct := fd.Alert.AccountID
					if acct == "" {
						acct = fd.Alert.AccountUPN
					}
					got = append(got, fd.Alert.Rule+" "+fd.Alert.EventID+" "+acct)
					if fd.Alert.EventTime.IsZero() || fd.Alert.Source == "" || fd.Alert.Category == "" || len(fd.Raw) == 0 {
						t.Errorf("incomplete alert %+v", fd.Alert)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("Scan: %v", err)
				}
				slices.Sort(got)
				w.alerts = slices.Sorted(slices.Values(w.alerts))
				if !slices.Equal(got, w.alerts) {
					t.Errorf("alerts:\n got %q\nwant %q", got, w.alerts)
				}
				if !maps.Equal(nonZero(st.Records), nonZero(w.records)) {
					t.Errorf("records = %v, want %v", st.Records, w.records)
				}
				if !maps.Equal(nonZero(st.Skipped), nonZero(w.skipped)) {
					t.Errorf("skipped = %v, want %v\nproblems:\n%s", st.Skipped, w.skipped, strings.Join(problems, "\n"))
				}
			})
		}
	}
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
