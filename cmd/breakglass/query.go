package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

// exitUnsupported: the query is valid KQL that breakglass cannot run (yet).
const exitUnsupported = 3

type queryFlags struct {
	parseOnly bool
	format    string
	file      string
	store     bool
	config    string
}

func newQueryCmd() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query 'KQL' [FILE...] | query -f QUERYFILE [FILE...] | query 'KQL' --store",
		Short: "Run a KQL query over log files or the store, or check it",
		Long: `query runs KQL queries, such as Sentinel hunting queries and Azure
Monitor log alert queries, over Entra logs: the files named (any shape
breakglass scan reads: JSON, NDJSON, CSV, Event Hubs and Graph pages, gzip;
directories are read recursively; - is stdin), each record routed to its
table (SigninLogs, AADNonInteractiveUserSignInLogs,
AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs, AuditLogs,
MicrosoftGraphActivityLogs), or with --store the records the store of
--config keeps: those kept for scheduled KQL rules, and the evidence record
of every alert (not every record breakglass has read).

The query is the first argument, or --file QUERYFILE (- for stdin). The
text is split into blocks at blank lines, as Microsoft's Kusto editors split
a hunting file; each block is one query, run in turn. Errors say line:col
in the whole text.

With a configuration (--config, or $BREAKGLASS_CONFIG),
_GetWatchlist('breakGlassAccounts') is its accounts, so Sentinel's
break-glass rules run unchanged.

--format table (for people), json (one object per row: column to value,
datetimes in RFC 3339, dynamic values as JSON) or csv (with a header).

--parse-only only checks the queries. With --format json it prints
{"ok", "queries", "errors": [{"line", "col", "message", "kind"}], "columns"};
"columns" is the result schema [{"name", "type"}] of a single query the
engine can compile, else null.

Exit status: 0 ok; 1 the query failed while running (a file could not be
read); 2 a syntax or query error (an unknown table or column), or bad usage;
3 valid KQL that breakglass cannot run (make-series, evaluate, ...).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd, f, args)
		},
	}
	cmd.Flags().BoolVar(&f.parseOnly, "parse-only", false, "only check the queries")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table, json or csv")
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "read the queries from QUERYFILE (- for stdin) instead of the first argument")
	cmd.Flags().BoolVar(&f.store, "store", false, "query the records kept in the store (of --config) instead of files")
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "configuration file: the store of --store, the accounts of _GetWatchlist('breakGlassAccounts') (default $"+configEnv+")")
	return cmd
}

// queryResult is the JSON shape of --parse-only --format json.
type queryResult struct {
	OK      bool          `json:"ok"`
	Queries int           `json:"queries"`
	Errors  []kql.Problem `json:"errors"`
	Columns *[]columnJSON `json:"columns"` // null: several queries, or one the engine cannot compile
}

type columnJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// queryText is the text of the queries and what to call it in messages.
type queryText struct {
	text, where string
}

func readQueryText(stdin io.Reader, f queryFlags, args []string) (queryText, []string, error) {
	var q queryText
	switch {
	case f.file == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, kql.MaxQueryBytes+1))
		if err != nil {
			return q, nil, fmt.Errorf("reading the query from stdin: %w", err)
		}
		q = queryText{string(b), "stdin"}
	case f.file != "":
		b, err := readLimited(f.file, kql.MaxQueryBytes)
		if err != nil {
			if os.IsNotExist(err) {
				return q, nil, usageErrorf("%s: no such file", f.file)
			}
			return q, nil, err
		}
		q = queryText{string(b), f.file}
	case len(args) > 0:
		q, args = queryText{args[0], "query"}, args[1:]
	default:
		return q, nil, usageErrorf("no query: give it as an argument (breakglass query 'SigninLogs | take 1' FILE) or with --file QUERYFILE")
	}
	if len(q.text) > kql.MaxQueryBytes {
		return q, nil, usageErrorf("%s: larger than 1 MiB; that is not a query", q.where)
	}
	return q, args, nil
}

func runQuery(cmd *cobra.Command, f queryFlags, args []string) error {
	switch f.format {
	case "table", "json", "csv":
	default:
		return usageErrorf("--format %q: want table, json or csv", f.format)
	}
	if f.parseOnly && f.format == "csv" {
		return usageErrorf("--format csv: --parse-only prints table or json")
	}
	out := cmd.OutOrStdout()
	q, inputs, err := readQueryText(cmd.InOrStdin(), f, args)
	if err != nil {
		return err
	}
	rep := kql.CheckText(q.text)
	if rep.Blocks == 0 {
		return usageErrorf("%s: no query in it (only blank lines and comments)", q.where)
	}
	if f.parseOnly {
		if len(inputs) > 0 || f.store {
			return usageErrorf("--parse-only reads no logs: drop the files (or --store)")
		}
		return printParseOnly(out, q, rep, f.format)
	}
	if len(rep.Problems) > 0 {
		printProblems(cmd.ErrOrStderr(), q, rep)
		return checkVerdict(q, rep)
	}
	return runQueries(cmd, f, q, inputs)
}

func printProblems(w io.Writer, q queryText, rep kql.TextReport) {
	for _, p := range rep.Problems {
		label := "error"
		if p.Kind == "unsupported" {
			label = "not supported"
		}
		fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", q.where, p.Line, p.Col, label, p.Message)
	}
}

func checkVerdict(q queryText, rep kql.TextReport) error {
	switch {
	case rep.Syntax():
		return exitCodeError{exitUsage, fmt.Sprintf("%s: not valid KQL; fix the error at the line:col above", q.where)}
	case rep.Unsupported():
		return exitCodeError{exitUnsupported, fmt.Sprintf("%s: valid KQL, but breakglass cannot run all of it yet (see above)", q.where)}
	}
	return nil
}

func printParseOnly(out io.Writer, q queryText, rep kql.TextReport, format string) error {
	res := queryResult{OK: len(rep.Problems) == 0, Queries: rep.Blocks, Errors: rep.Problems}
	if res.Errors == nil {
		res.Errors = []kql.Problem{}
	}
	if res.OK && rep.Blocks == 1 {
		if cols, ok := resultSchema(q.text); ok {
			list := make([]columnJSON, len(cols))
			for i, c := range cols {
				list[i] = columnJSON{c.Name, c.Type.String()}
			}
			res.Columns = &list
		}
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printProblems(out, q, rep)
		if res.OK {
			noun := "query"
			if rep.Blocks > 1 {
				noun = "queries"
			}
			fmt.Fprintf(out, "ok: %d %s, valid KQL\n", rep.Blocks, noun)
			if res.Columns != nil {
				fmt.Fprint(out, "columns:")
				for _, c := range *res.Columns {
					fmt.Fprintf(out, " %s:%s", printable(c.Name), c.Type)
				}
				fmt.Fprintln(out)
			}
		}
	}
	return checkVerdict(q, rep)
}

// resultSchema compiles the one query of text against the tables'
// schemas; false when the engine cannot (not built, an unknown name).
func resultSchema(text string) ([]value.Column, bool) {
	blocks := kql.SplitBlocks(text)
	if len(blocks) != 1 {
		return nil, false
	}
	qry, err := compileBlock(blocks[0].Text, schemaOnly{}, nil)
	if err != nil {
		return nil, false
	}
	return qry.Columns(), true
}
