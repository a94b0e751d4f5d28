package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/drill"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

// incidentsExtra are more incidents subcommands, added by other files of
// this package from their init functions (incidents_export.go adds export
// and report):
//
//	func init() { incidentsExtra = append(incidentsExtra, newIncidentsExportCmd) }
var incidentsExtra []func() *cobra.Command

// defaultMisuseWait is how long review --as misuse waits to see bg.misuse
// delivered by the running serve before it says what is still pending.
const defaultMisuseWait = 15 * time.Second

func newIncidentsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incidents",
		Short: "List, acknowledge, review and close incidents (uses of break-glass accounts)",
		Long: `incidents reads the store that serve writes (store.path in the configuration).
Every alert belongs to an incident: the alerts of one break-glass account
close in time (incidents.gap, default 2h) form one incident, since one use
raises a sign-in, its activity and its changes; silent or failing sources,
posture drift and undeliverable notifications form incidents of their own.

An incident moves open -> acknowledged -> reviewed -> closed, and each move
records who and when: ack stops escalation, review records whether the use
was a drill, a real emergency or misuse (misuse pages every group with
bg.misuse), close needs a review.

Exit status: 0 done; 1 the incident was not found or the step is not
allowed (closing without a review); 2 usage or configuration error, or the
store is missing or cannot be read.`,
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
	cmd.AddCommand(newIncidentsListCmd(), newIncidentsShowCmd(), newIncidentsAckCmd(),
		newIncidentsReviewCmd(), newIncidentsCloseCmd())
	for _, f := range incidentsExtra {
		cmd.AddCommand(f())
	}
	return cmd
}

// oneIncidentArg accepts exactly one incident id.
func oneIncidentArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return usageErrorf("%s takes one incident ID (see 'breakglass incidents list'), got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// incidentNotFound is the error for an unknown id (exit 1).
func incidentNotFound(id string) error {
	return fmt.Errorf("incident %q not found (run 'breakglass incidents list' for the IDs)", id)
}

// incidentErr turns a store error into the command's: not found and a
// refused transition exit 1, anything else is a store failure (exit 2).
func incidentErr(id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return incidentNotFound(id)
	case errors.Is(err, store.ErrStateTransition):
		return fmt.Errorf("incident %s: %w", id, err)
	}
	return storeError(err)
}

type incidentsListFlags struct {
	config, state, kind, account, format string
	limit                                int
}

