package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/alert"
	"breakglass/internal/route"
	"breakglass/internal/store"
)

type alertsAckFlags struct {
	config, by, note string
}

func newAlertsAckCmd() *cobra.Command {
	var f alertsAckFlags
	cmd := &cobra.Command{
		Use:   "ack ID --by NAME [--note TEXT]",
		Short: "Acknowledge an alert: stops its escalation to further groups",
		Long: `ack records that NAME has taken an alert on: it moves from firing to
acknowledged, with who, when and how (cli) kept in its state history, and
serve stops escalating it to the next group of its route. It does not
resolve the alert: review what happened. Acknowledging an alert that is
already acknowledged changes nothing and says who did it.`,
		Example: `  breakglass alerts ack -c breakglass.yaml 1f3a9c0d2b4e5f60718293a4b5c6d7e8 --by "Dana (identity on-call)" --note "planned drill"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || args[0] == "" {
				return usageErrorf("%s takes one alert ID (see 'breakglass alerts list'), got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runAlertsAck(cmd, f, args[0], time.Now()) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.by, "by", "", "who acknowledges (required): your name, as the team knows it")
	fl.StringVar(&f.note, "note", "", "why, or what you are doing about it (kept with the acknowledgement)")
	return cmd
}

func runAlertsAck(cmd *cobra.Command, f alertsAckFlags, id string, now time.Time) error {
	by, note := strings.TrimSpace(f.by), strings.TrimSpace(f.note)
	if by == "" {
		return usageErrorf("--by: required: who acknowledges (your name), so the next person knows whom to ask")
	}
	for _, v := range []struct{ flag, s string }{{"--by", by}, {"--note", note}} {
		if printable(v.s) != v.s {
			return usageErrorf("%s: contains control characters or invalid UTF-8; type plain text", v.flag)
		}
	}
	if len(by) > 200 || len(note) > 2000 {
		return usageErrorf("--by is at most 200 bytes and --note 2000")
	}
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	w := cmd.OutOrStdout()
	a, err := st.Alert(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("alert %q not found (run 'breakglass alerts list' for the IDs)", id)
	}
	if err != nil {
		return storeError(err)
	}
	changed, err := st.ChangeAlertState(ctx, store.StateChange{AlertID: id, To: alert.StateAcknowledged, By: by, Via: store.ViaCLI, Note: note, At: now})
	if errors.Is(err, store.ErrStateTransition) {
		return fmt.Errorf("alert %s is resolved: there is nothing to acknowledge (nothing changed)", id)
	}
	if err != nil {
		return usageError{fmt.Errorf("recording the acknowledgement: %w", err)}
	}
	if !changed {
		changes, err := st.StateChanges(ctx, id)
		if err != nil {
			return storeError(err)
		}
		who := "someone"
		if c := lastAck(alert.Alert{State: alert.StateAcknowledged}, changes); c != nil {
			who = ackWho(*c) + " at " + c.At.Format(tableTime)
		}
		_, err = fmt.Fprintf(w, "Alert %s was already acknowledged by %s; nothing changed.\n", id, printable(who))
		return err
	}
	if err := recordCLI(ctx, st, "alert.ack", id, "by "+by); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "Acknowledged alert %s (%s) as %s at %s.\nEscalation to further groups stops. The alert stays open: review it (breakglass alerts show %s).\n",
		id, printable(a.Title), printable(by), now.UTC().Format(tableTime), id)
	return err
}

func toShownChange(c store.StateChange) shownStateChange {
	return shownStateChange{From: c.From, To: c.To, By: c.By, Via: c.Via, Note: c.Note, At: c.At.UTC()}
}

// lastAck is the latest move to acknowledged while a is acknowledged, or
// nil.
func lastAck(a alert.Alert, changes []store.StateChange) *shownStateChange {
	if stateOf(a) != alert.StateAcknowledged {
		return nil
	}
	for i := len(changes) - 1; i >= 0; i-- {
		if changes[i].To == alert.StateAcknowledged {
			c := toShownChange(changes[i])
			return &c
		}
	}
	return nil
}

// ackWho is "NAME (via)".
func ackWho(c shownStateChange) string {
	s := c.By
	if s == "" {
		s = "someone"
	}
	if c.Via != "" {
		s += " (" + c.Via + ")"
	}
	return s
}

// Where one step of an alert's escalation stands.
const (
	stepNotified    = "notified"     // every channel of the step has its notification
	stepNotNotified = "not notified" // the first step without notifications: muted, or stored without notifying
	stepPending     = "pending"      // not due yet
	stepDue         = "due"          // due, not yet enqueued: serve does it within seconds
	stepStopped     = "stopped"      // the alert was acknowledged or resolved first
	stepNever       = "never"        // the first step notified nobody (muted): nothing escalates
)

// shownStep is one step of the alert's escalation plan.
type shownStep struct {
	After  string    `json:"after"` // unacknowledged this long ("0s": at once)
	Groups []string  `json:"groups"`
	Due    time.Time `json:"due"`
	State  string    `json:"state"`
}

// escalationOf compares a's plan with what the outbox holds.
func escalationOf(a alert.Alert, p route.Plan, ds []store.Delivery, now time.Time) []shownStep {
	have := map[string]bool{}
	for _, d := range ds {
		if d.Status == store.StatusFiring {
			have[d.Target] = true
		}
	}
	out := []shownStep{}
	// Never notified (muted, or stored without notifying): serve never
	// escalates it, since escalating would be its first notice.
	never := len(have) == 0
	for _, s := range p.Steps {
		st := shownStep{After: s.After.String(), Groups: s.Groups, Due: a.Detected.Add(s.After).UTC()}
		all := len(s.Targets) > 0
		for _, t := range s.Targets {
			all = all && have[t]
		}
		switch {
		case all:
			st.State = stepNotified
		case s.After == 0:
			st.State = stepNotNotified
		case never:
			st.State = stepNever
		case stateOf(a) != alert.StateFiring:
			st.State = stepStopped
		case !now.Before(st.Due):
			st.State = stepDue
		default:
			st.State = stepPending
		}
		out = append(out, st)
	}
	return out
}

// escalationSummary is the ESCALATION column of list: "-" (the route does
// not escalate), "next GROUPS HH:MM", "due now", "stopped" or "done".
func escalationSummary(steps []shownStep) string {
	if len(steps) < 2 {
		return "-"
	}
	for _, s := range steps[1:] {
		switch s.State {
		case stepDue:
			return "due now"
		case stepPending:
			return "next " + strings.Join(s.Groups, ",") + " " + s.Due.Format("15:04") + "Z"
		case stepStopped:
			return "stopped"
		case stepNever:
			return "none (not notified)"
		}
	}
	return "done"
}

func printEscalation(w io.Writer, steps []shownStep) {
	if len(steps) < 2 {
		return
	}
	fmt.Fprintln(w, "\nEscalation")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range steps {
		when := "at once"
		if s.After != "0s" {
			when = "after " + s.After + " unacknowledged"
		}
		var detail string
		switch s.State {
		case stepNotified:
			detail = "notified (each channel under Notifications)"
		case stepNotNotified:
			detail = "not notified (muted, or stored without notifying)"
		case stepStopped:
			detail = "stopped: the alert was acknowledged or resolved (due " + s.Due.Format(tableTime) + ")"
		case stepNever:
			detail = "never: nobody was notified at once (muted, or stored without notifying), so it does not escalate"
		case stepDue:
			detail = "due since " + s.Due.Format(tableTime) + ": serve notifies within seconds; if this stays, check that serve runs"
		default:
			detail = "at " + s.Due.Format(tableTime) + " unless acknowledged"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", when, printable(strings.Join(s.Groups, ", ")), detail)
	}
	tw.Flush()
}
