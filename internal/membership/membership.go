// Package membership keeps the watcher's break-glass list current when the
// configuration names groups (accounts: - group: <id>): a group's
// transitive user members are break-glass accounts, and membership changes
// while the daemon runs. It expands each group through Graph at start and
// on every refresh, and hands the whole list (users configured directly,
// members, and the group ids themselves) to whoever matches records.
//
// It fails closed. A group that cannot be read keeps its last known
// members, which are persisted, so that a restart during a Graph outage
// still watches them; the failure raises bg.source naming the group until
// a read works again. The group id itself is always on the list, so a
// record naming the group (a member added or removed, the group changed)
// matches even when no member is known.
package membership

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/store"
)

// DefaultRefresh is how often the groups are read again. It is not
// audit.interval (default 6 h): an account added to the break-glass group
// must be watched within minutes, not hours, and one paged Graph call per
// group every few minutes is far inside Graph's limits. The addition
// itself matches at once through the group id, when a log source sees it.
const DefaultRefresh = 5 * time.Minute

// Source is the source name of this package's bg.source alerts; the key
// is the group id.
const Source = "groups"

// StateRule is the condition rule under which the last known members of
// each group are persisted (key: the lower-case group id). It is state,
// not an alert: no alert id is ever set on it.
const StateRule = "membership"

// Group is one configured group entry.
type Group struct {
	ID   string
	Name string // optional, from the configuration
	// Expect is the group entry's effective expect: (config); its members
	// not configured as users themselves get it.
	Expect *entra.Expect
}

func (g Group) label() string {
	if g.Name != "" {
		return fmt.Sprintf("%s (%s)", g.Name, g.ID)
	}
	return g.ID
}

// Member is one transitive user member of a group.
type Member struct {
	ID  string `json:"id"`
	UPN string `json:"upn,omitempty"`
}

// Path is the Graph request that lists a group's transitive user members.
func Path(groupID string) string {
	return "/groups/" + groupID + "/transitiveMembers/microsoft.graph.user"
}

// Select is the $select of that request: only what matching needs.
var Select = []string{"id", "userPrincipalName"}

// ErrNoMembers is returned for a group that has no user members: an empty
// break-glass group is a misconfiguration (or someone emptied it), never a
// reason to stop watching the accounts it held.
var ErrNoMembers = errors.New("the group has no user members")

