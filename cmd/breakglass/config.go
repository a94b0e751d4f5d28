package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
)

// configEnv names the configuration file when --config is not given, so a
// service unit or container can set it once for every subcommand.
const configEnv = "BREAKGLASS_CONFIG"

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the configuration file",

		SuggestionsMinimumDistance: 2,
		// Without RunE cobra would print help and exit 0 for a mistyped
		// subcommand, and a CI step would pass without checking anything.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				hint := ""
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					hint = fmt.Sprintf("\nDid you mean %q?", s[0])
				}
				return usageErrorf("unknown command %q for %q%s\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration file and print the effective configuration",
		Long: `Check reads the configuration file strictly and reports every problem in it,
each as file:line: field: message. If the file is valid it prints the
effective configuration, with defaults filled in and secrets shown as
<redacted>, on standard output.

Exit status is 0 if the file is valid and 2 if it is not.`,
		Example: `  breakglass config check --config /etc/breakglass/config.yaml
  BREAKGLASS_CONFIG=config.yaml breakglass config check`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			// The credential settings that depend on the environment
			// (AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, a certificate
			// file) are checked where serve and collect check them, so
			// that a file config check accepts is not then refused.
			if cfg.Graph.Configured() {
				if _, err := newGraphClient(cfg, slog.New(slog.DiscardHandler)); err != nil {
					return err
				}
			}
			// So are the rules serve adds (group entries need graph:,
			// exceptions name known checks): the same code as serve's.
			if err := daemon.CheckConfig(cfg); err != nil {
				return usageError{err}
			}
			out, err := cfg.Redacted()
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return fmt.Errorf("writing configuration: %w", err)
			}
			n := len(cfg.AllAccounts()) // every tenant's too
			noun := "accounts"
			if n == 1 {
				noun = "account"
			}
			fmt.Fprint(cmd.ErrOrStderr(), cfg.Notify.Describe())
			reach, err := daemon.Reach(cfg)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.ErrOrStderr(), reach)
			if len(cfg.Tenants) > 0 {
				noun += fmt.Sprintf(" in %d tenants", len(cfg.Tenants))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "config OK: %d %s (%s)\n", n, noun, cfg.Path)
			return nil
		},
	}
	addConfigFlag(cmd, &path)
	return cmd
}

// addConfigFlag gives a command the --config/-c flag, spelled the same way
// everywhere; pass the value to loadConfig.
func addConfigFlag(cmd *cobra.Command, path *string) {
	addConfigFlagUsage(cmd, path, "configuration file (default $"+configEnv+")")
}

// addConfigFlagUsage is addConfigFlag with a command's own help text.
func addConfigFlagUsage(cmd *cobra.Command, path *string, usage string) {
	cmd.Flags().StringVarP(path, "config", "c", "", usage)
}

// loadOptionalConfig is loadConfig for commands that work without a
// configuration: no --config and no $BREAKGLASS_CONFIG give nil.
func loadOptionalConfig(path string) (*config.Config, error) {
	if path == "" && os.Getenv(configEnv) == "" {
		return nil, nil
	}
	return loadConfig(path)
}

// loadConfig loads the configuration for a command. path is the --config
// flag value; when empty, $BREAKGLASS_CONFIG is used. Every failure, a
// missing file included, is the caller's input and so a usageError (exit 2).
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		path = os.Getenv(configEnv)
	}
	if path == "" {
		return nil, usageErrorf("no configuration file: pass --config FILE or set %s", configEnv)
	}
	cfg, err := config.Load(path)
	if err != nil {
		// main prints one "breakglass:" prefix; with several problems, a
		// header line keeps every problem starting at column 0.
		var list config.ErrorList
		if errors.As(err, &list) && len(list) > 1 {
			return nil, usageError{fmt.Errorf("%s: %d configuration problems:\n%w", path, len(list), err)}
		}
		return nil, usageError{err}
	}
	return cfg, nil
}

// loadTenantConfig is loadConfig for a command about one tenant (audit,
// collect, discover): a file with tenants: needs --tenant, and the command
// then sees that tenant's accounts, Graph and sources only.
func loadTenantConfig(path, tenant string) (*config.Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	one, err := cfg.OneTenant(tenant)
	if err != nil {
		return nil, usageError{fmt.Errorf("--tenant: %w", err)}
	}
	return one, nil
}

// noArgs is cobra.NoArgs as a usageError, so it exits 2 like other
// invocation mistakes.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
