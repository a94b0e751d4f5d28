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

// TestImportLargeJSON: a maester-config.json of 100k entries (a few MB,
// minified on one line or indented), valid or every entry wrong, is read
// within seconds. Each position used to be found by counting lines from
// the start of the file: quadratic, a 14 MB file ran for over ten
// minutes. The problems printed are bounded too.
func TestImportLargeJSON(t *testing.T) {
	const n = 100_000
	for _, tc := range []struct {
		name    string
		entry   func(i int) string
		sep     string
		wantErr bool
	}{
		{"valid, one line", func(i int) string {
			return fmt.Sprintf(`{"Id":"00000000-0000-4000-8000-%012d","Type":"User"}`, i+1)
		}, ",", false},
		{"invalid, indented", func(int) string { return `{"Id": "x", "Type": "User"}` }, ",\n      ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(`{"GlobalSettings":{"EmergencyAccessAccounts":[`)
			for i := range n {
				if i > 0 {
					b.WriteString(tc.sep)
				}
				b.WriteString(tc.entry(i))
			}
			b.WriteString("]}}\n")
			data := []byte(b.String())
			type result struct {
				im  *Imported
				err error
			}
			done := make(chan result, 1)
			go func() {
				f, _ := Lookup("maester")
				im, err := f.Import("maester-config.json", data)
				done <- result{im, err}
			}()
			select {
			case r := <-done:
				switch {
				case tc.wantErr && r.err == nil:
					t.Fatal("no error")
				case tc.wantErr:
					msg := r.err.Error()
					if !strings.HasPrefix(msg, "maester-config.json:1:") || len(msg) > 64<<10 {
						t.Errorf("error of %d bytes, starting %.200q: want the first problems at their line, and a bounded text", len(msg), msg)
					}
				case r.err != nil:
					t.Fatalf("%.500v", r.err)
				case len(r.im.Accounts) != n:
					t.Errorf("%d accounts, want %d", len(r.im.Accounts), n)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("importing %d bytes took over 15s", len(data))
			}
		})
	}
}
