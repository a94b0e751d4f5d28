package daemon

import (
	"context"
	"errors"

	"breakglass/internal/graph"
	"breakglass/internal/posture"
)

// liveAuditor is the scheduled audit: collect the tenant in memory through
// Graph, exactly what `breakglass collect` writes, and run every check.
type liveAuditor struct {
	d *Daemon
	g graph.Lister
}

func (a *liveAuditor) Audit(ctx context.Context) (*posture.Report, error) {
	return nil, errors.New("posture engine not available in this build")
}