// Expand lists the transitive user members of a group through Graph.
func Expand(ctx context.Context, g graph.Lister, groupID string) ([]Member, error) {
	var items []json.RawMessage
	err := g.List(ctx, graph.V1, Path(groupID), graph.Query{Select: Select}, func(page []json.RawMessage) error {
		items = append(items, page...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing its transitive members: %w", err)
	}
	return Members(items)
}

// Members decodes a transitiveMembers listing, as Graph sent it (or as a
// collect snapshot's group_members.<id> dataset keeps it). An item that is
// not a user object with an id cannot be matched and is skipped; an empty
// result is ErrNoMembers.
func Members(items []json.RawMessage) ([]Member, error) {
	var out []Member
	seen := map[string]bool{}
	for _, raw := range items {
		var m struct {
			ID  string `json:"id"`
			UPN string `json:"userPrincipalName"`
		}
		if json.Unmarshal(raw, &m) != nil || !entra.IsGUID(strings.TrimSpace(m.ID)) {
			continue
		}
		id := strings.ToLower(strings.TrimSpace(m.ID))
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, Member{ID: id, UPN: strings.TrimSpace(m.UPN)})
	}
	if len(out) == 0 {
		return nil, ErrNoMembers
	}
	return out, nil
}

// Health is told when a group cannot be read and when it can again
// (watch.Pipeline implements it: bg.source).
type Health interface {
	Failing(ctx context.Context, source, key string, err error)
	Recovered(ctx context.Context, source, key string)
}

// State persists the last known members (the store's condition table).
type State interface {
	Condition(ctx context.Context, rule, key string) (store.Condition, bool, error)
	SetCondition(ctx context.Context, c store.Condition) error
}

// Options configure a Watcher.
type Options struct {
	// Users are the accounts configured by id or UPN.
	Users  []entra.Account
	Groups []Group
	Graph  graph.Lister
	State  State
	Health Health
	// Apply receives the whole list after every change (and once from
	// Load). It must be safe to call while records are being matched.
	Apply func(accounts []entra.Account)
	// Refresh is how often groups are read (default DefaultRefresh).
	Refresh time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Watcher keeps the member lists of the configured groups.
type Watcher struct {
	o       Options
	mu      sync.Mutex
	members map[string][]Member // lower-case group id → last known members
	failing map[string]bool     // groups whose last read failed
	applied []entra.Account
}

// New returns a Watcher; call Load, then Refresh or Run.
func New(o Options) *Watcher {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Apply == nil {
		o.Apply = func([]entra.Account) {}
	}
	return &Watcher{o: o, members: map[string][]Member{}, failing: map[string]bool{}}
}

// persisted is the Data of a StateRule condition.
type persisted struct {
	Group   string    `json:"group"`
	Members []Member  `json:"members"`
	Read    time.Time `json:"read"`
}

func key(groupID string) string { return strings.ToLower(groupID) }

// Load takes the members persisted by an earlier run and applies the list,
// so that whatever happens to Graph next, the accounts known last time are
// watched from the first record on.
func (w *Watcher) Load(ctx context.Context) error {
	var errs []error
	w.mu.Lock()
	for _, g := range w.o.Groups {
		if w.o.State == nil {
			break
		}
		c, ok, err := w.o.State.Condition(ctx, StateRule, key(g.ID))
		if err != nil {
			errs = append(errs, fmt.Errorf("reading the last known members of group %s: %w", g.ID, err))
			continue
		}
		if !ok {
			continue
		}
		var p persisted
		if err := json.Unmarshal(c.Data, &p); err != nil {
			errs = append(errs, fmt.Errorf("the last known members of group %s are unreadable: %w", g.ID, err))
			continue
		}
		// Only what could have been written: unique members with a GUID.
		// A set, not a scan per member: a huge group must not stall start.
		var ms []Member
		have := make(map[string]bool, len(p.Members))
		for _, m := range p.Members {
			id := strings.ToLower(m.ID)
			if entra.IsGUID(m.ID) && !have[id] {
				have[id] = true
				ms = append(ms, Member{ID: id, UPN: strings.TrimSpace(m.UPN)})
			}
		}
		w.members[key(g.ID)] = ms
		w.o.Logger.Info("group members as last read", "group", g.label(), "members", len(ms), "read", p.Read)
	}
	list := w.listLocked()
	w.applied = list
	w.mu.Unlock()
	w.o.Apply(slices.Clone(list))
	return errors.Join(errs...)
}

// Refresh reads every group once. A group that cannot be read keeps its
// last known members and raises bg.source; one that can resolves it. The
// list is applied when it changed.
func (w *Watcher) Refresh(ctx context.Context) {
	for _, g := range w.o.Groups {
		if ctx.Err() != nil {
			return
		}
		members, err := w.read(ctx, g)
		if ctx.Err() != nil {
			return // shutting down: not a failure of the group
		}
		w.mu.Lock()
		if err != nil {
			w.failing[key(g.ID)] = true
			known := len(w.members[key(g.ID)])
			w.mu.Unlock()
			w.o.Logger.Error("cannot read a break-glass group; its last known members stay watched",
				"group", g.label(), "last_known_members", known, "error", err)
			// The key is the group id; the error names the group by its
			// configured name too, for whoever reads the alert.
			w.o.Health.Failing(ctx, Source, g.ID, fmt.Errorf("break-glass group %q: %w (the %d members last read stay watched, and so does the group id itself)",
				cmp.Or(g.Name, g.ID), err, known))
			continue
		}
		old := w.members[key(g.ID)]
		w.members[key(g.ID)] = members
		wasFailing := w.failing[key(g.ID)]
		delete(w.failing, key(g.ID))
		w.mu.Unlock()
		if added, removed := diff(old, members); len(added)+len(removed) > 0 {
			w.o.Logger.Warn("break-glass group membership changed", "group", g.label(), "added", added, "removed", removed, "members", len(members))
		}
		if w.o.State != nil {
			data, _ := json.Marshal(persisted{Group: g.ID, Members: members, Read: w.o.Now().UTC()})
			if err := w.o.State.SetCondition(ctx, store.Condition{Rule: StateRule, Key: key(g.ID), Data: data}); err != nil {
				// Watched now; only a restart during an outage would miss them.
				w.o.Logger.Error("saving the members of a break-glass group", "group", g.label(), "error", err)
			}
		}
		if wasFailing {
			w.o.Logger.Info("break-glass group readable again", "group", g.label(), "members", len(members))
		}
		// Recovered also after a restart: the episode may have been
		// opened by the previous run.
		w.o.Health.Recovered(ctx, Source, g.ID)
	}
	w.mu.Lock()
	list := w.listLocked()
	changed := !slices.Equal(list, w.applied)
	w.applied = list
	w.mu.Unlock()
	if changed {
		w.o.Apply(slices.Clone(list))
	}
}

func (w *Watcher) read(ctx context.Context, g Group) ([]Member, error) {
	if w.o.Graph == nil {
		return nil, errors.New("no Graph client: group members cannot be read")
	}
	return Expand(ctx, w.o.Graph, g.ID)
}

// Run refreshes every Refresh until ctx ends. Call Refresh first for the
// initial read.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Refresh(ctx)
		}
	}
}