func newIncidentsListCmd() *cobra.Command {
	var f incidentsListFlags
	cmd := &cobra.Command{
		Use:   "list [--state open|acknowledged|reviewed|closed] [--kind K] [--account ID] [--limit N] [--format table|json]",
		Short: "List incidents, newest first",
		Long: `list prints the newest incidents first. With --format json it prints one
JSON object per line (id, state, kind, key, account_id, account_upn,
opened, first_event, last_event, previous, alerts, review).`,
		Example: `  breakglass incidents list -c breakglass.yaml --state open
  breakglass incidents list -c breakglass.yaml --format json | jq .id`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runIncidentsList(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.state, "state", "", "only incidents in this state: open, acknowledged, reviewed or closed")
	fl.StringVar(&f.kind, "kind", "", "only incidents of this kind: account, silence, source, posture, notify or canary")
	fl.StringVar(&f.account, "account", "", "only incidents of this account (object id, any case)")
	fl.IntVar(&f.limit, "limit", defaultAlertsLimit, "print at most this many incidents")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// jsonIncident is an incident as the incidents commands print it: the
// same shape as the API's (incident.View).
type (
	jsonIncident = incident.View
	jsonReview   = incident.ReviewView
)

func toJSONIncident(inc store.Incident) jsonIncident { return incident.ViewOf(inc) }

func incidentSubject(inc store.Incident) string {
	switch {
	case inc.Kind != store.IncidentAccount:
		return inc.Key
	case inc.AccountUPN != "":
		return inc.AccountUPN
	case inc.AccountID != "":
		return inc.AccountID
	}
	return inc.Key
}

func runIncidentsList(cmd *cobra.Command, f incidentsListFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	switch f.state {
	case "", store.IncidentOpen, store.IncidentAcknowledged, store.IncidentReviewed, store.IncidentClosed:
	default:
		return usageErrorf("--state: unknown state %q (want open, acknowledged, reviewed or closed)", f.state)
	}
	switch f.kind {
	case "", store.IncidentAccount, store.IncidentSilence, store.IncidentSource, store.IncidentPosture, store.IncidentNotify, store.IncidentCanary:
	default:
		return usageErrorf("--kind: unknown kind %q (want account, silence, source, posture, notify or canary)", f.kind)
	}
	if f.limit <= 0 {
		return usageErrorf("--limit: must be at least 1, got %d", f.limit)
	}
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	// One more than asked says whether there are more.
	incs, err := st.Incidents(ctx, store.IncidentFilter{State: f.state, Kind: f.kind, AccountID: f.account, Limit: f.limit + 1})
	if err != nil {
		return storeError(err)
	}
	more := len(incs) > f.limit
	if more {
		incs = incs[:f.limit]
	}
	if err := listIncidents(cmd.OutOrStdout(), cmd.ErrOrStderr(), incs, f.format, more); err != nil {
		return err
	}
	// Alerts stored by scan, or while serve was down, are in no incident
	// until serve attaches them: say so rather than list as if complete.
	loose, err := st.UnattachedAlerts(ctx, maxLooseShown+1)
	if err != nil {
		return storeError(err)
	}
	if n := len(loose); n > 0 {
		what := fmt.Sprintf("%d stored alerts are", n)
		switch {
		case n == 1:
			what = "1 stored alert is"
		case n > maxLooseShown:
			what = fmt.Sprintf("more than %d stored alerts are", maxLooseShown)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s in no incident yet (oldest: %s %s): breakglass serve attaches them within seconds; is it running on this store?\n",
			what, printable(loose[0].Rule), printable(loose[0].ID))
	}
	return nil
}

// maxLooseShown bounds the count of unattached alerts list reports.
const maxLooseShown = 100

func listIncidents(stdout, stderr io.Writer, incs []store.Incident, format string, more bool) error {
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, inc := range incs {
			if err := enc.Encode(toJSONIncident(inc)); err != nil {
				return fmt.Errorf("writing incidents: %w", err)
			}
		}
	} else if len(incs) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OPENED (UTC)\tSTATE\tKIND\tSUBJECT\tALERTS\tREVIEW\tID")
		for _, inc := range incs {
			review := "-"
			if inc.Review != nil {
				review = inc.Review.Class + " by " + inc.Review.By
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", inc.Opened.UTC().Format(time.DateTime), inc.State, inc.Kind,
				printable(incidentSubject(inc)), len(inc.Alerts), printable(review), inc.ID)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing incidents: %w", err)
		}
	}
	switch {
	case len(incs) == 0:
		fmt.Fprintln(stderr, "no incidents match")
	case more:
		fmt.Fprintf(stderr, "showing the newest %d; more match (raise --limit or narrow with --state, --kind, --account)\n", len(incs))
	}
	return nil
}

type incidentShowFlags struct{ config, format string }

