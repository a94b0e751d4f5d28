// Package report renders what a break-glass account did during an incident
// as a timeline a person reads without opening the portal: sign-ins with
// where, how and from what device; audit operations with their targets and
// modified properties decoded; each alert, notification and
// acknowledgement; the incident's transitions and its review. It renders
// Markdown, self-contained HTML and JSON, for `breakglass incidents
// report` and for the export bundle.
package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
	"breakglass/internal/incident"
	"breakglass/internal/logs"
	"breakglass/internal/store"
)

// Item kinds, in the order items of the same instant are listed.
const (
	KindSignIn       = "signin"
	KindAudit        = "audit"
	KindRecord       = "record" // a record of another kind, or one that did not decode
	KindAlert        = "alert"
	KindNotification = "notification"
	KindAck          = "acknowledgement"
	KindTransition   = "transition"
	KindReview       = "review"
)

var kindOrder = map[string]int{KindSignIn: 0, KindAudit: 1, KindRecord: 2, KindAlert: 3, KindNotification: 4, KindAck: 5, KindTransition: 6, KindReview: 7}

// Report is one incident's timeline.
type Report struct {
	Incident Incident  `json:"incident"`
	Review   *Review   `json:"review,omitempty"`
	Items    []Item    `json:"timeline"`
	Head     *Head     `json:"evidence_head,omitempty"`
	Made     time.Time `json:"generated"`
	// Gaps says what could not be read: a report never hides a missing
	// part.
	Gaps []string `json:"gaps,omitempty"`
}

// Incident is the incident's summary.
type Incident struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	State      string    `json:"state"`
	AccountID  string    `json:"account_id"`
	AccountUPN string    `json:"account_upn"`
	Opened     time.Time `json:"opened"`
	FirstEvent time.Time `json:"first_event"`
	LastEvent  time.Time `json:"last_event"`
	Previous   string    `json:"previous,omitempty"`
	Alerts     []string  `json:"alerts"`
}

