package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/membership"
	"breakglass/internal/watch"
)

// groupStartTimeout bounds the first read of the break-glass groups before
// the sources start; past it the last known members are watched and the
// read goes on in the refresh loop.
const groupStartTimeout = 30 * time.Second

// checkGroups refuses group entries that serve cannot expand: members are
// read through Graph, so a group without a graph: section would watch
// nobody.
func checkGroups(cfg *config.Config, groups []groupEntry, haveGraph bool) error {
	if len(groups) == 0 || haveGraph || cfg.Graph.Configured() {
		return nil
	}
	var errs []error
	for _, g := range groups {
		errs = append(errs, fmt.Errorf("%s: group %s: serve reads a group's members through Microsoft Graph; add a graph: section (auth and credentials, GroupMember.Read.All), or list the members by id/upn", g.Where, g.ID))
	}
	return &ConfigError{errors.Join(errs...)}
}

// setupGroups builds the membership watcher and applies the members the
// previous run persisted.
func (d *Daemon) setupGroups(ctx context.Context, entries []groupEntry) error {
	if len(entries) == 0 {
		return nil
	}
	g, err := d.graphClient()
	if err != nil {
		return err
	}
	groups := make([]membership.Group, len(entries))
	for i, e := range entries {
		groups[i] = e.Group
	}
	d.members = membership.New(membership.Options{
		Users: configUsers(d.cfg), Groups: groups, Graph: g, State: d.st, Health: d.pipeline,
		Apply: d.applyAccounts, Refresh: d.o.GroupRefresh, Logger: d.log, Now: d.o.Now,
	})
	d.resolveRemovedGroups(ctx, groups)
	if err := d.members.Load(ctx); err != nil {
		// The groups are read again at start; a group without known
		// members is still watched by its id and raises bg.source if
		// it cannot be read.
		d.log.Error("reading the last known group members", "error", err)
	}
	return nil
}

// applyAccounts swaps in a new break-glass list for the rules, the
// scanner and the Graph sources' queries. The Graph sources get the users
// only: a group id has no sign-ins, and the sign-in queries share a small
// request budget. A member's queries start two hours back (the source's
// overlap), so one added within a refresh is read from before it was added.
func (d *Daemon) applyAccounts(list []entra.Account) {
	users := slices.DeleteFunc(slices.Clone(list), func(a entra.Account) bool {
		return slices.ContainsFunc(d.cfg.Groups(), func(g string) bool { return strings.EqualFold(g, a.ID) })
	})
	d.accounts.Store(&users)
	d.pipeline.SetAccounts(list)
	d.log.Info("break-glass list applied", "accounts", len(users), "groups", len(list)-len(users))
}

// currentAccounts is the list now watched.
func (d *Daemon) currentAccounts() []entra.Account {
	if p := d.accounts.Load(); p != nil {
		return *p
	}
	return nil
}

// resolveRemovedGroups resolves bg.source episodes of groups no longer
// configured: no refresh would ever resolve them.
func (d *Daemon) resolveRemovedGroups(ctx context.Context, groups []membership.Group) {
	cs, err := d.st.Conditions(ctx, watch.RuleSource)
	if err != nil {
		d.log.Warn("listing source conditions", "error", err)
		return
	}
	for _, c := range cs {
		src, gid, _ := strings.Cut(c.Key, "\x00")
		if src != membership.Source || slices.ContainsFunc(groups, func(g membership.Group) bool { return strings.EqualFold(g.ID, gid) }) {
			continue
		}
		d.pipeline.Recovered(ctx, membership.Source, gid)
		d.log.Info("group no longer configured; its bg.source alert is resolved", "group", gid)
	}
}
