package config

import "time"

// Drill defaults and limits (drill:). The bounds are what a drill measures
// against: the guidance asks that a drill confirm "monitoring and alerting
// rules are triggered", and a page that arrives an hour late has not.
const (
	// DefaultDrillAlertWithin bounds event time → alert stored. Entra's own
	// sign-in log delay is minutes, so 10 minutes allows for it.
	DefaultDrillAlertWithin = 10 * time.Minute
	// DefaultDrillDeliveryWithin bounds alert stored → each routed
	// channel's delivery.
	DefaultDrillDeliveryWithin = time.Minute
	// DefaultDrillAckWithin bounds alert stored → acknowledgement.
	DefaultDrillAckWithin = 15 * time.Minute
	// DefaultDrillWindow is how long a drill's window stays open when
	// drill plan is given no --window.
	DefaultDrillWindow = time.Hour
	// MaxDrillWindow keeps a window from swallowing real uses: a sign-in
	// inside it is labelled a drill.
	MaxDrillWindow = 24 * time.Hour
	// MaxDrillInterval: beyond a year a drill proves nothing to an annual
	// audit.
	MaxDrillInterval = 365 * 24 * time.Hour
)

// DrillConfig is drill: the bounds a drill is measured against, the
// default window, and how often every account is due for a drill.
type DrillConfig struct {
	AlertWithin    time.Duration `yaml:"alert_within"`
	DeliveryWithin time.Duration `yaml:"delivery_within"`
	AckWithin      time.Duration `yaml:"ack_within"`
	Window         time.Duration `yaml:"window"`
	Interval       time.Duration `yaml:"interval"`
	// RemindBefore is the schedule's (drillschedule.go).
	RemindBefore time.Duration `yaml:"remind_before"`
}

// validateDrill checks drill:. An explicit zero or negative value is
// rejected rather than defaulted: "alert_within: 0" would fail every drill,
// and a zero interval would make every account overdue forever.
func (c *Config) validateDrill(d *decoder) {
	dc := c.Drill
	for _, k := range []struct {
		key    string
		v, max time.Duration
		def    time.Duration
		what   string
	}{
		{"alert_within", dc.AlertWithin, 24 * time.Hour, DefaultDrillAlertWithin, "from the sign-in's event time to the alert stored"},
		{"delivery_within", dc.DeliveryWithin, 24 * time.Hour, DefaultDrillDeliveryWithin, "from the alert stored to each channel's delivery"},
		{"ack_within", dc.AckWithin, 24 * time.Hour, DefaultDrillAckWithin, "from the alert stored to its acknowledgement"},
		{"window", dc.Window, MaxDrillWindow, DefaultDrillWindow, "how long a drill's window stays open"},
	} {
		f := "drill." + k.key
		if d.failed[f] {
			continue
		}
		if _, set := d.lines[f]; set && (k.v <= 0 || k.v > k.max) {
			d.errorf(d.lines[f], f, "must be more than 0 and at most %s (default %s): %s",
				fmtDuration(k.max), fmtDuration(k.def), k.what)
		}
	}
	if f := "drill.interval"; !d.failed[f] {
		if _, set := d.lines[f]; set && (dc.Interval < MinDrillInterval || dc.Interval > MaxDrillInterval) {
			d.errorf(d.lines[f], f, "must be between %s and %s (default audit.drill_interval, %s): how often every account is drilled; write days as 90d",
				fmtDuration(MinDrillInterval), fmtDuration(MaxDrillInterval), fmtDuration(DefaultDrillInterval))
		}
	}
}

func (c *Config) applyDrillDefaults() {
	dc := &c.Drill
	for _, p := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&dc.AlertWithin, DefaultDrillAlertWithin}, {&dc.DeliveryWithin, DefaultDrillDeliveryWithin},
		{&dc.AckWithin, DefaultDrillAckWithin}, {&dc.Window, DefaultDrillWindow},
		// One notion of "drilled recently enough": the last-sign-in check's
		// interval (itself 90d by default) unless drill.interval says
		// otherwise. Audit defaults are applied first.
		{&dc.Interval, c.Audit.DrillInterval}} {
		if *p.v == 0 {
			*p.v = p.def
		}
	}
}
