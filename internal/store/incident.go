package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"breakglass/internal/alert"
)

// Incident kinds: what an incident is about. Alerts of one break-glass
// account that are close in time form one account incident; watcher
// failures (silence, failing sources, undeliverable notifications) and
// posture drift form incidents of their own.
const (
	IncidentAccount = "account"
	IncidentSilence = "silence"
	IncidentSource  = "source"
	IncidentPosture = "posture"
	IncidentNotify  = "notify"
	// IncidentCanary holds the daily canary's test alerts and its
	// failures (internal/canary), never an account's incident.
	IncidentCanary = "canary"
)

// Incident states, in lifecycle order.
const (
	IncidentOpen         = "open"
	IncidentAcknowledged = "acknowledged"
	IncidentReviewed     = "reviewed"
	IncidentClosed       = "closed"
)

// Review classifications (incidents review --as).
const (
	ClassDrill     = "drill"
	ClassEmergency = "emergency"
	ClassMisuse    = "misuse"
)

// Incident is one use of a break-glass account (or one watcher failure),
// gathering its alerts, with a lifecycle and a review.
type Incident struct {
	ID string
	// Key groups alerts: the account's object id in lower case (else its
	// UPN) for account incidents, "<kind>:<subject>" for the others.
	Key        string
	Kind       string
	AccountID  string
	AccountUPN string
	State      string
	// Opened is when the incident was opened (the first alert was
	// attached); FirstEvent and LastEvent bound the event times of its
	// alerts, and LastEvent is what the grouping gap is measured from.
	Opened     time.Time
	FirstEvent time.Time
	LastEvent  time.Time
	Updated    time.Time
	// Previous is the incident of the same key that this one follows
	// (it was closed when this one opened), "" for the first.
	Previous string
	// Alerts are the ids of its alerts, in the order they were attached.
	Alerts []string
	Review *Review // nil until reviewed
	// Pruned is set once the incident was pruned (prune.go): what is
	// left is this tombstone; its transitions are gone, its review is
	// reduced to class, reviewer and time, and its evidence-log entries
	// keep their headers only.
	Pruned *IncidentPrune
}

// Review is the post-use review the guidance asks for.
type Review struct {
	Class string // ClassDrill, ClassEmergency or ClassMisuse
	By    string
	At    time.Time
	Note  string
	// Attest says, per action group (or other scope), whether the actions
	// taken matched the authorised use: "yes", or an explanation.
	Attest map[string]string
}

// IncidentChange is one recorded transition of an incident.
type IncidentChange struct {
	IncidentID string
	From, To   string
	By         string
	At         time.Time
	Note       string
}

// IncidentFilter narrows Incidents; zero values mean any.
type IncidentFilter struct {
	State     string
	Kind      string
	AccountID string    // case-insensitive
	Since     time.Time // Opened at or after
	Limit     int       // newest first; 0: all
}

// Incidents persists incidents. The store owns grouping atomically, so two
// processes attaching alerts of one account at once still form one
// incident.
type Incidents interface {
	// AttachAlert puts alert a into the incident of key: the newest
	// incident of that key that is not closed and whose span
	// [FirstEvent, LastEvent] is within gap of a.EventTime (either side;
	// for alerts arriving in order, within gap of LastEvent), else a new
	// incident opened at at, whose Previous is the newest earlier incident
	// of the key. Attaching an alert that is attached already returns its
	// incident and opened false, changing nothing.
	AttachAlert(ctx context.Context, a alert.Alert, key, kind string, gap time.Duration, at time.Time) (inc Incident, opened bool, err error)
	// Incident returns one incident, or ErrNotFound.
	Incident(ctx context.Context, id string) (Incident, error)
	// IncidentOf returns the incident an alert is attached to, or
	// ErrNotFound.
	IncidentOf(ctx context.Context, alertID string) (Incident, error)
	// Incidents lists incidents, newest Opened first.
	Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	// SetIncidentState moves an incident along open → acknowledged →
	// reviewed → closed (acknowledging may be skipped; reviewed is set by
	// SetReview; closed requires a review), recording who, when and why.
	// Setting the state it has is a no-op; any other move is
	// ErrStateTransition; an unknown id is ErrNotFound.
	SetIncidentState(ctx context.Context, id, state, by, note string, at time.Time) error
	// SetReview records the review and moves the incident to reviewed
	// (from open or acknowledged; a reviewed incident may be reviewed
	// again, the last review wins and every one is recorded as a change).
	// A closed incident is ErrStateTransition.
	SetReview(ctx context.Context, id string, r Review) error
	// IncidentChanges lists an incident's transitions, oldest first. The
	// first is the opening ("" to open). An unknown id is ErrNotFound.
	IncidentChanges(ctx context.Context, id string) ([]IncidentChange, error)
	// UnattachedAlerts returns up to limit (0: 100) stored alerts that no
	// incident holds yet, oldest stored first: the work of the incident
	// builder, which attaches them until none is left.
	UnattachedAlerts(ctx context.Context, limit int) ([]alert.Alert, error)
}

