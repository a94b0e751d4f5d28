// Package drill runs the drills of break-glass accounts (issue 11): a drill
// is announced for an account and a window (Plan), opened (Start), and
// closed with the checklist's attestations (Finish). A sign-in of the
// account inside the window still alerts, marked as a drill (Matcher), and
// the drill is measured end to end from the store: the sign-in's event
// time, when breakglass read it, when its alert was stored, when each
// routed channel delivered it and when someone acknowledged it. It passes
// only if all of that happened within the configured bounds; otherwise it
// fails naming the first step that did not. Drills are kept for auditors
// (the store never prunes them), and Status says per account when the next
// one is due.
package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/entra"
	"breakglass/internal/store"
)

// Store is what drills read and write: the drills themselves, the
// alerts, deliveries, acknowledgements and incidents they are measured
// by, and the stored posture audits their checklist reads.
type Store interface {
	store.Drills
	Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error)
	Evidence(ctx context.Context, eventID string) (store.Evidence, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
	StateChanges(ctx context.Context, id string) ([]store.StateChange, error)
	IncidentOf(ctx context.Context, alertID string) (store.Incident, error)
	AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error)
	AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error)
	// PostureReports are the stored posture audits, the evidence of the
	// no-personal-mfa-sspr item.
	PostureReports(ctx context.Context) ([]store.PostureReport, error)
}

// ErrUsage marks an error in what the caller asked for (an unknown
// account, a bad attestation, a finished drill started again): the CLI
// exits 2 for it rather than 1.
var ErrUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// PlanRequest is what drill plan announces.
type PlanRequest struct {
	Account string        // object id or UPN of a configured account (any case)
	At      time.Time     // when the window opens; zero: now
	Window  time.Duration // zero: drill.window
	By      string
	Note    string
}

// MaxText bounds --by and --note: they are printed in reports and pages.
const MaxText = 500

// NewID returns a new drill id: "drl-" and 12 hex digits, short enough to
// type at 3 a.m.
func NewID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "drl-" + hex.EncodeToString(b[:])
}

// FindAccount returns the configured user account named by s (object id or
// UPN, any case), or an error listing the configured ones.
func FindAccount(accounts []entra.Account, s string) (entra.Account, error) {
	s = strings.TrimSpace(s)
	var known []string
	for _, a := range accounts {
		if a.IsGroup() {
			continue
		}
		if s != "" && (strings.EqualFold(a.ID, s) || strings.EqualFold(a.UPN, s)) {
			return a, nil
		}
		known = append(known, firstNonEmpty(a.UPN, a.ID))
	}
	if s == "" {
		return entra.Account{}, usagef("--account is required: one of %s", strings.Join(known, ", "))
	}
	return entra.Account{}, usagef("%q is not a configured break-glass account (accounts: %s); a member of a group entry is drilled by its object id or UPN once listed under accounts:",
		s, strings.Join(known, ", "))
}

func cleanText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxText {
		return "", usagef("%s is %d bytes; at most %d", field, len(s), MaxText)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", usagef("%s contains a control character or line break", field)
	}
	return s, nil
}

// Limits of --at: how far in the past a drill's window may open (clock
// skew, the time to type the command) and how far ahead it may be planned.
const (
	MaxPastAt = 5 * time.Minute
	MaxAhead  = 366 * 24 * time.Hour
)

// Plan announces a drill and stores it. Its window may open at most
// MaxPastAt ago, and may not overlap another open drill of the account.
func Plan(ctx context.Context, st store.Drills, cfg *config.Config, rq PlanRequest, now time.Time) (store.Drill, error) {
	acct, err := FindAccount(cfg.Users(), rq.Account)
	if err != nil {
		return store.Drill{}, err
	}
	window := rq.Window
	if window == 0 {
		window = cfg.Drill.Window
	}
	if window <= 0 || window > config.MaxDrillWindow {
		return store.Drill{}, usagef("--window %s: must be more than 0 and at most %s (default drill.window, %s)", window, config.MaxDrillWindow, cfg.Drill.Window)
	}
	at := rq.At
	if at.IsZero() {
		at = now
	}
	// A drill is announced before it runs: a window opened long ago would
	// let a drill adopt a sign-in nobody announced (a real use relabelled
	// as a drill). A few minutes allow for clocks and typing.
	if at.Before(now.Add(-MaxPastAt)) {
		return store.Drill{}, usagef("--at %s: a drill is announced before it runs; --at may be at most %s in the past: plan it for now or later", at.UTC().Format(time.RFC3339), MaxPastAt)
	}
	if at.After(now.Add(MaxAhead)) {
		return store.Drill{}, usagef("--at %s: at most %s ahead; plan nearer the date", at.UTC().Format(time.RFC3339), fmt.Sprintf("%dd", MaxAhead/(24*time.Hour)))
	}
	ds, err := st.Drills(ctx, store.DrillFilter{})
	if err != nil {
		return store.Drill{}, fmt.Errorf("reading drills: %w", err)
	}
	for _, o := range ds {
		if o.State == store.DrillFinished || !schedule.DrillOf(o, acct) {
			continue
		}
		if at.Before(o.At.Add(o.Window)) && o.At.Before(at.Add(window)) {
			return store.Drill{}, usagef("drill %s of %s is %s for %s to %s UTC: two drills of one account in one window would both claim one sign-in; finish it (breakglass drill finish %s) or plan this one after it",
				o.ID, firstNonEmpty(acct.UPN, acct.ID), o.State, o.At.UTC().Format("2006-01-02 15:04"), o.At.Add(o.Window).UTC().Format("2006-01-02 15:04"), o.ID)
		}
	}
	by, err := cleanText("--by", rq.By)
	if err != nil {
		return store.Drill{}, err
	}
	note, err := cleanText("--note", rq.Note)
	if err != nil {
		return store.Drill{}, err
	}
	d := store.Drill{
		ID: NewID(), AccountID: acct.ID, AccountUPN: acct.UPN, State: store.DrillPlanned,
		At: at.UTC(), Window: window, By: by, Note: note, Created: now.UTC(), Updated: now.UTC(),
	}
	if err := st.AddDrill(ctx, d); err != nil {
		return store.Drill{}, fmt.Errorf("storing the drill: %w", err)
	}
	return d, nil
}

