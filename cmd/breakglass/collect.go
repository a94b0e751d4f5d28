package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/logging"
	"breakglass/internal/version"
)

// exitUnresolved is collect's exit status when the snapshot was written
// but some configured break-glass entries did not resolve: a pipeline must
// notice, yet the snapshot is still worth keeping.
const exitUnresolved = 3

type collectFlags struct {
	config string
	tenant string // with tenants: in the file, the one to collect
	out    string
	groups []string
}

func newCollectCmd() *cobra.Command {
	var f collectFlags
	cmd := &cobra.Command{
		Use:   "collect --config F [--tenant T] --out DIR [--group ID]...",
		Short: "Snapshot from Microsoft Graph the tenant settings that concern the break-glass accounts",
		Long: `collect reads from Microsoft Graph, read-only, everything a review of the
break-glass accounts' posture needs: the break-glass accounts, the holders of Global Administrator
and Privileged Role Administrator (active, PIM eligible and through groups),
their authentication methods, registration details and groups, Conditional
Access policies, named locations, authentication strengths, the
authentication methods policy, domains, the organization, lifecycle workflows
and access reviews; and what the audit compares the break-glass accounts
with: every role they hold, the groups Conditional Access excludes them
through and their members, the users in scope of workflows that disable
inactive users, and the PIM approvers of the two roles. It writes them into
DIR as Graph returned them, one JSON file per dataset, plus manifest.json,
written last.

Break-glass accounts are the accounts: list of the configuration plus the
transitive user members of every --group.

A dataset Graph refuses (missing permission or licence, not found) does not
stop collection: it is listed in the manifest and below with the reason and
what to grant. A break-glass entry that resolves to no user (deleted, or a
typo) is printed as "unresolved:".

Exit status: 0 when the snapshot was written, even if some datasets failed;
3 when it was written but some break-glass entries are unresolved; 1 when
collection stopped (network, disk, interrupted) and no snapshot was written;
2 for usage or configuration errors.`,
		Example: `  breakglass collect --config breakglass.yaml --out snapshots/2026-03-04
  breakglass collect -c breakglass.yaml --out snap --group 6f1c...e2 --group 0a9b...41`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCollect(cmd, f)
		},
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "snapshot directory to write (created if missing)")
	fl.StringVar(&f.tenant, "tenant", "", "with tenants: in the config, the tenant to collect (id or name)")
	fl.StringArrayVar(&f.groups, "group", nil, "object id of a group whose transitive user members are break-glass accounts (repeatable)")
	return cmd
}

func runCollect(cmd *cobra.Command, f collectFlags) error {
	if f.out == "" {
		return usageErrorf("--out: name the snapshot directory to write")
	}
	var groups []string
	for _, g := range f.groups {
		g = strings.TrimSpace(g)
		if !isObjectID(g) {
			return usageErrorf("--group %q: not an object id (a GUID, 8-4-4-4-12 hex digits)", g)
		}
		if !slices.ContainsFunc(groups, func(h string) bool { return strings.EqualFold(g, h) }) {
			groups = append(groups, g)
		}
	}
	cfg, err := loadTenantConfig(f.config, f.tenant)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	g, err := newGraphClient(cfg, logging.New(stderr, logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format}))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()

	prog := newCollectProgress(stderr)
	o := collectOptions(cfg, groups, prog)
	o.Out = f.out
	m, err := collect.Collect(ctx, g, o)
	prog.stop()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("collect interrupted; no snapshot written: %w", err)
		}
		return fmt.Errorf("collect stopped; no snapshot written: %w", err)
	}
	if err := printCollectSummary(cmd.OutOrStdout(), stderr, m, f.out); err != nil {
		return err
	}
	if n := len(m.Unresolved); n > 0 {
		noun := "entries"
		if n == 1 {
			noun = "entry"
		}
		return exitCodeError{exitUnresolved, fmt.Sprintf("%d break-glass %s unresolved; fix the configuration or the directory", n, noun)}
	}
	return nil
}

// collectOptions is what collect, and every command that reads the tenant
// live, asks Graph for: one definition, so that a live audit judges exactly
// what a snapshot would hold.
// collectOptions is what collect, audit and discover collect: the user
// entries of accounts: as accounts, and its group entries plus extra (the
// --group flags) as break-glass groups. A group entry has no user to
// resolve: collect skips it in Accounts, where it stays only so that the
// manifest's accounts[i] names the configuration's entry i.
func collectOptions(cfg *config.Config, extra []string, prog *collectProgress) collect.Options {
	groups := slices.Clone(extra)
	for _, g := range cfg.Groups() {
		if !slices.ContainsFunc(groups, func(h string) bool { return strings.EqualFold(g, h) }) {
			groups = append(groups, g)
		}
	}
	return collect.Options{
		Accounts:    cfg.Accounts, // group entries are skipped there, keeping accounts[i] the config's
		Groups:      groups,
		Progress:    prog.report,
		ToolVersion: version.Version,
		TenantID:    cfg.Graph.TenantID,
	}
}

