package config

import "time"

// Defaults of the drill schedule (drill.remind_before; the interval is
// drill.interval, drill.go).
const (
	// DefaultDrillRemindBefore is how long before a drill is due serve
	// reminds people (bg.drill_due), and how long after a key change
	// (a Global Administrator added, licences changed) the next drill is
	// due. A week leaves time to book the people and the secure
	// workstation.
	DefaultDrillRemindBefore = 7 * 24 * time.Hour
	// MinDrillRemindBefore keeps "remind_before: 1s" from turning the
	// reminder into the overdue alert.
	MinDrillRemindBefore = time.Hour
)

// validateDrillSchedule checks drill.remind_before: at least an hour, and
// less than the interval (else every account is always "due soon").
func (c *Config) validateDrillSchedule(d *decoder) {
	const f = "drill.remind_before"
	line, set := d.lines[f]
	if !set || d.failed[f] || d.failed["drill.interval"] {
		return
	}
	rb := c.Drill.RemindBefore
	interval := c.Drill.Interval
	if interval == 0 {
		interval = c.Audit.DrillInterval
	}
	if interval == 0 {
		interval = DefaultDrillInterval
	}
	if rb < MinDrillRemindBefore || rb >= interval {
		d.errorf(line, f, "must be at least %s and less than drill.interval (%s); default %s: how long before a drill is due serve reminds, and how soon after a key change a drill is due",
			fmtDuration(MinDrillRemindBefore), fmtDuration(interval), fmtDuration(DefaultDrillRemindBefore))
	}
}

// applyDrillScheduleDefaults runs after applyDrillDefaults (the interval
// is known): an unset remind_before is a week, or half a shorter interval.
func (c *Config) applyDrillScheduleDefaults() {
	if c.Drill.RemindBefore == 0 {
		c.Drill.RemindBefore = min(DefaultDrillRemindBefore, c.Drill.Interval/2)
	}
}
