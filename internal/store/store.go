// Package store defines what breakglass persists: alerts with the raw records
// that prove them and the dedupe keys that make every alert unique, the
// notification outbox, source checkpoints, and the state of long-lived
// conditions (silence, failing sources). The interface is implemented by
// store/sqlite today and by PostgreSQL later; both must pass the shared suite
// in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"breakglass/internal/alert"
)

// ErrNotFound is returned when a requested item does not exist.
var ErrNotFound = errors.New("not found")

// ErrInvalidCursor is returned by AlertPage for a cursor it did not issue.
var ErrInvalidCursor = errors.New("invalid cursor")

// ErrStateTransition is returned by SetAlertState for a transition the
// alert lifecycle does not allow (see SetAlertState).
var ErrStateTransition = errors.New("state transition not allowed")

// Evidence is the raw record behind an alert, kept byte-for-byte so reviews
// can see exactly what Entra logged.
type Evidence struct {
	EventID  string
	Category string
	Source   string
	Raw      []byte
	SHA256   string // hex digest of Raw, computed by the store
	Stored   time.Time
}

// AlertWithEvidence is one alert and the record that raised it, for the
// batch path (AddAlertsNotify).
type AlertWithEvidence struct {
	Alert    alert.Alert
	Evidence Evidence
	// Targets get a firing delivery each, in addition to the targets passed
	// to AddAlertsNotify, under the same rule as AddAlertNotify.
	Targets []string
}

// AlertFilter narrows Alerts and AlertPage. Zero values mean "any".
type AlertFilter struct {
	Rule string
	// AccountID matches case-insensitively: log sources disagree on the case
	// of the same Entra object id.
	AccountID string
	// State keeps alerts in that lifecycle state (alert.StateFiring, ...).
	State string
	// Labels keeps alerts whose stored Labels contain every pair given here
	// (exact, case-sensitive match of key and value).
	Labels map[string]string
	// Since keeps alerts whose EventTime is at or after it; Until those
	// whose EventTime is before it.
	Since, Until time.Time
	// Severities keeps alerts of any of these severities (none: any).
	Severities []alert.Severity
	// DetectedSince keeps alerts whose Detected is at or after it: the
	// escalator's window (firing alerts that may still escalate), which
	// event time cannot give, since a record may arrive long after it was
	// logged.
	DetectedSince time.Time
	// Limit caps how many of the newest matching alerts Alerts returns;
	// AlertPage uses it as the page size when its own limit is zero.
	Limit int
}

// Store is the persistence every command shares. Implementations must be safe
// for concurrent use, also by several processes on one store, and return
// times in UTC, exact to the nanosecond.
type Store interface {
	// AddAlert stores the alert and its evidence unless an alert with the same
	// ID exists already. It reports whether the alert is new. Evidence is
	// stored once per EventID however many alerts point at it; the first
	// copy stored is kept. An alert stored with State "" reads back as
	// alert.StateFiring; every other field round-trips exactly.
	AddAlert(ctx context.Context, a alert.Alert, ev Evidence) (inserted bool, err error)
	// Alert returns one alert by ID, or ErrNotFound.
	Alert(ctx context.Context, id string) (alert.Alert, error)
	// Alerts lists alerts, newest event first, ties in ID order.
	Alerts(ctx context.Context, f AlertFilter) ([]alert.Alert, error)
	// AlertPage lists alerts in the order of Alerts, limit at a time (zero
	// means f.Limit, else 100). cursor is "" for the first page and next
	// from the previous call after that; next is "" after the last page.
	// The cursor is a position, not a snapshot: an alert inserted between
	// two calls shows on a later page if it sorts after the cursor, and no
	// alert that existed throughout is skipped or returned twice. A cursor
	// not issued by AlertPage is an error wrapping ErrInvalidCursor.
	AlertPage(ctx context.Context, f AlertFilter, cursor string, limit int) (alerts []alert.Alert, next string, err error)
	// SetAlertState moves an alert through its lifecycle, recording who did
	// it and when. Allowed: firing → acknowledged or resolved; acknowledged
	// → resolved, or back to firing (a responder hands it back); resolved →
	// firing (reopened). resolved → acknowledged is ErrStateTransition.
	// Setting the state it already has is a no-op. An unknown id is
	// ErrNotFound.
	SetAlertState(ctx context.Context, id, state, by string, at time.Time) error
	// ChangeAlertState is SetAlertState that also records how the change
	// was made and a note (c.Via, c.Note) next to who (c.By) and when
	// (c.At, zero: now); c.AlertID names the alert, c.To the new state and
	// c.From is ignored. It reports whether the state changed: false when
	// the alert already was in c.To, which records nothing (a repeated
	// acknowledgement, a replayed webhook).
	ChangeAlertState(ctx context.Context, c StateChange) (changed bool, err error)
	// StateChanges returns an alert's state transitions, oldest first.
	StateChanges(ctx context.Context, id string) ([]StateChange, error)
	// Evidence returns the raw record for an event id, or ErrNotFound.
	Evidence(ctx context.Context, eventID string) (Evidence, error)

	Outbox
	Checkpoints
	Conditions
	Incidents
	EvidenceLog
	Drills
	Leases
	PostureReports

	// Update runs fn in one transaction: everything fn does through tx is
	// stored together or, when fn returns an error (which Update returns)
	// or panics, not at all. fn must use only tx, not the Store, which
	// other writers wait for meanwhile; tx is invalid once fn returns.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Writable does a real write and returns nil, or an error that names
	// the cause: read-only, full, corrupted, or another I/O failure.
	// Readiness reflects it.
	Writable(ctx context.Context) error

	// Close releases the store.
	Close() error
}

