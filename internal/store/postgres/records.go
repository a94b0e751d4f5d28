package postgres

import (
	"context"
	"crypto/sha256"
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
		return false, fmt.Errorf("postgres: append record: %w", err)
	}
	sum := sha256.Sum256(r.Raw)
	raw := r.Raw
	if raw == nil {
		raw = []byte{}
	}
	var n int64
	err = s.write(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `INSERT INTO kql_records (tbl, ingested, sha256, source, raw) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tbl, sha256) DO NOTHING`, r.Table, at, hex.EncodeToString(sum[:]), r.Source, raw)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: append record to %s: %w", r.Table, err)
	}
	return n > 0, nil
}

// ScanRecords implements store.Records.
func (s *Store) ScanRecords(ctx context.Context, table string, from, to time.Time, fn func(store.KQLRecord) error) error {
	f, err := encodeTime("from", from)
	if err != nil {
		return fmt.Errorf("postgres: scan records: %w", err)
	}
	t, err := encodeTime("to", to)
	if err != nil {
		return fmt.Errorf("postgres: scan records: %w", err)
	}
	rows, err := s.read().query(ctx, `SELECT ingested, source, raw FROM kql_records
		WHERE tbl = $1 AND ingested > $2 AND ingested <= $3 ORDER BY ingested, seq`, table, f, t)
	if err != nil {
		return fmt.Errorf("postgres: scan records of %s: %w", table, describe(err))
	}
	defer rows.Close()
	for rows.Next() {
		var at string
		r := store.KQLRecord{Table: table}
		if err := scan(rows, &at, &r.Source, &r.Raw); err != nil {
			return fmt.Errorf("postgres: scan records of %s: %w", table, err)
		}
		if r.Raw == nil {
			r.Raw = []byte{}
		}
		if r.Ingested, err = decodeTime("ingested", at); err != nil {
			return fmt.Errorf("postgres: scan records of %s: %w", table, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: scan records of %s: %w", table, describe(err))
	}
	return nil
}

// PruneRecords implements store.Records.
func (s *Store) PruneRecords(ctx context.Context, before time.Time) (int64, error) {
	b, err := encodeTime("before", before)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune records: %w", err)
	}
	var n int64
	err = s.write(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `DELETE FROM kql_records WHERE ingested <= $1`, b)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune records: %w", err)
	}
	return n, nil
}
