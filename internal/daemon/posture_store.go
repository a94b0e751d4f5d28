package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/posture"
)

// The latest posture report of each tenant lives in the store (migration
// 0012), not in this process: the scheduled audit runs on the replica
// holding the scheduler lease, and every replica's dashboard, also a
// stand-by's and a restarted one's, must show what it found.

// savePosture records rep as tenant's latest report ("" for a config
// without tenants:). It runs after the audit's fence check (a replica
// that lost the lease never gets here). A failure is logged as an error:
// the same store failure makes recording the audit's verdicts fail too,
// which raises bg.source for the posture source.
func (d *Daemon) savePosture(ctx context.Context, tenant string, rep *posture.Report) {
	b, err := json.Marshal(rep)
	if err == nil {
		err = d.st.SetPostureReport(ctx, tenant, d.o.Now(), b)
	}
	if err != nil {
		d.log.Error("storing the posture report failed; the dashboard shows the previous audit until one is stored",
			"tenant", tenant, "error", err)
	}
	d.posture.clear() // this replica shows its own audit at once
}

// postureCacheFor is how long a read of the stored reports is reused: the
// status board and the posture page may be open in many browsers, and a
// report of a large tenant is not small; a stand-by shows a new audit at
// most this much later.
const postureCacheFor = 2 * time.Second

// postureCache is the last read of the stored reports.
type postureCache struct {
	mu   sync.Mutex
	at   time.Time // monotonic; zero: nothing cached
	reps []api.TenantReport
}

func (c *postureCache) clear() {
	c.mu.Lock()
	c.at, c.reps = time.Time{}, nil
	c.mu.Unlock()
}

// postureReports reads every tenant's latest report for the API. A stored
// report that does not decode is an error naming its tenant, never
// silently shown as "no audit yet".
func (d *Daemon) postureReports(ctx context.Context) ([]api.TenantReport, error) {
	c := &d.posture
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < postureCacheFor {
		return append([]api.TenantReport(nil), c.reps...), nil // callers may set fields of their copy
	}
	stored, err := d.st.PostureReports(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.TenantReport, 0, len(stored))
	for _, p := range stored {
		var rep posture.Report
		if err := json.Unmarshal(p.Report, &rep); err != nil {
			return nil, fmt.Errorf("the stored posture report of tenant %q does not decode (run the audit again to replace it): %w", p.Tenant, err)
		}
		out = append(out, api.TenantReport{Tenant: strings.ToLower(p.Tenant), Report: &rep})
	}
	c.at, c.reps = time.Now(), out
	return append([]api.TenantReport(nil), out...), nil
}
