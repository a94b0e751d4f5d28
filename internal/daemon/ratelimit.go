package daemon

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/notify"
	"breakglass/internal/watch"
)

// rateLimits gives the dispatcher notify.rate_limits, keeps the limiter's
// recent sends in the store (so a restarted or crash-looping daemon does
// not send one SMS per start), and counts what the limits hold back and
// coalesce, per channel.
func (d *Daemon) rateLimits(o *notify.Options, reg prometheus.Registerer) {
	o.RateLimits = d.cfg.Notify.Limits()
	o.LimitStore = d.st
	held := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_notifications_rate_limited_total",
		Help: "Deliveries a recipient's rate limit held back (notify.rate_limits); each waits and goes with the next message allowed."}, []string{"channel"})
	coalesced := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_notifications_coalesced_total",
		Help: "Deliveries sent together with others in one message because a recipient's rate limit was reached."}, []string{"channel"})
	reg.MustRegister(held, coalesced)
	known := map[string]bool{}
	for _, t := range d.targets {
		known[t] = true
	}
	o.ObserveLimit = func(target, result string, n int) {
		if !known[target] {
			target = watch.LabelOther // a delivery for a removed target
		}
		switch result {
		case notify.ResultRateLimited:
			held.WithLabelValues(target).Add(float64(n))
		case notify.ResultCoalesced:
			coalesced.WithLabelValues(target).Add(float64(n))
		}
	}
	var desc []string
	for _, kind := range notify.LimitKinds {
		desc = append(desc, kind+" "+o.RateLimits[kind].String())
	}
	d.log.Info("notify: rate limits per recipient (over a limit, alerts wait and are coalesced, never dropped)", "limits", strings.Join(desc, ", "))
}
