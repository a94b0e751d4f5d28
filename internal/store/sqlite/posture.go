package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/store"
)

// SetPostureReport implements store.PostureReports.
func (s *Store) SetPostureReport(ctx context.Context, tenant string, at time.Time, report []byte) error {
	tenant = strings.ToLower(tenant)
	wrap := func(err error) error {
		return fmt.Errorf("sqlite %s: set posture report of tenant %q: %w", s.path, tenant, err)
	}
	if len(report) == 0 {
		return wrap(errors.New("empty report"))
	}
	ran, err := encodeTime("ran_at", at)
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO posture_reports (tenant, report, ran_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant) DO UPDATE SET report = excluded.report, ran_at = excluded.ran_at`,
			tenant, report, ran)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// PostureReports implements store.PostureReports, in tenant order.
func (s *Store) PostureReports(ctx context.Context) ([]store.PostureReport, error) {
	wrap := func(err error) error { return fmt.Errorf("sqlite %s: posture reports: %w", s.path, err) }
	rows, err := s.r.QueryContext(ctx, `SELECT tenant, report, ran_at FROM posture_reports ORDER BY tenant`)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []store.PostureReport
	for rows.Next() {
		var (
			p   store.PostureReport
			ran string
		)
		if err := rows.Scan(&p.Tenant, &p.Report, &ran); err != nil {
			return nil, wrap(err)
		}
		if p.RanAt, err = decodeTime("ran_at", ran); err != nil {
			return nil, wrap(fmt.Errorf("tenant %q: %w", p.Tenant, err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
