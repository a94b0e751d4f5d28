package tables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql/value"
	"breakglass/internal/logs"
	"breakglass/internal/store"
)

// EvidenceStore is what Evidence reads of the store: its alerts, page by
// page, and the raw record kept with each.
type EvidenceStore interface {
	AlertPage(ctx context.Context, f store.AlertFilter, cursor string, limit int) ([]alert.Alert, string, error)
	Evidence(ctx context.Context, eventID string) (store.Evidence, error)
}

// Evidence is a catalog over the records the store keeps as the evidence
// of its alerts: every record that raised an alert, once however many
// alerts it raised, newest alert first. It is not every record breakglass
// has read, only those that concerned a break-glass account.
type Evidence struct {
	st EvidenceStore
}

// NewEvidence returns a catalog over st's evidence records.
func NewEvidence(st EvidenceStore) *Evidence { return &Evidence{st: st} }

// Schema implements the catalog: the schemas of Names.
func (e *Evidence) Schema(table string) ([]value.Column, bool) { return Schema(table) }

// evidencePage is how many alerts Scan reads from the store at a time.
const evidencePage = 500

// Scan calls fn for the row of every evidence record of the table.
func (e *Evidence) Scan(ctx context.Context, table string, fn func(row []value.Value) error) error {
	if _, ok := schemas[table]; !ok {
		return noTable(table)
	}
	seen := map[string]bool{}
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
			err = EachRow(ev.Raw, func(name string, row []value.Value) error {
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
// calls fn with its table and row. Input that is not a record of a table
// of Names is passed over; fn's error stops it and is returned.
func EachRow(raw []byte, fn func(table string, row []value.Value) error) error {
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
		if logs.Decode(r.Data, cls, &ev) != nil {
			continue
		}
		rec := detect.Record{Event: &ev, Table: entra.TableOf(ev.Category), Raw: r.Data}
		name, row := Row(&rec)
		if row == nil {
			continue
		}
		if err := fn(name, row); err != nil {
			return err
		}
	}
}