// Tx is the unit of work Update hands out: the writes of Store, and reads
// that see them, inside one transaction.
type Tx interface {
	AddAlert(ctx context.Context, a alert.Alert, ev Evidence) (inserted bool, err error)
	AddAlertNotify(ctx context.Context, a alert.Alert, ev Evidence, targets []string) (inserted bool, err error)
	AddAlertsNotify(ctx context.Context, items []AlertWithEvidence, targets []string) (inserted []bool, err error)
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
	SetAlertState(ctx context.Context, id, state, by string, at time.Time) error
	ChangeAlertState(ctx context.Context, c StateChange) (changed bool, err error)
	Alert(ctx context.Context, id string) (alert.Alert, error)
	SetCheckpoint(ctx context.Context, c Checkpoint) error
	Checkpoint(ctx context.Context, source, key string) (Checkpoint, bool, error)
	SetCondition(ctx context.Context, c Condition) error
	ClearCondition(ctx context.Context, rule, key string) error
	Condition(ctx context.Context, rule, key string) (Condition, bool, error)
}

// StateChange is one recorded move of an alert between lifecycle states.
type StateChange struct {
	AlertID  string
	From, To string
	By       string
	// Via is how the change was made (Via* below; "" for changes recorded
	// before it was kept, or by SetAlertState).
	Via  string
	Note string // what the person said, if anything
	At   time.Time
}

// How an alert's state was changed (StateChange.Via).
const (
	ViaCLI       = "cli"       // breakglass alerts ack
	ViaLink      = "link"      // the signed link in a message
	ViaPagerDuty = "pagerduty" // a PagerDuty webhook
	ViaOpsgenie  = "opsgenie"  // an Opsgenie webhook
	ViaIncident  = "incident"  // with its incident (breakglass incidents ack)
	ViaWeb       = "web"       // the dashboard's acknowledge button
)

// Notification statuses: an alert fires; a condition alert (bg.silence) also
// resolves.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Delivery is one notification: one alert (in one status) to one target.
// Targets are opaque names chosen by the notifier ("group/channel").
type Delivery struct {
	ID          int64
	AlertID     string
	Status      string // StatusFiring or StatusResolved
	Target      string
	Attempts    int
	NextAttempt time.Time
	Created     time.Time
	LastError   string
	// LeaseOwner holds the delivery until LeaseUntil (see ClaimDeliveries);
	// both are zero when no dispatcher holds it.
	LeaseOwner string
	LeaseUntil time.Time
	// DeadAt and DeadReason are set once the delivery is dead-lettered.
	DeadAt     time.Time
	DeadReason string
	// Delivered is when the delivery was completed, zero while it is not.
	// A delivery completed after it was dead-lettered has both: it was
	// delivered.
	Delivered time.Time
	// Pruned: Prune removed the delivered row (store.retention); only
	// AlertID, Status, Target and Delivered are still known. Listed by
	// AlertDeliveries, so an incident keeps who was paged and when.
	Pruned bool
}

// Sends is how many times the delivery was sent: Attempts counts the
// failed sends, so a delivered one adds the send that delivered.
func (d Delivery) Sends() int {
	if !d.Delivered.IsZero() {
		return d.Attempts + 1
	}
	return d.Attempts
}

// PruneStats counts what Prune removed.
type PruneStats struct {
	Deliveries int // delivered outbox rows removed
}

