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
	"breakglass/internal/store"
)

// Graph source defaults.
const (
	DefaultGraphPoll    = time.Minute
	DefaultGraphOverlap = 2 * time.Hour
)

// GraphOptions configure a Graph source.
type GraphOptions struct {
	Name     string
	Accounts []entra.Account
	Poll     time.Duration // default 1 minute
	// Overlap is how far before the last poll each poll looks again: Graph
	// publishes some sign-ins minutes to hours late, with their original
	// createdDateTime, and a poller that only asks for "newer than last
	// time" misses them.
	Overlap time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Graph polls Microsoft Graph for sign-ins by, and audit events by or on,
// the break-glass accounts. It asks only about those accounts ($filter), so
// it stays far inside Graph's reporting limits, and feeds what it gets to the
// same sink as every other source.
type Graph struct {
	o    GraphOptions
	g    graph.Lister
	cp   Checkpoints
	seen map[string]time.Time // record id → when first seen, kept for Overlap
}

// NewGraph returns a Graph source.
func NewGraph(o GraphOptions, g graph.Lister, cp Checkpoints) (*Graph, error) {
	if o.Name == "" {
		return nil, errors.New("graph source: name required")
	}
	if len(o.Accounts) == 0 {
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Graph{o: o, g: g, cp: cp, seen: map[string]time.Time{}}, nil
}

// Name implements Source.
func (s *Graph) Name() string { return s.o.Name }

// Run polls at once and then every Poll until ctx ends.
func (s *Graph) Run(ctx context.Context, sink Sink) error {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	for {
		if err := s.Poll(ctx, sink); err != nil && ctx.Err() == nil {
			s.o.Logger.Error("graph poll incomplete; the window is retried next poll", "source", s.o.Name, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

const graphCheckpointKey = "graph"

// query is one Graph request of a poll.
type query struct {
	v      graph.Version
	path   string
	filter string
}

// Poll runs one poll: every query over [checkpoint - Overlap, now]. The
// checkpoint advances only when every query succeeded, so a failed poll is
// covered again by the next one.
func (s *Graph) Poll(ctx context.Context, sink Sink) error {
	start := s.o.Now().UTC()
	since := start.Add(-s.o.Overlap)
	if cp, ok, err := s.cp.Checkpoint(ctx, s.o.Name, graphCheckpointKey); err != nil {
		return fmt.Errorf("reading checkpoint: %w", err)
	} else if ok {
		since = time.Unix(0, cp.Offset).UTC().Add(-s.o.Overlap)
	}
	var errs []error
	for _, q := range s.queries(since) {
		if err := s.run(ctx, sink, q); err != nil {
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
	return s.cp.SetCheckpoint(ctx, store.Checkpoint{Source: s.o.Name, Key: graphCheckpointKey, Offset: start.UnixNano(), Updated: start})
}

// queries lists the requests for one window. Interactive sign-ins come from
// v1.0; non-interactive ones only from beta, with an explicit event-type
// filter. Service-principal and managed-identity sign-ins are not asked for:
// a break-glass account is a user, so they cannot be its sign-ins.
func (s *Graph) queries(since time.Time) []query {
	ts := since.Format("2006-01-02T15:04:05Z")
	var qs []query
	for _, a := range s.o.Accounts {
		user := "userId eq '" + odataString(a.ID) + "'"
		initiator := "initiatedBy/user/id eq '" + odataString(a.ID) + "'"
		target := "targetResources/any(t:t/id eq '" + odataString(a.ID) + "')"
		if a.ID == "" {
			user = "userPrincipalName eq '" + odataString(strings.ToLower(a.UPN)) + "'"
			initiator = "initiatedBy/user/userPrincipalName eq '" + odataString(a.UPN) + "'"
			target = "targetResources/any(t:t/userPrincipalName eq '" + odataString(a.UPN) + "')"
		}
		qs = append(qs,
			query{graph.V1, "/auditLogs/signIns", "createdDateTime ge " + ts + " and " + user},
			query{graph.Beta, "/auditLogs/signIns", "createdDateTime ge " + ts + " and " + user + " and signInEventTypes/any(t: t eq 'nonInteractiveUser')"},
			query{graph.V1, "/auditLogs/directoryAudits", "activityDateTime ge " + ts + " and " + initiator},
			query{graph.V1, "/auditLogs/directoryAudits", "activityDateTime ge " + ts + " and " + target},
		)
	}
	return qs
}

// odataString escapes a value for a single-quoted OData literal.
func odataString(s string) string { return strings.ReplaceAll(s, "'", "''") }

func (s *Graph) run(ctx context.Context, sink Sink, q query) error {
	return s.g.List(ctx, q.v, q.path, graph.Query{Filter: q.filter}, func(items []json.RawMessage) error {
		var fresh []json.RawMessage
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
		if _, err := sink.Ingest(ctx, s.o.Name, "graph:"+string(q.v)+q.path, &body); err != nil {
			// Not seen after all: the next poll must offer them again.
			for _, it := range fresh {
				var rec struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(it, &rec) == nil {
					delete(s.seen, rec.ID)
				}
			}
			return fmt.Errorf("%s %s: %w", q.v, q.path, err)
		}
		return nil
	})
}
