package watch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

func acct(n int) entra.Account {
	return entra.Account{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), UPN: fmt.Sprintf("bg%d@contoso.onmicrosoft.com", n)}
}

func signInOf(a entra.Account, id string) string {
	return `{"time":"2026-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"` + id +
		`","createdDateTime":"2026-06-20T07:00:00Z","userId":"` + a.ID + `","userPrincipalName":"` + a.UPN + `","status":{"errorCode":0}}}` + "\n"
}

// TestSetAccountsSwapsUnderLoad swaps the list while sources ingest
// concurrently (run it with -race): every record of an account that was
// on the list for the whole scan alerts, a record of an account added
// alerts once the swap is done, and one removed stops alerting.
func TestSetAccountsSwapsUnderLoad(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx := context.Background()
	fs := &fakeStore{}
	always, added, removed := acct(1), acct(2), acct(3)
	p := New(Options{Accounts: entra.NewAccountSet([]entra.Account{always, removed}), Store: fs, Route: To("t/console")})
	defer p.Close()

	var wg sync.WaitGroup
	var stop atomic.Bool
	var sent atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				// Sometimes a large input, so the worker pool (not only the
				// inline path) is in use across the swaps.
				var b strings.Builder
				n := 1
				if i%7 == 0 {
					n = 3000
				}
				for j := range n {
					b.WriteString(signInOf(always, fmt.Sprintf("w%d-%d-%d", w, i, j)))
				}
				if _, err := p.Ingest(ctx, "src", "in", strings.NewReader(b.String())); err != nil {
					t.Error(err)
					return
				}
				sent.Add(int64(n))
			}
		})
	}
	for range 20 {
		time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
		if rng.IntN(2) == 0 {
			p.SetAccounts([]entra.Account{always, removed})
		} else {
			p.SetAccounts([]entra.Account{always, added})
		}
	}
	p.SetAccounts([]entra.Account{always, added})
	stop.Store(true)
	wg.Wait()
	if got := int64(fs.count("bg.signin")); got != sent.Load() {
		t.Fatalf("%d sign-in alerts for %d sign-ins of an account on every list", got, sent.Load())
	}

	before := fs.count("bg.signin")
	if _, err := p.Ingest(ctx, "src", "in", strings.NewReader(signInOf(added, "a1")+signInOf(removed, "r1"))); err != nil {
		t.Fatal(err)
	}
	if got := fs.count("bg.signin") - before; got != 1 {
		t.Fatalf("%d alerts after the swap, want 1 (the added account only)", got)
	}
	fs.mu.Lock()
	for _, a := range fs.alerts {
		if a.AccountID == removed.ID && strings.Contains(a.EventID, "r1") {
			t.Errorf("removed account alerted: %+v", a)
		}
	}
	fs.mu.Unlock()
	if p.Accounts().Accounts()[1] != added {
		t.Errorf("Accounts() = %v", p.Accounts().Accounts())
	}
}

// TestSetAccountsGroupID: a group on the list (membership adds its id)
// makes a record naming the group alert: a member added to the
// break-glass group is an audit event with the group as a target.
func TestSetAccountsGroupID(t *testing.T) {
	ctx := context.Background()
	fs := &fakeStore{}
	p := New(Options{Accounts: entra.NewAccountSet(nil), Store: fs, Route: To("t/console")})
	defer p.Close()
	const gid = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0"
	p.SetAccounts([]entra.Account{{ID: gid, Name: "break-glass group BG"}})
	rec := `{"time":"2026-06-20T07:00:00Z","category":"AuditLogs","operationName":"Add member to group","properties":{"id":"aud-1","activityDateTime":"2026-06-20T07:00:00Z","activityDisplayName":"Add member to group","category":"GroupManagement","result":"success","initiatedBy":{"user":{"id":"11111111-2222-4333-8444-555555555555","userPrincipalName":"admin@contoso.com"}},"targetResources":[{"id":"99999999-2222-4333-8444-555555555555","type":"User","userPrincipalName":"new@contoso.com"},{"id":"` + gid + `","type":"Group","displayName":"BG"}]}}` + "\n"
	if _, err := p.Ingest(ctx, "src", "in", strings.NewReader(rec)); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.alerts) == 0 {
		t.Fatal("a record naming the break-glass group raised nothing")
	}
	found := false
	for _, a := range fs.alerts {
		t.Logf("%s %s %s", a.Rule, a.Labels[alert.LabelAccount], a.Title)
		found = found || a.Rule == "bg.change" && a.Labels[alert.LabelAccount] == gid
	}
	if !found {
		t.Error("no bg.change naming the group")
	}
}
