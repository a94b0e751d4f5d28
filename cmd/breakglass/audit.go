package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/graph/collect"
	"breakglass/internal/posture"
	"breakglass/internal/report"
)

// exitFindings is audit's exit status when a failing result is at or above
// --fail-on. Every error that keeps the audit from a complete report
// (usage, configuration, collection, writing the report) exits 2, so 1
// always means "the tenant has findings".
const exitFindings = 1

// failOnLevels are the --fail-on values, most severe first; "none" never
// fails the run.
var failOnLevels = []string{"critical", "high", "medium", "low", "none"}

type auditFlags struct {
	config   string
	tenant   string // with tenants: in the file, the one to audit
	snapshot string
	format   string
	output   string
	failOn   string
	asOf     string
}

func newAuditCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit --config F [--tenant T] [--snapshot DIR] [--format FORMAT] [--output FILE] [--fail-on SEVERITY] [--as-of TIME]",
		Short: "Check the break-glass accounts' posture against Microsoft's guidance and report every finding",
		Long: `audit judges the break-glass accounts of the configuration against the
emergency-access guidance: cloud-only, on the initial domain, permanent
Global Administrator, phishing-resistant credentials, no personal methods,
Conditional Access, exclusion groups, PIM, password expiry, recent sign-in
and more. Every result carries its evidence (the Graph objects and fields
read) and the fix (portal path, Graph request, PowerShell command), printed
and never run: breakglass is read-only.

With --snapshot it audits a directory written by 'breakglass collect',
offline; a snapshot collected before an entry was added to accounts:, or
of another tenant, is refused (collect again). Without it, it reads the
tenant live through Microsoft Graph (the graph: section), collecting in
memory exactly what collect would write; progress goes to stderr.

A check whose data is unavailable (a licence or permission missing) is
skip with the reason, never pass; an account that does not resolve is
error. Configured exceptions turn a finding into accepted until they
expire.

Formats: table (the default; coloured on a terminal unless NO_COLOR is
set), markdown, html (one self-contained file), json (schema in the
README), sarif (SARIF 2.1.0) and junit (JUnit XML). --output writes the
report to FILE atomically instead of stdout.

Exit status: 0 when no failing result (fail or error) is at or above
--fail-on (default high; none never fails); 1 when one is; 2 for usage,
configuration or collection errors, or when the report cannot be written.`,
		Example: `  breakglass audit --config breakglass.yaml --snapshot snapshots/2026-03-04
  breakglass audit -c breakglass.yaml --format sarif --output audit.sarif --fail-on medium
  breakglass audit -c breakglass.yaml --format html --output audit.html --fail-on none`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd, f)
		},
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.snapshot, "snapshot", "", "audit this collect snapshot directory instead of reading Graph live")
	fl.StringVar(&f.tenant, "tenant", "", "with tenants: in the config, the tenant to audit (id or name)")
	fl.StringVar(&f.format, "format", "table", "report format: "+strings.Join(formatNames(), ", "))
	fl.StringVar(&f.output, "output", "", "write the report to FILE (atomically) instead of stdout")
	fl.StringVar(&f.failOn, "fail-on", "high", "exit 1 when a failing result is at or above: "+strings.Join(failOnLevels, ", "))
	fl.StringVar(&f.asOf, "as-of", "", "judge as of this time, YYYY-MM-DD (00:00 UTC) or RFC 3339 (default now): reproduces an earlier audit of a snapshot")
	return cmd
}

