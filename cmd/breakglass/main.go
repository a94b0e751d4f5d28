// Command breakglass guards the emergency access (break-glass) accounts of a
// Microsoft Entra ID tenant: it watches sign-in and audit logs for any use
// of, or change to, them, alerts people at once, and snapshots the tenant
// configuration that concerns them.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes. CI pipelines depend on these; do not renumber.
const (
	exitOK      = 0
	exitFailure = 1 // the run could not complete (I/O, store)
	exitUsage   = 2 // bad flags, arguments or configuration
)

// usageError marks errors caused by the caller's input, which exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "breakglass:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ce exitCodeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "breakglass",
		Short: "Guard the emergency access accounts of a Microsoft Entra ID tenant",
		Long: `breakglass guards the emergency access ("break-glass") accounts of a
Microsoft Entra ID tenant. It reads sign-in and audit logs in every shape
Entra exports them and raises an alert on any use of, or change to, a
break-glass account: once over files (scan) or always on (serve).

Every command that reads the configuration takes --config/-c FILE, or the
file named by $BREAKGLASS_CONFIG. Exit status 2 means a usage or
configuration error.`,
		SilenceUsage:  true,
		SilenceErrors: true,

		SuggestionsMinimumDistance: 2,
		// A mistyped command is a usage error (exit 2), not a failure.
		Args: cobra.ArbitraryArgs,
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
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(
		newVersionCmd(),
		newConfigCmd(),
		newScanCmd(),
		newSimulateCmd(),
		newServeCmd(),
		newCollectCmd(),
		newAccountsCmd(),
		newDiscoverCmd(),
		newAuditCmd(),
		newNotifyCmd(),
		newAlertsCmd(),
		newIncidentsCmd(),
		newEvidenceCmd(),
		newDrillCmd(),
		newQueryCmd(),
		newRulesCmd(),    // rules.go; its subcommands register themselves
		newUsersCmd(),    // users.go
		newTokensCmd(),   // tokens.go
		newAuditLogCmd(), // auditlog.go
		newDoctorCmd(),   // doctor.go
		newStoreCmd(),    // store.go; its subcommands register themselves
		newSBOMCmd(),     // sbom.go
	)
	return root
}
