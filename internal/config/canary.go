package config

import (
	"strconv"
	"strings"
	"time"

	"breakglass/internal/detect"
)

// Defaults and limits of canary: (issue 11, the daily synthetic check).
const (
	// DefaultCanaryEvery is the time between two canary runs: daily, so a
	// broken pipeline is found within a day rather than at the next
	// quarterly drill.
	DefaultCanaryEvery = 24 * time.Hour
	// MinCanaryEvery and MaxCanaryEvery bound canary.every: more often
	// than hourly only fills the test group's channel; less often than
	// weekly no longer proves much between drills.
	MinCanaryEvery = time.Hour
	MaxCanaryEvery = 7 * 24 * time.Hour
	// DefaultCanaryTimeout is how long a run waits for the test group's
	// channels to deliver: a channel that is retrying gets a few attempts.
	DefaultCanaryTimeout = 10 * time.Minute
	// MinCanaryTimeout leaves room for one retry of a slow channel.
	MinCanaryTimeout = 30 * time.Second
)

// CanaryConfig is canary: serve pushes a synthetic, clearly marked
// sign-in of Identity through its own pipeline every Every and checks that
// it is detected and delivered to every channel of Group (a test group)
// within Timeout; if not, bg.canary_failed goes to every other group.
type CanaryConfig struct {
	Identity CanaryIdentity `yaml:"identity"`
	Every    time.Duration  `yaml:"every"`
	// Group is the test group: it gets the canary's alerts and nothing
	// else, and no other group gets them.
	Group   string        `yaml:"group"`
	Timeout time.Duration `yaml:"timeout"`
}

// CanaryIdentity is the canary's test identity: a user that is not a
// break-glass account (it need not exist in the tenant: its records are
// synthetic).
type CanaryIdentity struct {
	ID  string `yaml:"id,omitempty"`
	UPN string `yaml:"upn,omitempty"`
}

// validateCanary checks canary:. Every rule that keeps canary and real
// alerts apart that the file can express is checked here: the identity is
// no break-glass account, the group exists, is not the only one, and no
// route sends real alerts to it.
func (c *Config) validateCanary(d *decoder) {
	const f = "canary"
	if d.failed[f] {
		return
	}
	k := c.Canary
	if k == nil {
		if line, ok := d.lines[f]; ok {
			d.errorf(line, f, "empty; give identity: and group:, or remove canary")
		}
		return
	}
	line := func(key string) int {
		if l, ok := d.lines[f+"."+key]; ok {
			return l
		}
		return d.lines[f]
	}
	c.validateCanaryIdentity(d, line)

	k.Group = strings.TrimSpace(k.Group)
	switch gf := f + ".group"; {
	case d.failed[gf]:
	case k.Group == "":
		d.errorf(line("group"), gf, "required: the notify group that gets the canary's test alerts (a group of its own, for example a test channel)")
	case len(c.Notify.Groups) == 0:
		d.errorf(line("group"), gf, "no group %s: add notify.groups with a test group for the canary and at least one other group for real alerts", quoteShort(k.Group))
	case !contains(c.groupNames(), k.Group):
		d.errorf(line("group"), gf, "no group %s (groups: %s)", quoteShort(k.Group), strings.Join(c.groupNames(), ", "))
	case len(c.groupNames()) < 2:
		d.errorf(line("group"), gf, "%q is the only notify group: real alerts and bg.canary_failed need another group; add one to notify.groups", k.Group)
	default:
		for i, r := range c.Notify.Routes {
			for j, g := range r.Groups {
				if g == k.Group {
					rf := "notify.routes[" + strconv.Itoa(i) + "].groups[" + strconv.Itoa(j) + "]"
					d.errorf(d.lines[rf], rf, "%q is the canary's test group (canary.group): real alerts must not go to it; list another group here", g)
				}
			}
		}
	}

	switch ef := f + ".every"; {
	case d.failed[ef]:
	case k.Every == 0 && !has(d, ef):
	case k.Every < MinCanaryEvery || k.Every > MaxCanaryEvery:
		d.errorf(line("every"), ef, "must be between %s and %s (default %s)", fmtDuration(MinCanaryEvery), fmtDuration(MaxCanaryEvery), fmtDuration(DefaultCanaryEvery))
	}
	every := k.Every
	if every == 0 {
		every = DefaultCanaryEvery
	}
	switch tf := f + ".timeout"; {
	case d.failed[tf]:
	case k.Timeout == 0 && !has(d, tf):
	case k.Timeout < MinCanaryTimeout:
		d.errorf(line("timeout"), tf, "must be at least %s (default %s): a channel needs time to deliver, and to retry once", fmtDuration(MinCanaryTimeout), fmtDuration(DefaultCanaryTimeout))
	case k.Timeout >= every:
		d.errorf(line("timeout"), tf, "must be shorter than canary.every (%s): a run must end before the next is due", fmtDuration(every))
	}
	if _, muted := c.Notify.MuteFor[detect.RuleCanary]; muted {
		mf := "notify.mute_for[" + strconv.Quote(detect.RuleCanary) + "]"
		l, ok := d.lines[mf]
		if !ok {
			l = d.lines["notify.mute_for"]
		}
		d.errorf(l, mf, "bg.canary cannot be muted: the canary checks that its alert is delivered, so every muted run would fail")
	}
}

