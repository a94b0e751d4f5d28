package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"breakglass/internal/alert"
	"breakglass/internal/daemon"
)

func newNotifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Check the notification channels",
		Long: `notify test sends a test notification through the channels of a group, to
prove that a page reaches people before a real alert has to.`,
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
	cmd.AddCommand(newNotifyTestCmd())
	return cmd
}

type notifyTestFlags struct {
	config, group, format, severity string
}

func newNotifyTestCmd() *cobra.Command {
	var f notifyTestFlags
	cmd := &cobra.Command{
		Use:   "test --config F --group NAME [--severity Sev0..Sev4] [--format table|json]",
		Short: "Send a test notification through every channel of a group",
		Long: `test builds the channels of one notification group exactly as serve does
and sends one test notification through all of them at once, each bounded
by its channel's timeout. The message says TEST in every form (subject,
text, SMS, voice), carries the label test=drill and an alert id of its own
(test-<UTC time>), so no receiver takes it for a real alert. No resolution
is sent. The store is not touched: nothing is queued or retried.

--severity (default Sev0, as a break-glass sign-in) is the severity the
drill is sent with: channels map it to their priority as for a real alert
(Pushover emergency, PagerDuty critical), so the default proves the path a
real page takes. Use --severity Sev3 for a quiet check. PagerDuty and
Opsgenie keep the test incident open (no resolution is sent): resolve it
there.

It prints, per channel: the target, its type, ok or failed, the time taken
and the error. A console channel writes its message to standard error.

Exit status: 0 every channel accepted the notification; 1 at least one
failed (fix it, then run this again); 2 usage or configuration error, such
as an unknown group (the message lists the configured groups).`,
		Example: `  breakglass notify test -c breakglass.yaml --group oncall
  breakglass notify test -c breakglass.yaml --group oncall --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNotifyTest(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.group, "group", "", "notification group to test (notify.groups[].name)")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	fl.StringVar(&f.severity, "severity", "Sev0", "severity of the test notification: Sev0 (critical) .. Sev4, or 0..4")
	return cmd
}

// notifyTestResult is one line of the JSON output.
type notifyTestResult struct {
	Target    string  `json:"target"`
	Type      string  `json:"type"`
	OK        bool    `json:"ok"`
	ElapsedMS float64 `json:"elapsed_ms"`
	Error     string  `json:"error,omitempty"`
}

// notifyTestReport is the JSON output.
type notifyTestReport struct {
	Group          string             `json:"group"`
	NotificationID string             `json:"notification_id"`
	OK             bool               `json:"ok"`
	Channels       []notifyTestResult `json:"channels"`
}

func runNotifyTest(cmd *cobra.Command, f notifyTestFlags) error {
	if f.format != "table" && f.format != "json" {
		return usageErrorf("--format: unknown format %q (want table or json)", f.format)
	}
	sev, ok := parseSeverity(f.severity)
	if !ok {
		return usageErrorf("--severity: %q is not Sev0..Sev4 (or 0..4)", f.severity)
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	if f.group == "" {
		return usageErrorf("--group: required: one of %s", strings.Join(daemon.GroupNames(cfg), ", "))
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := cmd.ErrOrStderr()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := daemon.TestNotification(f.group, sev, time.Now())
	results, err := daemon.SendTest(ctx, cfg, f.group, n, stderr, log)
	if err != nil {
		return asUsage(err)
	}
	rep := notifyTestReport{Group: f.group, NotificationID: n.ID, OK: true, Channels: []notifyTestResult{}}
	failed := 0
	for _, r := range results {
		line := notifyTestResult{Target: r.Target, Type: r.Type, OK: r.Err == nil,
			ElapsedMS: float64(r.Elapsed.Microseconds()) / 1000}
		if r.Err != nil {
			line.Error = r.Err.Error()
			rep.OK = false
			failed++
		}
		rep.Channels = append(rep.Channels, line)
	}
	out := cmd.OutOrStdout()
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "test notification %s to group %s\n\n", n.ID, f.group)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tTYPE\tRESULT\tTIME\tERROR")
		for _, r := range rep.Channels {
			result, msg := "ok", "-"
			if !r.OK {
				result, msg = "FAILED", tableCell(r.Error)
			}
			d := time.Duration(r.ElapsedMS * float64(time.Millisecond)).Round(time.Millisecond)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Target, r.Type, result, d, msg)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return exitCodeError{exitFailure, fmt.Sprintf("%d of %d channels of group %s failed the test: fix them, then run notify test again", failed, len(results), f.group)}
	}
	return nil
}

// parseSeverity reads Sev0..Sev4 (any case) or 0..4.
func parseSeverity(s string) (alert.Severity, bool) {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sev")
	if len(s) != 1 || s[0] < '0' || s[0] > '4' {
		return 0, false
	}
	return alert.Severity(s[0] - '0'), true
}

// tableCell is err on one line without control characters: a multi-line
// error (a script's stderr) would break the table, and an escape sequence
// a remote end sent must not reach the terminal. Channels already make
// their excerpts printable; this holds for any channel added later.
func tableCell(err string) string {
	err = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return '?'
		}
		return r
	}, err)
	return strings.Join(strings.Fields(err), " ")
}
