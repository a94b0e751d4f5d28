package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/notify"
	"breakglass/internal/route"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// defaultAlertsLimit is how many alerts list prints without --limit: a
// screenful, newest first.
const defaultAlertsLimit = 50

// Delivery states as alerts prints them, one per outbox row.
const (
	deliveryDelivered = "delivered"
	deliveryDead      = "dead-lettered"
	deliveryPending   = "pending"
	deliverySending   = "sending" // a dispatcher holds its lease now
)

func newAlertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List stored alerts, show who was notified of each, acknowledge one",
		Long: `alerts reads the store that scan and serve write (store.path in the
configuration): list shows the newest alerts, show one alert with its state
history, its acknowledgement, its escalation and, per notification channel,
whether it was delivered, is still being retried (attempts, last error) or
was given up on (dead-lettered, with the reason). ack acknowledges an alert,
which stops its escalation to further groups; nothing else here changes an
alert or a delivery.

Exit status: 0 done; 1 the alert was not found (or is resolved, for ack);
2 usage or configuration error, or the store is missing or cannot be read.`,
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
	cmd.AddCommand(newAlertsListCmd(), newAlertsShowCmd(), newAlertsAckCmd())
	return cmd
}

type alertsListFlags struct {
	config, state, rule, format string
	limit                       int
	// plan is each alert's escalation plan under the configuration; nil
	// shows none.
	plan func(alert.Alert) route.Plan
	now  time.Time
}