// Review is the post-use review.
type Review struct {
	Class  string    `json:"class"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Note   string    `json:"note"`
	Attest []Field   `json:"attest,omitempty"` // per action group, sorted
}

// Head is the evidence chain's head the report was made at.
type Head struct {
	Seq    int64  `json:"seq"`
	Hash   string `json:"hash"`
	Signed bool   `json:"signed"`
}

// Item is one moment of the timeline.
type Item struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// Title says in a line what happened.
	Title string `json:"title"`
	// Outcome is "success", "failure", "delivered", "dead-lettered", ...
	// where the item has one; Bad marks what a reviewer must look at.
	Outcome string  `json:"outcome,omitempty"`
	Bad     bool    `json:"attention,omitempty"`
	Fields  []Field `json:"fields,omitempty"`
	// Targets are an audit operation's targets and what changed on them.
	Targets []Target `json:"targets,omitempty"`
	// Ref is the record's event id, the alert id, ...
	Ref string `json:"ref,omitempty"`
}

// Field is one labelled value.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Target is one resource of an audit operation.
type Target struct {
	Name    string   `json:"name"`
	Type    string   `json:"type,omitempty"`
	ID      string   `json:"id,omitempty"`
	Changes []Change `json:"changes,omitempty"`
}

// Change is one modified property, its values decoded from Entra's
// JSON-in-strings.
type Change struct {
	Property string `json:"property"`
	Old      string `json:"old"`
	New      string `json:"new"`
}

// Source is what Build reads (the store).
type Source interface {
	Incident(ctx context.Context, id string) (store.Incident, error)
	IncidentChanges(ctx context.Context, id string) ([]store.IncidentChange, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
	Alert(ctx context.Context, id string) (alert.Alert, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
	StateChanges(ctx context.Context, id string) ([]store.StateChange, error)
	Evidence(ctx context.Context, eventID string) (store.Evidence, error)
}

// Build reads incident id and everything about it from src. An unknown
// incident is store.ErrNotFound; a part that cannot be read is named in
// Gaps rather than failing the whole report, except the incident itself.
func Build(ctx context.Context, src Source, id string, now time.Time) (*Report, error) {
	inc, err := src.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &Report{Made: now.UTC(), Incident: Incident{
		ID: inc.ID, Kind: inc.Kind, State: inc.State, AccountID: inc.AccountID, AccountUPN: inc.AccountUPN,
		Opened: inc.Opened, FirstEvent: inc.FirstEvent, LastEvent: inc.LastEvent, Previous: inc.Previous,
		Alerts: slices.Clone(inc.Alerts),
	}}
	if r.Incident.Alerts == nil {
		r.Incident.Alerts = []string{}
	}
	gap := func(format string, args ...any) { r.Gaps = append(r.Gaps, fmt.Sprintf(format, args...)) }

	// The raw records: the evidence log's, then any alert's evidence the
	// log lacks. One record is listed once however often it was kept.
	seen := map[string]bool{}
	var records []rawRecord
	addRecord := func(raw []byte, ref string, at time.Time) {
		h := store.ContentHash(raw)
		if seen[h] {
			return
		}
		seen[h] = true
		records = append(records, rawRecord{raw, ref, at})
	}
	entries, err := src.IncidentLog(ctx, id)
	if err != nil {
		gap("the evidence log could not be read: %v", err)
	}
	if err == nil {
		// The incidents table is outside the hash chain: a state or review
		// rewritten there must not read as the truth.
		if m := incident.CheckLog(inc, entries); m != nil {
			gap("the store disagrees with the evidence log, trust the log: %v", m)
		}
	}
	if p := inc.Pruned; p != nil {
		// A tombstone: the evidence log keeps only headers of its entries.
		where := ""
		if p.Bundle != "" {
			where = "; the export bundle with sha256 " + p.Bundle + " holds them"
		}
		gap("the incident was pruned %s (%s): the context records, Graph pulls and transitions kept for it are no longer in the store, only the alerts and their records%s",
			p.At.UTC().Format(time.RFC3339), p.Reason, where)
	}
	for _, e := range entries {
		if !e.Pruned.IsZero() && len(e.Content) == 0 {
			continue // pruned: nothing but the header is left
		}
		switch e.Kind {
		case store.LogRecord:
			addRecord(e.Content, e.Ref, e.At)
		case store.LogPull:
			for _, rec := range splitPull(e.Content) {
				addRecord(rec, e.Ref, e.At)
			}
		}
	}
	for _, aid := range inc.Alerts {
		a, err := src.Alert(ctx, aid)
		if err != nil {
			gap("alert %s could not be read: %v", aid, err)
			continue
		}
		r.Items = append(r.Items, alertItem(a))
		if a.EventID != "" {
			if ev, err := src.Evidence(ctx, a.EventID); err == nil {
				addRecord(ev.Raw, ev.EventID, ev.Stored)
			} else if !errors.Is(err, store.ErrNotFound) {
				gap("the record of alert %s could not be read: %v", aid, err)
			}
		}
		ds, err := src.AlertDeliveries(ctx, aid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			gap("the notifications of alert %s could not be read: %v", aid, err)
		}
		for _, d := range ds {
			r.Items = append(r.Items, deliveryItem(a, d))
		}
		scs, err := src.StateChanges(ctx, aid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			gap("the state changes of alert %s could not be read: %v", aid, err)
		}
		for _, sc := range scs {
			r.Items = append(r.Items, stateItem(a, sc))
		}
	}
	for _, rec := range records {
		r.Items = append(r.Items, recordItem(rec.raw, rec.ref, rec.at))
	}
	chs, err := src.IncidentChanges(ctx, id)
	if err != nil {
		gap("the incident's transitions could not be read: %v", err)
	}
	for _, c := range chs {
		r.Items = append(r.Items, transitionItem(c))
	}
	if inc.Review != nil {
		rv := &Review{Class: inc.Review.Class, By: inc.Review.By, At: inc.Review.At, Note: inc.Review.Note}
		keys := make([]string, 0, len(inc.Review.Attest))
		for k := range inc.Review.Attest {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			rv.Attest = append(rv.Attest, Field{k, inc.Review.Attest[k]})
		}
		r.Review = rv
		r.Items = append(r.Items, reviewItem(rv))
	}
	sortItems(r.Items)
	return r, nil
}

type rawRecord struct {
	raw []byte
	ref string
	at  time.Time // when it was kept: the time of a record that has none
}

// splitPull reads a pull entry: one record, a JSON array of records, or a
// Graph page ({"value": [...]}).
func splitPull(c []byte) [][]byte {
	t := bytes.TrimSpace(c)
	if len(t) > 0 && t[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(t, &arr) == nil {
			out := make([][]byte, len(arr))
			for i, a := range arr {
				out[i] = a
			}
			return out
		}
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if json.Unmarshal(t, &page) == nil && page.Value != nil {
		out := make([][]byte, len(page.Value))
		for i, a := range page.Value {
			out[i] = a
		}
		return out
	}
	return [][]byte{c}
}

// sortItems orders the timeline oldest first; items of one instant by kind,
// then as they were found. An item without a time goes last.
func sortItems(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int {
		switch {
		case a.At.IsZero() && !b.At.IsZero():
			return 1
		case b.At.IsZero() && !a.At.IsZero():
			return -1
		}
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind])
	})
}

func alertItem(a alert.Alert) Item {
	at := a.Detected
	if at.IsZero() {
		at = a.EventTime
	}
	it := Item{At: at, Kind: KindAlert, Title: fmt.Sprintf("Alert %s (%s): %s", a.Rule, a.Severity, a.Title), Bad: true}
	it.Fields = appendField(it.Fields, "Alert id", a.ID)
	it.Fields = appendField(it.Fields, "Event time", fmtTime(a.EventTime))
	it.Fields = appendField(it.Fields, "State", a.State)
	// Expectation verdicts (expect.device: broken (...)) say whether the
	// sign-in was as authorised use looks.
	keys := make([]string, 0, len(a.Annotations))
	for k := range a.Annotations {
		if strings.HasPrefix(k, "expect") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		it.Fields = appendField(it.Fields, k, a.Annotations[k])
	}
	return it
}

func deliveryItem(a alert.Alert, d store.Delivery) Item {
	it := Item{Kind: KindNotification, Fields: []Field{{"Alert", a.ID}, {"Status notified", d.Status}}}
	switch {
	case !d.Delivered.IsZero():
		it.At, it.Outcome = d.Delivered, "delivered"
		it.Title = fmt.Sprintf("Notified %s (%s)", d.Target, d.Status)
	case !d.DeadAt.IsZero():
		it.At, it.Outcome, it.Bad = d.DeadAt, "dead-lettered", true
		it.Title = fmt.Sprintf("NOT delivered to %s: given up (%s)", d.Target, d.DeadReason)
	default:
		it.At, it.Outcome, it.Bad = d.Created, "pending", true
		it.Title = fmt.Sprintf("Not yet delivered to %s", d.Target)
	}
	it.Fields = appendField(it.Fields, "Attempts", fmt.Sprint(d.Attempts))
	it.Fields = appendField(it.Fields, "Last error", d.LastError)
	it.Fields = appendField(it.Fields, "Queued", fmtTime(d.Created))
	return it
}

func stateItem(a alert.Alert, sc store.StateChange) Item {
	by := sc.By
	if by == "" {
		by = "(unknown)"
	}
	return Item{At: sc.At, Kind: KindAck, Outcome: sc.To,
		Title:  fmt.Sprintf("Alert %s %s by %s", a.Rule, sc.To, by),
		Fields: []Field{{"Alert", a.ID}, {"From", sc.From}, {"To", sc.To}}}
}

func transitionItem(c store.IncidentChange) Item {
	verb := c.To
	if verb == store.IncidentOpen {
		verb = "opened"
	}
	it := Item{At: c.At, Kind: KindTransition, Outcome: c.To, Title: fmt.Sprintf("Incident %s by %s", verb, orUnknown(c.By))}
	it.Fields = appendField(it.Fields, "From", c.From)
	it.Fields = appendField(it.Fields, "Note", c.Note)
	return it
}

func reviewItem(rv *Review) Item {
	it := Item{At: rv.At, Kind: KindReview, Outcome: rv.Class, Bad: rv.Class == store.ClassMisuse,
		Title: fmt.Sprintf("Reviewed as %s by %s", rv.Class, orUnknown(rv.By))}
	it.Fields = appendField(it.Fields, "Note", rv.Note)
	for _, a := range rv.Attest {
		it.Fields = append(it.Fields, Field{"Actions match authorised use (" + a.Name + ")", a.Value})
	}
	return it
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(unknown)"
	}
	return s
}

func appendField(fs []Field, name, value string) []Field {
	if strings.TrimSpace(value) == "" {
		return fs
	}
	return append(fs, Field{name, value})
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// recordItem decodes one raw record with the log decoders, plus the
// details they do not keep (device, authentication, Conditional Access
// policies) read leniently from the record itself.
func recordItem(raw []byte, ref string, kept time.Time) Item {
	c := logs.Classify(raw)
	var ev entra.Event
	if err := logs.Decode(raw, c, &ev); err != nil {
		it := Item{At: kept, Kind: KindRecord, Ref: ref, Bad: true,
			Title:  "A record breakglass could not decode (kept byte for byte in the evidence; the time is when it was kept)",
			Fields: []Field{{"Why", err.Error()}}}
		it.Fields = appendField(it.Fields, "Category", c.Category)
		return it
	}
	if ev.TimeUnknown {
		ev.Time = kept
	}
	x := extract(raw)
	switch ev.Kind {
	case entra.KindSignIn:
		return signInItem(ev, x, ref)
	case entra.KindAudit:
		return auditItem(ev, ref)
	}
	it := Item{At: ev.Time, Kind: KindRecord, Ref: cmp.Or(ev.ID, ref), Title: fmt.Sprintf("%s record", ev.Category)}
	it.Fields = appendField(it.Fields, "Operation", ev.Operation)
	it.Fields = appendField(it.Fields, "User", cmp.Or(ev.UserPrincipalName, ev.UserID))
	it.Fields = appendField(it.Fields, "IP address", ev.IPAddress)
	return unreadable(it, ev)
}

func unreadable(it Item, ev entra.Event) Item {
	if ev.TimeUnknown {
		it.Fields = append(it.Fields, Field{"Time", "unknown: the record has no usable time; shown at when it was kept"})
		it.Bad = true
	}
	if len(ev.Unreadable) > 0 {
		it.Fields = append(it.Fields, Field{"Could not read", strings.Join(ev.Unreadable, "; ")})
	}
	if ev.IdentityUnknown != "" {
		it.Fields = append(it.Fields, Field{"Identity uncertain", ev.IdentityUnknown})
		it.Bad = true
	}
	return it
}

func signInItem(ev entra.Event, x extras, ref string) Item {
	outcome := "success"
	if ev.ResultType != "" && ev.ResultType != "0" {
		outcome = "failure"
	}
	who := cmp.Or(ev.UserPrincipalName, ev.UserID, ev.ServicePrincipal)
	app := cmp.Or(ev.AppDisplayName, ev.AppID, "an unknown app")
	it := Item{At: ev.Time, Kind: KindSignIn, Ref: cmp.Or(ev.ID, ref), Outcome: outcome, Bad: true,
		Title: fmt.Sprintf("Sign-in %s: %s to %s", outcome, who, app)}
	f := func(n, v string) { it.Fields = appendField(it.Fields, n, v) }
	f("Log", ev.Category)
	f("App", joinNonEmpty(" ", ev.AppDisplayName, paren(ev.AppID)))
	f("Resource", ev.ResourceDisplayName)
	f("IP address", ev.IPAddress)
	f("Location", ev.Location)
	f("Device", x.device)
	f("Client", joinNonEmpty(", ", ev.ClientAppUsed, x.client))
	f("Authentication method", x.methods)
	f("Authentication requirement", ev.AuthRequirement)
	f("Authentication strength", x.strength)
	f("Conditional Access", joinNonEmpty(": ", ev.ConditionalAccess, x.policies))
	if outcome == "failure" {
		f("Outcome", joinNonEmpty(" ", "error "+ev.ResultType, ev.ResultDescription))
	} else {
		f("Outcome", "success")
	}
	f("Correlation id", ev.CorrelationID)
	return unreadable(it, ev)
}

func auditItem(ev entra.Event, ref string) Item {
	outcome := cmp.Or(ev.Result, "unknown")
	by := cmp.Or(ev.Initiator.UserPrincipalName, ev.Initiator.UserID, ev.Initiator.AppDisplayName, ev.Initiator.AppID, ev.Initiator.ServicePrincipalID, "(unknown)")
	it := Item{At: ev.Time, Kind: KindAudit, Ref: cmp.Or(ev.ID, ref), Outcome: outcome, Bad: true,
		Title: fmt.Sprintf("%s by %s (%s)", cmp.Or(ev.Operation, "An audited operation"), by, outcome)}
	f := func(n, v string) { it.Fields = appendField(it.Fields, n, v) }
	f("Category", ev.AuditCategory)
	f("Operation type", ev.OperationType)
	f("Result reason", ev.ResultReason)
	f("Initiated by", joinNonEmpty(" ", by, paren(ev.Initiator.AppDisplayName)))
	f("Initiator IP", ev.Initiator.IPAddress)
	f("Logged by", ev.LoggedByService)
	f("Correlation id", ev.CorrelationID)
	for _, t := range ev.Targets {
		tg := Target{Name: cmp.Or(t.DisplayName, t.UserPrincipalName, t.ID, "(unnamed)"), Type: t.Type, ID: t.ID}
		if t.UserPrincipalName != "" && t.DisplayName != "" {
			tg.Name = t.DisplayName + " (" + t.UserPrincipalName + ")"
		}
		for _, m := range t.ModifiedProperties {
			tg.Changes = append(tg.Changes, Change{Property: orUnknown(m.Name), Old: DecodeValue(m.OldValue), New: DecodeValue(m.NewValue)})
		}
		it.Targets = append(it.Targets, tg)
	}
	return unreadable(it, ev)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" && p != "error " {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
