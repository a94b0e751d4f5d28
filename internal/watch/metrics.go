package watch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/scan"
)

// Metrics are the daemon's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	records       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	alerted       *prometheus.CounterVec
	alerts        *prometheus.CounterVec
	notifications *prometheus.CounterVec
	notifyLatency *prometheus.HistogramVec
	silent        *prometheus.GaugeVec
}

// NewMetrics registers the metrics with reg. depth reports the outbox
// depth; lastRecord reports when a source last delivered records.
func NewMetrics(reg prometheus.Registerer, depth func(context.Context) (int, error), sources []string, lastRecord func(string) (time.Time, bool)) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_read_total",
			Help: "Log records read, by source and category."}, []string{"source", "category"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_skipped_total",
			Help: "Input skipped as unusable, by source and reason."}, []string{"source", "reason"}),
		alerted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_alerted_total",
			Help: "New alerts raised from the source's records, by source."}, []string{"source"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_alerts_total",
			Help: "New alerts, by rule."}, []string{"rule"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_notifications_total",
			Help: "Notification attempts, by channel and result (success, retry, permanent)."}, []string{"channel", "result"}),
		notifyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "breakglass_notification_duration_seconds",
			Help: "Time taken by notification attempts.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"channel"}),
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "breakglass_source_silent",
			Help: "1 while bg.silence is firing for the source."}, []string{"source"}),
	}
	reg.MustRegister(m.records, m.skipped, m.alerted, m.alerts, m.notifications, m.notifyLatency, m.silent)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "breakglass_outbox_depth",
		Help: "Notifications waiting to be delivered."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	for _, s := range sources {
		s := s
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "breakglass_source_lag_seconds",
			Help: "Seconds since the source last delivered records (or since start).", ConstLabels: prometheus.Labels{"source": s}},
			func() float64 {
				t, ok := lastRecord(s)
				if !ok {
					return -1
				}
				return time.Since(t).Seconds()
			}))
	}
	return m
}

func (m *Metrics) input(source string, st *scan.Stats) {
	if m == nil {
		return
	}
	for c, n := range st.Records {
		m.records.WithLabelValues(source, c).Add(float64(n))
	}
	for r, n := range st.Skipped {
		m.skipped.WithLabelValues(source, r).Add(float64(n))
	}
}

func (m *Metrics) alert(source, rule string) {
	if m == nil {
		return
	}
	m.alerts.WithLabelValues(rule).Inc()
	m.alerted.WithLabelValues(source).Inc()
}

func (m *Metrics) silence(source string, on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.silent.WithLabelValues(source).Set(v)
}

// Notified records a notification attempt (notify.Options.Observe).
func (m *Metrics) Notified(channel, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.notifications.WithLabelValues(channel, result).Inc()
	m.notifyLatency.WithLabelValues(channel).Observe(d.Seconds())
}
