package daemon

import (
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/membership"
)

// This file reads the issue-8 configuration keys (accounts[].group,
// audit:) for the daemon, in one place.

// groupEntry is one accounts[] entry naming a group, with where it is.
type groupEntry struct {
	membership.Group
	Where string // "breakglass.yaml:12: accounts[3].group"
}

// configUsers are the accounts configured by id or UPN.
func configUsers(cfg *config.Config) []entra.Account { return cfg.Users() }

// configGroups are the group entries, each with its file:line.
func configGroups(cfg *config.Config) []groupEntry {
	var out []groupEntry
	var lines []int
	for i, a := range cfg.Accounts {
		if !a.IsGroup() {
			continue
		}
		if lines == nil {
			lines = accountLines(cfg.Path)
		}
		where := cfg.Path
		if i < len(lines) && lines[i] > 0 {
			where = cfg.Where(lines[i])
		}
		out = append(out, groupEntry{
			Group: membership.Group{ID: strings.ToLower(a.Group), Name: a.Name, Expect: a.Expect},
			Where: where + ": accounts[" + strconv.Itoa(i) + "].group",
		})
	}
	return out
}

// accountLines finds the line of each accounts[] item in the file. Config
// does not keep entry lines for accounts; re-reading the (already
// validated) file is cheap and only done when a group is configured.
// Anything unexpected gives no lines, and messages name the file only.
func accountLines(path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return accountLinesOf(data)
}

// accountLinesOf is accountLines on the file's bytes.
func accountLinesOf(data []byte) []int {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := root.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Value != "accounts" || m[i+1].Kind != yaml.SequenceNode {
			continue
		}
		var lines []int
		for _, item := range m[i+1].Content {
			lines = append(lines, item.Line)
		}
		return lines
	}
	return nil
}

// auditInterval is audit.interval (its default is config's).
func auditInterval(cfg *config.Config) time.Duration { return cfg.Audit.Interval }