// Outbox makes notification durable: deliveries are written in the same
// transaction as the alert, so an alert that was stored is delivered even if
// the process dies before sending it (at-least-once).
type Outbox interface {
	// AddAlertNotify is AddAlert that also enqueues, in the same
	// transaction, a firing delivery for every target that has none for
	// this alert yet, also when the alert existed already (stored by a scan,
	// or by another process that notified other targets): each (alert,
	// target) is notified once, whoever stored the alert first. It reports
	// whether the alert was new.
	AddAlertNotify(ctx context.Context, a alert.Alert, ev Evidence, targets []string) (inserted bool, err error)
	// AddAlertsNotify is AddAlertNotify for many alerts in one transaction
	// (all or nothing); every item gets a delivery for each of targets and
	// of its own Targets. inserted[i] reports whether items[i] was new; an
	// alert ID repeated in items is new at most once.
	AddAlertsNotify(ctx context.Context, items []AlertWithEvidence, targets []string) (inserted []bool, err error)
	// Enqueue adds deliveries for an existing alert (e.g. its resolution).
	// Enqueuing the same (alert, status, target) twice is a no-op, also
	// after the first was delivered, dead-lettered or pruned.
	Enqueue(ctx context.Context, alertID, status string, targets []string) error
	// DueDeliveries returns undelivered, not dead-lettered deliveries whose
	// NextAttempt is at or before now, oldest first, leased or not. It is
	// a plain read; dispatchers should use ClaimDeliveries.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// ClaimDeliveries returns up to limit deliveries that DueDeliveries
	// would return and that no lease holds at now (never leased, released,
	// or expired), oldest first, and leases them to owner until now+lease,
	// atomically: while a lease is live no other claim returns it, in this
	// process or another.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// ReleaseDelivery gives up owner's lease on a delivery without
	// recording an attempt (a dispatcher shutting down), so another may
	// claim it at once. A lease held by someone else is left alone.
	ReleaseDelivery(ctx context.Context, id int64, owner string) error
	// ReleaseLeases gives up every lease owner holds and reports how many.
	// A dispatcher with a stable owner name calls it when it starts: leases
	// left by its own previous run (a crash, SIGKILL) are then claimable at
	// once instead of only when they expire. Others' leases are untouched.
	ReleaseLeases(ctx context.Context, owner string) (int, error)
	// CompleteDelivery marks a delivery done and releases its lease; it is
	// not returned again.
	CompleteDelivery(ctx context.Context, id int64, at time.Time) error
	// RetryDelivery records a failed attempt and when to try next, and
	// releases the lease.
	RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	// DeadLetter gives up on an undelivered delivery (its target no longer
	// exists, or it failed past the give-up time): it is never returned by
	// DueDeliveries or ClaimDeliveries again, does not count in
	// OutboxDepth, and is listed by DeadLetters. Dead-lettering a
	// delivered or dead delivery again changes nothing.
	DeadLetter(ctx context.Context, id int64, at time.Time, reason string) error
	// DeadLetters lists dead-lettered deliveries, most recent first.
	DeadLetters(ctx context.Context, limit int) ([]Delivery, error)
	// AlertDeliveries returns every delivery of one alert, pending,
	// delivered or dead-lettered, in status then target order: what was
	// sent where. A delivered one that Prune removed is still listed, with
	// Pruned set and what Prune keeps (status, target, when delivered).
	// An unknown alert is ErrNotFound.
	AlertDeliveries(ctx context.Context, alertID string) ([]Delivery, error)
	// DeadLetterCount counts dead-lettered deliveries.
	DeadLetterCount(ctx context.Context) (int, error)
	// OutboxDepth counts undelivered deliveries that are not dead-lettered.
	OutboxDepth(ctx context.Context) (int, error)
	// Prune deletes deliveries delivered before before. Their (alert,
	// status, target) keys are kept, so Enqueue and AddAlertNotify never
	// create and send them again. Alerts, evidence, pending and
	// dead-lettered deliveries, incidents and the evidence log are never
	// pruned.
	Prune(ctx context.Context, before time.Time) (PruneStats, error)
}

// Checkpoint is how far a source has read one input (a file), so that a
// restart resumes exactly there.
type Checkpoint struct {
	Source  string // source name from the config
	Key     string // input identity within the source (file path + device/inode)
	Offset  int64  // bytes of the input fully processed
	Size    int64  // size of the input when Offset was recorded
	Updated time.Time
}

