package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"breakglass/internal/kql"
)

// exitUnsupported: the query is valid KQL that breakglass cannot run (yet).
const exitUnsupported = 3

type queryFlags struct {
	parseOnly bool
	format    string
	file      string
}

func newQueryCmd() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query 'KQL' | query -f FILE",
		Short: "Check a KQL query (evaluation comes later)",
		Long: `query checks KQL queries, such as Sentinel hunting queries and Azure
Monitor log alert queries, with breakglass's own parser.

The text (the argument, or --file FILE, - for stdin) is split into blocks at
blank lines, as Microsoft's Kusto editors split a hunting file; each block
is one query. Errors say line:col in the whole text.

--parse-only checks the syntax. With --format json it prints
{"ok", "errors": [{"line", "col", "message", "kind"}], "columns": null};
"columns" (the result schema) stays null until the evaluator is built.

Running a query (without --parse-only) is not built yet: it checks the
query, then exits 3.

Exit status: 0 valid; 2 a syntax error, or bad usage; 3 valid KQL that
breakglass cannot run (make-series, evaluate, search, ...), or any query
run without --parse-only.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd.OutOrStdout(), cmd.InOrStdin(), f, args)
		},
	}
	cmd.Flags().BoolVar(&f.parseOnly, "parse-only", false, "only check the query's syntax")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "read the queries from FILE (- for stdin) instead of the argument")
	return cmd
}

// queryResult is the JSON shape of --parse-only --format json.
type queryResult struct {
	OK      bool          `json:"ok"`
	Queries int           `json:"queries"`
	Errors  []kql.Problem `json:"errors"`
	Columns *[]struct{}   `json:"columns"` // null: the schema arrives with the evaluator
}

func runQuery(out io.Writer, stdin io.Reader, f queryFlags, args []string) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format %q: want table or json", f.format)
	}
	var text, where string
	switch {
	case f.file != "" && len(args) > 0:
		return usageErrorf("give the query as an argument or with --file, not both")
	case f.file == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, kql.MaxQueryBytes+1))
		if err != nil {
			return fmt.Errorf("reading the query from stdin: %w", err)
		}
		text, where = string(b), "stdin"
	case f.file != "":
		b, err := readLimited(f.file, kql.MaxQueryBytes)
		if err != nil {
			if os.IsNotExist(err) {
				return usageErrorf("%s: no such file", f.file)
			}
			return err
		}
		text, where = string(b), f.file
	case len(args) == 1:
		text, where = args[0], "query"
	default:
		return usageErrorf("no query: give it as an argument (breakglass query 'SigninLogs | take 1' --parse-only) or with --file FILE")
	}
	if len(text) > kql.MaxQueryBytes {
		return usageErrorf("%s: larger than 1 MiB; that is not a query", where)
	}
	rep := kql.CheckText(text)
	if rep.Blocks == 0 {
		return usageErrorf("%s: no query in it (only blank lines and comments)", where)
	}
	res := queryResult{OK: len(rep.Problems) == 0, Queries: rep.Blocks, Errors: rep.Problems}
	if res.Errors == nil {
		res.Errors = []kql.Problem{}
	}
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			label := "error"
			if p.Kind == "unsupported" {
				label = "not supported"
			}
			fmt.Fprintf(out, "%s:%d:%d: %s: %s\n", where, p.Line, p.Col, label, p.Message)
		}
		if res.OK {
			noun := "query"
			if rep.Blocks > 1 {
				noun = "queries"
			}
			fmt.Fprintf(out, "ok: %d %s, valid KQL\n", rep.Blocks, noun)
		}
	}
	switch {
	case rep.Syntax():
		return exitCodeError{exitUsage, fmt.Sprintf("%s: not valid KQL; fix the error at the line:col above", where)}
	case rep.Unsupported():
		return exitCodeError{exitUnsupported, fmt.Sprintf("%s: valid KQL, but breakglass cannot run all of it yet (see above)", where)}
	case !f.parseOnly:
		return exitCodeError{exitUnsupported, "evaluation is not built yet: the query is valid; use --parse-only to check queries"}
	}
	return nil
}
