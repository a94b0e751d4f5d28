package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakglass/internal/store"
)

var _ store.Auth = (*Store)(nil)

func (s *Store) authErr(op string, err error) error {
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// isUnique reports a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool { return pgCode(err) == codeUnique }

// --- users ---

const userColumns = `name, role, password_hash, created, updated, tenants`

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var created, updated, tenants string
	if err := scan(sc, &u.Name, &u.Role, &u.PasswordHash, &created, &updated, &tenants); err != nil {
		return u, err
	}
	u.Tenants = store.SplitTenants(tenants)
	var err error
	if u.Created, err = decodeTime("created", created); err != nil {
		return u, fmt.Errorf("user %q: %w", u.Name, err)
	}
	if u.Updated, err = decodeTime("updated", updated); err != nil {
		return u, fmt.Errorf("user %q: %w", u.Name, err)
	}
	return u, nil
}

// AddUser implements store.Auth. A zero Created is now; a zero Updated is
// Created.
func (s *Store) AddUser(ctx context.Context, u store.User) error {
	if u.Name == "" || u.Role == "" || u.PasswordHash == "" {
		return s.authErr("add user", errors.New("name, role and password hash are required"))
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	if u.Updated.IsZero() {
		u.Updated = u.Created
	}
	created, err := encodeTime("created", u.Created)
	if err != nil {
		return s.authErr("add user", err)
	}
	updated, err := encodeTime("updated", u.Updated)
	if err != nil {
		return s.authErr("add user", err)
	}
	err = s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO auth_users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.Name, u.Role, u.PasswordHash, created, updated, store.JoinTenants(u.Tenants))
		return err
	})
	if isUnique(err) {
		return s.authErr("add user", fmt.Errorf("user %q: %w", u.Name, store.ErrExists))
	}
	if err != nil {
		return s.authErr("add user", err)
	}
	return nil
}

// User implements store.Auth.
func (s *Store) User(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.read().row(ctx, `SELECT `+userColumns+` FROM auth_users WHERE lower(name) = lower($1)`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, s.authErr("read user", err)
	}
	return u, nil
}

