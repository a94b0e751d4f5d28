package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/simulate"
)

// TestFastPathExact is the randomized proof that the fast path is exact: for
// random seeds and every shape, skipping records by prefilter finds exactly
// the alerts that decoding every record finds, and both match the
// simulator's ground truth.
func TestFastPathExact(t *testing.T) {
	count := 1500
	seeds := 2
	if testing.Short() {
		count, seeds = 1000, 1
	}
	rng := rand.New(rand.NewSource(42))
	for _, shape := range simulate.Shapes {
		for range seeds {
			seed := rng.Int63()
			t.Run(fmt.Sprintf("%s/seed=%d", shape, seed), func(t *testing.T) {
				accounts := simulate.DemoAccounts()
				var logs, truth bytes.Buffer
				_, err := simulate.Generate(context.Background(), &logs, simulate.Options{
					Seed: seed, Count: count, Shape: shape, BGShare: 0.02, Accounts: accounts,
				}, &truth)
				if err != nil {
					t.Fatal(err)
				}
				fast := alertsOf(t, logs.Bytes(), accounts, false)
				full := alertsOf(t, logs.Bytes(), accounts, true)
				if !maps.Equal(fast, full) {
					t.Fatalf("fast path and full decode differ:\nfast %v\nfull %v", keys(fast), keys(full))
				}
				want := map[string]bool{}
				dec := json.NewDecoder(&truth)
				for dec.More() {
					var tr simulate.Truth
					if err := dec.Decode(&tr); err != nil {
						t.Fatal(err)
					}
					for _, r := range tr.Rules {
						want[r+" "+tr.EventID] = true
					}
				}
				if len(want) == 0 {
					t.Fatal("no break-glass events generated")
				}
				if !maps.Equal(fast, want) {
					t.Errorf("alerts differ from ground truth:\nmissing %v\nextra %v", diff(want, fast), diff(fast, want))
				}
			})
		}
	}
}

func alertsOf(t *testing.T, in []byte, accounts []entra.Account, exhaustive bool) map[string]bool {
	t.Helper()
	s := New(Options{Accounts: entra.NewAccountSet(accounts), Exhaustive: exhaustive})
	var st Stats
	got := map[string]bool{}
	err := s.Scan(context.Background(), "sim", bytes.NewReader(in), &st, func(fd Finding) error {
		got[fd.Alert.Rule+" "+fd.Alert.EventID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.TotalSkipped() - st.Skipped["other_category"]; n != 0 {
		t.Errorf("exhaustive=%v: %d records skipped on well-formed input: %v", exhaustive, n, st.Skipped)
	}
	return got
}

func keys(m map[string]bool) string { return strings.Join(slices.Sorted(maps.Keys(m)), ", ") }

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
