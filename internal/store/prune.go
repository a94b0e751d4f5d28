package store

import (
	"context"
	"errors"
	"time"
)

// Pruning (issue 10 item 8): incidents and their evidence are kept for
// incidents.retention (400 days by default) and pruned only after export
// or expiry. A prune keeps every chained header of the evidence log (Seq,
// incident, kind, ref, time, content hash, prev, hash) and drops only the
// content of the incident's entries, so the chain still verifies; it
// appends a LogPrune entry that says what was dropped and why, and reduces
// the incident's store rows to a tombstone that still names the account,
// when the incident opened and closed, and its classification.

// LogPrune is the kind of the entry a prune appends; its content is a
// PruneRecord (JSON). Prune entries are never pruned themselves.
const LogPrune = "prune"

// Why an incident was pruned.
const (
	// PruneExpired: closed, and incidents.retention has passed since its
	// last activity.
	PruneExpired = "expired"
	// PruneExported: closed and exported (the bundle's SHA-256 is
	// recorded), and the operator asked for exported incidents to go.
	PruneExported = "exported"
)

// ErrNotPrunable is returned by PruneIncident for an incident that must not
// be pruned now (not closed, pruned already, followed by an incident that
// is not closed, or exported before its last entry).
var ErrNotPrunable = errors.New("incident cannot be pruned")

// IncidentPrune is what the tombstone of a pruned incident says.
type IncidentPrune struct {
	At     time.Time // when it was pruned
	Reason string    // PruneExpired or PruneExported
	// Closed is when the incident was closed (its last transition).
	Closed time.Time
	// Bundle is the SHA-256 of the export bundle that holds its evidence
	// (PruneExported), "" otherwise.
	Bundle string
	// Entries counts the evidence-log entries whose content was dropped.
	Entries int
	// Seq is the prune entry in the evidence log.
	Seq int64
}

// IncidentExport records one bundle written by incidents export: the
// proof that the evidence exists outside the store, which is what allows
// pruning an exported incident before it expires.
type IncidentExport struct {
	Incident string
	SHA256   string // of the bundle file
	Path     string // where it was written (informational)
	At       time.Time
	// LastSeq is the incident's newest evidence-log entry the bundle
	// carries: an entry appended after the export is not in the bundle,
	// so the export no longer allows a prune.
	LastSeq int64
}

// PruneRequest asks PruneIncident to prune one incident.
type PruneRequest struct {
	Incident string
	Reason   string // PruneExpired or PruneExported
	// Bundle is the SHA-256 of a recorded export (PruneExported).
	Bundle string
	// Retention and Expired explain a PruneExpired: the retention applied
	// and the time it ran out.
	Retention time.Duration
	Expired   time.Time
	At        time.Time // now; zero means time.Now
}

// PruneRecord is the content of a LogPrune entry: which incident was
// pruned, why, how many of its entries lost their content (and the Seq
// range they lie in), and the tombstone the store keeps, so that the
// chain covers the tombstone too.
type PruneRecord struct {
	Incident       string        `json:"incident"`
	Reason         string        `json:"reason"`
	Bundle         string        `json:"bundle_sha256,omitempty"`
	ExportedAt     *time.Time    `json:"exported_at,omitempty"`
	Retention      time.Duration `json:"retention_ns,omitempty"`
	Expired        *time.Time    `json:"expired,omitempty"`
	At             time.Time     `json:"at"`
	Entries        int           `json:"entries"`
	FirstSeq       int64         `json:"first_seq,omitempty"`
	LastSeq        int64         `json:"last_seq,omitempty"`
	Key            string        `json:"key"`
	Kind           string        `json:"kind"`
	AccountID      string        `json:"account_id"`
	AccountUPN     string        `json:"account_upn"`
	State          string        `json:"state"`
	Opened         time.Time     `json:"opened"`
	Closed         time.Time     `json:"closed"`
	Previous       string        `json:"previous,omitempty"`
	Class          string        `json:"class,omitempty"`
	ReviewedBy     string        `json:"reviewed_by,omitempty"`
	ReviewedAt     *time.Time    `json:"reviewed_at,omitempty"`
	AlertsKept     int           `json:"alerts"`
	ChangesDropped int           `json:"changes_dropped"`
}

// IncidentPruning is implemented by stores that can prune incidents.
type IncidentPruning interface {
	// RecordExport records a written bundle. LastSeq must be set.
	RecordExport(ctx context.Context, x IncidentExport) error
	// IncidentExports lists the recorded exports of an incident, oldest
	// first.
	IncidentExports(ctx context.Context, incident string) ([]IncidentExport, error)
	// PruneIncident prunes one incident in one transaction: it drops the
	// content of every one of its evidence-log entries (headers stay),
	// appends the LogPrune entry, and reduces the incident to its
	// tombstone (Incident.Pruned set, transitions deleted, the review cut
	// to class, reviewer and time; its alerts stay attached, as alerts are
	// kept). It re-checks in the transaction that the incident is closed,
	// not pruned yet and not the Previous of an incident that is not
	// closed, and for PruneExported that the export of Bundle carries
	// every entry of the incident: otherwise ErrNotPrunable. An unknown id
	// is ErrNotFound.
	PruneIncident(ctx context.Context, r PruneRequest) (IncidentPrune, LogEntry, error)
}