// validateCanaryIdentity checks canary.identity: an id and/or a UPN, and
// not those of a break-glass account (its daily test sign-in would page
// everyone as a real Sev0 one).
func (c *Config) validateCanaryIdentity(d *decoder, line func(string) int) {
	const f = "canary.identity"
	if d.failed[f] {
		return
	}
	id := &c.Canary.Identity
	id.ID, id.UPN = strings.TrimSpace(id.ID), strings.TrimSpace(id.UPN)
	if id.ID == "" && id.UPN == "" {
		if !d.failed[f+".id"] && !d.failed[f+".upn"] {
			d.errorf(line("identity"), f, "required: id: (an object id) and/or upn: of a test user that is not a break-glass account")
		}
		return
	}
	okID := id.ID != "" && d.checkGUID(f+".id", id.ID, "the canary user's object id")
	okUPN := false
	if id.UPN != "" {
		if okUPN = IsUPN(id.UPN); !okUPN {
			d.errorf(lineOr(d, f+".upn", line("identity")), f+".upn", "not a user principal name (expected user@domain)")
		}
	}
	for _, a := range c.accountEntries() { // tenants.go: every tenant's too
		af := a.field
		switch {
		case okID && a.ID != "" && strings.EqualFold(a.ID, id.ID):
			d.errorf(lineOr(d, f+".id", line("identity")), f+".id", "is the break-glass account %s (line %d): the canary must be a separate test identity, or its daily test sign-in would page everyone as a real one",
				af, lineOr(d, af+".id", d.lines[af]))
		case okID && a.Group != "" && strings.EqualFold(a.Group, id.ID):
			d.errorf(lineOr(d, f+".id", line("identity")), f+".id", "is the break-glass group %s (line %d); give the object id of a test user", af, lineOr(d, af+".group", d.lines[af]))
		case okUPN && a.UPN != "" && strings.EqualFold(a.UPN, id.UPN):
			d.errorf(lineOr(d, f+".upn", line("identity")), f+".upn", "is the break-glass account %s (line %d): the canary must be a separate test identity, or its daily test sign-in would page everyone as a real one",
				af, lineOr(d, af+".upn", d.lines[af]))
		}
	}
}

func (c *Config) applyCanaryDefaults() {
	k := c.Canary
	if k == nil {
		return
	}
	if k.Every == 0 {
		k.Every = DefaultCanaryEvery
	}
	if k.Timeout == 0 {
		k.Timeout = min(DefaultCanaryTimeout, k.Every/2)
	}
}

// CanaryTargets are the channels of the canary's test group (canary.group)
// and those of every other group, in configuration order. Both are empty
// without canary:.
func (c *Config) CanaryTargets() (test, real []string) {
	if c.Canary == nil {
		return nil, nil
	}
	for _, g := range c.Notify.Groups {
		for i := range g.Channels {
			if g.Name == c.Canary.Group {
				test = append(test, g.Target(i))
			} else {
				real = append(real, g.Target(i))
			}
		}
	}
	return test, real
}

func has(d *decoder, field string) bool { _, ok := d.lines[field]; return ok }

func lineOr(d *decoder, field string, fallback int) int {
	if l, ok := d.lines[field]; ok {
		return l
	}
	return fallback
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
