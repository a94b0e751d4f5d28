package accountlist

import (
	"encoding/json"
	"fmt"
	"strings"

	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
)

// Directory answers what only the tenant knows: the object id behind a
// UPN (and the UPN behind an id), and a group's members. Formats that need
// it (ScubaGear takes object ids only; a watchlist lists users) use it when
// the config alone does not say.
type Directory interface {
	// User returns the user whose object id or UPN is v.
	User(v string) (entra.Account, bool)
	// Members returns a group's transitive user members, or why they are
	// not known.
	Members(groupID string) ([]entra.Account, error)
}

// snapshotDir is a Directory over a collect snapshot.
type snapshotDir struct {
	s     *collect.Snapshot
	users []entra.Account
}

// SnapshotDirectory answers from a snapshot written by breakglass collect:
// the users its manifest resolved and the group_members datasets.
func SnapshotDirectory(s *collect.Snapshot) Directory {
	d := &snapshotDir{s: s}
	for _, r := range s.Manifest.Accounts {
		if entra.IsGUID(r.ID) {
			d.users = append(d.users, entra.Account{ID: r.ID, UPN: r.UPN})
		}
	}
	return d
}

func (d *snapshotDir) User(v string) (entra.Account, bool) {
	v = strings.TrimSpace(v)
	for _, u := range d.users {
		if strings.EqualFold(u.ID, v) || (u.UPN != "" && strings.EqualFold(u.UPN, v)) {
			return u, true
		}
	}
	return entra.Account{}, false
}

func (d *snapshotDir) Members(gid string) ([]entra.Account, error) {
	var raw json.RawMessage
	name := collect.DatasetGroupMembers + "." + gid
	for key, r := range d.s.Keyed(collect.DatasetGroupMembers) {
		if strings.EqualFold(key, gid) {
			raw, name = r, collect.DatasetGroupMembers+"."+key
			break
		}
	}
	if raw == nil {
		if f, ok := d.s.Failure(name); ok {
			return nil, fmt.Errorf("the snapshot has no members for it: %s was refused (%s)", name, f.Reason)
		}
		return nil, fmt.Errorf("the snapshot has no members for it (no dataset %s); collect with this config", name)
	}
	items, _, err := d.s.Items(name)
	if err != nil {
		return nil, err
	}
	var out []entra.Account
	for i, it := range items {
		var u struct {
			ID  string `json:"id"`
			UPN string `json:"userPrincipalName"`
		}
		if err := json.Unmarshal(it, &u); err != nil || !entra.IsGUID(u.ID) {
			return nil, fmt.Errorf("snapshot dataset %s item %d: not a user with an object id", name, i)
		}
		out = append(out, entra.Account{ID: u.ID, UPN: u.UPN})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the snapshot lists no user members for it")
	}
	return out, nil
}