// collectLive reads the tenant through Graph into memory, exactly what
// collect would write (collect.CollectSnapshot): the live form of audit
// and discover. A configuration that cannot reach Graph (no graph:
// section, a bad credential) is a usage error; a collection that stopped
// (network, interrupted, credentials of another tenant) is returned as is,
// for the caller to give its exit status (audit 2, discover 1).
func collectLive(ctx context.Context, cfg *config.Config, stderr io.Writer) (*collect.Snapshot, error) {
	if !cfg.Graph.Configured() {
		return nil, usageErrorf("%s: no graph: section: reading the tenant live needs Microsoft Graph; configure graph:, or pass --snapshot DIR", cfg.Path)
	}
	g, err := newGraphClient(cfg, logging.New(stderr, logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format}))
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	return collectLiveFrom(ctx, cfg, g, stderr)
}

// collectLiveFrom is collectLive with the Graph client given. It says on
// stderr what was read and what was not, so that a skipped check is
// never a surprise: progress on a terminal, then one line, then a line
// per dataset Graph refused.
func collectLiveFrom(ctx context.Context, cfg *config.Config, g graph.Lister, stderr io.Writer) (*collect.Snapshot, error) {
	start := time.Now()
	prog := newCollectProgress(stderr)
	s, err := collect.CollectSnapshot(ctx, g, collectOptions(cfg, nil, prog))
	prog.stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading the tenant from Graph was interrupted: %w", err)
		}
		return nil, fmt.Errorf("reading the tenant from Graph stopped: %w", err)
	}
	m := s.Manifest
	fmt.Fprintf(stderr, "live: read %d datasets from Microsoft Graph in %s (%d unavailable, %d break-glass entries unresolved)\n",
		len(m.Datasets), time.Since(start).Round(time.Millisecond), len(m.Failed), len(m.Unresolved))
	for _, fl := range m.Failed {
		line := fmt.Sprintf("live: %s unavailable (%s", fl.Name, fl.Reason)
		if fl.Status != 0 {
			line += fmt.Sprintf(" %d", fl.Status)
		}
		line += "): the checks that need it are skipped"
		if fl.Partial {
			line = fmt.Sprintf("live: %s incomplete (%s %d): the checks that need what is missing are skipped", fl.Name, fl.Reason, fl.Status)
		}
		if fl.Hint != "" {
			line += "; " + fl.Hint
		}
		fmt.Fprintln(stderr, line)
	}
	return s, nil
}

// printCollectSummary lists the datasets on stdout and every problem on
// stderr, one per line, so that a pipeline can grep for "failed:" and
// "unresolved:". Keyed datasets are summed per family: one line per
// privileged user would bury the rest.
func printCollectSummary(stdout, stderr io.Writer, m *collect.Manifest, dir string) error {
	type row struct {
		name         string
		keyed        bool
		files, items int
	}
	var rows []row
	for _, d := range m.Datasets {
		name, _, keyed := strings.Cut(d.Name, ".")
		if i := slices.IndexFunc(rows, func(r row) bool { return r.keyed && r.name == name }); keyed && i >= 0 {
			rows[i].files++
			rows[i].items += d.Count
			continue
		}
		rows = append(rows, row{name, keyed, 1, d.Count})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tITEMS")
	for _, r := range rows {
		name := r.name
		if r.keyed {
			name = fmt.Sprintf("%s (%d files)", name, r.files)
		}
		fmt.Fprintf(tw, "%s\t%d\n", name, r.items)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	for _, fl := range m.Failed {
		what := fl.Name
		switch {
		case fl.Field != "":
			what += " (written without " + fl.Field + ")"
		case fl.Partial:
			what += " (partly written)"
		}
		if fl.From != "" {
			what += " (derived from " + fl.From + ")"
		}
		line := fmt.Sprintf("failed: %s: %s: %d %s", what, fl.Reason, fl.Status, fl.Code)
		if fl.Message != "" {
			line += ": " + fl.Message
		}
		if fl.Hint != "" {
			line += " (hint: " + fl.Hint + ")"
		}
		fmt.Fprintln(stderr, line)
	}
	for _, u := range m.Unresolved {
		fmt.Fprintf(stderr, "unresolved: %s: %s\n", u.Entry, u.Reason)
	}
	_, err := fmt.Fprintf(stdout, "snapshot: %s (%d datasets, %d failed, %d unresolved, tenant %s)\n",
		filepath.Join(dir, collect.ManifestFile), len(m.Datasets), len(m.Failed), len(m.Unresolved), orUnknown(m.TenantID))
	if err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// collectProgress keeps one status line on a terminal naming the dataset
// last finished; piped output and CI logs get only the summary.
type collectProgress struct {
	w                   io.Writer
	on                  bool
	running             int
	done, failed        int
	lastName, lastState string
}

func newCollectProgress(w io.Writer) *collectProgress {
	return &collectProgress{w: w, on: isTerminal(w)}
}

// report is called by collect one call at a time.
func (p *collectProgress) report(name, state string, n int) {
	if !p.on {
		return
	}
	switch state {
	case "start":
		p.running++
		return
	case "done":
		p.running--
		p.done++
		p.lastName, p.lastState = name, fmt.Sprintf("%d items", n)
	case "failed":
		p.running--
		p.failed++
		p.lastName, p.lastState = name, "failed"
	}
	fmt.Fprintf(p.w, "\r\033[Kcollecting: %d done, %d failed, %d running; %s: %s", p.done, p.failed, p.running, p.lastName, p.lastState)
}

func (p *collectProgress) stop() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// isObjectID accepts the 8-4-4-4-12 form of Entra object ids.
func isObjectID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