// get reads one drill; an unknown id is a usage error naming the command
// that lists them.
func get(ctx context.Context, st store.Drills, id string) (store.Drill, error) {
	d, err := st.Drill(ctx, strings.TrimSpace(id))
	if errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("drill %q not found (run 'breakglass drill status' for the drills): %w", id, err)
	}
	return d, err
}

// bump is the Updated of the next version of d: now, or just after the
// stored one when the clock has not moved (UpdateDrill needs it later).
func bump(d store.Drill, now time.Time) time.Time {
	if now.After(d.Updated) {
		return now.UTC()
	}
	return d.Updated.Add(time.Nanosecond)
}

// Start opens a drill's window now: a window planned for later opens now,
// one already open stays open, and either way it stays open for at least
// its length from now, so a late start still leaves the whole window.
func Start(ctx context.Context, st store.Drills, id string, now time.Time) (store.Drill, error) {
	d, err := get(ctx, st, id)
	if err != nil {
		return d, err
	}
	switch d.State {
	case store.DrillRunning:
		return d, usagef("drill %s is already running since %s", d.ID, d.Started.UTC().Format(time.RFC3339))
	case store.DrillFinished:
		return d, usagef("drill %s is finished (%s); plan a new one", d.ID, d.Result)
	}
	prev := d.Updated
	end := d.At.Add(d.Window)
	if now.Before(d.At) {
		d.At = now.UTC()
	}
	if e := now.Add(d.Window); e.After(end) {
		end = e
	}
	if end.Sub(d.At) > config.MaxDrillWindow {
		// Started long before its planned time: its window is its own
		// length from now, not until the planned end, which would label
		// every sign-in of the account (a real emergency too) as a drill
		// for days.
		end = d.At.Add(d.Window)
	}
	d.Window = end.Sub(d.At)
	d.State, d.Started, d.Updated = store.DrillRunning, now.UTC(), bump(d, now)
	if err := st.UpdateDrill(ctx, d, prev); err != nil {
		return d, fmt.Errorf("starting drill %s: %w", d.ID, err)
	}
	return d, nil
}

// End is when d's window closes: At+Window, or when it was finished if
// that came first.
func End(d store.Drill) time.Time {
	end := d.At.Add(d.Window)
	if d.State == store.DrillFinished && !d.Finished.IsZero() && d.Finished.Before(end) {
		end = d.Finished
	}
	return end
}

// InWindow reports whether a sign-in at t belongs to d: d is running, or
// planned (announced) and t is in its window; a finished drill takes no
// more sign-ins.
func InWindow(d store.Drill, t time.Time) bool {
	if d.State == store.DrillFinished || t.IsZero() {
		return false
	}
	return !t.Before(Opens(d)) && t.Before(d.At.Add(d.Window))
}

// ClockSkew is how far a sign-in's event time (Entra's clock) may precede
// the drill's announcement (this host's clock) and still be the drill's.
const ClockSkew = 2 * time.Minute

// Opens is when d starts taking sign-ins: its window's start, but never
// before it was announced (less ClockSkew). A sign-in that happened before
// the drill was planned is a real use, whatever --at says.
func Opens(d store.Drill) time.Time {
	if d.Created.IsZero() {
		return d.At
	}
	if c := d.Created.Add(-ClockSkew); c.After(d.At) {
		return c
	}
	return d.At
}

// SameAccount reports whether the alert is of d's account (object id or
// UPN, any case: log sources disagree on case).
func SameAccount(d store.Drill, a alert.Alert) bool {
	return (d.AccountID != "" && strings.EqualFold(d.AccountID, a.AccountID)) ||
		(d.AccountUPN != "" && strings.EqualFold(d.AccountUPN, a.AccountUPN))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
