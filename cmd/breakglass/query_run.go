package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/kql"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
	"breakglass/internal/kqlrule"
)

// schemaOnly is a catalog with the tables' schemas and no rows: enough to
// compile a query and learn its result schema.
type schemaOnly struct{}

func (schemaOnly) Schema(table string) ([]value.Column, bool) { return tables.Schema(table) }
func (schemaOnly) Scan(context.Context, string, func([]value.Value) error) error {
	return nil
}

// compileBlock parses and compiles one query block.
func compileBlock(text string, cat eval.Catalog, opt *eval.Options) (*eval.Query, error) {
	sc, err := kql.Parse(text)
	if err != nil {
		return nil, err
	}
	var o eval.Options
	if opt != nil {
		o = *opt
	}
	return eval.Compile(sc, cat, o)
}

// maxStdinLogs bounds what query spools from stdin (it is read once per
// table the query scans, so it is kept in a temporary file).
const maxStdinLogs = 4 << 30

func runQueries(cmd *cobra.Command, f queryFlags, q queryText, inputs []string) error {
	stderr := cmd.ErrOrStderr()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()

	var cat eval.Catalog
	var files *tables.Files
	var cfg *config.Config
	switch {
	case f.store && len(inputs) > 0:
		return usageErrorf("give log files or --store, not both")
	case f.store:
		st, c, err := openAlertsStore(ctx, f.config)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg = c
		cat = tables.NewEvidence(st)
	case len(inputs) == 0:
		return usageErrorf("no logs to query: name files or directories (- for stdin), or use --store")
	default:
		paths, cleanup, err := queryInputs(cmd.InOrStdin(), f, inputs)
		if err != nil {
			return err
		}
		defer cleanup()
		files = tables.NewFiles(paths, tables.FileOptions{})
		cat = files
	}

	// A configuration (--config or $BREAKGLASS_CONFIG) gives
	// _GetWatchlist('breakGlassAccounts') its accounts; over files it is
	// optional.
	if cfg == nil && (f.config != "" || os.Getenv(configEnv) != "") {
		c, err := loadConfig(f.config)
		if err != nil {
			return err
		}
		cfg = c
	}
	opt := eval.Options{Now: time.Now().UTC()}
	if cfg != nil {
		opt.Watchlists = kqlrule.Watchlists(cfg)
		geo, err := kqlrule.Geo(cfg)
		if err != nil {
			return err
		}
		opt.Geo = geo
	}
	w := newRowWriter(cmd.OutOrStdout(), f.format)
	blocks := kql.SplitBlocks(q.text)
	var firstErr error
	for i, b := range blocks {
		if len(blocks) > 1 {
			w.begin(i+1, b.Line)
		}
		err := runBlock(ctx, cat, opt, b, w, stderr)
		if err != nil {
			fmt.Fprintln(stderr, placeError(q.where, b, err))
			if cfg == nil && strings.Contains(err.Error(), "watchlist") {
				fmt.Fprintf(stderr, "hint: _GetWatchlist('breakGlassAccounts') is the accounts of the configuration: pass --config FILE or set %s\n", configEnv)
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	if files != nil {
		if n, first := files.Skipped(); n > 0 {
			fmt.Fprintf(stderr, "warning: %d pieces of the input are not records breakglass can read and are not in the result; the first:\n", n)
			for _, p := range first {
				fmt.Fprintf(stderr, "  %s: %s: %s\n", printable(p.Source), p.Reason, printable(fmt.Sprint(p.Err)))
			}
		}
	}
	return queryExit(q, firstErr, len(blocks))
}

// queryInputs expands the inputs as scan does; stdin ("-") is spooled to
// a temporary file because the catalog reads its files once per table.
func queryInputs(stdin io.Reader, f queryFlags, inputs []string) ([]string, func(), error) {
	paths, err := expandInputs(inputs)
	if err != nil {
		return nil, nil, usageError{err}
	}
	cleanup := func() {}
	for i, p := range paths {
		if p != "-" {
			continue
		}
		if f.file == "-" {
			return nil, nil, usageErrorf("stdin cannot hold both the query (-f -) and the logs (-)")
		}
		tmp, err := os.CreateTemp("", "breakglass-query-*.log")
		if err != nil {
			return nil, nil, fmt.Errorf("spooling stdin: %w", err)
		}
		name := tmp.Name()
		cleanup = func() { os.Remove(name) }
		n, err := io.Copy(tmp, io.LimitReader(stdin, maxStdinLogs+1))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil && n > maxStdinLogs {
			err = fmt.Errorf("more than %d GiB", maxStdinLogs>>30)
		}
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("spooling stdin to %s: %w", filepath.Dir(name), err)
		}
		paths[i] = name
		// One stdin is all there is: a second "-" reads nothing.
		for j := i + 1; j < len(paths); j++ {
			if paths[j] == "-" {
				cleanup()
				return nil, nil, usageErrorf("- (stdin) given twice")
			}
		}
		break
	}
	return paths, cleanup, nil
}

// queryError is a query the engine refused (an unknown name, a type
// error): the caller's input, so it exits 2.
type queryError struct{ err error }

func (e queryError) Error() string { return e.err.Error() }
func (e queryError) Unwrap() error { return e.err }

// runError is a query that failed while running: exit 1.
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

func runBlock(ctx context.Context, cat eval.Catalog, opt eval.Options, b kql.Block, w *rowWriter, stderr io.Writer) error {
	qry, err := compileBlock(b.Text, cat, &opt)
	if err != nil {
		var se *kql.SyntaxError
		if errors.As(err, new(*kql.UnsupportedError)) || errors.As(err, &se) {
			return err
		}
		return queryError{err}
	}
	queryWarnings(stderr, b, qry, opt) // query_warn.go
	res, err := qry.Run(ctx)
	if err != nil {
		if errors.As(err, new(*kql.UnsupportedError)) {
			return err
		}
		return runError{err}
	}
	if err := w.write(res); err != nil {
		return runError{fmt.Errorf("writing the result: %w", err)}
	}
	if res.Truncated {
		fmt.Fprintf(stderr, "warning: the query at line %d returned more than %d rows; only the first %d are shown (add | take N, or narrow the where)\n",
			b.Line, len(res.Rows), len(res.Rows))
	}
	return nil
}

// placeError names the block's place in the whole text (the parser's and
// the engine's positions are in the block), as where:line:col when the
// error has a position.
func placeError(where string, b kql.Block, err error) string {
	var se *kql.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s:%d:%d: error: %s", where, b.Line+se.Pos.Line-1, se.Pos.Col, se.Msg)
	}
	var ue *kql.UnsupportedError
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s:%d:%d: not supported: %s", where, b.Line+ue.Pos.Line-1, ue.Pos.Col, ue.Msg)
	}
	var ee *eval.Error
	if errors.As(err, &ee) {
		return fmt.Sprintf("%s:%d:%d: error: %s", where, b.Line+ee.Pos.Line-1, ee.Pos.Col, printable(ee.Msg))
	}
	return fmt.Sprintf("%s: the query at line %d: %s", where, b.Line, printable(err.Error()))
}

func queryExit(q queryText, err error, blocks int) error {
	if err == nil {
		return nil
	}
	var qe queryError
	var re runError
	var se *kql.SyntaxError
	switch {
	case errors.As(err, new(*kql.UnsupportedError)):
		return exitCodeError{exitUnsupported, fmt.Sprintf("%s: valid KQL, but breakglass cannot run all of it yet (see above)", q.where)}
	case errors.As(err, &se), errors.As(err, &qe):
		return exitCodeError{exitUsage, fmt.Sprintf("%s: the query cannot run over these tables; fix the error above", q.where)}
	case errors.As(err, &re):
		if blocks > 1 {
			return exitCodeError{exitFailure, fmt.Sprintf("%s: a query failed while running (see above)", q.where)}
		}
		return exitCodeError{exitFailure, fmt.Sprintf("%s: the query failed while running (see above)", q.where)}
	}
	return err
}
