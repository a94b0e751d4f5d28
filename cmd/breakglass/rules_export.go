package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"breakglass/internal/rulesio"
)

func init() { addRulesSubcommand(newRulesExportCmd) }

func newRulesExportCmd() *cobra.Command {
	var cfgPath, format string
	cmd := &cobra.Command{
		Use:   "export --config FILE [--format arm|bicep]",
		Short: "Write the rules as Azure Monitor alert rules and action groups (ARM or Bicep)",
		Long: `export writes the rules: of the configuration as Azure Monitor log search
alert rules (Microsoft.Insights/scheduledQueryRules) and notify.groups as
action groups (Microsoft.Insights/actionGroups), so Azure Monitor can run
them as a second, independent path. Deploy the output with
  az deployment group create -g RG -f FILE -p workspaceId=WORKSPACE_ID

Email, SMS, voice and webhook channels become receivers; webhook URLs are
secrets, so each is a secure parameter to pass at deployment and never
appears in the output. Each rule gets the action groups notify.routes
picks for its alerts.

What Azure cannot express (a != threshold, channel types with no Azure
receiver, escalation, webhook signing) is listed on stderr.

Exit status: 0 everything exported; 1 something was not (see stderr);
2 a usage or configuration error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRulesExport(cmd.OutOrStdout(), cmd.ErrOrStderr(), cfgPath, format)
		},
	}
	addConfigFlag(cmd, &cfgPath)
	cmd.Flags().StringVar(&format, "format", "arm", "output format: arm (JSON template) or bicep")
	return cmd
}

func runRulesExport(stdout, stderr io.Writer, cfgPath, format string) error {
	if format != "arm" && format != "bicep" {
		return usageErrorf("--format %q: use arm or bicep", format)
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	ex, err := rulesio.Export(cfg)
	if err != nil {
		return usageError{err}
	}
	out := ex.ARM()
	if format == "bicep" {
		out = ex.Bicep()
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("writing the template: %w", err)
	}
	for _, p := range ex.Problems {
		fmt.Fprintln(stderr, p)
	}
	skipped := len(cfg.Rules) - ex.Rules
	switch {
	case len(cfg.Rules) == 0:
		return exitCodeError{exitFailure, "the configuration has no rules: nothing to export; add rules: first"}
	case rulesio.Lost(ex.Problems):
		return exitCodeError{exitFailure, fmt.Sprintf("exported %d of %d rules and %d action %s; the lines above say what Azure will not do: fix them before relying on Azure as a second path", ex.Rules, len(cfg.Rules), ex.Groups, plural(ex.Groups, "group", "groups"))}
	case skipped > 0:
		return exitCodeError{exitFailure, fmt.Sprintf("%d %s not exported", skipped, plural(skipped, "rule", "rules"))}
	}
	fmt.Fprintf(stderr, "exported %d %s and %d action %s\n", ex.Rules, plural(ex.Rules, "rule", "rules"), ex.Groups, plural(ex.Groups, "group", "groups"))
	return nil
}