func newIncidentsShowCmd() *cobra.Command {
	var f incidentShowFlags
	cmd := &cobra.Command{
		Use:     "show ID [--format table|json]",
		Short:   "Show one incident: its alerts, who was notified and acknowledged, its transitions and review",
		Example: `  breakglass incidents show -c breakglass.yaml inc-3f2a9c0d1b4e`,
		Args:    oneIncidentArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, err := loadConfig(f.config)
			if err != nil {
				return err
			}
			st, err := openExistingStore(ctx, f.config)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := showIncident(ctx, st, cmd.OutOrStdout(), args[0], f.format, groupNames(cfg)); err != nil {
				return err
			}
			return checkShownIncident(ctx, st, args[0])
		},
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func groupNames(cfg *config.Config) []string {
	var out []string
	for _, g := range cfg.Notify.Groups {
		out = append(out, g.Name)
	}
	return out
}

// incidentShowStore is what show reads.
type incidentShowStore interface {
	Incident(ctx context.Context, id string) (store.Incident, error)
	IncidentChanges(ctx context.Context, id string) ([]store.IncidentChange, error)
	Alert(ctx context.Context, id string) (alert.Alert, error)
	StateChanges(ctx context.Context, id string) ([]store.StateChange, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
}

type shownIncidentAlert struct {
	ID           string             `json:"id"`
	Rule         string             `json:"rule"`
	Severity     alert.Severity     `json:"severity"`
	Title        string             `json:"title"`
	State        string             `json:"state"`
	EventTime    time.Time          `json:"event_time"`
	Missing      bool               `json:"missing,omitempty"` // attached, but not in the store
	StateHistory []shownStateChange `json:"state_history"`
	Deliveries   []shownDelivery    `json:"deliveries"`
}

type shownTransition struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

type showDetails struct {
	AlertDetails []shownIncidentAlert `json:"alert_details"`
	Transitions  []shownTransition    `json:"transitions"`
	// NotAttested are the configured groups the review has no attestation
	// for.
	NotAttested []string `json:"not_attested,omitempty"`
	// Suggested is the classification breakglass suggests before a
	// review: a drill sign-in pre-classifies its incident as a drill.
	Suggested *drill.Classification `json:"suggested,omitempty"`
	// NotTheDrill are the incident's alerts the suggested drill does not
	// explain: confirming it as a drill classifies them too.
	NotTheDrill []string `json:"not_the_drill,omitempty"`
}

type shownIncident struct {
	jsonIncident
	showDetails
}

func showIncident(ctx context.Context, st incidentShowStore, w io.Writer, id, format string, groups []string) error {
	inc, err := st.Incident(ctx, id)
	if err != nil {
		return incidentErr(id, err)
	}
	changes, err := st.IncidentChanges(ctx, id)
	if err != nil {
		return incidentErr(id, err)
	}
	out := shownIncident{jsonIncident: toJSONIncident(inc)}
	out.AlertDetails, out.Transitions = []shownIncidentAlert{}, []shownTransition{}
	for _, c := range changes {
		out.Transitions = append(out.Transitions, shownTransition{From: c.From, To: c.To, By: c.By, At: c.At.UTC(), Note: c.Note})
	}
	var alerts []alert.Alert
	for _, aid := range inc.Alerts {
		sa := shownIncidentAlert{ID: aid, StateHistory: []shownStateChange{}, Deliveries: []shownDelivery{}}
		a, err := st.Alert(ctx, aid)
		if err == nil {
			alerts = append(alerts, a)
		}
		if errors.Is(err, store.ErrNotFound) {
			sa.Missing = true
			out.AlertDetails = append(out.AlertDetails, sa)
			continue
		}
		if err != nil {
			return storeError(err)
		}
		sa.Rule, sa.Severity, sa.Title, sa.State, sa.EventTime = a.Rule, a.Severity, a.Title, stateOf(a), a.EventTime.UTC()
		scs, err := st.StateChanges(ctx, aid)
		if err != nil {
			return storeError(err)
		}
		for _, c := range scs {
			sa.StateHistory = append(sa.StateHistory, shownStateChange{From: c.From, To: c.To, By: c.By, At: c.At.UTC()})
		}
		ds, err := st.AlertDeliveries(ctx, aid)
		if err != nil {
			return storeError(err)
		}
		for _, d := range ds {
			sa.Deliveries = append(sa.Deliveries, shownDelivery{Target: d.Target, Status: d.Status, State: deliveryState(d, time.Time{}),
				Attempts: d.Sends(), LastError: d.LastError, Created: d.Created.UTC(), Delivered: d.Delivered.UTC(),
				DeadAt: d.DeadAt.UTC(), DeadReason: d.DeadReason})
		}
		out.AlertDetails = append(out.AlertDetails, sa)
	}
	log, err := st.IncidentLog(ctx, id)
	if err != nil {
		return storeError(err)
	}
	if out.Suggested = drill.Suggested(log); out.Suggested != nil {
		out.NotTheDrill = out.Suggested.NotTheDrill(alerts)
	}
	if inc.Review != nil && inc.Pruned == nil { // a tombstone keeps no attestations
		for _, g := range groups {
			if strings.TrimSpace(inc.Review.Attest[g]) == "" {
				out.NotAttested = append(out.NotAttested, g)
			}
		}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("writing incident: %w", err)
		}
		return nil
	}
	if err := printIncident(w, out); err != nil {
		return fmt.Errorf("writing incident: %w", err)
	}
	return nil
}

func printIncident(w io.Writer, out shownIncident) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s\t%s\n", name, printable(value))
		}
	}
	field("Incident", out.ID)
	field("State", out.State)
	field("Kind", out.Kind)
	field("Account", out.AccountUPN)
	field("Account ID", out.AccountID)
	if out.Kind != store.IncidentAccount {
		field("About", out.Key)
	}
	field("Opened", out.Opened.Format(tableTime))
	field("Events", out.FirstEvent.Format(tableTime)+" to "+out.LastEvent.Format(tableTime))
	field("Follows", out.Previous)
	field("Pruned", prunedLine(out.Pruned))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nAlerts (%d)\n", len(out.AlertDetails))
	for _, a := range out.AlertDetails {
		if a.Missing {
			fmt.Fprintf(w, "  %s  NOT IN THE STORE (attached, then removed?)\n", a.ID)
			continue
		}
		fmt.Fprintf(w, "  %s  %s  %s  %s  %s\n    %s\n", a.EventTime.Format(tableTime), a.Severity, printable(a.Rule),
			a.State, a.ID, printable(a.Title))
		for _, c := range a.StateHistory {
			by := ""
			if c.By != "" {
				by = " by " + printable(c.By)
			}
			fmt.Fprintf(w, "    %s  %s -> %s%s\n", c.At.Format(tableTime), printable(c.From), printable(c.To), by)
		}
		if len(a.Deliveries) == 0 {
			fmt.Fprintln(w, "    notified: nobody (no channel was routed this alert)")
		}
		for _, d := range a.Deliveries {
			var what string
			switch d.State {
			case deliveryDelivered:
				what = "delivered " + d.Delivered.Format(tableTime)
			case deliveryDead:
				what = "NOT DELIVERED, gave up " + d.DeadAt.Format(tableTime) + ": " + d.DeadReason
			default:
				what = fmt.Sprintf("pending after %d attempts", d.Attempts)
				if d.LastError != "" {
					what += ": " + d.LastError
				}
			}
			fmt.Fprintf(w, "    notified %s (%s): %s\n", printable(d.Target), d.Status, printable(what))
		}
	}

	fmt.Fprintln(w, "\nTransitions")
	if out.Pruned != nil {
		fmt.Fprintf(w, "  pruned with the incident; its prune entry %d in the evidence log records it closed %s\n", out.Pruned.Seq, out.Pruned.Closed.Format(tableTime))
	}
	for _, c := range out.Transitions {
		from := c.From
		if from == "" {
			from = "-"
		}
		note := ""
		if c.Note != "" {
			note = ": " + printable(c.Note)
		}
		fmt.Fprintf(w, "  %s  %s -> %s by %s%s\n", c.At.Format(tableTime), from, c.To, printable(c.By), note)
	}

	fmt.Fprintln(w, "\nReview")
	if c := out.Suggested; c != nil {
		by := ""
		if c.PlannedBy != "" {
			by = ", planned by " + printable(c.PlannedBy)
		}
		fmt.Fprintf(w, "  suggested: %s (drill %s of %s%s); a reviewer confirms it: %s\n",
			c.SuggestedClass, printable(c.Drill), printable(c.Account), by, printable(c.Confirm))
		if n := len(out.NotTheDrill); n > 0 {
			fmt.Fprintf(w, "  NOT the drill's: %d alert(s) of this incident (%s) are not the drill's sign-in or action: check them before confirming it as a drill, which classifies them too\n",
				n, strings.Join(out.NotTheDrill, ", "))
		}
	}
	r := out.Review
	if r == nil {
		fmt.Fprintf(w, "  none yet: run 'breakglass incidents review %s --as drill|emergency|misuse --by NAME --note TEXT'\n", out.ID)
		return nil
	}
	fmt.Fprintf(w, "  %s by %s at %s\n", r.Class, printable(r.By), r.At.Format(tableTime))
	if r.Note != "" {
		fmt.Fprintf(w, "  note: %s\n", printable(r.Note))
	}
	for _, g := range slices.Sorted(maps.Keys(r.Attest)) {
		fmt.Fprintf(w, "  attested for %s: %s\n", printable(g), printable(r.Attest[g]))
	}
	if len(out.NotAttested) > 0 {
		fmt.Fprintf(w, "  not attested: %s (review again with --attest GROUP=yes or an explanation)\n", printable(strings.Join(out.NotAttested, ", ")))
	}
	return nil
}