// Checkpoints persists source progress and liveness.
type Checkpoints interface {
	// Checkpoint returns the checkpoint for (source, key), or false.
	Checkpoint(ctx context.Context, source, key string) (Checkpoint, bool, error)
	// SetCheckpoint creates or replaces a checkpoint.
	SetCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints lists a source's checkpoints.
	Checkpoints(ctx context.Context, source string) ([]Checkpoint, error)
	// DeleteCheckpoint removes a checkpoint (its file no longer exists);
	// removing one that does not exist is not an error.
	DeleteCheckpoint(ctx context.Context, source, key string) error
	// SetSourceAlive records that source read or polled successfully at
	// at. It never moves backwards: an earlier at than the one stored is
	// ignored. Each call is a durable write, so callers signalling on every
	// read should record at most every few seconds.
	SetSourceAlive(ctx context.Context, source string, at time.Time) error
	// SourceAlive returns when source last signalled life, or false.
	SourceAlive(ctx context.Context, source string) (time.Time, bool, error)
}

// Condition is the persisted state of a long-lived condition that a rule
// tracks across restarts: an open bg.silence for a source, a failing Graph
// query for bg.source, later posture drift. (Rule, Key) identifies it.
type Condition struct {
	Rule string // the rule that owns it, e.g. "bg.silence"
	Key  string // what it is about within the rule, e.g. the source name
	// AlertID is the alert raised for it, if any, so that clearing the
	// condition can resolve that alert.
	AlertID string
	Since   time.Time // when the condition began
	Updated time.Time // when it was last set
	Data    []byte    // rule-specific state; an empty Data reads back as nil
}

// Conditions persists rule conditions.
type Conditions interface {
	// Condition returns the condition (rule, key), or false.
	Condition(ctx context.Context, rule, key string) (Condition, bool, error)
	// SetCondition creates or replaces a condition. A zero Updated means
	// now; a zero Since keeps the Since already stored, or means now for a
	// new condition. Rule must be set.
	SetCondition(ctx context.Context, c Condition) error
	// ClearCondition removes a condition; clearing one that does not exist
	// is not an error.
	ClearCondition(ctx context.Context, rule, key string) error
	// Conditions lists a rule's conditions in key order, or every
	// condition (in rule, key order) when rule is "".
	Conditions(ctx context.Context, rule string) ([]Condition, error)
}

// Causes of a store that cannot write, for Writable and every write path:
// errors wrap one of these (test with errors.Is) next to the backend's own
// error, so readiness and logs can say what is wrong.
var (
	ErrReadOnly = errors.New("store is read-only")
	ErrFull     = errors.New("store is full")
	ErrCorrupt  = errors.New("store is corrupted")
)

// Leases elect one holder of a named piece of work among processes sharing
// a store: the scheduled loops of several serve replicas (internal/leader).
//
// Whose clock: the store's. SQLite is one file on one host, so its
// processes share that host's clock; PostgreSQL uses the database server's
// now(), so clock skew between replicas can never give a lease two holders.
// A holder must stop acting on a lease at its own send time of the last
// successful AcquireLease plus ttl (its monotonic clock), which is never
// later than the Until the store granted.
type Leases interface {
	// AcquireLease takes or renews lease name for owner until now+ttl and
	// reports whether owner holds it afterwards: true when it was free,
	// expired, released, or already owner's (then renewed, also when it had
	// expired meanwhile and nobody took it). false, nil when another owner
	// holds it. name and owner must be non-empty and ttl positive.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (held bool, err error)
	// ReleaseLease gives the lease up if owner holds it (a clean shutdown
	// hands over at once). Releasing a lease owner does not hold, or one
	// that does not exist, changes nothing and is not an error.
	ReleaseLease(ctx context.Context, name, owner string) error
	// Lease returns the current holder and expiry, or ErrNotFound when the
	// lease was never taken or was released. A lease whose holder died is
	// returned with an Until in the past (by the store's clock) until
	// someone takes it.
	Lease(ctx context.Context, name string) (LeaseInfo, error)
}

// LeaseInfo is the state of one lease.
type LeaseInfo struct {
	Name, Owner string
	// Until is when the lease expires unless renewed; Acquired is when
	// Owner took it (renewals keep it). Both by the store's clock, UTC.
	Until, Acquired time.Time
	// Epoch increments on every change of owner (a release counts: the
	// next acquisition is a new term), never on a renewal: a fencing
	// token, so a write made under the lease can be checked against the
	// term it was made in. The first holder has epoch 1.
	Epoch int64
}