// formatNames lists the registered report formats, the documented ones in
// their documented order first.
func formatNames() []string {
	out := []string{}
	for _, n := range []string{"table", "json", "markdown", "html", "sarif", "junit"} {
		if _, ok := report.Lookup(n); ok {
			out = append(out, n)
		}
	}
	for _, n := range report.Names() {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func runAudit(cmd *cobra.Command, f auditFlags) error {
	if _, ok := report.Lookup(f.format); !ok {
		return usageErrorf("--format: unknown format %q (want one of %s)", f.format, strings.Join(formatNames(), ", "))
	}
	if !slices.Contains(failOnLevels, f.failOn) {
		return usageErrorf("--fail-on: unknown severity %q (want one of %s)", f.failOn, strings.Join(failOnLevels, ", "))
	}
	if f.output != "" {
		if fi, err := os.Stat(f.output); err == nil && fi.IsDir() {
			return usageErrorf("--output %s: is a directory; name the report file", f.output)
		}
		// Checked before any collection, and named plainly: the write
		// would fail on a temporary file the user never named.
		if dir := filepath.Dir(f.output); !isDir(dir) {
			return usageErrorf("--output %s: directory %s does not exist; create it first", f.output, dir)
		}
	}
	var asOf time.Time
	if f.asOf != "" {
		var err error
		if asOf, err = parseAsOf(f.asOf); err != nil {
			return usageErrorf("--as-of %q: %v", f.asOf, err)
		}
	}
	cfg, err := loadTenantConfig(f.config, f.tenant)
	if err != nil {
		return err
	}
	opts, err := auditOptions(cfg)
	if err != nil {
		return err
	}
	opts.Now = asOf
	stderr := cmd.ErrOrStderr()
	// Passed drills in the store are evidence for last-sign-in.
	if opts.Drills, err = daemon.StoredDrillsOf(cmd.Context(), cfg.Store); err != nil {
		fmt.Fprintf(stderr, "breakglass: passed drills not read, last-sign-in judges sign-ins only: %v\n", err)
	}

	var snap *collect.Snapshot
	if f.snapshot != "" {
		snap, err = collect.Load(f.snapshot)
		if err != nil {
			return usageError{fmt.Errorf("--snapshot: %w", err)}
		}
		if err := sameTenant(cfg, snap); err != nil {
			return usageError{err}
		}
		if err := reconcileSnapshot(cfg, snap); err != nil {
			return err
		}
		opts.Source = "snapshot " + f.snapshot
	} else {
		snap, err = liveSnapshot(cmd.Context(), cfg, stderr)
		if err != nil {
			return err
		}
		opts.Source = "Microsoft Graph (live)"
	}

	rep, err := auditSnapshot(snap, opts)
	if err != nil {
		return usageError{fmt.Errorf("audit: %w", err)}
	}
	if len(rep.Results) == 0 {
		// Nothing was judged: an empty report must not read as a clean one.
		return usageErrorf("audit: no check produced a result (%d checks registered); nothing was audited", len(posture.IDs()))
	}
	if rep.Summary.Skip == rep.Summary.Total {
		// Nothing could be judged (every dataset refused, say): CI must not
		// read that as a clean tenant, whatever --fail-on says.
		return usageErrorf("audit: all %d results were skipped, nothing could be judged:\n%s", rep.Summary.Total, skipReasons(rep, 5))
	}

	stdout := cmd.OutOrStdout()
	ro := report.Options{Color: useColor(f.output, stdout), ConfigFile: cfg.Path}
	var buf bytes.Buffer
	if err := report.Render(&buf, f.format, rep, ro); err != nil {
		return usageError{fmt.Errorf("rendering the report: %w", err)}
	}
	if f.output == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return usageError{fmt.Errorf("writing the report: %w", err)}
		}
	} else {
		if err := writeReportAtomic(f.output, buf.Bytes()); err != nil {
			return usageError{fmt.Errorf("--output: %w", err)}
		}
		fmt.Fprintf(stderr, "report: %s (%s)\n", f.output, summaryText(rep.Summary))
	}

	if sum := rep.Summary; sum.Skip > 0 {
		fmt.Fprintf(stderr, "breakglass: %d of %d results not checked (skip: data unavailable or not applicable); see the report for each reason\n", sum.Skip, sum.Total)
	}
	failing := failingResults(rep, f.failOn)
	if len(failing) == 0 {
		return nil
	}
	return exitCodeError{exitFindings, failingMessage(failing, f.failOn)}
}

// auditOptions takes the audit's settings from the configuration. The
// defaults and validation are config's; posture owns the check ids the
// exceptions are validated against, reported at the configuration's
// file:line.
func auditOptions(cfg *config.Config) (posture.Options, error) {
	// An exception naming no check would accept nothing, silently.
	if err := cfg.CheckExceptionIDs(posture.IDs()); err != nil {
		return posture.Options{}, usageError{err}
	}
	o := daemon.PostureOptions(cfg, time.Time{})
	o.Source = ""
	return o, nil
}

// auditSnapshot runs the posture engine on a snapshot.
func auditSnapshot(s *collect.Snapshot, o posture.Options) (*posture.Report, error) {
	t, err := posture.FromSnapshot(s)
	if err != nil {
		return nil, err
	}
	return posture.Run(t, o), nil
}

// liveSnapshot reads the tenant through Graph into memory with collect's
// own definition of what to read (collectLive, shared with collect and
// discover): the audit sees exactly what `collect` would have written. A
// collection that stopped is exit 2, like every error that leaves no
// complete report.
func liveSnapshot(ctx context.Context, cfg *config.Config, stderr io.Writer) (*collect.Snapshot, error) {
	if cfg.Graph.Configured() {
		fmt.Fprintln(stderr, "audit: reading the tenant from Microsoft Graph (read-only)…")
	}
	snap, err := collectLive(ctx, cfg, stderr)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, usageError{fmt.Errorf("collection stopped, nothing audited: %w", err)}
	}
	return snap, nil
}

