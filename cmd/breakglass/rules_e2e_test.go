package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

// seedRules are the three sample queries of Microsoft's emergency-access
// recipe, pasted verbatim (comments included) as rules.
const seedRules = `rules:
  - name: seed-single-id
    query: |
      // Search for a single Object ID (UserID)
      SigninLogs
      | project UserId
      | where UserId == "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
  - name: seed-multiple-ids
    query: |
      // Search for multiple Object IDs (UserIds)
      SigninLogs
      | project UserId
      | where UserId == "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" or UserId == "11bb11bb-cc22-dd33-ee44-55ff55ff55ff"
  - name: seed-upn
    query: |
      // Search for a single UserPrincipalName
      SigninLogs
      | project UserPrincipalName
      | where UserPrincipalName == "user@yourdomain.onmicrosoft.com"
`

// TestServeSeedRulesEndToEnd: serve with the seed's three queries as
// rules; a break-glass sign-in appended to a followed file reaches the
// webhook through each KQL rule (as well as the built-in) within a second,
// once each; another account's sign-in fires none of them.
func TestServeSeedRulesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	accounts := []entra.Account{
		{ID: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", UPN: "user@yourdomain.onmicrosoft.com"},
		{ID: "11bb11bb-cc22-dd33-ee44-55ff55ff55ff", UPN: "second@yourdomain.onmicrosoft.com"},
	}
	rcv := newReceiver(t)
	d := newDaemon(t, rcv.srv.URL+"/hook", accounts, seedRules)
	cmd := d.start(t)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	if !d.waitReady(t, 15*time.Second) {
		t.Fatal("daemon not ready")
	}
	f, err := os.OpenFile(filepath.Join(d.dir, "logs", "PT1H.json"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	signIn := func(id, user, upn string) string {
		return fmt.Sprintf(`{"time":"2026-03-01T10:00:00Z","resourceId":"/tenants/t/providers/Microsoft.aadiam","operationName":"Sign-in activity","category":"SignInLogs","properties":{"id":%q,"createdDateTime":"2026-03-01T10:00:00Z","userId":%q,"userPrincipalName":%q,"appDisplayName":"Azure Portal","ipAddress":"203.0.113.9","status":{"errorCode":0}}}`+"\n", id, user, upn)
	}
	// Another account first: it must fire no KQL rule.
	if _, err := f.WriteString(signIn("e2e-other", "99999999-0000-4000-8000-000000000000", "someone@contoso.com")); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	if _, err := f.WriteString(signIn("e2e-bg-1", accounts[0].ID, accounts[0].UPN)); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, r := range []string{"kql.seed-single-id", "kql.seed-multiple-ids", "kql.seed-upn", "bg.signin"} {
		want[alert.Key("e2e-bg-1", r)] = true
	}
	for time.Since(written) < 5*time.Second && rcv.count(want) < len(want) {
		time.Sleep(10 * time.Millisecond)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for id := range want {
		first, ok := rcv.first[id]
		switch {
		case !ok:
			t.Errorf("alert %s never reached the webhook (seen: %v)", id, rcv.seen)
		case first.Sub(written) > time.Second:
			t.Errorf("alert %s took %v, want under a second", id, first.Sub(written))
		case rcv.seen[id] != 1:
			t.Errorf("alert %s delivered %d times", id, rcv.seen[id])
		}
	}
	for _, r := range []string{"kql.seed-single-id", "kql.seed-multiple-ids", "kql.seed-upn"} {
		if rcv.seen[alert.Key("e2e-other", r)] > 0 {
			t.Errorf("%s fired on another account's sign-in", r)
		}
	}
	if len(rcv.seen) != len(want) {
		var ids []string
		for id := range rcv.seen {
			ids = append(ids, id)
		}
		t.Errorf("%d alerts delivered, want %d: %s", len(rcv.seen), len(want), strings.Join(ids, " "))
	}
}
