package watch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
	"breakglass/internal/posture"
	"breakglass/internal/scan"
)

// LabelOther replaces any label value outside its fixed set, so that no
// input (a record with a made-up category, a reason added later) can grow
// the number of series.
const LabelOther = "other"

// knownCategories are the category label values: the monitored ones and
// the other categories diagnostic settings export. Anything else is
// "other".
var knownCategories = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range entra.MonitoredCategories {
		m[c] = true
	}
	for _, c := range []string{
		"MicrosoftGraphActivityLogs", "UserRiskEvents", "RiskyUsers", "ServicePrincipalRiskEvents",
		"RiskyServicePrincipals", "ProvisioningLogs", "ADFSSignInLogs", "NetworkAccessTrafficLogs",
		"EnrichedOffice365AuditLogs", "B2CRequestLogs", "Audit",
	} {
		m[c] = true
	}
	return m
}()

// knownReasons are the skip reasons the splitter and decoder report.
var knownReasons = map[string]bool{
	logs.ReasonInvalidJSON: true, logs.ReasonTruncated: true, logs.ReasonTooLarge: true,
	logs.ReasonNotObject: true, logs.ReasonCSV: true, logs.ReasonReadError: true,
	logs.ReasonUnknownShape: true, logs.ReasonBadField: true, logs.ReasonOtherCategory: true,
	"too_deep": true,
}

func bounded(v string, known map[string]bool) string {
	if known[v] {
		return v
	}
	return LabelOther
}

// Metrics are the daemon's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	sources       map[string]bool
	targets       map[string]bool // nil: any
	records       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	alerted       *prometheus.CounterVec
	alerts        *prometheus.CounterVec
	failclosed    *prometheus.CounterVec
	mutedAlerts   *prometheus.CounterVec
	notifications *prometheus.CounterVec
	notifyLatency *prometheus.HistogramVec
	silent        *prometheus.GaugeVec
	failing       *prometheus.GaugeVec
	posture       postureMetrics
}

// NewMetrics registers the metrics with reg. depth reports the outbox
// depth; sources are the configured source names (the only source label
// values); lastLife reports when a source last showed life.
func NewMetrics(reg prometheus.Registerer, depth func(context.Context) (int, error), sources []string, lastLife func(string) (time.Time, bool)) *Metrics {
	m := &Metrics{
		sources: map[string]bool{},
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_read_total",
			Help: "Log records read, by source and category (categories outside the known list count as other)."}, []string{"source", "category"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_skipped_total",
			Help: "Input skipped as unusable, by source and reason."}, []string{"source", "reason"}),
		alerted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_alerted_total",
			Help: "New alerts raised from the source's records, by source."}, []string{"source"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_alerts_total",
			Help: "New alerts, by rule."}, []string{"rule"}),
		failclosed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_records_failclosed_total",
			Help: "New alerts on records that could not be read completely (fail closed), by kind: degraded (some fields, or the time, unreadable) or unparsed (bg.unparsed)."}, []string{"kind"}),
		mutedAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_alerts_muted_total",
			Help: "New alerts stored but not notified because notify.mute_for of their rule was open for their account or source, by rule."}, []string{"rule"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "breakglass_notifications_total",
			Help: "Notification attempts, by channel and result (success, retry, permanent, dead_letter)."}, []string{"channel", "result"}),
		notifyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "breakglass_notification_duration_seconds",
			Help: "Time taken by notification attempts.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"channel"}),
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "breakglass_source_silent",
			Help: "1 while bg.silence is firing for the source."}, []string{"source"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "breakglass_source_failing",
			Help: "Parts of the source (Graph queries, files) for which bg.source is firing."}, []string{"source"}),
	}
	reg.MustRegister(m.records, m.skipped, m.alerted, m.alerts, m.failclosed, m.mutedAlerts, m.notifications, m.notifyLatency, m.silent, m.failing)
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
	m.posture = newPostureMetrics(reg)
	for _, k := range []string{"degraded", "unparsed"} {
		m.failclosed.WithLabelValues(k)
	}
	for _, s := range sources {
		m.sources[s] = true
		m.silent.WithLabelValues(s).Set(0)
		m.failing.WithLabelValues(s).Set(0)
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "breakglass_source_lag_seconds",
			Help: "Seconds since the source last showed life (a successful read or poll), or since start.", ConstLabels: prometheus.Labels{"source": s}},
			func() float64 {
				t, ok := lastLife(s)
				if !ok {
					return -1
				}
				return time.Since(t).Seconds()
			}))
	}
	return m
}

