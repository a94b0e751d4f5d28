package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

var _ store.EvidenceLog = (*Store)(nil)

const logColumns = `seq, incident, kind, ref, at, content, content_sha256, prev, hash, pruned`

// logInsertColumns are what an append writes: pruned is set only by a
// prune (prune.go).
const logInsertColumns = `seq, incident, kind, ref, at, content, content_sha256, prev, hash`

// maxLogPage bounds one LogEntries call that names no limit (or a larger
// one): entries carry whole raw records, and verification pages through.
const maxLogPage = 1000

func scanLogEntry(sc scanner) (store.LogEntry, error) {
	var (
		e      store.LogEntry
		at     string
		pruned sql.NullString
	)
	if err := scan(sc, &e.Seq, &e.Incident, &e.Kind, &e.Ref, &at, &e.Content, &e.ContentSHA256, &e.Prev, &e.Hash, &pruned); err != nil {
		return e, err
	}
	if pruned.Valid {
		// A marker that no longer parses still says "pruned": verification
		// then checks the entry by its header, and its prune entry.
		e.Pruned = time.Unix(0, 1).UTC()
		if t, err := decodeTime("pruned", pruned.String); err == nil {
			e.Pruned = t
		}
	}
	if e.Content == nil {
		e.Content = []byte{}
	}
	// A time that no longer parses is returned as the zero time rather
	// than as an error: LogEntries must hand verification what is stored,
	// and the recomputed hash then shows the entry as broken.
	if t, err := decodeTime("at", at); err == nil {
		e.At = t
	}
	return e, nil
}

// AppendLog implements store.EvidenceLog. Seq is head + 1, read and
// written in one transaction holding the evidence log's advisory lock, so
// appends from every replica are serialised and each links to the one
// before it. A zero At means now; nil Content is stored as empty. Kind must
// be set.
func (s *Store) AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error) {
	out, _, err := s.appendLog(ctx, e, false)
	return out, err
}

// AppendLogOnce implements store.EvidenceLog: AppendLog, unless an entry
// of the same incident, kind and ref exists, checked under the same lock.
func (s *Store) AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error) {
	return s.appendLog(ctx, e, true)
}

func (s *Store) appendLog(ctx context.Context, e store.LogEntry, once bool) (store.LogEntry, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: append evidence log: %w", err) }
	if e.Kind == "" {
		return store.LogEntry{}, false, wrap(errors.New("empty kind"))
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	at, err := encodeTime("at", e.At)
	if err != nil {
		return store.LogEntry{}, false, wrap(err)
	}
	if e.Content == nil {
		e.Content = []byte{}
	}
	e.ContentSHA256 = store.ContentHash(e.Content)
	var existing *store.LogEntry
	err = s.write(ctx, func(c conn) error {
		existing = nil
		if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockLog); err != nil {
			return fmt.Errorf("lock the log: %w", err)
		}
		if once {
			old, err := scanLogEntry(c.row(ctx, `SELECT `+logColumns+` FROM evidence_log
				WHERE incident = $1 AND kind = $2 AND ref = $3 ORDER BY seq LIMIT 1`, e.Incident, e.Kind, e.Ref))
			switch {
			case err == nil:
				existing = &old
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		var (
			seq  int64
			prev string
		)
		err := scan(c.row(ctx, `SELECT seq, hash FROM evidence_log ORDER BY seq DESC LIMIT 1`), &seq, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			e.Seq, e.Prev = 1, ""
		case err != nil:
			return err
		default:
			e.Seq, e.Prev = seq+1, prev
		}
		e.Hash = e.ComputeHash()
		_, err = c.exec(ctx, `INSERT INTO evidence_log (`+logInsertColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			e.Seq, e.Incident, e.Kind, e.Ref, at, e.Content, e.ContentSHA256, e.Prev, e.Hash)
		return err
	})
	if err != nil {
		return store.LogEntry{}, false, wrap(err)
	}
	if existing != nil {
		return *existing, false, nil
	}
	return e, true, nil
}

func (s *Store) queryLog(ctx context.Context, q string, args ...any) ([]store.LogEntry, error) {
	rows, err := s.read().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.LogEntry
	for rows.Next() {
		e, err := scanLogEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LogEntries implements store.EvidenceLog. limit 0 (or above 1000) means
// 1000; a negative limit is an error.
func (s *Store) LogEntries(ctx context.Context, after int64, limit int) ([]store.LogEntry, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: evidence log after %d: %w", after, err) }
	if limit < 0 {
		return nil, wrap(fmt.Errorf("negative limit %d", limit))
	}
	if limit == 0 || limit > maxLogPage {
		limit = maxLogPage
	}
	out, err := s.queryLog(ctx, `SELECT `+logColumns+` FROM evidence_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// IncidentLog implements store.EvidenceLog.
func (s *Store) IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error) {
	out, err := s.queryLog(ctx, `SELECT `+logColumns+` FROM evidence_log WHERE incident = $1 ORDER BY seq`, incident)
	if err != nil {
		return nil, fmt.Errorf("postgres: evidence log of incident %q: %w", incident, err)
	}
	return out, nil
}

// LogHead implements store.EvidenceLog.
func (s *Store) LogHead(ctx context.Context) (store.LogEntry, bool, error) {
	e, err := scanLogEntry(s.read().row(ctx, `SELECT `+logColumns+` FROM evidence_log ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return store.LogEntry{}, false, nil
	}
	if err != nil {
		return store.LogEntry{}, false, fmt.Errorf("postgres: evidence log head: %w", err)
	}
	return e, true, nil
}
