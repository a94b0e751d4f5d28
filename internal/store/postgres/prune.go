package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/store"
)

var _ store.IncidentPruning = (*Store)(nil)

// tombstoneColumns are the pruning columns of incidents (0007), as read by
// scanIncident.
type tombstoneColumns struct {
	closed, at     sql.NullString
	reason, bundle string
	entries        int
	seq            int64
}

func (c tombstoneColumns) fill(inc *store.Incident) error {
	if !c.at.Valid {
		return nil
	}
	p := &store.IncidentPrune{Reason: c.reason, Bundle: c.bundle, Entries: c.entries, Seq: c.seq}
	var err error
	if p.At, err = decodeTime("pruned_at", c.at.String); err != nil {
		return fmt.Errorf("incident %q: %w", inc.ID, err)
	}
	if c.closed.Valid {
		if p.Closed, err = decodeTime("closed", c.closed.String); err != nil {
			return fmt.Errorf("incident %q: %w", inc.ID, err)
		}
	}
	inc.Pruned = p
	return nil
}

// RecordExport implements store.IncidentPruning.
func (s *Store) RecordExport(ctx context.Context, x store.IncidentExport) error {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: record export of incident %q: %w", x.Incident, err)
	}
	switch {
	case x.Incident == "":
		return wrap(errors.New("empty incident id"))
	case len(x.SHA256) != 64 || strings.Trim(x.SHA256, "0123456789abcdef") != "":
		return wrap(fmt.Errorf("sha256 %q is not 64 lower-case hex digits", x.SHA256))
	case x.LastSeq <= 0:
		return wrap(fmt.Errorf("last seq %d: the bundle must carry the incident's entries", x.LastSeq))
	}
	if x.At.IsZero() {
		x.At = time.Now()
	}
	at, err := encodeTime("at", x.At)
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(c conn) error {
		var n int
		if err := scan(c.row(ctx, `SELECT COUNT(*) FROM incidents WHERE id = $1`, x.Incident), &n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		_, err := c.exec(ctx, `INSERT INTO incident_exports (incident_id, sha256, path, at, last_seq) VALUES ($1, $2, $3, $4, $5)`,
			x.Incident, x.SHA256, x.Path, at, x.LastSeq)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// IncidentExports implements store.IncidentPruning.
func (s *Store) IncidentExports(ctx context.Context, incident string) ([]store.IncidentExport, error) {
	wrap := func(err error) error {
		return fmt.Errorf("postgres: exports of incident %q: %w", incident, err)
	}
	rows, err := s.read().query(ctx, `SELECT incident_id, sha256, path, at, last_seq FROM incident_exports
		WHERE incident_id = $1 ORDER BY id`, incident)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.IncidentExport
	for rows.Next() {
		var (
			x  store.IncidentExport
			at string
		)
		if err := scan(rows, &x.Incident, &x.SHA256, &x.Path, &at, &x.LastSeq); err != nil {
			return nil, wrap(err)
		}
		if x.At, err = decodeTime("at", at); err != nil {
			return nil, wrap(err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

func notPrunable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrNotPrunable, fmt.Sprintf(format, args...))
}

// PruneIncident implements store.IncidentPruning. Everything happens in
// one transaction holding the evidence log's advisory lock and the
// incident's row: no entry can be appended to the incident between
// dropping its contents and logging the prune, and a crash leaves either
// the whole prune or none of it.
func (s *Store) PruneIncident(ctx context.Context, r store.PruneRequest) (store.IncidentPrune, store.LogEntry, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: prune incident %q: %w", r.Incident, err) }
	switch r.Reason {
	case store.PruneExpired:
	case store.PruneExported:
		if r.Bundle == "" {
			return store.IncidentPrune{}, store.LogEntry{}, wrap(errors.New("an exported prune must name the bundle's sha256"))
		}
	default:
		return store.IncidentPrune{}, store.LogEntry{}, wrap(fmt.Errorf("unknown reason %q, want %s or %s", r.Reason, store.PruneExpired, store.PruneExported))
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC()
	when, err := encodeTime("at", r.At)
	if err != nil {
		return store.IncidentPrune{}, store.LogEntry{}, wrap(err)
	}
	var (
		tomb  store.IncidentPrune
		entry store.LogEntry
	)
	err = s.write(ctx, func(c conn) error {
		tomb, entry = store.IncidentPrune{}, store.LogEntry{}
		// The log's lock: the prune entry is appended here, and no entry
		// may join the incident between dropping contents and logging.
		if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockLog); err != nil {
			return fmt.Errorf("lock the log: %w", err)
		}
		// The incident's row, so no state change races the checks below.
		if _, err := c.exec(ctx, `SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE`, r.Incident); err != nil {
			return err
		}
		inc, err := s.incident(ctx, c, r.Incident)
		if err != nil {
			return err
		}
		switch {
		case inc.Pruned != nil:
			return notPrunable("it was pruned already, at %s (%s)", inc.Pruned.At.Format(time.RFC3339), inc.Pruned.Reason)
		case inc.State != store.IncidentClosed:
			return notPrunable("it is %s: only closed incidents are pruned", inc.State)
		}
		var follower string
		err = scan(c.row(ctx, `SELECT id FROM incidents WHERE previous = $1 AND state != 'closed' ORDER BY seq LIMIT 1`, inc.ID), &follower)
		switch {
		case err == nil:
			return notPrunable("incident %s follows it and is not closed yet", follower)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		closed := inc.Updated
		var closedAt sql.NullString
		if err := scan(c.row(ctx, `SELECT MAX(at) FROM incident_changes WHERE incident_id = $1 AND to_state = 'closed'`, inc.ID), &closedAt); err != nil {
			return err
		}
		if closedAt.Valid {
			if closed, err = decodeTime("closed", closedAt.String); err != nil {
				return err
			}
		}
		var lastSeq sql.NullInt64
		if err := scan(c.row(ctx, `SELECT MAX(seq) FROM evidence_log WHERE incident = $1`, inc.ID), &lastSeq); err != nil {
			return err
		}
		rec := store.PruneRecord{Incident: inc.ID, Reason: r.Reason, At: r.At, Key: inc.Key, Kind: inc.Kind,
			AccountID: inc.AccountID, AccountUPN: inc.AccountUPN, State: inc.State, Opened: inc.Opened.UTC(),
			Closed: closed.UTC(), Previous: inc.Previous, AlertsKept: len(inc.Alerts)}
		if r.Reason == store.PruneExported {
			var (
				at   string
				upto int64
			)
			err := scan(c.row(ctx, `SELECT at, last_seq FROM incident_exports WHERE incident_id = $1 AND sha256 = $2
				ORDER BY last_seq DESC, id DESC LIMIT 1`, inc.ID, r.Bundle), &at, &upto)
			if errors.Is(err, sql.ErrNoRows) {
				return notPrunable("no export with sha256 %s is recorded for it", r.Bundle)
			}
			if err != nil {
				return err
			}
			if lastSeq.Int64 > upto {
				return notPrunable("its evidence gained entries (up to %d) after the export (up to %d): export it again", lastSeq.Int64, upto)
			}
			t, err := decodeTime("export at", at)
			if err != nil {
				return err
			}
			rec.Bundle, rec.ExportedAt = r.Bundle, &t
		} else {
			rec.Retention = r.Retention
			if !r.Expired.IsZero() {
				e := r.Expired.UTC()
				rec.Expired = &e
			}
		}
		if inc.Review != nil {
			at := inc.Review.At.UTC()
			rec.Class, rec.ReviewedBy, rec.ReviewedAt = inc.Review.Class, inc.Review.By, &at
		}
		var first, last sql.NullInt64
		if err := scan(c.row(ctx, `SELECT COUNT(*), MIN(seq), MAX(seq) FROM evidence_log
			WHERE incident = $1 AND pruned IS NULL AND kind != 'prune'`, inc.ID), &rec.Entries, &first, &last); err != nil {
			return err
		}
		rec.FirstSeq, rec.LastSeq = first.Int64, last.Int64
		res, err := c.exec(ctx, `UPDATE evidence_log SET content = ''::bytea, pruned = $1
			WHERE incident = $2 AND pruned IS NULL AND kind != 'prune'`, when, inc.ID)
		if err != nil {
			return fmt.Errorf("dropping the evidence content: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || int(n) != rec.Entries {
			return fmt.Errorf("dropping the evidence content: %d entries changed, want %d (%v)", n, rec.Entries, err)
		}
		if err := scan(c.row(ctx, `SELECT COUNT(*) FROM incident_changes WHERE incident_id = $1`, inc.ID), &rec.ChangesDropped); err != nil {
			return err
		}
		content, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		entry, err = appendLogTx(ctx, c, store.LogEntry{Incident: inc.ID, Kind: store.LogPrune, Ref: "prune", At: r.At, Content: content})
		if err != nil {
			return fmt.Errorf("logging the prune: %w", err)
		}
		var review any // NULL unless reviewed
		if inc.Review != nil {
			ra, err := encodeTime("review at", inc.Review.At)
			if err != nil {
				return err
			}
			b, err := json.Marshal(reviewJSON{Class: inc.Review.Class, By: inc.Review.By, At: ra})
			if err != nil {
				return err
			}
			review = string(b)
		}
		ca, err := encodeTime("closed", closed)
		if err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE incidents SET closed = $1, pruned_at = $2, prune_reason = $3, prune_bundle = $4,
			prune_entries = $5, prune_seq = $6, review = $7 WHERE id = $8`,
			ca, when, r.Reason, rec.Bundle, rec.Entries, entry.Seq, review, inc.ID); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `DELETE FROM incident_changes WHERE incident_id = $1`, inc.ID); err != nil {
			return err
		}
		tomb = store.IncidentPrune{At: r.At, Reason: r.Reason, Closed: closed.UTC(), Bundle: rec.Bundle, Entries: rec.Entries, Seq: entry.Seq}
		return nil
	})
	if err != nil {
		return store.IncidentPrune{}, store.LogEntry{}, wrap(err)
	}
	return tomb, entry, nil
}

// appendLogTx appends e inside a transaction that holds the log's lock,
// as appendLog does in its own: Seq is head + 1 and Prev the head's hash.
func appendLogTx(ctx context.Context, c conn, e store.LogEntry) (store.LogEntry, error) {
	e.At = e.At.UTC()
	at, err := encodeTime("at", e.At)
	if err != nil {
		return store.LogEntry{}, err
	}
	if e.Content == nil {
		e.Content = []byte{}
	}
	e.ContentSHA256 = store.ContentHash(e.Content)
	var (
		seq  sql.NullInt64
		prev sql.NullString
	)
	err = scan(c.row(ctx, `SELECT seq, hash FROM evidence_log ORDER BY seq DESC LIMIT 1`), &seq, &prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		e.Seq, e.Prev = 1, ""
	case err != nil:
		return store.LogEntry{}, err
	default:
		e.Seq, e.Prev = seq.Int64+1, prev.String
	}
	e.Hash = e.ComputeHash()
	if _, err := c.exec(ctx, `INSERT INTO evidence_log (`+logInsertColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.Seq, e.Incident, e.Kind, e.Ref, at, e.Content, e.ContentSHA256, e.Prev, e.Hash); err != nil {
		return store.LogEntry{}, err
	}
	return e, nil
}