type incidentActFlags struct {
	config, format, by, note, as string
	attest                       []string
	wait                         time.Duration
}

func addActFlags(cmd *cobra.Command, f *incidentActFlags) {
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	fl.StringVar(&f.by, "by", "", "who does this (recorded in the incident; required)")
	fl.StringVar(&f.note, "note", "", "why, in a few words (recorded)")
}

func (f incidentActFlags) check() error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	if strings.TrimSpace(f.by) == "" {
		return usageErrorf("--by NAME is required: the incident records who did this")
	}
	return nil
}

func printActed(w io.Writer, format string, inc store.Incident, lines ...string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(toJSONIncident(inc))
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

func newIncidentsAckCmd() *cobra.Command {
	var f incidentActFlags
	cmd := &cobra.Command{
		Use:     "ack ID --by NAME [--note TEXT]",
		Short:   "Acknowledge an incident and its firing alerts (stops escalation)",
		Example: `  breakglass incidents ack -c breakglass.yaml inc-3f2a9c0d1b4e --by alice --note "on it, calling the owners"`,
		Args:    oneIncidentArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openExistingStore(ctx, f.config)
			if err != nil {
				return err
			}
			defer st.Close()
			id := args[0]
			res, err := incident.Ack(ctx, st, id, f.by, f.note, time.Now())
			if err != nil {
				return incidentErr(id, err)
			}
			if !res.Already {
				if err := recordCLI(ctx, st, "incident.ack", id, "by "+f.by); err != nil {
					return err
				}
			}
			msg := fmt.Sprintf("incident %s acknowledged by %s", id, f.by)
			if res.Already {
				msg = fmt.Sprintf("incident %s was already %s; nothing to do for the incident", id, res.Incident.State)
			}
			lines := []string{msg}
			if n := len(res.Alerts); n > 0 {
				lines = append(lines, fmt.Sprintf("%d firing alerts acknowledged: escalation stops", n))
			}
			if res.Incident.Review == nil {
				lines = append(lines, fmt.Sprintf("next, once you know what happened: breakglass incidents review %s --as drill|emergency|misuse --by NAME --note TEXT", id))
			}
			return printActed(cmd.OutOrStdout(), f.format, res.Incident, lines...)
		},
	}
	addActFlags(cmd, &f)
	return cmd
}

