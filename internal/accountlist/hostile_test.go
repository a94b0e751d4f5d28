package accountlist

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestScubaGearAliasAmplification: YAML aliases let a 1 MB file name one
// anchored exclusion list from tens of thousands of policies. import must
// answer (an import or an error naming the place) within seconds, not
// walk every alias expansion with a per-id scan of every list.
func TestScubaGearAliasAmplification(t *testing.T) {
	for _, tc := range []struct {
		ids, policies int
		wantErr       bool
	}{
		{5000, 20000, true}, // 100M entries once expanded
		{50, 1000, false},   // one shared list in many policies: fine, and fast
	} {
		t.Run(fmt.Sprintf("%dx%d", tc.ids, tc.policies), func(t *testing.T) { scubaAliases(t, tc.ids, tc.policies, tc.wantErr) })
	}
}

func scubaAliases(t *testing.T, ids, policies int, wantErr bool) {
	var b strings.Builder
	b.WriteString("Aad:\n  MS.AAD.1.1v1: &p\n    CapExclusions:\n      Users:\n")
	for i := range ids {
		fmt.Fprintf(&b, "        - 00000000-0000-4000-8000-%012d\n", i+1)
	}
	for i := range policies {
		fmt.Fprintf(&b, "  MS.AAD.%d.%dv1: *p\n", 100+i/100, i%100)
	}
	data := []byte(b.String())
	t.Logf("file of %d bytes", len(data))
	type result struct {
		im  *Imported
		err error
	}
	done := make(chan result, 1)
	go func() {
		im, err := importScubaGear("scuba.yaml", data)
		done <- result{im, err}
	}()
	select {
	case r := <-done:
		switch {
		case wantErr && r.err == nil:
			t.Fatalf("imported %d accounts, want an error", len(r.im.Accounts))
		case wantErr:
			if msg := r.err.Error(); !strings.HasPrefix(msg, "scuba.yaml:") || !strings.Contains(msg, "aliases") || len(msg) > 4096 {
				t.Errorf("error %.300q: want one, naming the file, line and aliases", msg)
			}
		case r.err != nil:
			t.Fatal(r.err)
		case len(r.im.Accounts) != ids:
			t.Errorf("%d accounts, want %d", len(r.im.Accounts), ids)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("importing a 1 MB ScubaGear file with aliases took over 10s")
	}
}
