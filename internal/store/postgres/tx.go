package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// errTxDone is returned by a Tx used after its Update returned.
var errTxDone = errors.New("transaction already finished")

// Update implements store.Store. Unlike the store's own writes, fn is not
// run again when PostgreSQL aborts the transaction for a deadlock between
// replicas: fn may have done more than database work, so the error is
// returned and the caller decides.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	t := &txn{s: s}
	err := s.tx(ctx, nil, func(c conn) error {
		t.c = &c
		defer func() { t.c = nil }() // also on panic
		return fn(t)
	})
	if err != nil {
		return fmt.Errorf("postgres: update: %w", describe(err))
	}
	return nil
}

// txn is the store.Tx of one Update. It is not safe for concurrent use,
// like the transaction under it.
type txn struct {
	s *Store
	c *conn
}

var _ store.Tx = (*txn)(nil)

func (t *txn) conn() (conn, error) {
	if t.c == nil {
		return conn{}, errTxDone
	}
	return *t.c, nil
}

func (t *txn) AddAlert(ctx context.Context, a alert.Alert, ev store.Evidence) (bool, error) {
	return t.AddAlertNotify(ctx, a, ev, nil)
}

func (t *txn) AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error) {
	c, err := t.conn()
	if err != nil {
		return false, err
	}
	ins, err := t.s.addAlerts(ctx, c, []store.AlertWithEvidence{{Alert: a, Evidence: ev}}, targets)
	if err != nil {
		return false, err
	}
	return ins[0], nil
}

func (t *txn) AddAlertsNotify(ctx context.Context, items []store.AlertWithEvidence, targets []string) ([]bool, error) {
	c, err := t.conn()
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, nil
	}
	return t.s.addAlerts(ctx, c, items, targets)
}

func (t *txn) Enqueue(ctx context.Context, alertID, status string, targets []string) error {
	c, err := t.conn()
	if err != nil {
		return err
	}
	return t.s.enqueue(ctx, c, alertID, status, targets)
}

func (t *txn) SetAlertState(ctx context.Context, id, state, by string, at time.Time) error {
	c, err := t.conn()
	if err != nil {
		return err
	}
	_, err = t.s.changeAlertState(ctx, c, store.StateChange{AlertID: id, To: state, By: by, At: at})
	return err
}

func (t *txn) ChangeAlertState(ctx context.Context, sc store.StateChange) (bool, error) {
	c, err := t.conn()
	if err != nil {
		return false, err
	}
	return t.s.changeAlertState(ctx, c, sc)
}

func (t *txn) Alert(ctx context.Context, id string) (alert.Alert, error) {
	c, err := t.conn()
	if err != nil {
		return alert.Alert{}, err
	}
	return t.s.alert(ctx, c, id)
}

func (t *txn) SetCheckpoint(ctx context.Context, cp store.Checkpoint) error {
	c, err := t.conn()
	if err != nil {
		return err
	}
	return t.s.setCheckpoint(ctx, c, cp)
}

func (t *txn) Checkpoint(ctx context.Context, source, key string) (store.Checkpoint, bool, error) {
	c, err := t.conn()
	if err != nil {
		return store.Checkpoint{}, false, err
	}
	return t.s.checkpoint(ctx, c, source, key)
}

func (t *txn) SetCondition(ctx context.Context, cd store.Condition) error {
	c, err := t.conn()
	if err != nil {
		return err
	}
	return t.s.setCondition(ctx, c, cd)
}

func (t *txn) ClearCondition(ctx context.Context, rule, key string) error {
	c, err := t.conn()
	if err != nil {
		return err
	}
	return t.s.clearCondition(ctx, c, rule, key)
}

func (t *txn) Condition(ctx context.Context, rule, key string) (store.Condition, bool, error) {
	c, err := t.conn()
	if err != nil {
		return store.Condition{}, false, err
	}
	return t.s.condition(ctx, c, rule, key)
}
