package config

import "time"

// Rule is a KQL alert rule (rules:), with the semantics of an Azure
// Monitor scheduled query rule: the query runs every Frequency over the
// records ingested in the last Period, and fires when Threshold holds.
// A pure filter query (a where/extend/project chain over one table) runs
// per record as it arrives instead, with no timer.
type Rule struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
	// Description is shown in alerts and `rules list`.
	Description string        `yaml:"description,omitempty"`
	Frequency   time.Duration `yaml:"frequency,omitempty"`
	Period      time.Duration `yaml:"period,omitempty"`
	// Threshold: nil fires when the query returns any row.
	Threshold *RuleThreshold `yaml:"threshold,omitempty"`
	// Severity 0 (critical) to 4 (verbose), as in Azure Monitor.
	Severity *int `yaml:"severity,omitempty"`
	// MuteFor suppresses further notifications of this rule (per
	// dimension combination) for this long after one fires.
	MuteFor time.Duration `yaml:"mute_for,omitempty"`
	// AutoResolve marks the alert resolved when the condition no longer
	// holds (stateful rules only).
	AutoResolve bool `yaml:"auto_resolve,omitempty"`
	// Dimensions split the alert by these result columns.
	Dimensions []string `yaml:"dimensions,omitempty"`
	// Violations: fire only when Min of the last Of evaluations violated.
	Violations *RuleViolations `yaml:"violations,omitempty"`
	// Labels are added to the rule's alerts (for notify.routes).
	Labels map[string]string `yaml:"labels,omitempty"`
}

// RuleThreshold is the condition on the result: Operator (>, >=, <, <=,
// ==, !=) against Value, on the row count or on the measure Column.
type RuleThreshold struct {
	Operator string  `yaml:"operator"`
	Value    float64 `yaml:"value"`
	Column   string  `yaml:"column,omitempty"`
}

// RuleViolations is Azure's "number of violations to trigger the alert".
type RuleViolations struct {
	Of  int `yaml:"of"`
	Min int `yaml:"min"`
}
