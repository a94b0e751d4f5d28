// Package alert defines the alert that detection raises, storage keeps and
// notification delivers.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Severity follows Azure Monitor: 0 is critical, 4 is verbose.
type Severity int

const (
	Sev0 Severity = iota // critical
	Sev1                 // error
	Sev2                 // warning
	Sev3                 // informational
	Sev4                 // verbose
)

func (s Severity) String() string { return "Sev" + string(rune('0'+int(s))) }

// Words names a severity as Azure Monitor does ("critical" ... "verbose").
func (s Severity) Words() string {
	switch s {
	case Sev0:
		return "critical"
	case Sev1:
		return "error"
	case Sev2:
		return "warning"
	case Sev3:
		return "informational"
	case Sev4:
		return "verbose"
	}
	return "unknown severity"
}

// Alert is one detection: a rule that fired on one record.
type Alert struct {
	// ID is stable for a (record, rule) pair, so the same record seen again
	// through another export, a rescan or a replay maps to the same alert.
	ID         string    `json:"id"`
	Rule       string    `json:"rule"`
	Severity   Severity  `json:"severity"`
	Title      string    `json:"title"`
	AccountID  string    `json:"account_id"`
	AccountUPN string    `json:"account_upn"`
	Account    string    `json:"account_name,omitempty"`
	EventID    string    `json:"event_id"`
	EventTime  time.Time `json:"event_time"`
	Category   string    `json:"category"`
	Source     string    `json:"source"` // file:line where the record was read
	Detected   time.Time `json:"detected"`

	// Context from the record for people reading the alert.
	Operation   string `json:"operation,omitempty"`
	ChangeType  string `json:"change_type,omitempty"`
	Result      string `json:"result,omitempty"`
	App         string `json:"app,omitempty"`
	IPAddress   string `json:"ip_address,omitempty"`
	Location    string `json:"location,omitempty"`
	Actor       string `json:"actor,omitempty"`
	Correlation string `json:"correlation_id,omitempty"`

	// EventTimeUnknown is set when the record carried no usable time:
	// EventTime is then the time the record was ingested.
	EventTimeUnknown bool `json:"event_time_unknown,omitempty"`
	// Unreadable names each field of the record that could not be read
	// (wrong type, unparsable), as "field: why". The alert still fires:
	// a break-glass record with an odd field must never be dropped.
	Unreadable []string `json:"unreadable,omitempty"`

	// Labels identify the alert for routing and grouping (see the Label*
	// keys); Annotations carry text for people. Both are kept in the store.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// State is the alert's lifecycle state (StateFiring, StateAcknowledged,
	// StateResolved), kept in the store; "" reads as firing.
	State string `json:"state,omitempty"`
}

// Alert states.
const (
	StateFiring       = "firing"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
)

// Standard label keys. Notification routing matches on labels, so these
// names are part of the configuration surface and must stay stable.
const (
	LabelRule     = "rule"
	LabelSeverity = "severity"
	LabelAccount  = "account" // the account's object id, else its UPN
	LabelTenant   = "tenant"
	LabelSource   = "source" // the configured source name, or the input
	LabelCategory = "category"
	// LabelExpectation is set on sign-in alerts of accounts with expect:
	// configured: broken, unknown or held (internal/expect).
	LabelExpectation = "expectation"
	// LabelDrill is set, to the drill's id, on a sign-in alert of an
	// account inside an announced drill's window (package drill): its
	// messages say DRILL first, and routes may send drills elsewhere too.
	LabelDrill = "drill"
)

// StandardLabels returns the labels every alert carries, derived from its
// core fields, merged under any labels already set (set ones win).
func (a *Alert) StandardLabels() map[string]string {
	l := map[string]string{
		LabelRule:     a.Rule,
		LabelSeverity: a.Severity.String(),
		LabelCategory: a.Category,
	}
	switch {
	case a.AccountID != "":
		l[LabelAccount] = a.AccountID
	case a.AccountUPN != "":
		l[LabelAccount] = a.AccountUPN
	}
	for k, v := range a.Labels {
		l[k] = v
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

// Key computes the dedupe key: the record's id plus the rule.
func Key(eventID, rule string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + eventID))
	return hex.EncodeToString(h[:16])
}
