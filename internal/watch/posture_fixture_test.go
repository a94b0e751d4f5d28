package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
	"breakglass/internal/posture"
)

// TestPostureDriftOnFixtures runs the real checks on the posture package's
// snapshot fixtures: a compliant tenant, then each broken one. Exactly the
// results that passed on the compliant tenant and fail or error on the
// broken one raise bg.posture (one per result); results now skipped raise
// posture/coverage; going back to compliant resolves every drift. A
// fixture that raises neither is a break the daemon would not report
// (pim-lockout-approver-deleted is a warn: serve stays silent by design).
func TestPostureDriftOnFixtures(t *testing.T) {
	dir := filepath.Join("..", "posture", "testdata", "snapshots")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	audit := func(name string) *posture.Report {
		s, err := collect.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tn, err := posture.FromSnapshot(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return posture.Run(tn, posture.Options{Now: now, DrillInterval: 90 * 24 * time.Hour, ConditionalAccessMode: posture.CAModeExcludeAll})
	}
	compliant := audit("compliant")
	// good holds each passing result by check and by every identifier of
	// its account: an account that stops resolving is reported by its
	// configured UPN alone, and is still the account that passed.
	good := map[string]bool{}
	wasGood := func(r posture.Result) bool {
		return r.AccountID == "" && r.AccountUPN == "" && good[r.Check+"\x00"] ||
			r.AccountID != "" && good[r.Check+"\x00"+r.AccountID] || r.AccountUPN != "" && good[r.Check+"\x00"+r.AccountUPN]
	}
	for _, r := range compliant.Results {
		if r.Status == posture.StatusPass {
			switch {
			case r.AccountID == "" && r.AccountUPN == "":
				good[r.Check+"\x00"] = true
			default:
				good[r.Check+"\x00"+r.AccountID] = r.AccountID != ""
				good[r.Check+"\x00"+r.AccountUPN] = r.AccountUPN != ""
			}
		}
	}
	// silent are fixtures whose break is a warn, which serve does not
	// alert on (warn keeps the last verdict).
	silent := map[string]bool{"pim-lockout-approver-deleted": true}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "compliant" {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			ctx := context.Background()
			fs := &fakeStore{}
			p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Conditions: NewMemConditions(), Route: To("t/webhook"), Now: func() time.Time { return now }})
			defer p.Close()
			if err := p.Posture().Observe(ctx, compliant); err != nil {
				t.Fatal(err)
			}
			broken := audit(e.Name())
			var want []string
			skipped := false
			for _, r := range broken.Results {
				if wasGood(r) && (r.Status == posture.StatusFail || r.Status == posture.StatusError) {
					want = append(want, r.Check+" for "+firstOf(r.AccountUPN, r.AccountID))
				}
				skipped = skipped || wasGood(r) && r.Status == posture.StatusSkip
			}
			if err := p.Posture().Observe(ctx, broken); err != nil {
				t.Fatal(err)
			}
			var got []string
			fs.mu.Lock()
			for _, a := range fs.alerts {
				if a.Rule == RulePosture {
					got = append(got, a.Labels[LabelCheck]+" for "+firstOf(a.AccountUPN, a.AccountID))
				}
			}
			fs.mu.Unlock()
			sort.Strings(want)
			sort.Strings(got)
			t.Logf("drift raised: %q", got)
			if !slices.Equal(got, want) {
				t.Errorf("bg.posture for %q, want %q", got, want)
			}
			if len(want) == 0 && !skipped && !silent[e.Name()] {
				t.Errorf("fixture %s breaks nothing that passed on the compliant tenant", e.Name())
			}
			if skipped && fs.count(RuleSource) != 1 {
				t.Errorf("results that passed are now skipped: %d bg.source, want 1 (posture/coverage)", fs.count(RuleSource))
			}
			if err := p.Posture().Observe(ctx, compliant); err != nil {
				t.Fatal(err)
			}
			if n := len(fs.resolved()); n < len(got) {
				t.Errorf("%d resolutions after the tenant is compliant again, want %d", n, len(got))
			}
		})
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