// Users implements store.Auth.
func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	rows, err := s.read().query(ctx, `SELECT `+userColumns+` FROM auth_users ORDER BY lower(name), name`)
	if err != nil {
		return nil, s.authErr("list users", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.authErr("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.authErr("list users", err)
	}
	return out, nil
}

// SetUserPassword implements store.Auth.
func (s *Store) SetUserPassword(ctx context.Context, name, hash string, at time.Time) error {
	if hash == "" {
		return s.authErr("set password", errors.New("empty hash"))
	}
	t, err := encodeTime("updated", at)
	if err != nil {
		return s.authErr("set password", err)
	}
	err = s.write(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE auth_users SET password_hash = $1, updated = $2 WHERE lower(name) = lower($3)`, hash, t, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		// A new password ends every session signed in with the old one.
		_, err = c.exec(ctx, `DELETE FROM auth_sessions WHERE lower(user_name) = lower($1) AND source = ''`, name)
		return err
	})
	if err != nil {
		return s.authErr("set password", err)
	}
	return nil
}

// RemoveUser implements store.Auth.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	err := s.write(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `DELETE FROM auth_sessions WHERE lower(user_name) = lower($1) AND source = ''`, name); err != nil {
			return err
		}
		res, err := c.exec(ctx, `DELETE FROM auth_users WHERE lower(name) = lower($1)`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return s.authErr("remove user", err)
	}
	return nil
}

// --- tokens ---

const tokenColumns = `name, role, hash, created, expires, revoked, last_used, created_by, tenants`

func scanToken(sc scanner) (store.Token, error) {
	var (
		t                 store.Token
		created, expires  string
		revoked, lastUsed sql.NullString
		tenants           string
	)
	if err := scan(sc, &t.Name, &t.Role, &t.Hash, &created, &expires, &revoked, &lastUsed, &t.CreatedBy, &tenants); err != nil {
		return t, err
	}
	t.Tenants = store.SplitTenants(tenants)
	var err error
	if t.Created, err = decodeTime("created", created); err != nil {
		return t, fmt.Errorf("token %q: %w", t.Name, err)
	}
	if t.Expires, err = decodeTime("expires", expires); err != nil {
		return t, fmt.Errorf("token %q: %w", t.Name, err)
	}
	if t.Revoked, err = decodeNullTime("revoked", revoked); err != nil {
		return t, fmt.Errorf("token %q: %w", t.Name, err)
	}
	if t.LastUsed, err = decodeNullTime("last_used", lastUsed); err != nil {
		return t, fmt.Errorf("token %q: %w", t.Name, err)
	}
	return t, nil
}

// AddToken implements store.Auth.
func (s *Store) AddToken(ctx context.Context, t store.Token) error {
	switch {
	case t.Name == "" || t.Role == "" || t.Hash == "":
		return s.authErr("add token", errors.New("name, role and hash are required"))
	case t.Expires.IsZero():
		return s.authErr("add token", fmt.Errorf("token %q: no expiry: every token expires", t.Name))
	}
	if t.Created.IsZero() {
		t.Created = time.Now()
	}
	args := []any{t.Name, t.Role, t.Hash}
	for _, v := range []struct {
		f string
		t time.Time
	}{{"created", t.Created}, {"expires", t.Expires}} {
		e, err := encodeTime(v.f, v.t)
		if err != nil {
			return s.authErr("add token", err)
		}
		args = append(args, e)
	}
	for _, v := range []struct {
		f string
		t time.Time
	}{{"revoked", t.Revoked}, {"last_used", t.LastUsed}} {
		e, err := encodeNullTime(v.f, v.t)
		if err != nil {
			return s.authErr("add token", err)
		}
		args = append(args, e)
	}
	args = append(args, t.CreatedBy, store.JoinTenants(t.Tenants))
	err := s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO auth_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, args...)
		return err
	})
	if isUnique(err) {
		return s.authErr("add token", fmt.Errorf("token %q: %w", t.Name, store.ErrExists))
	}
	if err != nil {
		return s.authErr("add token", err)
	}
	return nil
}

// TokenByHash implements store.Auth.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(s.read().row(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	if err != nil {
		return t, s.authErr("read token", err)
	}
	return t, nil
}

// Tokens implements store.Auth.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.read().query(ctx, `SELECT `+tokenColumns+` FROM auth_tokens ORDER BY lower(name), name`)
	if err != nil {
		return nil, s.authErr("list tokens", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.authErr("list tokens", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.authErr("list tokens", err)
	}
	return out, nil
}

// RevokeToken implements store.Auth.
func (s *Store) RevokeToken(ctx context.Context, name string, at time.Time) error {
	t, err := encodeTime("revoked", at)
	if err != nil {
		return s.authErr("revoke token", err)
	}
	err = s.write(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE auth_tokens SET revoked = COALESCE(revoked, $1) WHERE lower(name) = lower($2)`, t, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("token %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return s.authErr("revoke token", err)
	}
	return nil
}

// TouchToken implements store.Auth.
func (s *Store) TouchToken(ctx context.Context, hash string, at time.Time) error {
	t, err := encodeTime("last_used", at)
	if err != nil {
		return s.authErr("touch token", err)
	}
	err = s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE auth_tokens SET last_used = $1 WHERE hash = $2 AND (last_used IS NULL OR last_used < $3)`, t, hash, t)
		return err
	})
	if err != nil {
		return s.authErr("touch token", err)
	}
	return nil
}

// --- sessions ---

const sessionColumns = `hash, user_name, source, role, created, last_seen, expires, remote`

// AddSession implements store.Auth.
func (s *Store) AddSession(ctx context.Context, se store.Session) error {
	if se.Hash == "" || se.User == "" || se.Expires.IsZero() {
		return s.authErr("add session", errors.New("hash, user and expiry are required"))
	}
	if (se.Source == "") != (se.Role == "") {
		return s.authErr("add session", errors.New("a role is stored exactly for a session of an identity provider"))
	}
	if se.Created.IsZero() {
		se.Created = time.Now()
	}
	if se.LastSeen.IsZero() {
		se.LastSeen = se.Created
	}
	args := []any{se.Hash, se.User, se.Source, se.Role}
	for _, v := range []struct {
		f string
		t time.Time
	}{{"created", se.Created}, {"last_seen", se.LastSeen}, {"expires", se.Expires}} {
		e, err := encodeTime(v.f, v.t)
		if err != nil {
			return s.authErr("add session", err)
		}
		args = append(args, e)
	}
	args = append(args, se.Remote)
	err := s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO auth_sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, args...)
		return err
	})
	if err != nil {
		return s.authErr("add session", err)
	}
	return nil
}

// SessionByHash implements store.Auth.
func (s *Store) SessionByHash(ctx context.Context, hash string) (store.Session, error) {
	var (
		se                     store.Session
		created, seen, expires string
	)
	err := scan(s.read().row(ctx, `SELECT `+sessionColumns+` FROM auth_sessions WHERE hash = $1`, hash),
		&se.Hash, &se.User, &se.Source, &se.Role, &created, &seen, &expires, &se.Remote)
	if errors.Is(err, sql.ErrNoRows) {
		return se, store.ErrNotFound
	}
	if err != nil {
		return se, s.authErr("read session", err)
	}
	if se.Created, err = decodeTime("created", created); err == nil {
		if se.LastSeen, err = decodeTime("last_seen", seen); err == nil {
			se.Expires, err = decodeTime("expires", expires)
		}
	}
	if err != nil {
		return se, s.authErr("read session", err)
	}
	return se, nil
}

// TouchSession implements store.Auth.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	t, err := encodeTime("last_seen", at)
	if err != nil {
		return s.authErr("touch session", err)
	}
	err = s.write(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE auth_sessions SET last_seen = GREATEST(last_seen, $1) WHERE hash = $2`, t, hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return s.authErr("touch session", err)
	}
	return nil
}

// DeleteSession implements store.Auth.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	err := s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM auth_sessions WHERE hash = $1`, hash)
		return err
	})
	if err != nil {
		return s.authErr("delete session", err)
	}
	return nil
}

