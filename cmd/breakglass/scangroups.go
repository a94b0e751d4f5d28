package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/graph/collect"
	"breakglass/internal/logging"
	"breakglass/internal/membership"
)

// scanAccounts is the list scan matches against: the users configured by
// id or UPN, the transitive user members of every group entry, and the
// group ids themselves. Members come from a collect snapshot (snapshot set)
// or through Graph. A group whose members cannot be had stops the scan
// (exit 2): scanning without them would report their sign-ins as nothing.
func scanAccounts(ctx context.Context, cfg *config.Config, snapshot string, stderr io.Writer) ([]entra.Account, error) {
	var groups []membership.Group
	for _, a := range cfg.AllAccounts() { // every tenant's groups too
		if a.IsGroup() {
			groups = append(groups, membership.Group{ID: strings.ToLower(a.Group), Name: a.Name, Expect: a.Expect})
		}
	}
	if len(groups) == 0 {
		return cfg.Users(), nil
	}
	read, from, err := groupReader(cfg, snapshot, stderr)
	if err != nil {
		return nil, err
	}
	members := map[string][]membership.Member{}
	for _, g := range groups {
		ms, err := read(ctx, g.ID)
		if err != nil {
			return nil, usageErrorf("%s: group %s: cannot read its members %s: %v; scanning without them would miss their records", cfg.Path, groupLabel(g), from, err)
		}
		members[g.ID] = ms
		fmt.Fprintf(stderr, "group %s: %d members (%s)\n", groupLabel(g), len(ms), from)
	}
	return membership.List(cfg.Users(), groups, members), nil
}

func groupLabel(g membership.Group) string {
	if g.Name != "" {
		return fmt.Sprintf("%q (%s)", g.Name, g.ID)
	}
	return g.ID
}

// groupReader reads members from the snapshot, else through Graph, else
// says how to give scan what it needs.
func groupReader(cfg *config.Config, snapshot string, stderr io.Writer) (func(context.Context, string) ([]membership.Member, error), string, error) {
	if snapshot != "" {
		s, err := collect.Load(snapshot)
		if err != nil {
			return nil, "", usageErrorf("--snapshot: %v", err)
		}
		from := "from snapshot " + snapshot
		return func(_ context.Context, gid string) ([]membership.Member, error) { return snapshotMembers(s, gid) }, from, nil
	}
	if len(cfg.Tenants) > 0 {
		// Each tenant's members are read through its own graph:; scan
		// does not yet, and scanning without them would miss their records.
		return nil, "", usageErrorf("%s: tenants list group entries: scan reads their members only from --snapshot DIR (a breakglass collect snapshot); or list the members by id/upn", cfg.Path)
	}
	if !cfg.Graph.Configured() {
		var named []string
		for i, a := range cfg.Accounts {
			if a.IsGroup() {
				named = append(named, fmt.Sprintf("accounts[%d] group %s", i, a.Group))
			}
		}
		return nil, "", usageErrorf("%s: %s: scan needs the members: add a graph: section (read through Microsoft Graph, GroupMember.Read.All) or give --snapshot DIR (a breakglass collect snapshot)", cfg.Path, strings.Join(named, ", "))
	}
	g, err := newGraphClient(cfg, logging.New(stderr, logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format}))
	if err != nil {
		return nil, "", err
	}
	return func(ctx context.Context, gid string) ([]membership.Member, error) {
		return membership.Expand(ctx, g, gid)
	}, "through Microsoft Graph", nil
}

// snapshotMembers reads group_members.<id> of a snapshot; a dataset that
// is missing or was refused says why.
func snapshotMembers(s *collect.Snapshot, gid string) ([]membership.Member, error) {
	for key := range s.Keyed(collect.DatasetGroupMembers) {
		if !strings.EqualFold(key, gid) {
			continue
		}
		name := collect.KeyedName(collect.DatasetGroupMembers, key)
		if f, ok := s.Failure(name); ok && f.Partial {
			return nil, fmt.Errorf("dataset %s is partial: %s", name, failureText(f))
		}
		items, _, err := s.Items(name)
		if err != nil {
			return nil, err
		}
		return membership.Members(items)
	}
	name := collect.KeyedName(collect.DatasetGroupMembers, gid)
	if f, ok := s.Failure(name); ok {
		return nil, fmt.Errorf("dataset %s is not in the snapshot: %s", name, failureText(f))
	}
	return nil, fmt.Errorf("dataset %s is not in the snapshot (collected without this group? run breakglass collect with this config)", name)
}

func failureText(f collect.Failure) string {
	parts := []string{f.Reason}
	if f.Status != 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", f.Status))
	}
	for _, p := range []string{f.Code, f.Message, f.Hint} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}
