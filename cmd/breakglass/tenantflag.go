package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
)

// addTenantFlag adds --tenant (repeatable): the tenants a user or token is
// limited to.
func addTenantFlag(cmd *cobra.Command, to *[]string) {
	cmd.Flags().StringArrayVar(to, "tenant", nil, "limit to this tenant (its id or name in tenants:); repeat for several; none: every tenant")
}

// tenantsOf resolves --tenant values against the configuration's tenants:
// each an id or a name (ignoring case). An unknown one is a usage error:
// a typo would otherwise lock the user out of everything, or of the wrong
// tenant.
func tenantsOf(cfg *config.Config, flags []string) ([]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	if len(cfg.Tenants) == 0 {
		return nil, usageErrorf("--tenant: %s has no tenants:; without them every user sees the one tenant", cfg.Path)
	}
	var out, known []string
	for _, t := range cfg.Tenants {
		known = append(known, t.Name+" ("+t.ID+")")
	}
	for _, f := range flags {
		f = strings.TrimSpace(f)
		var hit *config.Tenant
		for i := range cfg.Tenants {
			if t := &cfg.Tenants[i]; strings.EqualFold(t.ID, f) || strings.EqualFold(t.Name, f) {
				hit = t
			}
		}
		if hit == nil {
			return nil, usageErrorf("--tenant %q: no such tenant (tenants: %s)", printable(f), strings.Join(known, ", "))
		}
		out = append(out, hit.ID)
	}
	return out, nil
}

// tenantsNote is how add and create say a limit: " for tenants A, B" or "".
func tenantsNote(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf(", limited to tenants %s", strings.Join(ids, ", "))
}