func newAlertsListCmd() *cobra.Command {
	var f alertsListFlags
	cmd := &cobra.Command{
		Use:   "list [--state firing|acknowledged|resolved] [--rule R] [--limit N] [--format table|json]",
		Short: "List the newest stored alerts and their delivery state",
		Long: `list prints the newest alerts first (by event time), each with a summary
of its notifications: how many were delivered, are pending, or were
dead-lettered. Anything dead-lettered reached nobody through that channel:
run 'breakglass alerts show ID' to see why.`,
		Example: `  breakglass alerts list -c breakglass.yaml --state firing
  breakglass alerts list -c breakglass.yaml --rule bg.signin --limit 10 --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAlertsList(cmd, f) },
	}
	addConfigFlag(cmd, &f.config)
	fl := cmd.Flags()
	fl.StringVar(&f.state, "state", "", "only alerts in this state: firing, acknowledged or resolved")
	fl.StringVar(&f.rule, "rule", "", "only alerts of this rule (e.g. bg.signin)")
	fl.IntVar(&f.limit, "limit", defaultAlertsLimit, "print at most this many alerts")
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

type alertsShowFlags struct {
	config, format string
}

func newAlertsShowCmd() *cobra.Command {
	var f alertsShowFlags
	cmd := &cobra.Command{
		Use:   "show ID [--format table|json]",
		Short: "Show one alert, its state history and its delivery per channel",
		Long: `show prints one alert (rule, severity, account, what happened, when, labels,
annotations), every change of its state, and per notification channel:
attempts, the last error, when it was delivered, or when and why it was
dead-lettered. A dead-lettered channel was never reached: tell its people
another way, and fix the channel (the reason says what failed).`,
		Example: `  breakglass alerts show -c breakglass.yaml 1f3a9c0d2b4e5f60718293a4b5c6d7e8`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || args[0] == "" {
				return usageErrorf("%s takes one alert ID (see 'breakglass alerts list'), got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runAlertsShow(cmd, f, args[0]) },
	}
	addConfigFlag(cmd, &f.config)
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func checkFormat(format string) error {
	if format != "table" && format != "json" {
		return usageErrorf("--format: unknown format %q (want table or json)", format)
	}
	return nil
}

// alertsStore is what the alerts commands read.
type alertsStore interface {
	AlertPage(ctx context.Context, f store.AlertFilter, cursor string, limit int) ([]alert.Alert, string, error)
	Alert(ctx context.Context, id string) (alert.Alert, error)
	StateChanges(ctx context.Context, id string) ([]store.StateChange, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
}

// openExistingStore opens the configured store, refusing to create one: a
// missing database here means a wrong path or nothing stored yet, and an
// empty new file would only hide that.
func openExistingStore(ctx context.Context, configPath string) (cliStore, error) {
	st, _, err := openAlertsStore(ctx, configPath)
	return st, err
}

// openAlertsStore is openExistingStore that also returns the configuration.
func openAlertsStore(ctx context.Context, configPath string) (cliStore, *config.Config, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := openCLIStore(ctx, cfg, false, "run scan or serve first (alerts never creates a store)") // storedriver.go
	if err != nil {
		return nil, nil, err
	}
	return st, cfg, nil
}

// storeError makes a failed read exit 2, like a store that cannot be
// opened: the command could not look, which is not "not found".
func storeError(err error) error { return usageError{fmt.Errorf("reading store: %w", err)} }

func runAlertsList(cmd *cobra.Command, f alertsListFlags) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	switch f.state {
	case "", alert.StateFiring, alert.StateAcknowledged, alert.StateResolved:
	default:
		return usageErrorf("--state: unknown state %q (want firing, acknowledged or resolved)", f.state)
	}
	if f.limit <= 0 {
		return usageErrorf("--limit: must be at least 1, got %d", f.limit)
	}
	ctx := cmd.Context()
	st, cfg, err := openAlertsStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if f.plan, err = daemon.EscalationPlans(cfg); err != nil {
		return usageError{err}
	}
	f.now = time.Now()
	return listAlerts(ctx, st, cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
}

// deliverySummary counts an alert's notifications by state.
type deliverySummary struct {
	Delivered int `json:"delivered"`
	Pending   int `json:"pending"` // pending or being sent
	Dead      int `json:"dead_lettered"`
}

func (s deliverySummary) String() string {
	if s == (deliverySummary{}) {
		return "none"
	}
	var parts []string
	if s.Dead > 0 {
		parts = append(parts, fmt.Sprintf("%d DEAD", s.Dead))
	}
	if s.Pending > 0 {
		parts = append(parts, fmt.Sprintf("%d pending", s.Pending))
	}
	if s.Delivered > 0 {
		parts = append(parts, fmt.Sprintf("%d delivered", s.Delivered))
	}
	return strings.Join(parts, ", ")
}

func summarize(ds []store.Delivery) deliverySummary {
	var s deliverySummary
	for _, d := range ds {
		switch deliveryState(d, time.Time{}) {
		case deliveryDelivered:
			s.Delivered++
		case deliveryDead:
			s.Dead++
		default:
			s.Pending++
		}
	}
	return s
}

// deliveryState names where a delivery stands. A delivery completed after
// it was dead-lettered was delivered (the store keeps both times). now
// decides whether a lease is live; a zero now counts any lease as pending.
func deliveryState(d store.Delivery, now time.Time) string {
	switch {
	case !d.Delivered.IsZero():
		return deliveryDelivered
	case !d.DeadAt.IsZero():
		return deliveryDead
	case !now.IsZero() && d.LeaseOwner != "" && d.LeaseUntil.After(now):
		return deliverySending
	}
	return deliveryPending
}

type listedAlert struct {
	jsonAlert
	Deliveries   deliverySummary   `json:"deliveries"`
	Acknowledged *shownStateChange `json:"acknowledged,omitempty"`
	// Escalation is where the alert's escalation stands: none, next (due
	// at), done, or stopped (see escalationSummary).
	Escalation string `json:"escalation"`
}

func listAlerts(ctx context.Context, st alertsStore, stdout, stderr io.Writer, f alertsListFlags) error {
	filter := store.AlertFilter{Rule: f.rule, State: f.state}
	// Page through: the store caps a page, and --limit is the user's.
	var as []alert.Alert
	next := ""
	for {
		page, n, err := st.AlertPage(ctx, filter, next, f.limit-len(as))
		if err != nil {
			return storeError(err)
		}
		as, next = append(as, page...), n
		if next == "" || len(as) >= f.limit || len(page) == 0 {
			break
		}
	}
	items := make([]listedAlert, 0, len(as))
	for _, a := range as {
		ds, err := st.AlertDeliveries(ctx, a.ID)
		if err != nil {
			return storeError(err)
		}
		changes, err := st.StateChanges(ctx, a.ID)
		if err != nil {
			return storeError(err)
		}
		it := listedAlert{jsonAlert: toJSONAlert(a), Deliveries: summarize(ds), Acknowledged: lastAck(a, changes), Escalation: "-"}
		if f.plan != nil {
			it.Escalation = escalationSummary(escalationOf(a, f.plan(a), ds, f.now))
		}
		items = append(items, it)
	}
	if f.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(items); err != nil {
			return fmt.Errorf("writing alerts: %w", err)
		}
	} else if len(items) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EVENT TIME (UTC)\tSTATE\tSEV\tRULE\tACCOUNT\tNOTIFICATIONS\tESCALATION\tACKNOWLEDGED BY\tID\tTITLE")
		for i, it := range items {
			a := as[i]
			a.State = stateOf(a) + map[bool]string{true: " (muted)"}[a.Annotations["muted"] != ""] // notify.mute_for (watch.AnnMuted): stored, not notified
			by := "-"
			if c := it.Acknowledged; c != nil {
				by = ackWho(*c)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", eventTime(a), printable(stateOf(a)), a.Severity,
				printable(a.Rule), printable(accountOf(a)), it.Deliveries, it.Escalation, printable(by), printable(a.ID), printable(a.Title))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing alerts: %w", err)
		}
	}
	switch {
	case len(items) == 0:
		fmt.Fprintln(stderr, "no alerts match")
	case next != "":
		fmt.Fprintf(stderr, "showing the newest %d; more match (raise --limit or narrow with --state, --rule)\n", len(items))
	}
	return nil
}

func runAlertsShow(cmd *cobra.Command, f alertsShowFlags, id string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	ctx := cmd.Context()
	st, cfg, err := openAlertsStore(ctx, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	plan, err := daemon.EscalationPlans(cfg)
	if err != nil {
		return usageError{err}
	}
	return showAlert(ctx, st, cmd.OutOrStdout(), id, f.format, time.Now(), plan)
}

// shownDelivery is one channel's delivery of the alert, in JSON.
type shownDelivery struct {
	Target      string    `json:"target"`
	Status      string    `json:"status"`   // the notification: firing or resolved
	State       string    `json:"state"`    // delivered, dead-lettered, pending, sending
	Attempts    int       `json:"attempts"` // sends made, the delivering one included
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Delivered   time.Time `json:"delivered,omitzero"`
	DeadAt      time.Time `json:"dead_lettered,omitzero"`
	DeadReason  string    `json:"dead_reason,omitempty"`
}

type shownStateChange struct {
	From string `json:"from"`
	To   string `json:"to"`
	By   string `json:"by"`
	// Via is how: cli, link, pagerduty, opsgenie, incident ("" when not
	// recorded).
	Via  string    `json:"via,omitempty"`
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

type shownAlert struct {
	Alert        jsonAlert          `json:"alert"`
	StateHistory []shownStateChange `json:"state_history"`
	// Acknowledged is the latest acknowledgement while the alert is
	// acknowledged.
	Acknowledged *shownStateChange `json:"acknowledged,omitempty"`
	Escalation   []shownStep       `json:"escalation"`
	Deliveries   []shownDelivery   `json:"deliveries"`
}

func showAlert(ctx context.Context, st alertsStore, w io.Writer, id, format string, now time.Time, plan func(alert.Alert) route.Plan) error {
	a, err := st.Alert(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("alert %q not found (run 'breakglass alerts list' for the IDs)", id)
	}
	if err != nil {
		return storeError(err)
	}
	changes, err := st.StateChanges(ctx, id)
	if err != nil {
		return storeError(err)
	}
	ds, err := st.AlertDeliveries(ctx, id)
	if err != nil {
		return storeError(err)
	}
	out := shownAlert{Alert: toJSONAlert(a), StateHistory: []shownStateChange{}, Deliveries: []shownDelivery{},
		Acknowledged: lastAck(a, changes), Escalation: []shownStep{}}
	for _, c := range changes {
		out.StateHistory = append(out.StateHistory, toShownChange(c))
	}
	if plan != nil {
		out.Escalation = escalationOf(a, plan(a), ds, now)
	}
	for _, d := range ds {
		sd := shownDelivery{Target: d.Target, Status: d.Status, State: deliveryState(d, now), Attempts: d.Sends(),
			LastError: d.LastError, Created: d.Created.UTC(), Delivered: d.Delivered.UTC(), DeadAt: d.DeadAt.UTC(),
			DeadReason: d.DeadReason}
		if sd.State == deliveryPending || sd.State == deliverySending {
			sd.NextAttempt = d.NextAttempt.UTC()
		}
		out.Deliveries = append(out.Deliveries, sd)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("writing alert: %w", err)
		}
		return nil
	}
	if err := printAlert(w, a, out); err != nil {
		return fmt.Errorf("writing alert: %w", err)
	}
	return nil
}

const tableTime = "2006-01-02 15:04:05 UTC"

func printAlert(w io.Writer, a alert.Alert, out shownAlert) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s\t%s\n", name, printable(value))
		}
	}
	field("Alert", a.ID)
	field("Title", a.Title)
	field("State", stateOf(a))
	if c := out.Acknowledged; c != nil {
		field("Acknowledged", ackWho(*c)+" at "+c.At.Format(tableTime))
		field("Note", c.Note)
	} else if stateOf(a) == alert.StateFiring {
		field("Acknowledged", "no: run 'breakglass alerts ack "+a.ID+" --by YOUR-NAME' to stop escalation")
	}
	field("Severity", a.Severity.String())
	field("Rule", a.Rule)
	field("Account", accountOf(a))
	if a.AccountID != "" && a.AccountUPN != "" {
		field("Account ID", a.AccountID)
	}
	if a.EventTimeUnknown {
		field("Event time", "unknown (the record had none)")
	} else {
		field("Event time", a.EventTime.UTC().Format(tableTime))
	}
	field("Detected", a.Detected.UTC().Format(tableTime))
	field("Category", a.Category)
	field("Operation", a.Operation)
	field("Change", a.ChangeType)
	field("Result", a.Result)
	field("App", a.App)
	field("IP address", a.IPAddress)
	field("Location", a.Location)
	field("Actor", a.Actor)
	field("Correlation", a.Correlation)
	field("Event ID", a.EventID)
	field("Read from", a.Source)
	for _, u := range a.Unreadable {
		field("Unreadable", u)
	}
	section := func(name string, m map[string]string) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintf(tw, "%s\n", name)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(tw, "  %s\t%s\n", printable(k), printable(m[k]))
		}
	}
	section("Labels", a.Labels)
	section("Annotations", a.Annotations)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nState history")
	if len(out.StateHistory) == 0 {
		fmt.Fprintf(w, "  %s since it was stored\n", stateOf(a))
	}
	for _, c := range out.StateHistory {
		by := ""
		if c.By != "" || c.Via != "" {
			by = " by " + printable(ackWho(c))
		}
		note := ""
		if c.Note != "" {
			note = ": " + printable(c.Note)
		}
		fmt.Fprintf(w, "  %s  %s -> %s%s%s\n", c.At.Format(tableTime), printable(c.From), printable(c.To), by, note)
	}
	printEscalation(w, out.Escalation)

	fmt.Fprintln(w, "\nNotifications")
	if len(out.Deliveries) == 0 {
		if m := out.Alert.Annotations[watch.AnnMuted]; m != "" {
			fmt.Fprintf(w, "  none: muted (%s); it is stored and shown, and notifies nobody\n", printable(m))
			return nil
		}
		fmt.Fprintln(w, "  none: no channel was routed this alert (check notify: routes in the configuration)")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHANNEL\tNOTICE\tSTATE\tATTEMPTS\tWHEN (UTC)\tDETAIL")
	dead := 0
	for _, d := range out.Deliveries {
		var when, detail string
		switch d.State {
		case deliveryDelivered:
			when = "delivered " + d.Delivered.Format(time.DateTime)
			detail = deliveredDetail(d.LastError)
		case deliveryDead:
			dead++
			when = "gave up " + d.DeadAt.Format(time.DateTime)
			detail = d.DeadReason
			if d.LastError != "" && !strings.Contains(d.DeadReason, d.LastError) {
				detail += "; last error: " + d.LastError
			}
		case deliverySending:
			when = "sending now"
			detail = d.LastError
		default:
			when = "next try " + d.NextAttempt.Format(time.DateTime)
			detail = d.LastError
		}
		if detail == "" {
			detail = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", printable(d.Target), d.Status, d.State, d.Attempts, when, printable(detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if dead > 0 {
		which := "those channels"
		if dead == 1 {
			which = "that channel"
		}
		_, err := fmt.Fprintf(w, "\n%d dead-lettered: nobody was reached through %s. Page those people another way, then fix the channel.\n", dead, which)
		return err
	}
	return nil
}

func toJSONAlert(a alert.Alert) jsonAlert {
	a.State = stateOf(a)
	return jsonAlert{Alert: a, EventTime: a.EventTime.UTC().Format(time.RFC3339Nano), Detected: a.Detected.UTC().Format(time.RFC3339)}
}

func stateOf(a alert.Alert) string {
	if a.State == "" {
		return alert.StateFiring
	}
	return a.State
}

func accountOf(a alert.Alert) string {
	acct := a.AccountUPN
	if acct == "" {
		acct = a.AccountID
	}
	if a.Account != "" && acct != "" {
		return a.Account + " <" + acct + ">"
	}
	return acct
}

func eventTime(a alert.Alert) string {
	if a.EventTimeUnknown { // the record had no usable time
		return "unknown"
	}
	return a.EventTime.UTC().Format(time.DateTime)
}

// printable makes stored text safe to print on a terminal: what a log record or
// a remote server put there (an error echoed back) may hold control
// characters or escape sequences, which are shown quoted instead of acted
// on, and line breaks, which would break the table; so is text that is not
// UTF-8.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// deliveredDetail explains the last error a delivered delivery kept: a
// wait for a rate limit is not a failure, and its "next at" is history.
func deliveredDetail(lastErr string) string {
	switch {
	case lastErr == "":
		return ""
	case notify.IsRateLimitReason(lastErr):
		return "held by a rate limit, then sent coalesced with the alerts that waited (" + lastErr + ")"
	}
	return "earlier attempt failed: " + lastErr
}