func newIncidentsReviewCmd() *cobra.Command {
	var f incidentActFlags
	cmd := &cobra.Command{
		Use:   "review ID --as drill|emergency|misuse --by NAME --note TEXT [--attest GROUP=yes|EXPLANATION ...]",
		Short: "Record whether a use was a drill, a real emergency or misuse",
		Long: `review records the classification of an incident with who, when and why,
and, per action group (notify.groups), whether the actions taken matched
the authorised use: --attest GROUP=yes, or GROUP="what differed". Groups
without an attestation are listed. A reviewed incident may be reviewed
again (the last review counts, every one is recorded).

--as misuse raises bg.misuse (Sev0) to every channel of every group
through the outbox; the running serve sends it, and review waits up to
--wait to report what was delivered.`,
		Example: `  breakglass incidents review -c breakglass.yaml inc-3f2a9c0d1b4e --as drill --by alice \
      --note "quarterly drill, ticket CHG-1234" --attest oncall=yes --attest security=yes`,
		Args: oneIncidentArg,
		RunE: func(cmd *cobra.Command, args []string) error { return runIncidentReview(cmd, f, args[0]) },
	}
	addActFlags(cmd, &f)
	fl := cmd.Flags()
	fl.StringVar(&f.as, "as", "", "drill, emergency or misuse (required)")
	fl.StringArrayVar(&f.attest, "attest", nil, "GROUP=yes, or GROUP=explanation: whether the actions matched the authorised use (repeat per group)")
	fl.DurationVar(&f.wait, "wait", defaultMisuseWait, "with --as misuse: how long to wait for bg.misuse to be delivered (0: do not wait)")
	return cmd
}