// Accounts returns the list last applied.
func (w *Watcher) Accounts() []entra.Account {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.applied)
}

func (w *Watcher) listLocked() []entra.Account { return List(w.o.Users, w.o.Groups, w.members) }

// List is the break-glass list to match against: the configured users
// first, then each group's members (members maps the lower-case group id
// to them) in configuration order, then the group ids themselves, so that
// a record naming a group matches.
//
// A member who is a configured user completes that entry instead of being
// listed twice: a user configured by UPN alone gets the object id the
// group read gives (records and the Graph sources' queries then follow the
// account through a rename), one configured by id alone the UPN. A member
// holding a configured user's UPN under another object id is another
// account (the UPN was reused) and is listed on its own: it is in the
// break-glass group, and matching it by the UPN would fail on the id.
func List(users []entra.Account, groups []Group, members map[string][]Member) []entra.Account {
	out := slices.Clone(users)
	ids, upns := map[string]int{}, map[string]int{}
	index := func(i int) {
		if id := entra.CanonicalID(out[i].ID); id != "" {
			if _, dup := ids[id]; !dup {
				ids[id] = i
			}
		}
		if out[i].UPN != "" {
			if _, dup := upns[entra.FoldASCII(out[i].UPN)]; !dup {
				upns[entra.FoldASCII(out[i].UPN)] = i
			}
		}
	}
	for i := range out {
		index(i)
	}
	for _, g := range groups {
		for _, m := range members[key(g.ID)] {
			if i, ok := ids[entra.CanonicalID(m.ID)]; ok {
				if _, taken := upns[entra.FoldASCII(m.UPN)]; out[i].UPN == "" && m.UPN != "" && !taken {
					out[i].UPN = m.UPN
					index(i)
				}
				continue
			}
			if i, ok := upns[entra.FoldASCII(m.UPN)]; ok && m.UPN != "" && out[i].ID == "" {
				out[i].ID = m.ID
				index(i)
				continue
			}
			out = append(out, entra.Account{ID: m.ID, UPN: m.UPN, Expect: g.Expect})
			index(len(out) - 1)
		}
	}
	for _, g := range groups {
		if _, ok := ids[entra.CanonicalID(g.ID)]; ok {
			continue
		}
		out = append(out, entra.Account{ID: key(g.ID), Name: "break-glass group " + cmp.Or(g.Name, g.ID)})
		index(len(out) - 1)
	}
	return out
}

// diff names the members added and removed, by UPN where known.
// Ids are compared through sets: a group of 100k users is read every
// refresh, and a scan per member would take hours.
func diff(old, cur []Member) (added, removed []string) {
	set := func(list []Member) map[string]bool {
		s := make(map[string]bool, len(list))
		for _, m := range list {
			s[m.ID] = true
		}
		return s
	}
	inOld, inCur := set(old), set(cur)
	for _, m := range cur {
		if !inOld[m.ID] {
			added = append(added, cmp.Or(m.UPN, m.ID))
		}
	}
	for _, m := range old {
		if !inCur[m.ID] {
			removed = append(removed, cmp.Or(m.UPN, m.ID))
		}
	}
	return added, removed
}
