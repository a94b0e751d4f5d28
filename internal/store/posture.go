package store

import (
	"context"
	"time"
)

// PostureReport is the latest posture audit of one tenant, as the store
// keeps it for every replica's dashboard (migration 0012).
type PostureReport struct {
	// Tenant is the tenant id, lower-case; "" for a config without
	// tenants:.
	Tenant string
	RanAt  time.Time // when the audit ran, UTC
	// Report is the posture.Report as the API serves it (JSON); the store
	// keeps it as given, byte for byte.
	Report []byte
}

// PostureReports keeps the latest posture report per tenant, so that a
// stand-by or restarted replica shows what the scheduler's audit found.
type PostureReports interface {
	// SetPostureReport creates or replaces tenant's report (tenant is
	// lower-cased). report must be non-empty.
	SetPostureReport(ctx context.Context, tenant string, at time.Time, report []byte) error
	// PostureReports lists every tenant's latest report, in tenant order.
	PostureReports(ctx context.Context) ([]PostureReport, error)
}
