package collect

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
)

// breakGlass resolves the configured accounts and groups into
// breakglass_users and returns the user ids, in configuration order.
func (c *collector) breakGlass() []string {
	c.progress(DatasetBreakGlassUsers, "start", 0)
	if len(c.o.Groups) > 0 {
		c.progress(DatasetBreakGlassGroups, "start", 0)
	}
	type found struct {
		seq
		raw json.RawMessage
		id  string
	}
	var (
		mu     sync.Mutex
		users  []found
		groups = make([]json.RawMessage, len(c.o.Groups))
		wg     sync.WaitGroup
	)
	add := func(s seq, entry string, raw json.RawMessage) (id, upn string) {
		var u struct {
			ID  string `json:"id"`
			UPN string `json:"userPrincipalName"`
		}
		_ = json.Unmarshal(raw, &u)
		mu.Lock()
		users = append(users, found{s, raw, u.ID})
		mu.Unlock()
		c.addResolved(s, Resolved{Entry: entry, ID: u.ID, UPN: u.UPN})
		return u.ID, u.UPN
	}
	for i, a := range c.o.Accounts {
		if a.IsGroup() {
			// Collected through Groups. Accounts may hold the whole
			// configured list, so that each entry keeps its index in it.
			continue
		}
		wg.Go(func() {
			s := seq{i, 0}
			entry := accountEntry(i, a)
			if a.ID == "" && a.UPN == "" {
				// Never GET /users/ (the list of every user) for it.
				c.unresolved(s, entry, unresolvedEmpty)
				return
			}
			raw, ge, ok := c.user(userPath(a))
			switch {
			case !ok:
				return
			case ge != nil:
				c.unresolved(s, entry, unresolvedReason(ge))
				return
			}
			_, upn := add(s, entry, raw)
			if a.ID != "" && a.UPN != "" && !strings.EqualFold(upn, a.UPN) {
				c.unresolved(s, entry, fmt.Sprintf("the id belongs to %s, not to the configured upn %s; fix the configuration so both name the same account", upn, a.UPN))
			}
		})
	}
	for j, gid := range c.o.Groups {
		wg.Go(func() {
			s := seq{len(c.o.Accounts) + j, 0}
			entry := fmt.Sprintf("groups[%d] id %s", j, gid)
			path := "/groups/" + gid
			q := graph.Query{Select: groupSelect}
			var raw json.RawMessage
			ge, fatal := c.graphError(c.slot(func() error { return c.g.Get(c.ctx, graph.V1, path, q, &raw) }))
			switch {
			case fatal:
				return
			case ge != nil:
				if ge.Status != 404 {
					c.fail(failureOf(DatasetBreakGlassGroups, endpointOf("/groups/{id}", q), ge, true))
				}
				c.unresolved(s, entry, unresolvedReason(ge))
				return
			}
			groups[j] = raw
			members, ge, ok := c.groupMembers(gid)
			switch {
			case !ok && ge == nil:
				return
			case !ok:
				c.unresolved(s, entry, "its members could not be listed: "+describe(ge))
				return
			case len(members) == 0:
				c.unresolved(s, entry, unresolvedNoMembers)
				return
			}
			for k, m := range members {
				wg.Go(func() {
					ms := seq{s.entry, k + 1}
					raw, ge, ok := c.user("/users/" + m.ID)
					switch {
					case !ok:
					case ge != nil:
						c.unresolved(ms, fmt.Sprintf("%s member %s", entry, cmp.Or(m.UPN, m.ID)), unresolvedReason(ge))
					default:
						add(ms, entry, raw)
					}
				})
			}
		})
	}
	wg.Wait()
	if c.aborted() {
		return nil
	}
	slices.SortStableFunc(users, func(a, b found) int { return a.compare(b.seq) })
	var items []json.RawMessage
	var ids []string
	seen := map[string]bool{}
	for _, u := range users {
		if k := strings.ToLower(u.id); !seen[k] {
			seen[k] = true
			items = append(items, u.raw)
			ids = append(ids, u.id)
		}
	}
	if !c.writeList(DatasetBreakGlassUsers, endpointOf("/users/{id|upn}", graph.Query{Select: userSelect}), graph.V1, items) {
		return nil
	}
	c.progress(DatasetBreakGlassUsers, "done", len(items))
	if len(c.o.Groups) > 0 {
		var gs []json.RawMessage
		for _, g := range groups {
			if g != nil {
				gs = append(gs, g)
			}
		}
		if c.writeList(DatasetBreakGlassGroups, endpointOf("/groups/{id}", graph.Query{Select: groupSelect}), graph.V1, gs) {
			c.progress(DatasetBreakGlassGroups, "done", len(gs))
		}
	}
	return ids
}

const (
	unresolvedNotFound  = "not found in the directory (deleted, or a typo in the configuration)"
	unresolvedNoMembers = "the group has no user members, so it designates no break-glass account"
	unresolvedEmpty     = "names neither an id nor a upn, so it designates no account (a group entry must be passed as a group)"
)

