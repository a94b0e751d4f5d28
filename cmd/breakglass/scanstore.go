package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/scan"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// Batching of scan's store writes: one transaction (one fsync) per batch
// instead of one per alert, and alerts still show within a second.
const (
	scanBatch      = 256
	scanFlushEvery = 500 * time.Millisecond
)

// batchStore is the store's batch write: one transaction per batch, and a
// delivery for every target that has none yet, also for alerts that exist
// already.
type batchStore interface {
	AddAlertsNotify(ctx context.Context, items []store.AlertWithEvidence, targets []string) ([]bool, error)
}

// alertSink dedupes findings within the run, stores them in batches and
// prints each new one once it is stored.
type alertSink struct {
	ctx    context.Context
	st     batchStore                              // nil with --no-store
	route  func(labels map[string]string) []string // notify.routes, as serve routes
	tenant string
	out    *alertPrinter

	mu      sync.Mutex
	seen    map[string]bool
	pending []scan.Finding
	newN    int
	known   int
	err     error
	done    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
}

func newAlertSink(ctx context.Context, st store.Store, route func(map[string]string) []string, tenant string, out *alertPrinter) *alertSink {
	s := &alertSink{ctx: ctx, route: route, tenant: tenant, out: out, seen: map[string]bool{}, done: make(chan struct{})}
	if bs, ok := st.(batchStore); ok {
		s.st = bs
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(scanFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.mu.Lock()
				_ = s.flushLocked()
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// add takes one finding (scan's emit).
func (s *alertSink) add(fd scan.Finding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.seen[fd.Alert.ID] {
		s.known++
		return nil
	}
	s.seen[fd.Alert.ID] = true
	input, _, _ := strings.Cut(fd.Alert.Source, ":")
	if input != "stdin" {
		input = filepath.Base(input)
	}
	watch.Label(&fd.Alert, "scan:"+input, s.tenant)
	s.pending = append(s.pending, fd)
	if len(s.pending) >= scanBatch {
		return s.flushLocked()
	}
	return nil
}

func (s *alertSink) flushLocked() error {
	if s.err != nil || len(s.pending) == 0 {
		return s.err
	}
	batch := s.pending
	s.pending = nil
	inserted := make([]bool, len(batch))
	if s.st == nil {
		for i := range inserted {
			inserted[i] = true
		}
	} else {
		items := make([]store.AlertWithEvidence, len(batch))
		for i, fd := range batch {
			items[i] = store.AlertWithEvidence{Alert: fd.Alert, Targets: s.route(fd.Alert.Labels),
				Evidence: store.Evidence{EventID: fd.Alert.EventID, Category: fd.Alert.Category, Source: fd.Alert.Source, Raw: fd.Raw}}
		}
		ins, err := s.st.AddAlertsNotify(s.ctx, items, nil)
		if err != nil {
			s.err = fmt.Errorf("storing alerts: %w", err)
			return s.err
		}
		inserted = ins
	}
	for i, fd := range batch {
		if !inserted[i] {
			s.known++
			continue
		}
		s.newN++
		if err := s.out.print(fd.Alert); err != nil {
			s.err = err
			return err
		}
	}
	return nil
}

// stop flushes what is pending and ends the timer; safe to call twice.
func (s *alertSink) stop() error {
	s.stopped.Do(func() { close(s.done) })
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *alertSink) counts() (newAlerts, known int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newN, s.known
}

// tenantOf is the tenant label: tenant_id, else graph.tenant_id.
func tenantOf(cfg *config.Config) string {
	if cfg.TenantID != "" {
		return cfg.TenantID
	}
	return cfg.Graph.TenantID
}
