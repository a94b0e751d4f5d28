package kqlrule

import (
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kql/value"
)

// FilterRule is a filter rule as a detect.Rule: the scanner runs it on
// each record as it arrives.
type FilterRule struct {
	r        *Rule
	accounts func() *entra.AccountSet
	needs    detect.Needs
}

// NewFilterRule returns the detect.Rule of a filter rule. accounts gives
// the current break-glass accounts, which name the account an alert is
// about when the record concerns one (nil: none).
func NewFilterRule(r *Rule, accounts func() *entra.AccountSet) *FilterRule {
	n := detect.Needs{Literals: r.Filter.Literals}
	if len(n.Literals) == 0 {
		// No literal bounds what can match: see every record of the table.
		n = detect.Needs{Tables: []string{r.Filter.Table}}
	}
	if accounts == nil {
		none := entra.NewAccountSet(nil)
		accounts = func() *entra.AccountSet { return none }
	}
	return &FilterRule{r: r, accounts: accounts, needs: n}
}

// FilterRules returns the detect.Rules of the filter rules among rules.
func FilterRules(rules []*Rule, accounts func() *entra.AccountSet) []detect.Rule {
	var out []detect.Rule
	for _, r := range rules {
		if r.Kind == KindFilter {
			out = append(out, NewFilterRule(r, accounts))
		}
	}
	return out
}

// Meta implements detect.Rule. KQL rules are not in detect's registry:
// their metadata is the configuration's.
func (f *FilterRule) Meta() detect.Meta { return meta(f.r) }

// Needs implements detect.Rule.
func (f *FilterRule) Needs() detect.Needs { return f.needs }

// Eval implements detect.Rule.
func (f *FilterRule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	if rec.Event == nil || rec.Table != f.r.Filter.Table {
		return dst
	}
	_, row := tables.Row(rec)
	if row == nil {
		return dst
	}
	out, ok := f.r.Filter.Match(row)
	if !ok {
		return dst
	}
	ev := rec.Event
	acct, _ := eventAccount(f.accounts(), ev)
	now := rec.Now.UTC()
	if rec.Now.IsZero() {
		now = time.Now().UTC()
	}
	eid := detect.EventKey(ev)
	a := newAlert(f.r, acct, now)
	a.ID = alert.Key(eid, f.r.ID)
	a.EventID, a.EventTime, a.Category, a.Source = eid, ev.Time, ev.Category, rec.Source
	a.Correlation, a.IPAddress, a.Operation = ev.CorrelationID, ev.IPAddress, ev.Operation
	a.App = ev.AppDisplayName
	if ev.TimeUnknown || ev.Time.IsZero() {
		a.EventTime, a.EventTimeUnknown = now, true
	}
	a.Unreadable = append([]string(nil), ev.Unreadable...)
	a.Annotations[AnnRows] = rowsJSON(f.r.Columns, [][]value.Value{out})
	a.Annotations[AnnRowCount] = "1"
	return append(dst, a)
}

// eventAccount is the break-glass account a record is about: its user,
// the initiator of an audit event, or a target.
func eventAccount(accounts *entra.AccountSet, ev *entra.Event) (entra.Account, bool) {
	if a, ok := accounts.Match(ev.UserID, ev.UserPrincipalName); ok {
		return a, true
	}
	if a, ok := accounts.Match(ev.Initiator.UserID, ev.Initiator.UserPrincipalName); ok {
		return a, true
	}
	for _, t := range ev.Targets {
		if a, ok := accounts.Match(t.ID, t.UserPrincipalName); ok {
			return a, true
		}
	}
	return entra.Account{}, false
}

// RecordRule is the observer rule that hands the scheduled rules'
// records to Scheduler.Record: it matches every record of the tables,
// and its "alert" (never stored) carries the table in Category.
type RecordRule struct{ tables []string }

// RecordRuleID is RecordRule's id: not a registered rule, so watch
// treats it as an observer.
const RecordRuleID = "kql.record"

// NewRecordRule returns the observer rule for the tables.
func NewRecordRule(tables []string) *RecordRule { return &RecordRule{tables: tables} }

// Meta implements detect.Rule.
func (*RecordRule) Meta() detect.Meta {
	return detect.Meta{ID: RecordRuleID, Title: "Keep records for the scheduled KQL rules"}
}

// Needs implements detect.Rule.
func (r *RecordRule) Needs() detect.Needs { return detect.Needs{Tables: r.tables} }

// Eval implements detect.Rule.
func (r *RecordRule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	for _, t := range r.tables {
		if rec.Table == t {
			return append(dst, alert.Alert{ID: RecordRuleID, Rule: RecordRuleID, Category: t, Source: rec.Source})
		}
	}
	return dst
}
