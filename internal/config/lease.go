package config

import "time"

// Bounds and default of server.lease_ttl.
const (
	// DefaultLeaseTTL is how long the scheduled work (posture audit, KQL
	// rules, drill reminders, retention, Graph polling, escalation, the
	// canary) waits for a new replica after the one running it dies.
	DefaultLeaseTTL = 15 * time.Second
	// MinLeaseTTL keeps renewals (every third of the TTL) from hammering
	// the store, and a slow store from costing the leader its lease.
	MinLeaseTTL = 3 * time.Second
	// MaxLeaseTTL bounds how long scheduled work, escalation included,
	// may stand still after its replica died.
	MaxLeaseTTL = 5 * time.Minute
)

// LeaseTTLOrDefault is server.lease_ttl, or DefaultLeaseTTL when it is not
// set. Unset stays 0 in the effective config, like any key left out.
func (s ServerConfig) LeaseTTLOrDefault() time.Duration {
	if s.LeaseTTL <= 0 {
		return DefaultLeaseTTL
	}
	return s.LeaseTTL
}

// validateLease checks server.lease_ttl: how long a dead replica keeps
// the scheduled work's lease before another takes it over.
func (c *Config) validateLease(d *decoder) {
	const f = "server.lease_ttl"
	ttl := c.Server.LeaseTTL
	line, ok := d.lines[f]
	if !ok || d.failed[f] {
		return
	}
	if ttl < MinLeaseTTL || ttl > MaxLeaseTTL {
		d.errorf(line, f, "%v is outside %v to %v (default %v): how long scheduled work (audit, rules, escalation) stands still "+
			"after the replica running it dies; each replica renews its lease every third of it", ttl, MinLeaseTTL, MaxLeaseTTL, DefaultLeaseTTL)
	}
}
