package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/auth"
	"breakglass/internal/store"
)

// Token lifetimes: every token expires.
const (
	defaultTokenTTL = 90 * 24 * time.Hour
	maxTokenTTL     = 366 * 24 * time.Hour
)

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Manage API tokens (create, list, revoke)",
		Long: `tokens manages the API tokens that automation sends to serve's JSON API as
Authorization: Bearer TOKEN. Each has a name, a role (viewer, responder,
admin) and an expiry; the store keeps only its SHA-256, so create prints it
once and it cannot be shown again.`,
		Args: noArgs,
	}
	cmd.AddCommand(newTokensCreateCmd(), newTokensListCmd(), newTokensRevokeCmd())
	return cmd
}

// parseTTL reads a Go duration or a number of days ("90d").
func parseTTL(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 10000 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func newTokensCreateCmd() *cobra.Command {
	var cfgPath, name, role, expires string
	var tenantFlags []string
	cmd := &cobra.Command{
		Use:   "create --name N --role viewer|responder|admin [--expires 90d] [--tenant T]...",
		Short: "Create an API token and print it, once",
		Long: `create makes a new API token and prints it on standard output, once: only
its hash is stored. Store it in your automation's secret store at once.
--expires is a duration (720h) or days (90d), default 90d, at most 366d.`,
		Example: `  TOKEN=$(breakglass tokens create -c breakglass.yaml --name pager-bridge --role responder --expires 30d)`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := auth.CheckName(name); err != nil {
				return usageErrorf("--name: %v", err)
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return usageErrorf("--role: %v", err)
			}
			ttl, err := parseTTL(expires)
			if err != nil {
				return usageErrorf("--expires: %v", err)
			}
			if ttl <= 0 || ttl > maxTokenTTL {
				return usageErrorf("--expires: %s is outside 1s..366d: every token expires; create a new one before it does", expires)
			}
			var tenants []string
			if len(tenantFlags) > 0 {
				cfg, err := loadConfig(cfgPath)
				if err != nil {
					return err
				}
				if tenants, err = tenantsOf(cfg, tenantFlags); err != nil { // tenantflag.go
					return err
				}
			}
			ctx := cmd.Context()
			st, err := openAuthStore(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, hash, err := auth.NewToken()
			if err != nil {
				return err
			}
			now := time.Now()
			t := store.Token{Name: name, Role: r.String(), Hash: hash, Created: now, Expires: now.Add(ttl), CreatedBy: cliActor(), Tenants: tenants}
			err = st.AddToken(ctx, t)
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("a token named %q exists already: revoke it, or pick another name", name)
			}
			if err != nil {
				return fmt.Errorf("storing the token: %w", err)
			}
			if err := recordCLI(ctx, st, "token.create", name, "role "+r.String()+tenantsNote(tenants)+", expires "+t.Expires.UTC().Format(time.RFC3339)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %s (%s) expires %s. It is shown only now:\n", name, r, t.Expires.UTC().Format(tableTime))
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	addConfigFlag(cmd, &cfgPath)
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "a name for the token: who or what uses it (required)")
	fl.StringVar(&role, "role", "", "viewer, responder or admin (required)")
	fl.StringVar(&expires, "expires", "90d", "lifetime: a duration (720h) or days (90d), at most 366d")
	addTenantFlag(cmd, &tenantFlags)
	return cmd
}

// shownToken is a token as list prints it: never the token or its hash.
type shownToken struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	State     string     `json:"state"` // active, expired, revoked
	Created   time.Time  `json:"created"`
	Expires   time.Time  `json:"expires"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	CreatedBy string     `json:"created_by"`
	Tenants   []string   `json:"tenants,omitempty"` // none: every tenant
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func newTokensListCmd() *cobra.Command {
	var cfgPath, format string
	cmd := &cobra.Command{
		Use:   "list [--format table|json]",
		Short: "List API tokens: name, role, state, expiry, last use",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openAuthStore(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			ts, err := st.Tokens(ctx)
			if err != nil {
				return storeError(err)
			}
			now := time.Now()
			shown := []shownToken{}
			for _, t := range ts {
				state := "active"
				switch {
				case !t.Revoked.IsZero():
					state = "revoked"
				case !now.Before(t.Expires):
					state = "expired"
				}
				shown = append(shown, shownToken{Name: t.Name, Role: t.Role, State: state, Created: t.Created.UTC(), Expires: t.Expires.UTC(),
					Revoked: optTime(t.Revoked), LastUsed: optTime(t.LastUsed), CreatedBy: t.CreatedBy, Tenants: t.Tenants})
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(shown)
			}
			if len(shown) == 0 {
				_, err := fmt.Fprintln(w, "No API tokens. Create one: breakglass tokens create --name NAME --role ROLE")
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tEXPIRES\tLAST USED\tCREATED BY")
			for _, t := range shown {
				last := "never"
				if t.LastUsed != nil {
					last = t.LastUsed.Format(tableTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(t.Name), t.Role, t.State, t.Expires.Format(tableTime), last, printable(t.CreatedBy))
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func newTokensRevokeCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke an API token: it is refused from now on",
		Args:  oneName("token name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openAuthStore(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.RevokeToken(ctx, args[0], time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no token %q (breakglass tokens list shows them)", args[0])
			}
			if err != nil {
				return fmt.Errorf("revoking the token: %w", err)
			}
			if err := recordCLI(ctx, st, "token.revoke", args[0], ""); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Revoked token %s: serve refuses it from now on.\n", args[0])
			return err
		},
	}
	addConfigFlag(cmd, &cfgPath)
	return cmd
}
