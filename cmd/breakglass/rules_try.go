package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/kql/tables"
	"breakglass/internal/kqlrule"
)

// This file is `breakglass rules test` (the file name avoids _test.go).

func init() { addRulesSubcommand(newRulesTestCmd) }

type rulesTestFlags struct{ config, format string }

func newRulesTestCmd() *cobra.Command {
	var f rulesTestFlags
	cmd := &cobra.Command{
		Use:   "test --config F [--format table|json] FILE...",
		Short: "Run every KQL rule over log files as if they arrived now: what would fire",
		Long: `test runs every rule of rules: over the records of the files (any shape
scan reads; directories recursively; - for stdin) as if they had all
arrived now, and prints what would fire, so that a rule can be tried before
it is trusted.

A filter rule fires once per matching record. A scheduled rule is evaluated
once, over all the records, with now() = now: it fires once per dimension
group that breaches its threshold; a rule with violations.min above 1
breaches but does not fire on one evaluation, and says so.

Exit status: 0 nothing would fire; 1 something would fire, or a rule or
file could not be read (the error says which: nothing is reported as
quiet that was not run); 2 usage or configuration error.`,
		Example: `  breakglass rules test -c breakglass.yaml exports/PT1H.json
  breakglass rules test -c breakglass.yaml --format json signins.ndjson`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRulesTest(cmd, f, args) },
	}
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "configuration file (default $"+configEnv+")")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

type rulesTestResult struct {
	Rules    int               `json:"rules"`
	Firings  []kqlrule.Firing  `json:"firings"`
	Omitted  map[string]int    `json:"omitted,omitempty"` // firings past the cap, by rule
	Errors   []string          `json:"errors,omitempty"`
	Skipped  int               `json:"skipped_input"`
	Problems []string          `json:"skipped_examples,omitempty"`
	Now      string            `json:"now"`
	Kinds    map[string]string `json:"kinds"`
}

func runRulesTest(cmd *cobra.Command, f rulesTestFlags, args []string) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format %q: want table or json", f.format)
	}
	_, rules, err := loadRules(f.config)
	if err != nil {
		return err
	}
	paths, cleanup, err := queryInputs(cmd.InOrStdin(), queryFlags{}, args)
	if err != nil {
		return err
	}
	defer cleanup()
	files := tables.NewFiles(paths, tables.FileOptions{})
	now := time.Now().UTC()
	res := rulesTestResult{Rules: len(rules), Firings: []kqlrule.Firing{}, Now: now.Format(time.RFC3339), Kinds: map[string]string{}}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	for _, r := range rules {
		res.Kinds[r.ID] = string(r.Kind)
		fs, more, err := r.Test(ctx, files, now)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		res.Firings = append(res.Firings, fs...)
		if more > 0 {
			if res.Omitted == nil {
				res.Omitted = map[string]int{}
			}
			res.Omitted[r.ID] = more
		}
	}
	n, probs := files.Skipped()
	res.Skipped = n
	for _, p := range probs {
		res.Problems = append(res.Problems, fmt.Sprintf("%s (offset %d): %s", p.Source, p.Offset, p.Reason))
	}
	out := cmd.OutOrStdout()
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if err := printRulesTest(out, res); err != nil {
		return err
	}
	fires := 0
	for _, fi := range res.Firings {
		if fi.Fires {
			fires++
		}
	}
	for _, v := range res.Omitted {
		fires += v
	}
	switch {
	case len(res.Errors) > 0:
		return exitCodeError{exitFailure, fmt.Sprintf("%d of %d rules could not run (%s); what they would raise is unknown", len(res.Errors), len(rules), strings.Join(res.Errors, "; "))}
	case fires > 0:
		return exitCodeError{exitFailure, fmt.Sprintf("%d alerts would fire", fires)}
	}
	return nil
}

func printRulesTest(out io.Writer, res rulesTestResult) error {
	if res.Skipped > 0 {
		fmt.Fprintf(out, "Note: %d pieces of input could not be read as records and were left out", res.Skipped)
		if len(res.Problems) > 0 {
			fmt.Fprintf(out, ", first: %s", res.Problems[0])
		}
		fmt.Fprintln(out, ".")
	}
	if len(res.Firings) == 0 {
		if len(res.Errors) == 0 {
			fmt.Fprintf(out, "Nothing would fire: %d rules over these records.\n", res.Rules)
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tKIND\tFIRES\tCONDITION\tROWS\tDIMENSIONS\tFIRST ROW")
	for _, fi := range res.Firings {
		fires := "yes"
		if !fi.Fires {
			fires = "not yet"
		}
		first := ""
		if rows := fi.RawRows(); len(rows) > 0 {
			var parts []string
			for j, c := range fi.Columns() {
				if j < len(rows[0]) {
					parts = append(parts, c.Name+"="+rows[0][j].String())
				}
			}
			first = strings.Join(parts, " ")
			if len(first) > 100 {
				first = first[:97] + "..."
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", fi.Rule, fi.Kind, fires, fi.Condition, fi.Count, strings.Join(fi.Dimensions, ", "), first)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, fi := range res.Firings {
		if fi.Note != "" {
			fmt.Fprintf(out, "%s: %s.\n", fi.Rule, fi.Note)
		}
	}
	for id, n := range res.Omitted {
		fmt.Fprintf(out, "%s: %d more firings not shown (use --format json for the count).\n", id, n)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(out, "COULD NOT RUN: %s\n", e)
	}
	return nil
}
