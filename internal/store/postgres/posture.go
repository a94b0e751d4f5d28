package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakglass/internal/store"
)

// SetPostureReport implements store.PostureReports.
func (s *Store) SetPostureReport(ctx context.Context, tenant string, at time.Time, report []byte) error {
	tenant = strings.ToLower(tenant)
	wrap := func(err error) error { return fmt.Errorf("postgres: set posture report of tenant %q: %w", tenant, err) }
	if len(report) == 0 {
		return wrap(errors.New("empty report"))
	}
	ran, err := encodeTime("ran_at", at)
	if err != nil {
		return wrap(err)
	}
	err = s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO posture_reports (tenant, report, ran_at) VALUES ($1, $2, $3)
			ON CONFLICT (tenant) DO UPDATE SET report = excluded.report, ran_at = excluded.ran_at`,
			tenant, report, ran)
		return err
	})
	if err != nil {
		return wrap(describe(err))
	}
	return nil
}

// PostureReports implements store.PostureReports, in tenant order.
func (s *Store) PostureReports(ctx context.Context) ([]store.PostureReport, error) {
	wrap := func(err error) error { return fmt.Errorf("postgres: posture reports: %w", err) }
	rows, err := s.read().query(ctx, `SELECT tenant, report, ran_at FROM posture_reports ORDER BY tenant`)
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
		if err := scan(rows, &p.Tenant, &p.Report, &ran); err != nil {
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
