package config

import "time"

// The evidence window of an incident (incidents.context).
const (
	// DefaultIncidentContext is how far before an incident's first alert
	// its evidence window starts: a day shows what the account did (or
	// what was done to it) leading up to the use.
	DefaultIncidentContext = 24 * time.Hour
	// MinIncidentContext and MaxIncidentContext bound incidents.context:
	// under an hour misses the preparation of a use; Graph keeps sign-ins
	// 30 days, so a longer window cannot be read.
	MinIncidentContext = time.Hour
	MaxIncidentContext = 30 * 24 * time.Hour
)

// ContextWindow is incidents.context with its default applied. The field
// keeps 0 when unset so that a configuration printed back stays as
// written; this is the one place the default is applied.
func (c IncidentsConfig) ContextWindow() time.Duration {
	if c.Context == 0 {
		return DefaultIncidentContext
	}
	return c.Context
}

// validateIncidentContext checks incidents.context.
func (c *Config) validateIncidentContext(d *decoder) {
	f := "incidents.context"
	if d.failed[f] {
		return
	}
	if _, set := d.lines[f]; set && (c.Incidents.Context < MinIncidentContext || c.Incidents.Context > MaxIncidentContext) {
		d.errorf(d.lines[f], f, "must be between %s and %s (default %s): how far before an incident's first alert its evidence starts",
			fmtDuration(MinIncidentContext), fmtDuration(MaxIncidentContext), fmtDuration(DefaultIncidentContext))
	}
}
