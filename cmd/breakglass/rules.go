package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// rulesSubcommands are the subcommands of `breakglass rules`. Each lives in
// its own file (rules_list.go, rules_try.go, rules_export.go,
// rules_import.go) and adds itself here from an init function, so that the
// files can be written and merged independently of this one.
var rulesSubcommands []func() *cobra.Command

// addRulesSubcommand registers a `rules` subcommand; call it from init.
func addRulesSubcommand(fn func() *cobra.Command) {
	rulesSubcommands = append(rulesSubcommands, fn)
}

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List, test, export and import the KQL alert rules (rules:)",
		Long: `The rules: list of the configuration holds KQL alert rules with Azure
Monitor's scheduled query rule semantics (query, frequency, period,
threshold, severity, mute_for, auto_resolve, dimensions, violations).
A rule whose query only filters one table (where, extend, project) runs on
each record as it arrives; any other rule runs every frequency over the
records ingested in the last period.

  rules list    what each rule is and how it runs
  rules test    run every rule over files as if they arrived now
  rules export  the rules as Azure scheduledQueryRules (ARM or Bicep)
  rules import  Azure or Sentinel rules as a rules: block to paste`,
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
	for _, fn := range rulesSubcommands {
		cmd.AddCommand(fn())
	}
	return cmd
}