func runIncidentReview(cmd *cobra.Command, f incidentActFlags, id string) error {
	if err := f.check(); err != nil {
		return err
	}
	switch f.as {
	case store.ClassDrill, store.ClassEmergency, store.ClassMisuse:
	case "":
		return usageErrorf("--as is required: drill, emergency or misuse")
	default:
		return usageErrorf("--as: unknown classification %q (want drill, emergency or misuse)", f.as)
	}
	if strings.TrimSpace(f.note) == "" {
		return usageErrorf("--note TEXT is required: why you classify it so (a ticket, who used the account and why)")
	}
	if f.wait < 0 {
		return usageErrorf("--wait: must not be negative")
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	groups := groupNames(cfg)
	attest := map[string]string{}
	for _, s := range f.attest {
		g, v, err := incident.ParseAttest(s, groups)
		if err != nil {
			return usageErrorf("--attest %w", err)
		}
		attest[g] = v
	}
	ctx := cmd.Context()
	st, err := openExistingStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := incident.Review(ctx, st, id, incident.ReviewRequest{Class: f.as, By: f.by, Note: f.note, Attest: attest,
		Groups: groups, Targets: cfg.Notify.Targets(), Gap: cfg.Incidents.Gap}, time.Now())
	if err != nil {
		if res.Misuse != nil {
			return fmt.Errorf("incident %s: review recorded and bg.misuse queued (alert %s), but: %w", id, res.Misuse.ID, err)
		}
		if res.Incident.ID != "" {
			// The review is recorded; the page is what failed.
			return fmt.Errorf("incident %s: review recorded, but bg.misuse could NOT be queued: %w; "+
				"tell the security team yourself now, then run this review again to queue the page", id, err)
		}
		return incidentErr(id, err)
	}
	if err := recordCLI(ctx, st, "incident.review", id, f.as+" by "+f.by); err != nil {
		return err
	}
	lines := []string{fmt.Sprintf("incident %s reviewed as %s by %s", id, f.as, f.by)}
	if len(res.Missing) > 0 {
		lines = append(lines, fmt.Sprintf("not attested: %s (review again with --attest GROUP=yes or an explanation)", strings.Join(res.Missing, ", ")))
	}
	if res.Misuse != nil {
		lines = append(lines, misuseLines(ctx, st, *res.Misuse, res.MisuseNew, f.wait)...)
	}
	lines = append(lines, fmt.Sprintf("next: breakglass incidents close %s --by NAME", id))
	return printActed(cmd.OutOrStdout(), f.format, res.Incident, lines...)
}

// misuseLines says where bg.misuse stands: queued by this process, sent by
// the running serve. It waits up to wait for the deliveries to complete;
// what is still pending then is named, with what to do.
func misuseLines(ctx context.Context, st interface {
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
}, a alert.Alert, isNew bool, wait time.Duration) []string {
	head := fmt.Sprintf("bg.misuse (Sev0) raised to every group: alert %s", a.ID)
	if !isNew {
		head = fmt.Sprintf("bg.misuse (Sev0) was raised before for this incident (alert %s); not sent again", a.ID)
	}
	deadline := time.Now().Add(wait)
	var ds []store.Delivery
	for {
		var err error
		ds, err = st.AlertDeliveries(ctx, a.ID)
		if err != nil {
			return []string{head, "could not read its deliveries: " + err.Error()}
		}
		pending := 0
		for _, d := range ds {
			if deliveryState(d, time.Time{}) == deliveryPending {
				pending++
			}
		}
		if pending == 0 || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return []string{head}
		case <-time.After(200 * time.Millisecond):
		}
	}
	lines := []string{head}
	var pending []string
	for _, d := range ds {
		switch deliveryState(d, time.Time{}) {
		case deliveryDelivered:
			lines = append(lines, "  delivered to "+printable(d.Target))
		case deliveryDead:
			lines = append(lines, "  NOT DELIVERED to "+printable(d.Target)+": "+printable(d.DeadReason))
		default:
			pending = append(pending, d.Target)
		}
	}
	if len(pending) > 0 {
		lines = append(lines, fmt.Sprintf("  queued, not yet delivered: %s. breakglass serve sends it; if it is not running, start it or tell the security team yourself",
			printable(strings.Join(pending, ", "))))
	}
	return lines
}

func newIncidentsCloseCmd() *cobra.Command {
	var f incidentActFlags
	cmd := &cobra.Command{
		Use:     "close ID --by NAME [--note TEXT]",
		Short:   "Close a reviewed incident",
		Example: `  breakglass incidents close -c breakglass.yaml inc-3f2a9c0d1b4e --by alice`,
		Args:    oneIncidentArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openExistingStore(ctx, f.config)
			if err != nil {
				return err
			}
			defer st.Close()
			id := args[0]
			inc, err := incident.Close(ctx, st, id, f.by, f.note, time.Now())
			if errors.Is(err, incident.ErrNoReview) {
				return fmt.Errorf("incident %s is %s and has no review; closing needs one: "+
					"breakglass incidents review %s --as drill|emergency|misuse --by NAME --note TEXT", id, inc.State, id)
			}
			if err != nil {
				return incidentErr(id, err)
			}
			if err := recordCLI(ctx, st, "incident.close", id, "by "+f.by); err != nil {
				return err
			}
			return printActed(cmd.OutOrStdout(), f.format, inc, fmt.Sprintf("incident %s closed by %s; a new alert of %s opens a new incident", id, f.by, incidentSubject(inc)))
		},
	}
	addActFlags(cmd, &f)
	return cmd
}
