package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/graph/scrub"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// Graph source defaults. Each has its one owner here; config refers to them.
const (
	DefaultGraphPoll    = time.Minute
	DefaultGraphOverlap = 2 * time.Hour
	// DefaultGraphMaxWindow caps how much time one query reads in one
	// poll. A source that was down for a week catches up a day per poll
	// instead of asking Graph for a week at once (which it may refuse or
	// time out on, and which every later poll would ask again).
	DefaultGraphMaxWindow = 24 * time.Hour
	// DefaultGraphRetention is how long Entra keeps sign-in logs (30 days
	// with P1/P2). A checkpoint older than that is a gap: records in it can
	// no longer be read, and that is reported, never passed over silently.
	DefaultGraphRetention = 30 * 24 * time.Hour
)

// legacyGraphCheckpointKey is the single window checkpoint of earlier
// versions; a query without its own checkpoint starts from it.
const legacyGraphCheckpointKey = "graph"

// GraphOptions configure a Graph source.
type GraphOptions struct {
	Name     string
	Accounts []entra.Account
	// AccountsNow, when set, is asked for the list at every poll instead
	// of Accounts: serve's list changes as break-glass group members are
	// read again (internal/membership).
	AccountsNow func() []entra.Account
	Poll        time.Duration // default DefaultGraphPoll
	// Overlap is how far before its checkpoint each query looks again:
	// Graph publishes some sign-ins minutes to hours late, with their
	// original createdDateTime, and a poller that only asks for "newer
	// than last time" misses them. Default DefaultGraphOverlap.
	Overlap time.Duration
	// MaxWindow caps the span after its checkpoint that one query reads
	// in one poll; default DefaultGraphMaxWindow.
	MaxWindow time.Duration
	// Retention is how far back Graph still has records; default
	// DefaultGraphRetention.
	Retention time.Duration
	// FailThreshold is how many consecutive failed polls of one query
	// make it Failing; default DefaultFailThreshold.
	FailThreshold int
	Logger        *slog.Logger
	Now           func() time.Time
}

// Graph polls Microsoft Graph for sign-ins by, and audit events by or on,
// the break-glass accounts. It asks only about those accounts ($filter), so
// it stays far inside Graph's reporting limits, and feeds what it gets to the
// same sink as every other source.
//
// Every query keeps its own checkpoint: the time up to which it has read
// everything. A poll reads [checkpoint-Overlap, min(now, checkpoint+MaxWindow)]
// and moves the checkpoint to the window's end only when the query
// succeeded, so one refused query (a missing licence for beta, a revoked
// permission) neither holds back the others nor loses its own records, and
// a source that was down catches up in chunks without a gap.
type Graph struct {
	o     GraphOptions
	g     graph.Lister
	cp    Checkpoints
	seen  map[string]time.Time // record id → when first seen, kept for Overlap
	since map[string]time.Time // query name → checkpoint, once loaded
	fails *failures
	tidy  bool // stale checkpoints were removed
}

