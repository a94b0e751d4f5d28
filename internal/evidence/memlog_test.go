package evidence

import (
	"context"
	"fmt"
	"sync"
	"time"

	"breakglass/internal/store"
)

// memLog is a tiny in-memory EvidenceLog for unit tests; the SQLite store
// is exercised in tamper_test.go.
type memLog struct {
	mu      sync.Mutex
	entries []store.LogEntry
	err     error
}

func (m *memLog) AppendLog(_ context.Context, e store.LogEntry) (store.LogEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.Seq = int64(len(m.entries)) + 1
	e.ContentSHA256 = store.ContentHash(e.Content)
	if len(m.entries) > 0 {
		e.Prev = m.entries[len(m.entries)-1].Hash
	}
	e.At = e.At.UTC()
	e.Hash = e.ComputeHash()
	m.entries = append(m.entries, e)
	return e, nil
}

func (m *memLog) AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error) {
	m.mu.Lock()
	for _, x := range m.entries {
		if x.Incident == e.Incident && x.Kind == e.Kind && x.Ref == e.Ref {
			m.mu.Unlock()
			return x, false, nil
		}
	}
	m.mu.Unlock()
	out, err := m.AppendLog(ctx, e)
	return out, err == nil, err
}

func (m *memLog) LogEntries(_ context.Context, after int64, limit int) ([]store.LogEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	var out []store.LogEntry
	for _, e := range m.entries {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memLog) IncidentLog(_ context.Context, id string) ([]store.LogEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.LogEntry
	for _, e := range m.entries {
		if e.Incident == id {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memLog) LogHead(context.Context) (store.LogEntry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return store.LogEntry{}, false, m.err
	}
	if len(m.entries) == 0 {
		return store.LogEntry{}, false, nil
	}
	return m.entries[len(m.entries)-1], true, nil
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

// fill appends n entries alternating between two incidents.
func fill(m *memLog, n int) {
	for i := range n {
		inc := "inc-a"
		if i%3 == 2 {
			inc = "inc-b"
		}
		kind := store.LogRecord
		if i%2 == 1 {
			kind = store.LogAlert
		}
		m.AppendLog(context.Background(), store.LogEntry{
			Incident: inc, Kind: kind, Ref: fmt.Sprintf("ref-%d", i+1),
			At: t0.Add(time.Duration(i) * time.Second), Content: fmt.Appendf(nil, `{"n":%d}`, i+1),
		})
	}
}

var _ store.EvidenceLog = (*memLog)(nil)
