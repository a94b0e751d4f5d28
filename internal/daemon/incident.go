package daemon

import (
	"time"

	"breakglass/internal/incident"
)

// incidentPoll is how often the incident builder looks for unattached
// alerts without being woken: alerts stored by another process (a scan,
// a second daemon, a misuse review) are attached within it.
const incidentPoll = 10 * time.Second

// setupIncidents builds the incident builder (issue 10). It attaches every
// stored alert to an incident and logs its evidence; the pipeline wakes it
// whenever it stores alerts, and its failures raise bg.source for source
// "incidents" through the pipeline's health.
func (d *Daemon) setupIncidents() {
	d.incidents = incident.New(incident.Options{
		Store: d.st, Gap: d.cfg.Incidents.Gap, Accounts: configUsers(d.cfg),
		Health: d.pipeline, Logger: d.log, Now: d.o.Now,
	})
}

// wakeIncidents wakes the incident builder, once it exists.
func (d *Daemon) wakeIncidents() {
	if d.incidents != nil {
		d.incidents.Wake()
	}
}
