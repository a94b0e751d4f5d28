package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/drill"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/store"
)

func newDrillCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Plan, run and prove drills of the break-glass accounts",
		Long: `drill announces a drill of one break-glass account, opens its window,
closes it with the checklist's attestations, and measures it end to end
from the store that serve writes: the sign-in's event time, when
breakglass read the record, when the alert was stored, when each routed
channel delivered it and when someone acknowledged it.

A sign-in of the account inside the window still alerts: its messages say
DRILL first, and its incident is pre-classified as a drill for the
reviewer to confirm. A drill passes only if the sign-in was detected,
every routed channel delivered, someone acknowledged, and each step stayed
within drill.alert_within, drill.delivery_within and drill.ack_within;
otherwise it fails naming the first step that did not. A window that ends
with no sign-in fails as "not detected".

Checklist items for --attest ITEM=NAME:
  ` + strings.Join(drill.ItemIDs(), "\n  ") + `

Exit status: 0 done (finish/report: passed or running; status: no account
overdue); 1 the drill failed, or an account is overdue; 2 usage or
configuration error, an unknown drill, or the store cannot be read.`,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				hint := ""
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					hint = fmt.Sprintf("\nDid you mean %q?", s[0])
				}
				return usageErrorf("unknown command %q for %q%s\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newDrillPlanCmd(), newDrillStartCmd(), newDrillFinishCmd(), newDrillStatusCmd(), newDrillReportCmd())
	return cmd
}

// errFailed is the exit-1 result of a command that did its job and found
// a failed drill or an overdue account; what failed is already printed.
type errFailed struct{ msg string }

func (e errFailed) Error() string { return e.msg }

// drillErr maps package drill's errors to exit codes: a usage mistake or
// unknown drill exits 2, a lost race on the drill 1, a store failure 2.
func drillErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, drill.ErrUsage):
		return usageError{errors.New(strings.TrimPrefix(err.Error(), drill.ErrUsage.Error()+": "))}
	case errors.Is(err, store.ErrNotFound):
		return usageError{err}
	case errors.Is(err, store.ErrStateTransition):
		return fmt.Errorf("%w (another drill command changed it meanwhile; run it again)", err)
	}
	return storeError(err)
}

// drillEnv is what every drill subcommand opens.
type drillEnv struct {
	cfg *config.Config
	st  cliStore
	ev  drill.Evaluator
}

func openDrill(ctx context.Context, configPath string, create bool) (*drillEnv, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	// plan may come before serve ever ran: it creates the store.
	st, err := openCLIStore(ctx, cfg, create, "run serve or drill plan first") // storedriver.go
	if err != nil {
		return nil, err
	}
	targets, err := daemon.RouteFunc(cfg)
	if err != nil {
		st.Close()
		return nil, usageError{err}
	}
	return &drillEnv{cfg: cfg, st: st, ev: drill.Evaluator{Bounds: cfg.Drill, Targets: targets}}, nil
}

func oneDrillArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return usageErrorf("%s takes one drill ID (see 'breakglass drill status'), got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

type drillPlanFlags struct {
	config, format, account, at, by, note string
	window                                time.Duration
}

func newDrillPlanCmd() *cobra.Command {
	var f drillPlanFlags
	cmd := &cobra.Command{
		Use:   "plan --account ID|UPN [--at TIME] [--window 1h] [--by NAME] [--note TEXT]",
		Short: "Announce a drill of one account; prints its id",
		Long: `plan announces a drill: a sign-in of the account inside the window (from
--at, default now, for --window, default drill.window) is the drill's,
also before drill start. --at is RFC 3339 (2026-03-03T09:00:00Z) or
"2006-01-02 15:04" in UTC.`,
		Example: `  breakglass drill plan -c breakglass.yaml --account bg1@contoso.com --at 2026-03-03T09:00:00Z --by alice --note "Q1 drill, CHG-1234"`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			var at time.Time
			if f.at != "" {
				var err error
				if at, err = parseAt(f.at); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			env, err := openDrill(ctx, f.config, true)
			if err != nil {
				return err
			}
			defer env.st.Close()
			d, err := drill.Plan(ctx, env.st, env.cfg, drill.PlanRequest{Account: f.account, At: at, Window: f.window,
				By: f.by, Note: f.note}, time.Now())
			if err != nil {
				return drillErr(err)
			}
			if err := recordCLI(ctx, env.st, "drill.plan", d.ID, "account "+d.AccountUPN+" by "+f.by); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f.format == "json" {
				return writeJSON(w, map[string]any{"id": d.ID, "account_id": d.AccountID, "account_upn": d.AccountUPN,
					"window_from": d.At, "window_to": d.At.Add(d.Window)})
			}
			fmt.Fprintln(w, d.ID)
			fmt.Fprintf(cmd.ErrOrStderr(), "drill %s planned for %s, window %s to %s.\nnext: tell the monitoring staff, then breakglass drill start %s\n",
				d.ID, firstNonEmptyStr(d.AccountUPN, d.AccountID), utc(d.At), utc(d.At.Add(d.Window)), d.ID)
			return nil
		},
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.account, "account", "", "the break-glass account: object id or UPN from accounts: (required)")
	fl.StringVar(&f.at, "at", "", "when the window opens (RFC 3339, or \"2006-01-02 15:04\" UTC; default now)")
	fl.DurationVar(&f.window, "window", 0, "how long the window stays open (default drill.window, 1h)")
	fl.StringVar(&f.by, "by", os.Getenv("USER"), "who plans the drill")
	fl.StringVar(&f.note, "note", "", "why, or the change ticket")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func parseAt(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageErrorf("--at %q: write RFC 3339 (2026-03-03T09:00:00Z) or \"2026-03-03 09:00\" (UTC)", s)
}

func firstNonEmptyStr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

type drillIDFlags struct {
	config, format string
	attest         []string
}

func newDrillStartCmd() *cobra.Command {
	var f drillIDFlags
	cmd := &cobra.Command{
		Use:     "start ID",
		Short:   "Open a drill's window now",
		Long:    `start opens the drill's window now (a window planned for later opens now) for at least its length.`,
		Example: `  breakglass drill start -c breakglass.yaml drl-3f2a9c0d1b4e`,
		Args:    oneDrillArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			ctx := cmd.Context()
			env, err := openDrill(ctx, f.config, false)
			if err != nil {
				return err
			}
			defer env.st.Close()
			d, err := drill.Start(ctx, env.st, args[0], time.Now())
			if err != nil {
				return drillErr(err)
			}
			if err := recordCLI(ctx, env.st, "drill.start", d.ID, ""); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if f.format == "json" {
				return writeJSON(w, map[string]any{"id": d.ID, "state": d.State, "account_id": d.AccountID, "account_upn": d.AccountUPN,
					"window_from": d.At, "window_to": d.At.Add(d.Window)})
			}
			fmt.Fprintf(w, "drill %s running: sign in as %s before %s, do an administrative task, and acknowledge the DRILL alert.\nthen: breakglass drill finish %s --attest ITEM=NAME ...\n",
				d.ID, firstNonEmptyStr(d.AccountUPN, d.AccountID), utc(d.At.Add(d.Window)), d.ID)
			return nil
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func newDrillFinishCmd() *cobra.Command {
	var f drillIDFlags
	cmd := &cobra.Command{
		Use:   "finish ID [--attest ITEM=NAME ...]",
		Short: "Close a drill, record the checklist, and print its result",
		Long: `finish closes the drill's window, measures it, and stores the result with
the attestations (--attest ITEM=NAME, repeatable; items: ` + strings.Join(drill.ItemIDs(), ", ") + `).
Exit status 1 when the drill failed.`,
		Example: `  breakglass drill finish -c breakglass.yaml drl-3f2a9c0d1b4e --attest monitoring-aware=dave --attest people-trained=bob`,
		Args:    oneDrillArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			// finish prints the report: the formats of drill report.
			if err := checkReportFormat(f.format); err != nil {
				return err
			}
			attest, err := drill.ParseAttest(f.attest)
			if err != nil {
				return drillErr(err)
			}
			ctx := cmd.Context()
			env, err := openDrill(ctx, f.config, false)
			if err != nil {
				return err
			}
			defer env.st.Close()
			r, err := env.ev.Finish(ctx, env.st, args[0], attest, time.Now())
			if err != nil && r.ID == "" {
				return drillErr(err)
			}
			if aerr := recordCLI(ctx, env.st, "drill.finish", r.ID, "result "+r.Result); aerr != nil {
				return aerr
			}
			if perr := printReport(cmd.OutOrStdout(), r, f.format); perr != nil {
				return perr
			}
			if err != nil {
				return storeError(err)
			}
			return resultErr(r)
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringArrayVar(&f.attest, "attest", nil, "ITEM=NAME: who attests a checklist item (repeatable)")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table, json, markdown or html")
	return cmd
}

// resultErr is exit 1 for a failed drill.
func resultErr(r drill.Report) error {
	if r.Result == store.DrillFailed {
		return errFailed{fmt.Sprintf("drill %s failed at %s", r.ID, r.FailedStep)}
	}
	return nil
}

func printReport(w io.Writer, r drill.Report, format string) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "html":
		return r.HTML(w)
	}
	return r.Markdown(w) // table and markdown: Markdown reads as plain text too
}

func checkReportFormat(format string) error {
	switch format {
	case "table", "json", "markdown", "html":
		return nil
	}
	return usageErrorf("--format: unknown format %q (want markdown, html, json or table)", format)
}

func newDrillReportCmd() *cobra.Command {
	var f drillIDFlags
	cmd := &cobra.Command{
		Use:   "report [ID] [--format markdown|html|json]",
		Short: "Show one drill, or every account's last passed drill for auditors",
		Long: `report shows one drill as measured: the result, the failed step, every
measured time with its bound, and the checklist. A finished drill shows
what was measured at finish. Without an ID it shows the last passed drill
of every account, for auditors, and names accounts never drilled.
Exit status 1 when the drill failed (or, without an ID, an account has no
passed drill).`,
		Example: `  breakglass drill report -c breakglass.yaml drl-3f2a9c0d1b4e --format html > drill.html
  breakglass drill report -c breakglass.yaml --format json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%s takes at most one drill ID, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.format == "" {
				f.format = "markdown"
			}
			if err := checkReportFormat(f.format); err != nil {
				return err
			}
			ctx := cmd.Context()
			env, err := openDrill(ctx, f.config, false)
			if err != nil {
				return err
			}
			defer env.st.Close()
			w := cmd.OutOrStdout()
			now := time.Now()
			if len(args) == 0 {
				return lastPassedReport(ctx, w, env, f.format, now)
			}
			d, err := env.st.Drill(ctx, strings.TrimSpace(args[0]))
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return usageErrorf("drill %q not found (run 'breakglass drill status' for the drills)", args[0])
				}
				return storeError(err)
			}
			if _, err := drill.Link(ctx, env.st, d, now); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
			}
			r, err := env.ev.Evaluate(ctx, env.st, d, now)
			if err != nil {
				return storeError(err)
			}
			if err := printReport(w, r, f.format); err != nil {
				return err
			}
			return resultErr(r)
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "markdown", "output format: markdown, html, json (or table, as markdown)")
	return cmd
}

func lastPassedReport(ctx context.Context, w io.Writer, env *drillEnv, format string, now time.Time) error {
	reports, missing, err := env.ev.LastPassedReports(ctx, env.st, env.cfg.Users(), now)
	if err != nil {
		return storeError(err)
	}
	if reports == nil {
		reports = []drill.Report{}
	}
	if missing == nil {
		missing = []string{}
	}
	switch format {
	case "json":
		if err := writeJSON(w, map[string]any{"last_passed": reports, "never_passed": missing}); err != nil {
			return err
		}
	case "html":
		if err := drill.AuditorsHTML(w, reports, missing); err != nil {
			return err
		}
	default:
		for _, r := range reports {
			if err := r.Markdown(w); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
		for _, m := range missing {
			fmt.Fprintf(w, "**%s: no passed drill.** Plan one: breakglass drill plan --account %s\n\n", m, m)
		}
	}
	if len(missing) > 0 {
		what := "accounts have"
		if len(missing) == 1 {
			what = "account has"
		}
		return errFailed{fmt.Sprintf("%d %s no passed drill: %s", len(missing), what, strings.Join(missing, ", "))}
	}
	return nil
}

func newDrillStatusCmd() *cobra.Command {
	var f drillIDFlags
	cmd := &cobra.Command{
		Use:   "status [--format table|json]",
		Short: "Per account: planned, running, passed, failed and overdue drills",
		Long: `status lists every configured account's drills (latest window first), its last
passed drill and when the next is due: drill.interval after the last
passed one, or drill.remind_before after a key change seen in the audit
logs since (a Global or Privileged Role Administrator added or removed,
licences or subscriptions changed), the date serve reminds and raises
bg.drill_overdue on. Exit status 1 when an account is overdue.`,
		Example: `  breakglass drill status -c breakglass.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			ctx := cmd.Context()
			env, err := openDrill(ctx, f.config, false)
			if err != nil {
				return err
			}
			defer env.st.Close()
			now := time.Now()
			ss, err := env.ev.Status(ctx, env.st, env.cfg.Users(), now)
			if err != nil {
				return storeError(err)
			}
			w := cmd.OutOrStdout()
			if f.format == "json" {
				if ss == nil {
					ss = []drill.AccountStatus{}
				}
				if err := writeJSON(w, ss); err != nil {
					return err
				}
			} else {
				printStatus(w, ss, now)
			}
			var overdue []string
			for _, s := range ss {
				if s.Overdue {
					overdue = append(overdue, firstNonEmptyStr(s.AccountUPN, s.AccountID))
				}
			}
			if len(overdue) > 0 {
				return errFailed{fmt.Sprintf("drill overdue for %s: plan one with breakglass drill plan --account ACCOUNT", strings.Join(overdue, ", "))}
			}
			return nil
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func printStatus(w io.Writer, ss []drill.AccountStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tLAST PASSED\tNEXT DUE\tDRILLS")
	for _, s := range ss {
		last := "never"
		if s.LastPassed != nil && s.LastPassed.Finished != nil {
			last = utc(*s.LastPassed.Finished) + " (" + s.LastPassed.ID + ")"
		}
		due := "now (never passed)"
		if s.Due != nil {
			due = utc(*s.Due)
		}
		if s.Overdue {
			due = "OVERDUE since " + strings.TrimPrefix(due, "now ")
			if s.Due == nil {
				due = "OVERDUE (never passed)"
			}
		} else if s.State == schedule.StateDueSoon {
			due += " (due soon)"
		}
		if s.Early != nil {
			due += ", early: " + s.Early.Reason + " on " + utc(s.Early.Since)
		}
		var ds []string
		for _, d := range s.Drills {
			state := d.Result
			if state == "" {
				state = d.State
			}
			if d.FailedStep != "" {
				state += " at " + d.FailedStep
			}
			ds = append(ds, d.ID+" "+state)
		}
		if len(ds) == 0 {
			ds = []string{"none"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", firstNonEmptyStr(s.AccountUPN, s.AccountID), last, due, strings.Join(ds, ", "))
	}
	tw.Flush()
}