// useColor: ANSI colour only for a report on a terminal, and not when
// NO_COLOR is set (to anything: whoever set it wants none).
func useColor(output string, stdout io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set || output != "" {
		return false
	}
	return isTerminal(stdout)
}

// parseAsOf reads --as-of: a date (00:00 UTC that day) or an RFC 3339
// time.
func parseAsOf(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want YYYY-MM-DD or an RFC 3339 time such as 2026-03-04T05:06:07Z")
	}
	return t.UTC(), nil
}

// failingResults are the results that fail the run at --fail-on. A result
// with a status or severity this version does not know counts: unknown is
// never a pass.
func failingResults(rep *posture.Report, failOn string) []posture.Result {
	if failOn == "none" {
		return nil
	}
	min := posture.Severity(failOn)
	var out []posture.Result
	for _, r := range rep.Results {
		known := slices.Contains(posture.Statuses, r.Status)
		if known && !r.Failing() {
			continue
		}
		if r.Severity.AtLeast(min) || r.Severity.Rank() >= len(posture.Severities) {
			out = append(out, r)
		}
	}
	return out
}

func failingMessage(failing []posture.Result, failOn string) string {
	var names []string
	for _, r := range failing {
		if len(names) == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(failing)-5))
			break
		}
		subject := r.AccountUPN
		if subject == "" {
			subject = r.AccountID
		}
		if subject == "" {
			subject = "tenant"
		}
		names = append(names, fmt.Sprintf("%s %s (%s, %s)", r.Check, subject, r.Status, r.Severity))
	}
	noun := "results"
	if len(failing) == 1 {
		noun = "result"
	}
	return fmt.Sprintf("%d failing %s at or above %s: %s", len(failing), noun, failOn, strings.Join(names, "; "))
}

func summaryText(s posture.Summary) string {
	var parts []string
	for _, st := range posture.Statuses {
		parts = append(parts, fmt.Sprintf("%d %s", s.Count(st), st))
	}
	return strings.Join(parts, ", ")
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// writeReportAtomic writes data to path through a temporary file in the same
// directory, renamed over path once complete, so a reader (a CI step, a
// browser) never sees half a report and a failed write leaves the old one.
// The file is private (0600): it describes the tenant's weak points.
func writeReportAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// reconcileSnapshot holds a snapshot to the configuration it is audited
// with. The snapshot records the accounts it was collected for; an entry of
// accounts: that it does not hold (added to the configuration since, or the
// snapshot was taken with another one) is added as unresolved, so the
// audit reports it as an error instead of judging only the accounts the
// snapshot happens to have. (sameTenant, called first, refuses a snapshot
// of another tenant.)
func reconcileSnapshot(cfg *config.Config, s *collect.Snapshot) error {
	m := &s.Manifest
	var ids, upns, groups []string
	note := func(entry string) {
		f := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(entry))
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "id":
				if strings.HasPrefix(entry, "groups[") {
					groups = append(groups, f[i+1])
				} else {
					ids = append(ids, f[i+1])
				}
			case "upn":
				upns = append(upns, f[i+1])
			}
		}
	}
	for _, r := range m.Accounts {
		note(r.Entry)
		if !strings.HasPrefix(r.Entry, "groups[") {
			ids, upns = append(ids, r.ID), append(upns, r.UPN)
		}
	}
	for _, u := range m.Unresolved {
		note(u.Entry)
	}
	has := func(list []string, v string) bool {
		return v != "" && slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, v) })
	}
	const why = "not in the snapshot: it was collected before this entry was configured, or with another configuration; run collect again"
	for i, a := range cfg.Users() {
		if has(ids, a.ID) || a.ID == "" && has(upns, a.UPN) {
			continue
		}
		entry := fmt.Sprintf("accounts[%d] upn %s", i, a.UPN)
		if a.ID != "" {
			entry = fmt.Sprintf("accounts[%d] id %s", i, a.ID)
		}
		m.Unresolved = append(m.Unresolved, collect.Unresolved{Entry: entry, Reason: why})
	}
	for j, g := range cfg.Groups() {
		if !has(groups, g) {
			m.Unresolved = append(m.Unresolved, collect.Unresolved{Entry: fmt.Sprintf("groups[%d] id %s", j, g), Reason: why})
		}
	}
	return nil
}

// skipReasons lists the distinct reasons results were skipped, the first
// max of them, one per line.
func skipReasons(rep *posture.Report, max int) string {
	var reasons []string
	for _, r := range rep.Results {
		if r.Status == posture.StatusSkip && !slices.Contains(reasons, r.Message) {
			reasons = append(reasons, r.Message)
		}
	}
	more := len(reasons) - max
	if more > 0 {
		reasons = reasons[:max]
	}
	out := "  " + strings.Join(reasons, "\n  ")
	if more > 0 {
		out += fmt.Sprintf("\n  and %d more", more)
	}
	return out
}