func unresolvedReason(ge *graph.Error) string {
	if ge.Status == 404 {
		return unresolvedNotFound
	}
	return "could not be looked up: " + describe(ge)
}

func describe(ge *graph.Error) string {
	s := fmt.Sprintf("%d %s", ge.Status, cmp.Or(ge.Code, "error"))
	if ge.Message != "" {
		s += ": " + ge.Message
	}
	if ge.Hint != "" {
		s += " (" + ge.Hint + ")"
	}
	return s
}

func accountEntry(i int, a entra.Account) string {
	switch {
	case a.ID != "" && a.UPN != "":
		return fmt.Sprintf("accounts[%d] id %s (upn %s)", i, a.ID, a.UPN)
	case a.ID != "":
		return fmt.Sprintf("accounts[%d] id %s", i, a.ID)
	case a.UPN == "":
		return fmt.Sprintf("accounts[%d]", i)
	}
	return fmt.Sprintf("accounts[%d] upn %s", i, a.UPN)
}

// userPath addresses a user by object id when known, because UPNs can be
// renamed and reused. Paths go to the client unescaped (it escapes them;
// guest UPNs contain '#'). A UPN starting with "$" must be written as a
// key literal, or Graph reads it as a system query option.
func userPath(a entra.Account) string {
	if a.ID != "" {
		return "/users/" + a.ID
	}
	if strings.HasPrefix(a.UPN, "$") {
		return "/users('" + quote(a.UPN) + "')"
	}
	return "/users/" + a.UPN
}

// user fetches one break-glass user. signInActivity needs AuditLog.Read.All
// and Entra ID P1; when Graph refuses it, the user is fetched again
// without it and the loss is recorded once, as a partial failure, so the
// audit reports sign-in freshness as unknown instead of "never".
func (c *collector) user(path string) (json.RawMessage, *graph.Error, bool) {
	var (
		raw   json.RawMessage
		sel   []string
		ge    *graph.Error
		fatal bool
	)
	// Both attempts share one slot, so that with one request at a time
	// the refusal is known before the next user is asked.
	c.slot(func() error {
		c.mu.Lock()
		withSignIn := !c.noSignIn
		c.mu.Unlock()
		sel = userSelect
		if !withSignIn {
			sel = withoutSignIn()
		}
		ge, fatal = c.graphError(c.g.Get(c.ctx, graph.V1, path, graph.Query{Select: sel}, &raw))
		if fatal || ge == nil || !withSignIn || ge.Status != 403 && reason(ge) != ReasonLicence {
			return nil
		}
		first := ge
		raw, sel = nil, withoutSignIn()
		ge, fatal = c.graphError(c.g.Get(c.ctx, graph.V1, path, graph.Query{Select: sel}, &raw))
		// A 404 now still proves the refusal was about signInActivity.
		if fatal || ge != nil && ge.Status != 404 {
			return nil
		}
		f := failureOf(DatasetBreakGlassUsers, endpointOf("/users/{id|upn}", graph.Query{Select: []string{signInActivity}}), first, true)
		f.Field = signInActivity
		c.fail(f)
		c.mu.Lock()
		c.noSignIn = true
		c.mu.Unlock()
		return nil
	})
	if fatal || c.aborted() {
		return nil, nil, false
	}
	if ge != nil {
		if ge.Status != 404 {
			c.fail(failureOf(DatasetBreakGlassUsers, endpointOf("/users/{id|upn}", graph.Query{Select: sel}), ge, true))
		}
		return nil, ge, true
	}
	return raw, nil, true
}

func withoutSignIn() []string {
	return slices.DeleteFunc(slices.Clone(userSelect), func(s string) bool { return s == signInActivity })
}

type member struct {
	ID  string `json:"id"`
	UPN string `json:"userPrincipalName"`
}

type groupResult struct {
	once    sync.Once
	members []member
	ge      *graph.Error
	ok      bool
}

// groupMembers lists a group's transitive user members once, however many
// roles and configuration entries name the group, and writes them as
// group_members.<id>. ok is false when they could not be listed; ge is
// then Graph's answer, or nil if the run was aborted.
func (c *collector) groupMembers(gid string) ([]member, *graph.Error, bool) {
	c.mu.Lock()
	r := c.groups[strings.ToLower(gid)]
	if r == nil {
		r = &groupResult{}
		c.groups[strings.ToLower(gid)] = r
	}
	c.mu.Unlock()
	r.once.Do(func() {
		path := "/groups/" + gid + "/transitiveMembers/microsoft.graph.user"
		q := graph.Query{Select: memberSelect}
		name := KeyedName(DatasetGroupMembers, gid)
		f, ok := c.listDataset(name, name, endpointOf(path, q), graph.V1, []call{{v: graph.V1, path: path, q: q}})
		if len(f.errs) > 0 {
			r.ge = f.errs[0]
		}
		if !ok {
			return
		}
		r.ok = true
		for _, raw := range f.items {
			var m member
			if json.Unmarshal(raw, &m) == nil && m.ID != "" {
				r.members = append(r.members, m)
			}
		}
	})
	return r.members, r.ge, r.ok
}
