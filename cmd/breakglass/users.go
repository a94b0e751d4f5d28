package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/auth"
	"breakglass/internal/store"
)

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the local users of the dashboard and API (add, passwd, remove, list)",
		Long: `users manages the local accounts that sign in to serve's web pages and
API. They are stored in the store with argon2id password hashes and keep
working when Entra ID is down. Roles: viewer (read), responder (also
acknowledge, review, run drills), admin (also users, tokens, settings).

Passwords are read from standard input, never from a flag: typed twice at a
terminal prompt (not echoed), or the first line of a pipe. At least 12
characters. There is no default password: create the first admin here.`,
		Args: noArgs,
	}
	cmd.AddCommand(newUsersAddCmd(), newUsersPasswdCmd(), newUsersRemoveCmd(), newUsersListCmd())
	return cmd
}

func oneName(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%s takes one %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		if err := auth.CheckName(args[0]); err != nil {
			return usageErrorf("%s %q: %v", what, printable(args[0]), err)
		}
		return nil
	}
}

func newUsersAddCmd() *cobra.Command {
	var cfgPath, role string
	var tenantFlags []string
	cmd := &cobra.Command{
		Use:   "add NAME --role viewer|responder|admin [--tenant T]...",
		Short: "Add a local user; the password is read from standard input",
		Example: `  breakglass users add -c breakglass.yaml dana --role admin
  printf '%s\n' "$PASSWORD" | breakglass users add -c breakglass.yaml ci-reader --role viewer`,
		Args: oneName("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return usageErrorf("--role: %v", err)
			}
			// The first admin comes before serve has ever run: this
			// command may create the store.
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			tenants, err := tenantsOf(cfg, tenantFlags) // tenantflag.go
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openAuthStoreCreate(ctx, cfg) // storedriver.go
			if err != nil {
				return usageErrorf("opening store: %w", err)
			}
			defer st.Close()
			if _, err := st.User(ctx, args[0]); err == nil {
				return fmt.Errorf("user %q exists already: change the password with breakglass users passwd %s", args[0], args[0])
			}
			pw, err := auth.ReadPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), args[0])
			if err != nil {
				return usageErrorf("password: %v", err)
			}
			hash, err := auth.HashPassword(pw)
			if err != nil {
				return usageErrorf("password: %v", err)
			}
			now := time.Now()
			err = st.AddUser(ctx, store.User{Name: args[0], Role: r.String(), PasswordHash: hash, Tenants: tenants, Created: now, Updated: now})
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("user %q exists already (a name differing only in case counts)", args[0])
			}
			if err != nil {
				return fmt.Errorf("adding the user: %w", err)
			}
			if err := recordCLI(ctx, st, "user.add", args[0], "role "+r.String()+tenantsNote(tenants)); err != nil {
				return err
			}
			scheme := "http"
			if cfg.Server.TLS() {
				scheme = "https"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Added user %s (%s%s). They sign in at %s://%s%s while serve runs.\n",
				args[0], r, tenantsNote(tenants), scheme, cfg.Server.Listen, auth.PathLogin)
			return err
		},
	}
	addConfigFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&role, "role", "", "viewer, responder or admin (required)")
	addTenantFlag(cmd, &tenantFlags)
	return cmd
}

func newUsersPasswdCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (read from standard input); ends the user's sessions",
		Args:  oneName("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openAuthStore(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.User(ctx, args[0]); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q (breakglass users list shows them)", args[0])
			} else if err != nil {
				return storeError(err)
			}
			pw, err := auth.ReadPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), args[0])
			if err != nil {
				return usageErrorf("password: %v", err)
			}
			hash, err := auth.HashPassword(pw)
			if err != nil {
				return usageErrorf("password: %v", err)
			}
			if err := st.SetUserPassword(ctx, args[0], hash, time.Now()); err != nil {
				return fmt.Errorf("setting the password: %w", err)
			}
			if err := recordCLI(ctx, st, "user.passwd", args[0], "sessions ended"); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Password of %s changed; every session of %s has ended.\n", args[0], args[0])
			return err
		},
	}
	addConfigFlag(cmd, &cfgPath)
	return cmd
}

func newUsersRemoveCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user and end its sessions",
		Args:  oneName("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openAuthStore(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.RemoveUser(ctx, args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no user %q (breakglass users list shows them)", args[0])
			}
			if err != nil {
				return fmt.Errorf("removing the user: %w", err)
			}
			if err := recordCLI(ctx, st, "user.remove", args[0], ""); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Removed user %s; its sessions have ended.\n", args[0])
			return err
		},
	}
	addConfigFlag(cmd, &cfgPath)
	return cmd
}

// shownUser is a user as list prints it: never the hash.
type shownUser struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"password_changed"`
	Tenants []string  `json:"tenants,omitempty"` // none: every tenant
}

func newUsersListCmd() *cobra.Command {
	var cfgPath, format string
	cmd := &cobra.Command{
		Use:   "list [--format table|json]",
		Short: "List the users and their roles (never their hashes)",
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
			us, err := st.Users(ctx)
			if err != nil {
				return storeError(err)
			}
			shown := []shownUser{}
			for _, u := range us {
				shown = append(shown, shownUser{Name: u.Name, Role: u.Role, Created: u.Created.UTC(), Updated: u.Updated.UTC(), Tenants: u.Tenants})
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(shown)
			}
			if len(shown) == 0 {
				_, err := fmt.Fprintln(w, "No users. Create the first admin: breakglass users add NAME --role admin")
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tPASSWORD CHANGED")
			for _, u := range shown {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", printable(u.Name), u.Role, u.Created.Format(tableTime), u.Updated.Format(tableTime))
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// openAuthStore opens the configured store for users, tokens and
// audit-log, refusing to create one (only users add does): a missing file
// is a wrong store.path or no user yet.
func openAuthStore(ctx context.Context, configPath string) (authCLIStore, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	st, err := openCLIStore(ctx, cfg, false, "create the first admin with breakglass users add NAME --role admin") // storedriver.go
	if err != nil {
		return nil, err
	}
	return st, nil
}

// cliActor names whoever runs the CLI in the audit trail: "cli:LOGIN".
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:uid" + fmt.Sprint(os.Getuid())
}

// recordCLI adds a CLI write action to the audit trail. The change itself
// is done by then; a failure here is an error that says so.
func recordCLI(ctx context.Context, st store.Auth, action, target, detail string) error {
	err := st.AddAudit(ctx, store.AuditEntry{At: time.Now(), Actor: cliActor(), Via: auth.ViaCLI, Action: action, Target: target, Outcome: "ok", Detail: detail})
	if err != nil {
		return fmt.Errorf("%s %s was done, but the audit trail could not be written: %w", action, target, err)
	}
	return nil
}
