package logs

import (
	"fmt"
	"testing"
	"time"
)

// TestPrefilterManyNeedles: a break-glass group that holds a whole
// department gives 200k needles (an id and a UPN per member). Building the
// prefilter is on the path that swaps in a new list, and at serve's start;
// it must take seconds, not hours (the duplicate check was quadratic).
func TestPrefilterManyNeedles(t *testing.T) {
	const n = 100_000
	needles := make([]string, 0, 2*n+1)
	for i := range n {
		needles = append(needles, fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("BG%d@contoso.onmicrosoft.com", i))
	}
	needles = append(needles, needles[1]) // a duplicate, in other case
	done := make(chan *Prefilter)
	go func() { done <- NewPrefilter(needles) }()
	select {
	case p := <-done:
		if got := len(p.Needles()); got != 2*n {
			t.Errorf("%d needles, want %d (duplicates folded)", got, 2*n)
		}
		rec := []byte(`{"userPrincipalName":"bg4242@contoso.onmicrosoft.com"}`)
		if !p.Match(rec) {
			t.Error("a member's UPN is not found")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("building a prefilter of 200k needles took over 20s")
	}
}
