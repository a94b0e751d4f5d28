package watch

import (
	"context"
	"sync"

	"breakglass/internal/store"
)

// Condition is one open condition (a source silent, a source failing), kept
// in the store so that a restart neither loses it nor raises it again.
type Condition = store.Condition

// Conditions is the store's condition table, as the pipeline uses it.
type Conditions interface {
	Condition(ctx context.Context, rule, key string) (Condition, bool, error)
	SetCondition(ctx context.Context, c Condition) error
	ClearCondition(ctx context.Context, rule, key string) error
	Conditions(ctx context.Context, rule string) ([]Condition, error)
}

// MemConditions keeps conditions in memory: for tests, and for a store
// that cannot persist them.
type MemConditions struct {
	mu sync.Mutex
	m  map[[2]string]Condition
}

// NewMemConditions returns an empty in-memory condition table.
func NewMemConditions() *MemConditions { return &MemConditions{m: map[[2]string]Condition{}} }

// Condition implements Conditions.
func (m *MemConditions) Condition(_ context.Context, rule, key string) (Condition, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[[2]string{rule, key}]
	return c, ok, nil
}

// SetCondition implements Conditions.
func (m *MemConditions) SetCondition(_ context.Context, c Condition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[[2]string{c.Rule, c.Key}] = c
	return nil
}

// ClearCondition implements Conditions.
func (m *MemConditions) ClearCondition(_ context.Context, rule, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, [2]string{rule, key})
	return nil
}

// Conditions implements Conditions.
func (m *MemConditions) Conditions(_ context.Context, rule string) ([]Condition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Condition
	for k, c := range m.m {
		if k[0] == rule {
			out = append(out, c)
		}
	}
	return out, nil
}
