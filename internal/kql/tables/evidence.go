package tables

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/value"
	"breakglass/internal/logs"
	"breakglass/internal/store"
)

// RecordStore is the store's keeping of records for scheduled KQL rules
// (store.Records).
type RecordStore interface {
	ScanRecords(ctx context.Context, table string, from, to time.Time, fn func(store.KQLRecord) error) error
}

// EvidenceStore is what Evidence reads of the store: its alerts, page by
// page, and the raw record kept with each.
type EvidenceStore interface {
	AlertPage(ctx context.Context, f store.AlertFilter, cursor string, limit int) ([]alert.Alert, string, error)
	Evidence(ctx context.Context, eventID string) (store.Evidence, error)
}

// Evidence is a catalog over the records a store keeps: those kept for
// the scheduled KQL rules (oldest first, with _TimeReceived their
// ingestion time), then the records kept as the evidence of alerts that
// are not among them (every record that raised an alert, once however
// many alerts it raised, newest alert first). It is not every record
// breakglass has read: the store keeps the records of the tables that
// rules use, for as long as they use them, and those that concerned a
// break-glass account.
type Evidence struct {
	st  EvidenceStore
	rec RecordStore // nil: evidence only
}

// NewEvidence returns a catalog over st's evidence records, and over the
// records it keeps for KQL rules when st is also a RecordStore.
func NewEvidence(st EvidenceStore) *Evidence {
	e := &Evidence{st: st}
	if r, ok := st.(RecordStore); ok {
		e.rec = r
	}
	return e
}

// Schema implements the catalog: the schemas of Names.
func (e *Evidence) Schema(table string) ([]value.Column, bool) { return Schema(table) }

// Tables lists the catalog's tables (Names).
func (e *Evidence) Tables() []string { return Names() }

// Verbatim is the package's Verbatim.
func (e *Evidence) Verbatim(table, column string) bool { return Verbatim(table, column) }

// evidencePage is how many alerts Scan reads from the store at a time.
const evidencePage = 500

// Scan calls fn for the row of every evidence record of the table.
func (e *Evidence) Scan(ctx context.Context, table string, fn func(row []value.Value) error) error {
	if _, ok := schemas[table]; !ok {
		return noTable(table)
	}
	seen := map[string]bool{}   // event ids
	kept := map[[32]byte]bool{} // records already given, by their bytes
	if e.rec != nil {
		from, to := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		err := e.rec.ScanRecords(ctx, table, from, to, func(r store.KQLRecord) error {
			kept[sha256.Sum256(r.Raw)] = true
			return EachRow(r.Raw, r.Ingested, func(name string, row []value.Value) error {
				if name != table {
					return nil
				}
				return fn(row)
			})
		})
		if err != nil {
			return fmt.Errorf("reading the records kept for KQL rules: %w", err)
		}
	}
	cursor := ""
	for {
		alerts, next, err := e.st.AlertPage(ctx, store.AlertFilter{}, cursor, evidencePage)
		if err != nil {
			return fmt.Errorf("reading alerts: %w", err)
		}
		for _, a := range alerts {
			if a.EventID == "" || seen[a.EventID] {
				continue
			}
			seen[a.EventID] = true
			ev, err := e.st.Evidence(ctx, a.EventID)
			if errors.Is(err, store.ErrNotFound) {
				continue // pruned, or an alert without a record (bg.silence, bg.posture)
			}
			if err != nil {
				return fmt.Errorf("reading the evidence of alert %s: %w", a.ID, err)
			}
			if kept[sha256.Sum256(ev.Raw)] {
				continue
			}
			err = EachRow(ev.Raw, ev.Stored, func(name string, row []value.Value) error {
				if name != table {
					return nil
				}
				return fn(row)
			})
			if err != nil {
				return err
			}
		}
		if next == "" {
			return ctx.Err()
		}
		cursor = next
	}
}

// EachRow splits raw bytes into records as the scanner does (any shape:
// one record, an Event Hubs payload, a Graph page, CSV), decodes each and
// calls fn with its table and row; received, when not zero, is when the
// record was read (its _TimeReceived). Input that is not a record of a
// table of Names is passed over; fn's error stops it and is returned.
func EachRow(raw []byte, received time.Time, fn func(table string, row []value.Value) error) error {
	sp, err := logs.NewSplitter(bytes.NewReader(raw))
	if err != nil {
		return nil // not readable input: no rows
	}
	var ev entra.Event
	for {
		r, err := sp.Next()
		if err == io.EOF {
			return nil
		}
		var re *logs.RecordError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			return nil
		}
		cls := logs.Classify(r.Data)
		if !cls.Monitored() {
			continue
		}
		rec := detect.Record{Event: &ev, Table: entra.TableOf(cls.Category), Raw: r.Data, Now: received}
		if logs.Decode(r.Data, cls, &ev) != nil {
			rec.Event = nil // the row comes from the bytes alone
		}
		name, row := Row(&rec)
		if row == nil {
			continue
		}
		if err := fn(name, row); err != nil {
			return err
		}
	}
}
