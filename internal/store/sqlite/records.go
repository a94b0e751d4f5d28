package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"breakglass/internal/store"
)

var _ store.Records = (*Store)(nil)

// AppendRecord implements store.Records.
func (s *Store) AppendRecord(ctx context.Context, r store.KQLRecord) (bool, error) {
	at, err := encodeTime("ingested", r.Ingested)
	if err != nil {
		return false, fmt.Errorf("sqlite %s: append record: %w", s.path, err)
	}
	sum := sha256.Sum256(r.Raw)
	raw := r.Raw
	if raw == nil {
		raw = []byte{}
	}
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO kql_records (tbl, ingested, sha256, source, raw) VALUES (?, ?, ?, ?, ?)`,
			r.Table, at, hex.EncodeToString(sum[:]), r.Source, raw)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite %s: append record to %s: %w", s.path, r.Table, err)
	}
	return n > 0, nil
}

// ScanRecords implements store.Records.
func (s *Store) ScanRecords(ctx context.Context, table string, from, to time.Time, fn func(store.KQLRecord) error) error {
	f, err := encodeTime("from", from)
	if err != nil {
		return fmt.Errorf("sqlite %s: scan records: %w", s.path, err)
	}
	t, err := encodeTime("to", to)
	if err != nil {
		return fmt.Errorf("sqlite %s: scan records: %w", s.path, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT ingested, source, raw FROM kql_records
		WHERE tbl = ? AND ingested > ? AND ingested <= ? ORDER BY ingested, seq`, table, f, t)
	if err != nil {
		return fmt.Errorf("sqlite %s: scan records of %s: %w", s.path, table, describe(err))
	}
	defer rows.Close()
	for rows.Next() {
		var at string
		r := store.KQLRecord{Table: table}
		if err := rows.Scan(&at, &r.Source, &r.Raw); err != nil {
			return fmt.Errorf("sqlite %s: scan records of %s: %w", s.path, table, err)
		}
		if r.Ingested, err = decodeTime("ingested", at); err != nil {
			return fmt.Errorf("sqlite %s: scan records of %s: %w", s.path, table, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite %s: scan records of %s: %w", s.path, table, describe(err))
	}
	return nil
}

// PruneRecords implements store.Records.
func (s *Store) PruneRecords(ctx context.Context, before time.Time) (int64, error) {
	b, err := encodeTime("before", before)
	if err != nil {
		return 0, fmt.Errorf("sqlite %s: prune records: %w", s.path, err)
	}
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM kql_records WHERE ingested <= ?`, b)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite %s: prune records: %w", s.path, err)
	}
	return n, nil
}
