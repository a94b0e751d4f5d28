package store

import (
	"context"
	"time"
)

// KQLRecord is one record kept for the scheduled KQL rules (package
// kqlrule): its raw bytes, the Log Analytics table it belongs to, and
// when breakglass ingested it. Scheduled rules evaluate their windows on
// Ingested, not on the record's own TimeGenerated, so that a record that
// arrives late still falls in exactly one window.
type KQLRecord struct {
	Table    string
	Ingested time.Time
	Source   string // where it was read (file:line, source name)
	Raw      []byte
}

// Records keeps the records scheduled KQL rules need, for the longest
// period in use, then prunes them. The method names carry "Record" so
// that one store type can implement Records beside Store (whose Prune
// is the notification retention).
type Records interface {
	// AppendRecord keeps r unless the same bytes were kept for the same
	// table already (a replay, a re-read after a restart): each record
	// counts once, at its first ingestion. It reports whether r is new.
	AppendRecord(ctx context.Context, r KQLRecord) (bool, error)
	// ScanRecords calls fn for each record of table ingested in the
	// half-open window (from, to], oldest first. fn's error stops the scan.
	ScanRecords(ctx context.Context, table string, from, to time.Time, fn func(KQLRecord) error) error
	// PruneRecords deletes the records ingested at or before before, and
	// reports how many.
	PruneRecords(ctx context.Context, before time.Time) (int64, error)
}