// DeleteExpiredSessions implements store.Auth.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	n, err := encodeTime("now", now)
	if err != nil {
		return 0, s.authErr("delete expired sessions", err)
	}
	idle, err := encodeTime("idle", idleBefore)
	if err != nil {
		return 0, s.authErr("delete expired sessions", err)
	}
	var count int64
	err = s.write(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM auth_sessions WHERE expires < $1 OR last_seen < $2`, n, idle)
		if err != nil {
			return err
		}
		count, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, s.authErr("delete expired sessions", err)
	}
	return int(count), nil
}

// --- audit trail ---

// AddAudit implements store.Auth.
func (s *Store) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if e.Action == "" {
		return s.authErr("add audit entry", errors.New("no action"))
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	at, err := encodeTime("at", e.At)
	if err != nil {
		return s.authErr("add audit entry", err)
	}
	err = s.write(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO auth_audit (at, actor, via, remote, action, target, outcome, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, at, e.Actor, e.Via, e.Remote, e.Action, e.Target, e.Outcome, e.Detail)
		return err
	})
	if err != nil {
		return s.authErr("add audit entry", err)
	}
	return nil
}

// AuditLog implements store.Auth.
func (s *Store) AuditLog(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var c listFilter
	c.time("at >= $?", "since", f.Since)
	if c.err != nil {
		return nil, s.authErr("read audit log", c.err)
	}
	c.text("lower(actor) = lower($?)", f.Actor)
	c.text("action = $?", f.Action)
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT seq, at, actor, via, remote, action, target, outcome, detail FROM auth_audit` + c.where() +
		` ORDER BY at DESC, seq DESC LIMIT ` + c.next(limit)
	args := c.args
	rows, err := s.read().query(ctx, q, args...)
	if err != nil {
		return nil, s.authErr("read audit log", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at string
		if err := scan(rows, &e.Seq, &at, &e.Actor, &e.Via, &e.Remote, &e.Action, &e.Target, &e.Outcome, &e.Detail); err != nil {
			return nil, s.authErr("read audit log", err)
		}
		if e.At, err = decodeTime("at", at); err != nil {
			return nil, s.authErr("read audit log", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.authErr("read audit log", err)
	}
	return out, nil
}