// NewGraph returns a Graph source.
func NewGraph(o GraphOptions, g graph.Lister, cp Checkpoints) (*Graph, error) {
	if o.Name == "" {
		return nil, errors.New("graph source: name required")
	}
	if len(o.Accounts) == 0 && o.AccountsNow == nil {
		return nil, errors.New("graph source: no accounts to watch")
	}
	if g == nil || cp == nil {
		return nil, errors.New("graph source: client and checkpoints required")
	}
	if o.Poll <= 0 {
		o.Poll = DefaultGraphPoll
	}
	if o.Overlap <= 0 {
		o.Overlap = DefaultGraphOverlap
	}
	if o.MaxWindow <= 0 {
		o.MaxWindow = DefaultGraphMaxWindow
	}
	if o.Retention <= 0 {
		o.Retention = DefaultGraphRetention
	}
	if o.FailThreshold <= 0 {
		o.FailThreshold = DefaultFailThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Graph{o: o, g: g, cp: cp, seen: map[string]time.Time{}, since: map[string]time.Time{},
		fails: newFailures(o.Name, o.FailThreshold)}, nil
}

// Name implements Source.
func (s *Graph) Name() string { return s.o.Name }

// Run polls at once and then every Poll until ctx ends.
func (s *Graph) Run(ctx context.Context, sink Sink) error {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	for {
		if err := s.Poll(ctx, sink); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("graph poll incomplete; failed queries are retried next poll", "source", s.o.Name, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// query is one Graph request of a poll.
type query struct {
	name  string // stable: checkpoint key and Failing key
	v     graph.Version
	path  string
	field string // the time property the window applies to
	cond  string // the rest of the filter
}

// Poll runs one poll: every query over its own window. It returns the
// failed queries' errors, joined; the sink is told Alive only when every
// query succeeded.
func (s *Graph) Poll(ctx context.Context, sink Sink) error {
	start := s.o.Now().UTC().Truncate(time.Second)
	var errs []error
	for _, q := range s.queries() {
		if err := s.pollQuery(ctx, sink, q, start); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	// Forget ids older than any window that could return them again.
	for id, at := range s.seen {
		if at.Before(start.Add(-2*s.o.Overlap - 2*s.o.Poll)) {
			delete(s.seen, id)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	sink.Alive(ctx, s.o.Name)
	if !s.tidy {
		s.tidy = s.dropStale(ctx)
	}
	return nil
}

// dropStale removes checkpoints no query uses any more: the single one of
// earlier versions, once every query has its own, and those of accounts
// no longer configured. It reports whether it finished.
func (s *Graph) dropStale(ctx context.Context) bool {
	cps, err := s.cp.Checkpoints(ctx, s.o.Name)
	if err != nil {
		s.o.Logger.Warn("graph source: listing checkpoints failed; stale ones are removed later", "source", s.o.Name, "error", err)
		return false
	}
	current := map[string]bool{}
	for _, q := range s.queries() {
		current[q.name] = true
	}
	for _, c := range cps {
		if current[c.Key] {
			continue
		}
		if err := s.cp.DeleteCheckpoint(ctx, s.o.Name, c.Key); err != nil {
			s.o.Logger.Warn("graph source: removing a stale checkpoint failed", "source", s.o.Name, "key", c.Key, "error", err)
			return false
		}
		s.o.Logger.Info("graph source: removed a checkpoint no query uses", "source", s.o.Name, "key", c.Key)
	}
	return true
}

// pollQuery reads one query's window and advances its checkpoint.
func (s *Graph) pollQuery(ctx context.Context, sink Sink, q query, start time.Time) error {
	since, err := s.checkpoint(ctx, q, start)
	if err != nil {
		s.fails.fail(ctx, sink, q.name, err)
		return err
	}
	if since.After(start) {
		since = start // the clock went back: never wait for a future checkpoint
	}
	oldest := start.Add(-s.o.Retention)
	if since.Before(oldest) {
		gap := fmt.Errorf("graph query %s: checkpoint %s is older than Graph's %s retention: records from %s to %s can no longer be read",
			q.name, since.Format(time.RFC3339), retentionText(s.o.Retention), since.Format(time.RFC3339), oldest.Format(time.RFC3339))
		s.o.Logger.Error("graph source: gap in the logs", "source", s.o.Name, "query", q.name, "error", gap)
		s.fails.now(ctx, sink, q.name, gap)
		since = oldest
	}
	from := since.Add(-s.o.Overlap)
	if from.Before(oldest) {
		from = oldest
	}
	to, capped := start, false
	if end := since.Add(s.o.MaxWindow); end.Before(start) {
		to, capped = end, true
	}
	filter := q.field + " ge " + odataTime(from)
	if capped {
		filter += " and " + q.field + " le " + odataTime(to)
	}
	filter += " and " + q.cond
	if err := s.run(ctx, sink, q, filter); err != nil {
		if ctx.Err() != nil {
			return err
		}
		err = scrub.Error(fmt.Errorf("graph query %s: %w", q.name, err))
		s.fails.fail(ctx, sink, q.name, err)
		return err
	}
	cp := store.Checkpoint{Source: s.o.Name, Key: q.name, Offset: to.UnixNano(), Updated: start}
	if err := s.cp.SetCheckpoint(ctx, cp); err != nil {
		err = fmt.Errorf("graph query %s: saving checkpoint: %w", q.name, err)
		s.fails.fail(ctx, sink, q.name, err)
		return err
	}
	s.since[q.name] = to
	if capped {
		s.o.Logger.Info("graph source catching up", "source", s.o.Name, "query", q.name, "read_to", to, "behind", start.Sub(to))
	} else {
		s.fails.release(q.name) // caught up: a reported gap is over
	}
	s.fails.ok(ctx, sink, q.name)
	return nil
}

// checkpoint returns how far q has read: its own checkpoint, else the
// single checkpoint of earlier versions, else start (a new source reads
// the Overlap before it). That start is kept, and saved, at once: a query
// refused from its very first poll must not let its start slide forward
// with every failed poll, or it would skip the time it was refused.
func (s *Graph) checkpoint(ctx context.Context, q query, start time.Time) (time.Time, error) {
	if t, ok := s.since[q.name]; ok {
		return t, nil
	}
	for _, key := range []string{q.name, legacyGraphCheckpointKey} {
		c, ok, err := s.cp.Checkpoint(ctx, s.o.Name, key)
		if err != nil {
			return time.Time{}, fmt.Errorf("graph query %s: reading checkpoint: %w", q.name, err)
		}
		if ok {
			t := time.Unix(0, c.Offset).UTC()
			s.since[q.name] = t
			return t, nil
		}
	}
	s.since[q.name] = start
	if err := s.cp.SetCheckpoint(ctx, store.Checkpoint{Source: s.o.Name, Key: q.name, Offset: start.UnixNano(), Updated: start}); err != nil {
		// Kept in memory for this run; saved with the first success.
		s.o.Logger.Warn("graph source: saving a new query's start failed", "source", s.o.Name, "query", q.name, "error", err)
	}
	return start, nil
}

func retentionText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d-day", d/(24*time.Hour))
	}
	return d.String()
}

func odataTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// queries lists the requests of one poll. Interactive sign-ins come from
// v1.0; non-interactive ones only from beta, with an explicit event-type
// filter. Service-principal and managed-identity sign-ins are not asked for:
// a break-glass account is a user, so they cannot be its sign-ins.
func (s *Graph) queries() []query {
	var qs []query
	accounts := s.o.Accounts
	if s.o.AccountsNow != nil {
		accounts = s.o.AccountsNow()
	}
	for _, a := range accounts {
		who := strings.ToLower(a.ID)
		user := "userId eq '" + odataString(a.ID) + "'"
		initiator := "initiatedBy/user/id eq '" + odataString(a.ID) + "'"
		target := "targetResources/any(t:t/id eq '" + odataString(a.ID) + "')"
		if a.ID == "" {
			who = strings.ToLower(a.UPN)
			user = "userPrincipalName eq '" + odataString(strings.ToLower(a.UPN)) + "'"
			initiator = "initiatedBy/user/userPrincipalName eq '" + odataString(a.UPN) + "'"
			target = "targetResources/any(t:t/userPrincipalName eq '" + odataString(a.UPN) + "')"
		}
		qs = append(qs,
			query{"signIns/interactive/" + who, graph.V1, "/auditLogs/signIns", "createdDateTime", user},
			query{"signIns/nonInteractive/" + who, graph.Beta, "/auditLogs/signIns", "createdDateTime", user + " and signInEventTypes/any(t: t eq 'nonInteractiveUser')"},
			query{"directoryAudits/initiatedBy/" + who, graph.V1, "/auditLogs/directoryAudits", "activityDateTime", initiator},
			query{"directoryAudits/target/" + who, graph.V1, "/auditLogs/directoryAudits", "activityDateTime", target},
		)
	}
	return qs
}

// odataString escapes a value for a single-quoted OData literal.
func odataString(s string) string { return strings.ReplaceAll(s, "'", "''") }

func (s *Graph) run(ctx context.Context, sink Sink, q query, filter string) error {
	return s.g.List(ctx, q.v, q.path, graph.Query{Filter: filter}, func(items []json.RawMessage) error {
		var fresh []json.RawMessage
		var ids []string
		now := s.o.Now()
		for _, it := range items {
			var rec struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(it, &rec) == nil && rec.ID != "" {
				if _, dup := s.seen[rec.ID]; dup {
					continue
				}
				s.seen[rec.ID] = now
				ids = append(ids, rec.ID)
			}
			fresh = append(fresh, it)
		}
		if len(fresh) == 0 {
			return nil
		}
		var body bytes.Buffer
		body.WriteString(`{"value":[`)
		for i, it := range fresh {
			if i > 0 {
				body.WriteByte(',')
			}
			body.Write(it)
		}
		body.WriteString("]}\n")
		if _, err := sink.Ingest(scan.WithFinal(ctx), s.o.Name, "graph:"+q.name, &body); err != nil {
			// Not seen after all: the next poll must offer them again.
			for _, id := range ids {
				delete(s.seen, id)
			}
			return fmt.Errorf("%s %s: %w", q.v, q.path, err)
		}
		return nil
	})
}