// Evidence log entry kinds.
const (
	LogRecord   = "record"   // a raw record, byte for byte as received
	LogAlert    = "alert"    // an alert (JSON) attached to an incident
	LogIncident = "incident" // an incident transition or review (JSON)
	LogNotify   = "notify"   // a notification outcome or acknowledgement (JSON)
	LogSnapshot = "snapshot" // the account's state when the incident opened (JSON)
	LogPull     = "pull"     // records fetched from Graph for the context window
)

// LogEntry is one entry of the append-only evidence log. The store assigns
// Seq, ContentSHA256, Prev and Hash when appending; nothing ever changes or
// removes an entry, so each entry's Hash covers its content and the entry
// before it (a hash chain) and any later edit, deletion, insertion or
// reordering shows as a broken link.
type LogEntry struct {
	Seq      int64  // 1, 2, 3, ... without gaps
	Incident string // the incident it belongs to, "" for none
	Kind     string // Log*
	// Ref names what the content is: an event id, an alert id, ...
	Ref           string
	At            time.Time
	Content       []byte
	ContentSHA256 string // hex SHA-256 of Content
	Prev          string // Hash of entry Seq-1, "" for Seq 1
	Hash          string
	// Pruned is when a prune of the entry's incident dropped its Content
	// (zero: never). It is not part of the hash: the header, content hash
	// included, still proves what the content was.
	Pruned time.Time
}

// ComputeHash is the hash the chain stores for e: SHA-256 over its Seq,
// Incident, Kind, Ref, At (RFC 3339, nanoseconds, UTC), ContentSHA256 and
// Prev, each length-prefixed so that no two different entries encode
// alike. Verification recomputes it; it is the one definition of the chain.
func (e LogEntry) ComputeHash() string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(e.Seq, 10), e.Incident, e.Kind, e.Ref,
		e.At.UTC().Format(time.RFC3339Nano), e.ContentSHA256, e.Prev,
	} {
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ContentHash is the hex SHA-256 of content, as stored in ContentSHA256.
func ContentHash(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])
}

// EvidenceLog is the append-only, hash-chained evidence log.
type EvidenceLog interface {
	// AppendLog appends e (Incident, Kind, Ref, At, Content) and returns it
	// as stored, with Seq, ContentSHA256, Prev and Hash filled in.
	// Appends are serialised across processes: the chain never forks.
	AppendLog(ctx context.Context, e LogEntry) (LogEntry, error)
	// AppendLogOnce is AppendLog unless the log holds an entry with e's
	// Incident, Kind and Ref already: then it returns that entry and false.
	// The check and the append are one atomic step, so a record two
	// writers find at once (the incident builder and a Graph pull) is kept
	// once.
	AppendLogOnce(ctx context.Context, e LogEntry) (LogEntry, bool, error)
	// LogEntries returns up to limit entries with Seq > after, in Seq
	// order, as stored (verification must see exactly what is there).
	LogEntries(ctx context.Context, after int64, limit int) ([]LogEntry, error)
	// IncidentLog returns the entries of one incident, in Seq order.
	IncidentLog(ctx context.Context, incident string) ([]LogEntry, error)
	// LogHead returns the last entry, or false when the log is empty.
	LogHead(ctx context.Context) (LogEntry, bool, error)
}
