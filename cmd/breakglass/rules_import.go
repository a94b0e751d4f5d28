package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"breakglass/internal/rulesio"
)

func init() { addRulesSubcommand(newRulesImportCmd) }

func newRulesImportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE... [--format yaml|json]",
		Short: "Turn Azure alert rules and Sentinel analytic rules into a rules: block",
		Long: `import reads Azure Monitor scheduled query rules (ARM JSON: a template, a
bare resource or a list; the 2018 source/schedule/action form and the 2021+
criteria form) and Microsoft Sentinel analytic rules (the YAML of the
Azure-Sentinel repository, or alertRules in ARM), and prints the rules: block
to paste into the configuration (- reads stdin).

Above each rule, comments say what did not carry over (entity mappings,
incident settings, tactics, dynamic thresholds, ...) and whether its query
parses here. Sentinel severities become Azure's: High 1, Medium 2, Low 3,
Informational 4 (set 0 for a break-glass rule that must page as critical).

Exit status: 0 every rule carried over and parses; 1 something did not
(see the comments); 2 a file could not be read (file:line, or the JSON byte
offset).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("rules import needs at least one FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRulesImport(cmd.OutOrStdout(), cmd.ErrOrStderr(), cmd.InOrStdin(), format, args)
		},
	}
	cmd.Flags().StringVar(&format, "format", "yaml", "output format: yaml (a rules: block) or json")
	return cmd
}

func runRulesImport(stdout, stderr io.Writer, stdin io.Reader, format string, files []string) error {
	if format != "yaml" && format != "json" {
		return usageErrorf("--format %q: use yaml or json", format)
	}
	var all []rulesio.Imported
	var bad []error
	for _, f := range files {
		data, err := readRuleFile(f, stdin)
		if err == nil {
			var ims []rulesio.Imported
			ims, err = rulesio.Import(f, data)
			all = append(all, ims...)
		}
		if err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 {
		// Nothing is printed to paste: half a set of rules looks whole.
		return usageError{errors.Join(bad...)}
	}
	rulesio.Check(all)
	var out []byte
	var err error
	if format == "json" {
		out, err = rulesio.RulesJSON(all)
	} else {
		out, err = rulesio.RulesYAML(all)
	}
	if err != nil {
		return err
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("writing the rules: %w", err)
	}
	lost, unparsed := 0, 0
	for _, im := range all {
		if rulesio.Lost(im.Problems) {
			lost++
		}
		if !im.Parses {
			unparsed++
		}
	}
	if lost > 0 {
		return exitCodeError{exitFailure, fmt.Sprintf("imported %d %s; %d lost something on the way (%d with a query that does not run here): read the NOT CARRIED OVER comments before you paste", len(all), plural(len(all), "rule", "rules"), lost, unparsed)}
	}
	fmt.Fprintf(stderr, "imported %d %s; every one carried over and parses\n", len(all), plural(len(all), "rule", "rules"))
	return nil
}

// readRuleFile reads one input with rulesio.MaxInput as the limit.
func readRuleFile(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, rulesio.MaxInput+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}
