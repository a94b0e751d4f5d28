package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// conn is what the operations below need from a transaction; every write
// runs in one, so a standalone call and the same call inside Update share
// their code.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	StmtContext(ctx context.Context, stmt *sql.Stmt) *sql.Stmt
}

// write runs fn in a write transaction (BEGIN IMMEDIATE, from the DSN) and
// commits it unless fn fails. Errors that mean the database cannot take
// writes are described (see describe).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", describe(err))
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return describe(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", describe(err))
	}
	return nil
}

// errTxDone is returned by a Tx used after its Update returned.
var errTxDone = errors.New("transaction already finished")

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	t := &txn{s: s}
	err := s.write(ctx, func(tx *sql.Tx) error {
		t.tx = tx
		defer func() { t.tx = nil }() // also on panic
		return fn(t)
	})
	if err != nil {
		return fmt.Errorf("sqlite %s: update: %w", s.path, err)
	}
	return nil
}

// txn is the store.Tx of one Update. It is not safe for concurrent use,
// like the transaction under it.
type txn struct {
	s  *Store
	tx *sql.Tx
}

var _ store.Tx = (*txn)(nil)

func (t *txn) conn() (conn, error) {
	if t.tx == nil {
		return nil, errTxDone
	}
	return t.tx, nil
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