// RegisterGauge adds a gauge computed on scrape (outbox dead letters, say).
func RegisterGauge(reg prometheus.Registerer, name, help string, f func(context.Context) (int, error)) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := f(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

func (m *Metrics) source(s string) string {
	if m.sources[s] {
		return s
	}
	return LabelOther
}

func (m *Metrics) input(source string, st *scan.Stats) {
	if m == nil {
		return
	}
	src := m.source(source)
	for c, n := range st.Records {
		m.records.WithLabelValues(src, bounded(c, knownCategories)).Add(float64(n))
	}
	for r, n := range st.Skipped {
		m.skipped.WithLabelValues(src, bounded(r, knownReasons)).Add(float64(n))
	}
}

func (m *Metrics) alert(source, rule string) {
	if m == nil {
		return
	}
	m.alerts.WithLabelValues(rule).Inc()
	m.alerted.WithLabelValues(m.source(source)).Inc()
}

func (m *Metrics) muted(rule string) {
	if m == nil {
		return
	}
	if _, ok := detect.Lookup(rule); !ok {
		rule = LabelOther
	}
	m.mutedAlerts.WithLabelValues(rule).Inc()
}

func (m *Metrics) mutedZero(rule string) {
	if m == nil {
		return
	}
	if _, ok := detect.Lookup(rule); ok {
		m.mutedAlerts.WithLabelValues(rule)
	}
}

func (m *Metrics) failClosed(kind string) {
	if m == nil {
		return
	}
	m.failclosed.WithLabelValues(kind).Inc()
}

func (m *Metrics) silence(source string, on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.silent.WithLabelValues(m.source(source)).Set(v)
}

func (m *Metrics) sourceFailing(source string, delta float64) {
	if m == nil {
		return
	}
	m.failing.WithLabelValues(m.source(source)).Add(delta)
}

// SetSourceFailing sets the failing gauge (at start, from the store).
func (m *Metrics) SetSourceFailing(source string, n int) {
	if m == nil {
		return
	}
	m.failing.WithLabelValues(m.source(source)).Set(float64(n))
}

// Notified records a notification attempt (notify.Options.Observe). Channel
// values are the configured targets, a fixed set.
func (m *Metrics) Notified(channel, result string, d time.Duration) {
	if m == nil {
		return
	}
	if m.targets != nil && !m.targets[channel] {
		// A delivery queued for a target that was since removed.
		channel = LabelOther
	}
	m.notifications.WithLabelValues(channel, result).Inc()
	m.notifyLatency.WithLabelValues(channel).Observe(d.Seconds())
}

// SetTargets fixes the channel label values to the configured targets
// (call before the dispatcher starts).
func (m *Metrics) SetTargets(targets []string) {
	if m == nil {
		return
	}
	m.targets = map[string]bool{}
	for _, t := range targets {
		m.targets[t] = true
	}
}

// KnownCategory reports whether c is a category label value of its own.
func KnownCategory(c string) bool { return knownCategories[c] }

// posture metrics: registered with the others, set by Posture.
type postureMetrics struct {
	results *prometheus.GaugeVec
	lastRun prometheus.Gauge
	failed  prometheus.Counter
}

func newPostureMetrics(reg prometheus.Registerer) postureMetrics {
	m := postureMetrics{
		results: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "breakglass_posture_results",
			Help: "Results of the last scheduled posture audit, by status (pass, fail, warn, skip, error, accepted)."}, []string{"status"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "breakglass_posture_last_run_timestamp_seconds",
			Help: "Unix time the last scheduled posture audit completed; 0 before the first."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "breakglass_posture_runs_failed_total",
			Help: "Scheduled posture audits that could not run (collection aborted); each episode raises bg.source for source posture."}),
	}
	reg.MustRegister(m.results, m.lastRun, m.failed)
	for _, s := range posture.Statuses {
		m.results.WithLabelValues(string(s))
	}
	return m
}

func (m *Metrics) postureRun(rep *posture.Report, at time.Time) {
	if m == nil {
		return
	}
	counts := map[posture.Status]int{}
	for _, r := range rep.Results {
		counts[r.Status]++
	}
	// Only the fixed statuses are label values; a status outside them
	// cannot grow the series.
	for _, s := range posture.Statuses {
		m.posture.results.WithLabelValues(string(s)).Set(float64(counts[s]))
	}
	m.posture.lastRun.Set(float64(at.Unix()))
}

func (m *Metrics) postureFailed() {
	if m == nil {
		return
	}
	m.posture.failed.Inc()
}

// AddSource makes name a source label value of its own (an internal
// source such as "groups" or "posture", which has no lag or silence).
func (m *Metrics) AddSource(name string) {
	if m == nil {
		return
	}
	m.sources[name] = true
	m.failing.WithLabelValues(name).Set(0)
}
