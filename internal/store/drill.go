package store

import (
	"context"
	"time"
)

// Drill states and results (issue: drills). A drill is planned for an
// account and a window, started (its window opens), and finished with
// attestations; its result is computed from what breakglass measured.
const (
	DrillPlanned  = "planned"
	DrillRunning  = "running"
	DrillFinished = "finished"

	DrillPassed = "passed"
	DrillFailed = "failed"
)

// Drill is one announced exercise of a break-glass account.
type Drill struct {
	ID         string
	AccountID  string
	AccountUPN string
	State      string // DrillPlanned, DrillRunning or DrillFinished
	// At is when the window opens (planned), Window how long it stays
	// open; a sign-in of the account inside [At, At+Window) is the drill's.
	At     time.Time
	Window time.Duration
	By     string // who planned it
	Note   string
	// Started and Finished are when drill start / drill finish ran.
	Started  time.Time
	Finished time.Time
	// Result is "" until finished, then DrillPassed or DrillFailed;
	// FailedStep names the step that failed ("detected", "delivery",
	// "acknowledged", "alert_within", "delivery_within", "ack_within").
	Result     string
	FailedStep string
	Reason     string // why, for people
	// AlertID is the drill sign-in's alert, once seen; IncidentID its
	// incident.
	AlertID    string
	IncidentID string
	// Attest maps checklist items to who attested them (drill finish
	// --attest ITEM=NAME).
	Attest map[string]string
	// Measured holds the measured times of the finished drill as JSON,
	// owned by package drill.
	Measured []byte
	Created  time.Time
	Updated  time.Time
}

// DrillFilter narrows Drills; zero values mean any.
type DrillFilter struct {
	AccountID string // case-insensitive
	State     string
	Result    string
	Limit     int // newest At first; 0: all
}

// Drills persists drills. Package drill owns the lifecycle rules; the store
// keeps what it is given, atomically per call.
type Drills interface {
	// AddDrill stores a new drill; an existing ID is an error.
	AddDrill(ctx context.Context, d Drill) error
	// Drill returns one drill, or ErrNotFound.
	Drill(ctx context.Context, id string) (Drill, error)
	// Drills lists drills, newest At first.
	Drills(ctx context.Context, f DrillFilter) ([]Drill, error)
	// UpdateDrill replaces a stored drill (ErrNotFound if absent) when its
	// stored Updated equals prev (optimistic concurrency: two finishes at
	// once must not both win); a mismatch is ErrStateTransition.
	UpdateDrill(ctx context.Context, d Drill, prev time.Time) error
}
