package config

import "time"

// Incident defaults and limits (incidents:).
const (
	// DefaultIncidentGap is how far apart in time two alerts of one account
	// may be and still form one incident: one use of a break-glass account
	// raises a sign-in, its activity and the changes it made within
	// minutes to an hour or two.
	DefaultIncidentGap = 2 * time.Hour
	// MinIncidentGap and MaxIncidentGap bound incidents.gap: below a
	// minute one use splits into many incidents; beyond a week unrelated
	// uses (a drill and a real emergency) merge into one review.
	MinIncidentGap = time.Minute
	MaxIncidentGap = 7 * 24 * time.Hour
	// DefaultIncidentRetention is how long incidents and their evidence are
	// kept: beyond Entra's own 30 days (7 on Free), so the proof of what a
	// break-glass account did outlives the tenant's logs, and beyond a year
	// so an annual audit still finds it.
	DefaultIncidentRetention = 400 * 24 * time.Hour
	// MinIncidentRetention is Entra's sign-in log retention: keeping less
	// would lose evidence that Entra itself still has.
	MinIncidentRetention = 30 * 24 * time.Hour
)

// IncidentsConfig is incidents: how alerts are grouped into incidents and
// how long incidents and their evidence are kept.
type IncidentsConfig struct {
	// Gap: alerts of one account within Gap of an open incident's alerts
	// join it (default 2h).
	Gap time.Duration `yaml:"gap"`
	// Retention is how long a closed incident and its evidence are kept
	// after its last activity (default 400d). serve then prunes it
	// (internal/incident/prune.go): its evidence keeps its chained
	// headers, its content goes, a tombstone remains. Open incidents are
	// never pruned; exported ones may go earlier with incidents prune
	// --exported.
	Retention time.Duration `yaml:"retention"`
	// Context is how far before an incident's first alert its evidence
	// window starts (preserve.go; 0 reads as DefaultIncidentContext).
	Context time.Duration `yaml:"context,omitempty"`
}

// validateIncidents checks incidents:. An explicit zero is rejected rather
// than defaulted: a zero gap or retention reads as "never group" or "keep
// nothing", which breakglass does not offer.
func (c *Config) validateIncidents(d *decoder) {
	in := c.Incidents
	if f := "incidents.gap"; !d.failed[f] {
		if _, set := d.lines[f]; set && (in.Gap < MinIncidentGap || in.Gap > MaxIncidentGap) {
			d.errorf(d.lines[f], f, "must be between %s and %s (default %s): the time between two alerts of one use of an account",
				fmtDuration(MinIncidentGap), fmtDuration(MaxIncidentGap), fmtDuration(DefaultIncidentGap))
		}
	}
	if f := "incidents.retention"; !d.failed[f] {
		if _, set := d.lines[f]; set && in.Retention < MinIncidentRetention {
			d.errorf(d.lines[f], f, "must be at least %s (Entra keeps sign-in logs that long; default %s); write days as 400d",
				fmtDuration(MinIncidentRetention), fmtDuration(DefaultIncidentRetention))
		}
	}
}

func (c *Config) applyIncidentDefaults() {
	if c.Incidents.Gap == 0 {
		c.Incidents.Gap = DefaultIncidentGap
	}
	if c.Incidents.Retention == 0 {
		c.Incidents.Retention = DefaultIncidentRetention
	}
}
