package membership

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/watch"
)

const groupID = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0"

func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func user(n int) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.user", "id": uid(n), "userPrincipalName": fmt.Sprintf("bg%d@contoso.onmicrosoft.com", n)}
}

// health records Failing and Recovered calls.
type health struct {
	mu      sync.Mutex
	failing map[string]string // key → last error
	calls   []string
}

func (h *health) Failing(_ context.Context, source, key string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing == nil {
		h.failing = map[string]string{}
	}
	h.failing[source+"/"+key] = err.Error()
	h.calls = append(h.calls, "failing "+source+"/"+key)
}

func (h *health) Recovered(_ context.Context, source, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.failing, source+"/"+key)
	h.calls = append(h.calls, "recovered "+source+"/"+key)
}

func (h *health) open(k string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.failing[k]
	return e, ok
}

func client(t *testing.T, s *graphtest.Server) graph.Lister {
	t.Helper()
	c, err := graph.New(graph.Options{BaseURL: s.URL, Tokens: graph.StaticToken("t"), MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type applied struct {
	mu   sync.Mutex
	last []entra.Account
	n    int
}

func (a *applied) apply(l []entra.Account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last, a.n = l, a.n+1
}

func (a *applied) set() *entra.AccountSet {
	a.mu.Lock()
	defer a.mu.Unlock()
	return entra.NewAccountSet(a.last)
}

var membersPath = "/v1.0" + Path(groupID)

// TestExpand reads transitive user members over pages, skips items it
// cannot match, and calls an empty group an error.
func TestExpand(t *testing.T) {
	tests := []struct {
		name    string
		items   []any
		want    []string
		wantErr error
	}{
		{"two pages", []any{user(1), user(2), user(3)}, []string{uid(1), uid(2), uid(3)}, nil},
		{"duplicates and junk skipped", []any{user(1), user(1), map[string]any{"id": "not-a-guid"}, "a string", user(2)}, []string{uid(1), uid(2)}, nil},
		{"empty group", nil, nil, ErrNoMembers},
		{"only junk", []any{map[string]any{"displayName": "x"}}, nil, ErrNoMembers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := graphtest.New(t)
			s.Collection(membersPath, tt.items, 2)
			got, err := Expand(context.Background(), client(t, s), groupID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("members %v, want %v", ids, tt.want)
			}
			for _, r := range s.Requests() {
				q, _ := url.ParseQuery(r.RawQuery)
				if q.Get("$select") != "id,userPrincipalName" {
					t.Errorf("request %s?%s does not select only id,userPrincipalName", r.Path, r.RawQuery)
				}
			}
		})
	}
}

// TestWatcherFailClosed: a group read once, then refused, keeps its
// members watched and raises bg.source naming the group and the error; a
// restart during the outage still watches them (persisted); the group id
// is always on the list; recovery resolves and applies the new members.
func TestWatcherFailClosed(t *testing.T) {
	ctx := context.Background()
	s := graphtest.New(t)
	s.Collection(membersPath, []any{user(1), user(2)}, 0)
	state := watch.NewMemConditions()
	h := &health{}
	var ap applied
	direct := entra.Account{ID: uid(9), UPN: "bg9@contoso.onmicrosoft.com"}
	newWatcher := func() *Watcher {
		return New(Options{Users: []entra.Account{direct}, Groups: []Group{{ID: groupID, Name: "BG"}},
			Graph: client(t, s), State: state, Health: h, Apply: ap.apply})
	}
	w := newWatcher()
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	set := ap.set()
	if _, ok := set.Match(uid(1), ""); ok {
		t.Fatal("member matched before any read")
	}
	if _, ok := set.MatchAny(groupID); !ok {
		t.Fatal("group id not on the list before the first read")
	}
	w.Refresh(ctx)
	set = ap.set()
	for _, id := range []string{uid(1), uid(2), uid(9), groupID} {
		if _, ok := set.MatchAny(id); !ok {
			t.Errorf("%s not watched after the first read", id)
		}
	}
	if a, ok := set.Match("", "BG2@contoso.onmicrosoft.com"); !ok || a.ID != uid(2) {
		t.Errorf("member not matched by UPN: %+v %v", a, ok)
	}

	// Graph refuses: members stay, bg.source opens naming group and error.
	s.Fail(membersPath, 403, 100, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	w.Refresh(ctx)
	msg, open := h.open(Source + "/" + groupID)
	if !open {
		t.Fatalf("no bg.source for the group; calls %v", h.calls)
	}
	t.Logf("bg.source error: %s", msg)
	for _, want := range []string{groupID, "403", "2 members last read stay watched"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q: %s", want, msg)
		}
	}
	for _, id := range []string{uid(1), uid(2)} {
		if _, ok := ap.set().MatchAny(id); !ok {
			t.Errorf("%s dropped while Graph fails", id)
		}
	}

	// Restart during the outage: the persisted members are applied by Load.
	ap = applied{}
	w2 := newWatcher()
	if err := w2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	w2.Refresh(ctx)
	for _, id := range []string{uid(1), uid(2), groupID} {
		if _, ok := ap.set().MatchAny(id); !ok {
			t.Errorf("%s not watched after a restart during the outage", id)
		}
	}

	// Graph works again with a changed membership.
	s2 := graphtest.New(t)
	s2.Collection(membersPath, []any{user(2), user(3)}, 0)
	w2.o.Graph = client(t, s2)
	w2.Refresh(ctx)
	if _, open := h.open(Source + "/" + groupID); open {
		t.Error("bg.source still open after the group was read")
	}
	set = ap.set()
	if _, ok := set.MatchAny(uid(3)); !ok {
		t.Error("new member not watched")
	}
	if _, ok := set.MatchAny(uid(1)); ok {
		t.Error("removed member still watched after a successful read")
	}
}

// TestWatcherEmptyGroupKeepsMembers: a group emptied (by mistake or by an
// attacker) is a failure, never a reason to stop watching its accounts.
func TestWatcherEmptyGroupKeepsMembers(t *testing.T) {
	ctx := context.Background()
	s := graphtest.New(t)
	s.Collection(membersPath, []any{user(1)}, 0)
	h := &health{}
	var ap applied
	w := New(Options{Groups: []Group{{ID: groupID}}, Graph: client(t, s), State: watch.NewMemConditions(), Health: h, Apply: ap.apply})
	w.Refresh(ctx)
	s.Collection(membersPath, nil, 0)
	w.Refresh(ctx)
	if msg, open := h.open(Source + "/" + groupID); !open || !strings.Contains(msg, "no user members") {
		t.Errorf("empty group: bg.source %v %q", open, msg)
	}
	if _, ok := ap.set().MatchAny(uid(1)); !ok {
		t.Error("member dropped when the group came back empty")
	}
}

// TestWatcherNeverRead: a group never read (Graph down from the first
// start) is still watched by its id, and says so.
func TestWatcherNeverRead(t *testing.T) {
	ctx := context.Background()
	s := graphtest.New(t)
	s.Fail(membersPath, 503, 100, "0", nil)
	h := &health{}
	var ap applied
	w := New(Options{Groups: []Group{{ID: groupID}}, Graph: client(t, s), State: watch.NewMemConditions(), Health: h, Apply: ap.apply})
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	w.Refresh(ctx)
	if msg, open := h.open(Source + "/" + groupID); !open || !strings.Contains(msg, "0 members last read") {
		t.Errorf("bg.source %v %q", open, msg)
	}
	if _, ok := ap.set().MatchAny(groupID); !ok {
		t.Error("group id not watched")
	}
}

// bigLister serves a group of n users (offset by shift) in pages of 999,
// as Graph does, without the HTTP cost.
type bigLister struct {
	mu       sync.Mutex
	n, shift int
}

func (b *bigLister) Get(context.Context, graph.Version, string, graph.Query, any) error {
	return errors.New("not used")
}

func (b *bigLister) List(_ context.Context, _ graph.Version, _ string, _ graph.Query, fn func([]json.RawMessage) error) error {
	b.mu.Lock()
	n, shift := b.n, b.shift
	b.mu.Unlock()
	var page []json.RawMessage
	for i := range n {
		page = append(page, json.RawMessage(fmt.Sprintf(`{"id":%q,"userPrincipalName":"bg%d@contoso.onmicrosoft.com"}`, uid(i+shift), i+shift)))
		if len(page) == 999 || i == n-1 {
			if err := fn(page); err != nil {
				return err
			}
			page = nil
		}
	}
	return nil
}

// TestHugeGroup: a group of 100k users (someone pointed accounts: at "All
// employees") is read, diffed against the last read, persisted and loaded
// again within seconds: the refresh loop and serve's start must not stall
// for hours on quadratic work while the real break-glass accounts wait.
func TestHugeGroup(t *testing.T) {
	const n = 100_000
	bl := &bigLister{n: n}
	state := watch.NewMemConditions()
	h := &health{}
	ap := &applied{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		w := New(Options{Groups: []Group{{ID: groupID}}, Graph: bl, State: state, Health: h, Apply: ap.apply})
		w.Refresh(ctx)
		bl.mu.Lock()
		bl.shift = n / 2 // half the members replaced
		bl.mu.Unlock()
		w.Refresh(ctx)
		w2 := New(Options{Groups: []Group{{ID: groupID}}, Graph: bl, State: state, Health: h, Apply: ap.apply})
		if err := w2.Load(ctx); err != nil {
			t.Error(err)
		}
		if got := len(w2.Accounts()); got != n+1 {
			t.Errorf("loaded %d accounts, want %d members and the group id", got, n+1)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("refreshing and loading a 100k-member group took over 20s")
	}
}

// TestListMemberCompletesUserEntry: a user configured by UPN alone who is
// also a member of a configured group. The group read knows the object id;
// dropping the member as a duplicate lost it, so a record naming the user
// by id with another UPN (the rename of the account, as the audit log
// writes it) was not matched. A member holding a configured UPN under
// another id (the UPN was reused) was dropped, and never matched.
func TestListMemberCompletesUserEntry(t *testing.T) {
	users := []entra.Account{{UPN: "BG1@contoso.onmicrosoft.com", Name: "first"}, {ID: uid(2)}, {ID: uid(4), UPN: "bg4@contoso.onmicrosoft.com", Name: "stale"}}
	groups := []Group{{ID: groupID}}
	members := map[string][]Member{groupID: {
		{ID: uid(1), UPN: "bg1@contoso.onmicrosoft.com"},
		{ID: uid(2), UPN: "bg2@contoso.onmicrosoft.com"},
		{ID: uid(3), UPN: "bg3@contoso.onmicrosoft.com"},
		{ID: uid(5), UPN: "bg4@contoso.onmicrosoft.com"}, // bg4 renamed, its UPN reused by a new member
	}}
	set := entra.NewAccountSet(List(users, groups, members))
	for _, tc := range []struct {
		id, upn string
		want    string // Name or UPN of the account matched; "" for none
	}{
		{uid(1), "renamed@contoso.onmicrosoft.com", "first"},
		{"", "bg1@contoso.onmicrosoft.com", "first"},
		{uid(2), "", uid(2)},
		{"", "bg2@contoso.onmicrosoft.com", uid(2)},
		{uid(3), "", "bg3@contoso.onmicrosoft.com"},
		{uid(9), "bg1@contoso.onmicrosoft.com", ""}, // another object holding the UPN: the id decides
		{uid(5), "bg4@contoso.onmicrosoft.com", "bg4@contoso.onmicrosoft.com"},
		{uid(4), "renamed4@contoso.onmicrosoft.com", "stale"},
	} {
		a, ok := set.Match(tc.id, tc.upn)
		got := ""
		if ok {
			got = cmp.Or(a.Name, a.UPN, a.ID)
		}
		if ok && a.Name == "" && a.ID == uid(2) {
			got = uid(2)
		}
		if got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.id, tc.upn, got, tc.want)
		}
	}
	if got := users[0].ID; got != "" {
		t.Errorf("List changed its input: %q", got)
	}
}
