package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/evidence"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

func init() {
	incidentsExtra = append(incidentsExtra, newIncidentsPruneCmd)
}

type incidentsPruneFlags struct {
	config, format   string
	exported, dryRun bool
}

func newIncidentsPruneCmd() *cobra.Command {
	var f incidentsPruneFlags
	cmd := &cobra.Command{
		Use:   "prune [--exported] [--dry-run] [--format table|json]",
		Short: "Prune closed incidents past incidents.retention (or exported ones, when asked)",
		Long: `prune drops the evidence of closed incidents that are no longer needed in the
store, and lists each with the reason:

  expired   closed, and incidents.retention (default 400d) has passed since
            its last activity (close, last event, last evidence entry)
  exported  closed and exported with 'incidents export' (the bundle's
            sha256 is recorded), pruned only with --exported

Open, acknowledged and reviewed incidents are never pruned, nor a closed one
that a still open incident follows. serve prunes expired incidents on its
own, every hour; exported ones only go when you run this with --exported.

A prune keeps the evidence log's chain: every entry keeps its header and
content hash, only the content goes, and a chained "prune" entry records
what went and why, so 'breakglass evidence verify' still verifies the whole
log. The incident stays as a tombstone (account, opened, closed,
classification, when and why pruned), so 'accounts status' still shows it.
Before pruning anything, the whole log is verified: a broken one is never
pruned (that would destroy the proof).

With --dry-run it only lists what it would prune. With --format json it
prints one object per incident per line.

Exit status: 0 done (also when nothing was due); 1 the evidence log is
broken, nothing pruned; 2 usage or configuration error, or the store cannot
be read or written.`,
		Example: `  breakglass incidents prune -c breakglass.yaml --dry-run
  breakglass incidents prune -c breakglass.yaml --exported`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runIncidentsPrune(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.BoolVar(&f.exported, "exported", false, "also prune closed incidents that were exported, before they expire")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be pruned; change nothing")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func runIncidentsPrune(cmd *cobra.Command, f incidentsPruneFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	heads, err := evidence.LoadHeads(cfg.Evidence.HeadsFile)
	var damaged *evidence.HeadsError
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
	case errors.As(err, &damaged):
		return exitCodeError{exitFailure, fmt.Sprintf("not pruning: %v; run 'breakglass evidence verify'", err)}
	default:
		return usageErrorf("heads file: %v", err)
	}
	refs := make([]evidence.HeadRef, len(heads))
	for i, h := range heads {
		refs[i] = h.Ref()
	}
	o := incident.PruneOptions{Retention: cfg.Incidents.Retention, Exported: f.exported, Now: time.Now()}
	items, err := incident.Prune(ctx, st, o, refs, f.dryRun)
	var broken *incident.BrokenError
	if errors.As(err, &broken) {
		return exitCodeError{exitFailure, broken.Error()}
	}
	if err != nil && items == nil {
		return storeError(err)
	}
	if perr := printPrune(cmd.OutOrStdout(), f, items, cfg.Incidents.Retention); perr != nil {
		return perr
	}
	if err != nil {
		// Some were pruned, then the store failed: what was done is
		// printed above; the rest stays for the next run.
		return storeError(err)
	}
	return nil
}

func printPrune(w io.Writer, f incidentsPruneFlags, items []incident.PruneItem, retention time.Duration) error {
	if f.format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, it := range items {
			if err := enc.Encode(it); err != nil {
				return fmt.Errorf("writing prune: %w", err)
			}
		}
		return nil
	}
	var pruned, would, held, entries int
	for _, it := range items {
		switch {
		case it.Done:
			pruned++
			entries += it.Entries
		case it.Reason != "":
			would++
		default:
			held++
		}
	}
	if len(items) == 0 {
		hint := ""
		if !f.exported {
			hint = " (exported incidents go only with --exported)"
		}
		_, err := fmt.Fprintf(w, "nothing to prune: no closed incident is past incidents.retention (%s)%s\n", fmtRetention(retention), hint)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tACCOUNT\tCLASSIFICATION\tCLOSED (UTC)\tACTION\tWHY")
	for _, it := range items {
		action := "kept"
		switch {
		case it.Done:
			action = "pruned"
		case it.Reason != "":
			action = "would prune"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(it.Incident), printable(pruneSubject(it)), printable(orDash(it.Class)),
			it.Closed.UTC().Format(time.DateTime), action, printable(pruneWhy(it, retention)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing prune: %w", err)
	}
	var err error
	switch {
	case f.dryRun:
		_, err = fmt.Fprintf(w, "dry run: would prune %s, keep %d; nothing was changed\n", incidentCount(would), held)
	default:
		_, err = fmt.Fprintf(w, "pruned %s (%d evidence entries now kept as headers only, chain intact), kept %d\n", incidentCount(pruned), entries, held)
	}
	return err
}

func incidentCount(n int) string {
	if n == 1 {
		return "1 incident"
	}
	return fmt.Sprintf("%d incidents", n)
}

func pruneSubject(it incident.PruneItem) string {
	switch {
	case it.AccountUPN != "":
		return it.AccountUPN
	case it.AccountID != "":
		return it.AccountID
	}
	return it.Kind
}

func pruneWhy(it incident.PruneItem, retention time.Duration) string {
	switch it.Reason {
	case store.PruneExpired:
		return fmt.Sprintf("expired: last activity %s + retention %s", it.LastActivity.UTC().Format(time.DateOnly), fmtRetention(retention))
	case store.PruneExported:
		at := ""
		if it.Exported != nil {
			at = " on " + it.Exported.UTC().Format(time.DateOnly)
		}
		return fmt.Sprintf("exported%s, bundle sha256 %s", at, it.Bundle)
	}
	return it.Held
}

// fmtRetention writes whole days as 400d, as the config takes them.
func fmtRetention(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// jsonPruned is the tombstone part of an incident in list and show.
type jsonPruned = incident.PrunedView

// prunedLine is show's line about a tombstone.
func prunedLine(p *jsonPruned) string {
	if p == nil {
		return ""
	}
	why := p.Reason
	if p.Bundle != "" {
		why += ", bundle sha256 " + p.Bundle
	}
	return fmt.Sprintf("%s (%s): closed %s; %d evidence entries kept as headers only (prune entry %d); the alerts and the classification remain",
		p.At.Format(tableTime), why, p.Closed.Format(tableTime), p.Entries, p.Seq)
}

// refusePrunedExport is export's answer for a pruned incident: its
// evidence content is no longer in the store.
func refusePrunedExport(inc store.Incident) error {
	p := inc.Pruned
	if p == nil {
		return nil
	}
	where := "only a bundle exported before the prune holds its evidence now"
	if p.Bundle != "" {
		where = "the bundle with sha256 " + p.Bundle + " holds its evidence"
	}
	return exitCodeError{exitFailure, fmt.Sprintf("incident %s was pruned %s (%s): its evidence content is no longer in the store; %s",
		inc.ID, p.At.UTC().Format(time.RFC3339), p.Reason, where)}
}

// recordExport records a written bundle, so that prune --exported may
// prune the incident. seg is the bundle's chain segment.
func recordExport(ctx context.Context, st cliStore, id, path, sum string, seg []store.LogEntry, at time.Time) error {
	var last int64
	for _, e := range seg {
		if e.Incident == id {
			last = e.Seq
		}
	}
	if err := st.RecordExport(ctx, store.IncidentExport{Incident: id, SHA256: sum, Path: path, At: at, LastSeq: last}); err != nil {
		return fmt.Errorf("the bundle %s was written, but recording the export failed, so 'incidents prune --exported' will not count it: %w", path, err)
	}
	return nil
}
