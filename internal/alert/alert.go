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
}

// Key computes the dedupe key: the record's id plus the rule.
func Key(eventID, rule string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + eventID))
	return hex.EncodeToString(h[:16])
}
