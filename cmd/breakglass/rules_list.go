package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/kqlrule"
)

func init() { addRulesSubcommand(newRulesListCmd) }

type rulesListFlags struct{ config, format string }

func newRulesListCmd() *cobra.Command {
	var f rulesListFlags
	cmd := &cobra.Command{
		Use:   "list --config F [--format table|json]",
		Short: "Show each KQL rule: how it runs, how often, over what, when it fires",
		Long: `list shows the rules: of the configuration as serve runs them:

  NAME       the rule's name; its alerts say rule=kql.NAME
  KIND       filter (runs on each record as it arrives) or scheduled
             (runs every FREQUENCY over the records read in the last PERIOD)
  THRESHOLD  when it fires: "rows > 0" without a threshold
  SEV        severity, 0 (critical) to 4
  LITERALS   what the prefilter looks for (filter rules): a record holding
             none of them is skipped unread; "every record" when none can be
             derived from the query

Exit status: 0 listed; 2 usage or configuration error (a query that does not
compile is one, at its file:line).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRulesList(cmd.OutOrStdout(), f) },
	}
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "configuration file (default $"+configEnv+")")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// loadRules loads the configuration and compiles its rules; both kinds of
// problem are configuration errors (exit 2).
func loadRules(path string) (*config.Config, []*kqlrule.Rule, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	rules, err := kqlrule.Compile(cfg)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return cfg, rules, nil
}

type ruleInfo struct {
	Name        string   `json:"name"`
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Why         string   `json:"why_scheduled,omitempty"`
	Tables      []string `json:"tables"`
	Frequency   string   `json:"frequency,omitempty"`
	Period      string   `json:"period,omitempty"`
	Threshold   string   `json:"threshold"`
	Severity    int      `json:"severity"`
	MuteFor     string   `json:"mute_for,omitempty"`
	AutoResolve bool     `json:"auto_resolve,omitempty"`
	Dimensions  []string `json:"dimensions,omitempty"`
	Violations  string   `json:"violations,omitempty"`
	Literals    []string `json:"literals"`
}

// describeRule is kqlrule.Describe (which the API and the rules page
// show too) in the shape of rules list --format json.
func describeRule(r *kqlrule.Rule) ruleInfo {
	in := kqlrule.Describe(r)
	return ruleInfo{Name: in.Name, ID: in.ID, Kind: in.Kind, Why: in.Why, Tables: in.Tables, Frequency: in.Frequency,
		Period: in.Period, Threshold: in.Threshold, Severity: in.Severity, MuteFor: in.MuteFor, AutoResolve: in.AutoResolve,
		Dimensions: in.Dimensions, Violations: in.Violations, Literals: in.Literals}
}

func runRulesList(out io.Writer, f rulesListFlags) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format %q: want table or json", f.format)
	}
	_, rules, err := loadRules(f.config)
	if err != nil {
		return err
	}
	infos := make([]ruleInfo, 0, len(rules))
	for _, r := range rules {
		infos = append(infos, describeRule(r))
	}
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	if len(infos) == 0 {
		fmt.Fprintln(out, "No KQL rules: add them under rules: in the configuration.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tTABLES\tFREQUENCY\tPERIOD\tTHRESHOLD\tSEV\tLITERALS")
	for _, in := range infos {
		freq, period := in.Frequency, in.Period
		if in.Kind == string(kqlrule.KindFilter) {
			freq, period = "per record", "-"
		}
		th := in.Threshold
		if len(in.Dimensions) > 0 {
			th += " by " + strings.Join(in.Dimensions, ", ")
		}
		if in.Violations != "" {
			th += " (" + in.Violations + " evaluations)"
		}
		lits := strings.Join(in.Literals, " ")
		switch {
		case in.Kind == string(kqlrule.KindScheduled):
			lits = "-"
		case lits == "":
			lits = "every record"
		case len(lits) > 60:
			lits = lits[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", in.Name, in.Kind, strings.Join(in.Tables, ","), freq, period, th, in.Severity, lits)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, in := range infos {
		if in.Why != "" {
			fmt.Fprintf(out, "%s is a filter query but runs scheduled: %s.\n", in.Name, in.Why)
		}
	}
	return nil
}
