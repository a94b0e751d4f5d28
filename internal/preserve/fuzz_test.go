package preserve

import (
	"context"
	"encoding/json"
	"testing"

	"breakglass/internal/entra"
)

// FuzzPulledRecord: whatever Graph returns as an item, naming it for
// dedupe and reading it as a sign-in never panic, and a record's Ref is
// never empty (an empty Ref would dedupe unrelated records together).
func FuzzPulledRecord(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","createdDateTime":"2026-01-01T00:00:00Z","userId":"u","status":{"errorCode":0}}`,
		`{"id":7}`, `{"id":""}`, `[]`, `null`, `{"createdDateTime":"not a time","userId":"u"}`,
		`{"id":"a","createdDateTime":"2026-01-01T00:00:00Z","userPrincipalName":"U@X.COM","status":{"errorCode":"0"}}`,
	} {
		f.Add([]byte(s))
	}
	acct := entra.Account{ID: "u", UPN: "u@x.com"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if ref := recordRef(json.RawMessage(b)); ref == "" {
			t.Fatalf("empty ref for %q", b)
		}
		if s, ok := pulledSignIn(b, acct); ok && (s == nil || s.Time.IsZero()) {
			t.Fatalf("sign-in without a time from %q", b)
		}
	})
}

// FuzzScanContext: hostile input to the context scan never panics, and
// what it returns always names an account and an event.
func FuzzScanContext(f *testing.F) {
	f.Add([]byte(mentionOnly))
	f.Add([]byte(concernCases[0].in))
	f.Add([]byte(`{"value":[{"id":"x","activityDateTime":"2026-01-01T00:00:00Z","targetResources":[{"id":"` + bg + `"`))
	accts := entra.NewAccountSet([]entra.Account{{ID: bg, UPN: bgUPN}})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, _ := ScanContext(context.Background(), accts, "fuzz", b)
		for _, r := range recs {
			if r.EventID == "" || (r.Account.ID == "" && r.Account.UPN == "") {
				t.Fatalf("context record %+v from %q", r, b)
			}
		}
	})
}
