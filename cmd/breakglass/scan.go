package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/alert"
	"breakglass/internal/daemon"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

type scanFlags struct {
	config      string
	format      string
	storePath   string
	noStore     bool
	verbose     bool
	maxRecord   int
	exhaustive  bool
	failOnAlert bool
	workers     int
	snapshot    string
}

func newScanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan --config F [flags] [FILE|DIR|-]...",
		Short: "Find any use of, or change to, a break-glass account in log files",
		Long: `scan reads Entra sign-in and audit logs in any shape Entra exports them —
Microsoft Graph responses, Event Hubs payloads, storage-account PT1H.json
files, Log Analytics JSON, NDJSON or CSV exports, gzip-compressed or not, mixed
in one file — and prints an alert for every sign-in by, activity of, or change
to a break-glass account. Directories are read recursively; "-" reads stdin.
Group entries in accounts: are expanded to their transitive user members
through Graph (graph: section), or from a collect snapshot (--snapshot DIR).

Alerts are stored (with the raw records as evidence) so that scanning the same
logs again, or overlapping exports, reports each alert once. A summary of
records by category and skipped input by reason goes to stderr.

Exit status: 0 when the scan completed, 1 when some input could not be read,
2 for usage or configuration errors (including a group whose members cannot be
read), 3 with --fail-on-alert when there are new alerts.`,
		Example: `  breakglass scan --config breakglass.yaml exports/
  breakglass scan -c breakglass.yaml --format json --no-store PT1H.json.gz
  az rest ... | breakglass scan -c breakglass.yaml -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, f, args)
		},
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVarP(&f.format, "format", "o", "table", "output format: table or json (one object per line)")
	fl.StringVar(&f.storePath, "store", "", "SQLite store file (default: the store the config names, store.path or store.dsn)")
	fl.BoolVar(&f.noStore, "no-store", false, "keep nothing: dedupe within this run only")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "report every skipped record with file:line and why")
	fl.IntVar(&f.maxRecord, "max-record-bytes", 0, "largest record accepted (default 64 MiB)")
	fl.BoolVar(&f.exhaustive, "exhaustive", false, "decode every record instead of skipping those that cannot match (slower; validates whole files)")
	fl.BoolVar(&f.failOnAlert, "fail-on-alert", false, "exit 3 when the scan finds new alerts")
	fl.IntVar(&f.workers, "workers", 0, "files scanned in parallel (default: number of CPUs)")
	fl.StringVar(&f.snapshot, "snapshot", "", "collect snapshot DIR to take break-glass group members from (default: read them through Graph)")
	return cmd
}

// exitCodeError carries a specific exit status, e.g. 3 for --fail-on-alert.
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string { return e.msg }

func runScan(cmd *cobra.Command, f scanFlags, args []string) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format: unknown format %q (want table or json)", f.format)
	}
	if f.noStore && f.storePath != "" {
		return usageErrorf("--store and --no-store exclude each other")
	}
	if f.maxRecord < 0 {
		return usageErrorf("--max-record-bytes: must not be negative")
	}
	if len(args) == 0 {
		return usageErrorf("no input: name files or directories to scan, or - for stdin")
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	inputs, err := expandInputs(args)
	if err != nil {
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()

	var st store.Store
	if !f.noStore {
		s, err := openScanStore(ctx, cfg, f.storePath) // storedriver.go
		if err != nil {
			return fmt.Errorf("opening store: %w", err)
		}
		defer s.Close()
		st = s
	}

	stderr := cmd.ErrOrStderr()
	list, err := scanAccounts(ctx, cfg, f.snapshot, stderr)
	if err != nil {
		return err
	}
	accounts := entra.NewAccountSet(list)
	out := newAlertPrinter(cmd.OutOrStdout(), f.format)
	// Alerts go to the store in batches, with a delivery queued for each
	// target notify.routes gives it, as serve routes: a daemon on the same
	// store then sends them (scanning must never silence it).
	route, err := daemon.RouteFunc(cfg)
	if err != nil {
		return err
	}
	sink := newAlertSink(ctx, st, route, tenantOf(cfg), out)
	defer sink.stop()
	emit := sink.add
	var problemMu sync.Mutex
	opts := scan.Options{Accounts: accounts, MaxRecord: f.maxRecord, Exhaustive: f.exhaustive, FinalInputs: true}
	kqlRules, scheduled, err := scanRules(cfg, accounts) // rules_scan.go
	if err != nil {
		return err
	}
	opts.Rules = kqlRules
	if scheduled > 0 {
		fmt.Fprintf(stderr, "note: %d scheduled KQL rules are not run by scan (they need serve's windows); try them with 'breakglass rules test'\n", scheduled)
	}
	if f.verbose {
		opts.Problem = func(p scan.Problem) {
			problemMu.Lock()
			fmt.Fprintln(stderr, "skipped:", p)
			problemMu.Unlock()
		}
	}

	var total scan.Stats
	var failed []string
	workers := f.workers
	if workers <= 0 {
		workers = max(1, min(len(inputs), runtime.NumCPU()))
	}
	prog := newProgress(stderr, inputs)
	defer prog.stop()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var statsMu sync.Mutex
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := scan.New(opts)
			defer sc.Close()
			prog.add(sc)
			for in := range jobs {
				var stats scan.Stats
				err := scanInput(ctx, sc, in, &stats, emit)
				statsMu.Lock()
				total.Merge(&stats)
				if err != nil {
					var fatal interface{ Fatal() bool }
					if errors.As(err, &fatal) || ctx.Err() != nil {
						if firstErr == nil {
							firstErr = err
						}
					} else {
						failed = append(failed, err.Error())
					}
				}
				statsMu.Unlock()
			}
		}()
	}
	start := time.Now()
	for _, in := range inputs {
		if ctx.Err() != nil {
			break
		}
		jobs <- in
	}
	close(jobs)
	wg.Wait()
	prog.stop()
	if err := sink.stop(); err != nil && firstErr == nil {
		firstErr = err
	}
	if err := out.flush(); err != nil {
		return err
	}
	newAlerts, knownAlerts := sink.counts()
	total.Elapsed = time.Since(start)
	printSummary(stderr, &total, newAlerts, knownAlerts, st != nil)
	for _, msg := range failed {
		fmt.Fprintln(stderr, "error:", msg)
	}
	switch {
	case firstErr != nil:
		return firstErr
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted")
	case len(failed) > 0:
		return fmt.Errorf("%d of %d inputs could not be read completely", len(failed), len(inputs))
	case f.failOnAlert && newAlerts > 0:
		return exitCodeError{3, fmt.Sprintf("%d new alerts", newAlerts)}
	}
	return nil
}

// emitError marks errors from the alert sink, which stop the whole run.
type emitError struct{ error }

func (emitError) Fatal() bool     { return true }
func (e emitError) Unwrap() error { return e.error }

func scanInput(ctx context.Context, sc *scan.Scanner, in string, st *scan.Stats, emit func(scan.Finding) error) error {
	wrapped := func(fd scan.Finding) error {
		if err := emit(fd); err != nil {
			return emitError{err}
		}
		return nil
	}
	if in == "-" {
		return sc.Scan(ctx, "stdin", os.Stdin, st, wrapped)
	}
	fh, err := os.Open(in)
	if err != nil {
		st.Files++
		return err
	}
	defer fh.Close()
	return sc.Scan(ctx, in, fh, st, wrapped)
}

// expandInputs turns arguments into files: directories are walked, sorted.
func expandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" {
			out = append(out, a)
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", a, errors.Unwrap(err))
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", a, err)
		}
		slices.Sort(files)
		out = append(out, files...)
	}
	return out, nil
}

// alertPrinter writes alerts as a table or as JSON lines.
type alertPrinter struct {
	w      io.Writer
	json   *json.Encoder
	tw     *tabwriter.Writer
	header bool
}

func newAlertPrinter(w io.Writer, format string) *alertPrinter {
	p := &alertPrinter{w: w}
	if format == "json" {
		p.json = json.NewEncoder(w)
		p.json.SetEscapeHTML(false)
	} else {
		p.tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	return p
}

// jsonAlert fixes the JSON form: event_time in RFC 3339, severity a number.
type jsonAlert struct {
	alert.Alert
	EventTime string `json:"event_time"`
	Detected  string `json:"detected"`
}

func (p *alertPrinter) print(a alert.Alert) error {
	if p.json != nil {
		return p.json.Encode(jsonAlert{Alert: a, EventTime: a.EventTime.UTC().Format(time.RFC3339Nano), Detected: a.Detected.UTC().Format(time.RFC3339)})
	}
	if !p.header {
		fmt.Fprintln(p.tw, "EVENT TIME (UTC)\tSEV\tRULE\tACCOUNT\tCATEGORY\tDETAIL\tSOURCE")
		p.header = true
	}
	acct := a.AccountUPN
	if acct == "" {
		acct = a.AccountID
	}
	when := a.EventTime.UTC().Format("2006-01-02 15:04:05")
	if a.EventTimeUnknown { // the record had no usable time
		when = "unknown"
	}
	_, err := fmt.Fprintf(p.tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", when,
		a.Severity, a.Rule, acct, a.Category, detail(a), a.Source)
	return err
}

func detail(a alert.Alert) string {
	var parts []string
	switch a.Rule {
	case "bg.signin":
		parts = append(parts, a.Result, a.App, a.IPAddress, a.Location)
	case "bg.unparsed":
		parts = append(parts, "could not be read: "+a.Annotations["reason"])
	default:
		parts = append(parts, a.Operation, a.Result)
		if a.Actor != "" {
			parts = append(parts, "by "+a.Actor)
		}
	}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	if len(a.Unreadable) > 0 {
		out = append(out, fmt.Sprintf("%d unreadable field(s)", len(a.Unreadable)))
	}
	s := strings.Join(out, "; ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func (p *alertPrinter) flush() error {
	if p.tw != nil {
		if !p.header {
			return nil
		}
		return p.tw.Flush()
	}
	return nil
}

func printSummary(w io.Writer, st *scan.Stats, newAlerts, known int, stored bool) {
	secs := st.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	recs := st.TotalRecords() + st.TotalSkipped()
	fmt.Fprintf(w, "scanned %d inputs, %s, %d records in %s (%s records/s, %.1f MB/s)\n",
		st.Files, humanBytes(st.Bytes), recs, st.Elapsed.Round(time.Millisecond), humanCount(float64(recs)/secs), float64(st.Bytes)/1e6/secs)
	if len(st.Records) > 0 {
		var parts []string
		for _, c := range st.Categories() {
			parts = append(parts, fmt.Sprintf("%s %d", c, st.Records[c]))
		}
		fmt.Fprintf(w, "records: %s\n", strings.Join(parts, ", "))
	}
	if len(st.Skipped) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(st.Skipped)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, st.Skipped[r]))
		}
		fmt.Fprintf(w, "skipped: %s (use --verbose for file:line and reason)\n", strings.Join(parts, ", "))
	}
	switch {
	case stored:
		fmt.Fprintf(w, "alerts: %d new, %d already known\n", newAlerts, known)
	default:
		fmt.Fprintf(w, "alerts: %d (%d duplicates suppressed)\n", newAlerts, known)
	}
}
