package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// storeSubcommands are the subcommands of `breakglass store`. Each lives in
// its own file (store_migrate.go, store_backup.go, store_restore.go) and
// adds itself here from an init function, so that the files can be written
// and merged independently of this one:
//
//	func init() { addStoreSubcommand(newStoreMigrateCmd) }
var storeSubcommands []func() *cobra.Command

// addStoreSubcommand registers a `store` subcommand; call it from init.
func addStoreSubcommand(fn func() *cobra.Command) {
	storeSubcommands = append(storeSubcommands, fn)
}

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Move, back up and restore the store",
		Long: `store works on the whole store (store: in the configuration) at once:
moving an installation from one backend to another, backing it up and
restoring it. Stop serve first where a subcommand says so.`,
		SuggestionsMinimumDistance: 2,
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
	for _, fn := range storeSubcommands {
		cmd.AddCommand(fn())
	}
	return cmd
}
