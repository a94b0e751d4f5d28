package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrExists is returned when adding a user or token whose name is taken.
var ErrExists = errors.New("exists already")

// ViaAPI is StateChange.Via for a change made through the JSON API
// (POST /api/v1/alerts/{id}/ack), by a signed-in user or an API token.
const ViaAPI = "api"

// User is a local account of the dashboard and API. PasswordHash is an
// encoded argon2id hash (package auth), never the password.
type User struct {
	Name         string // unique, case-insensitively
	Role         string // viewer, responder or admin
	PasswordHash string
	// Tenants limits the user to these tenants' alerts, incidents, drills
	// and accounts (tenant ids, lower-case); none: every tenant.
	Tenants []string
	Created time.Time
	Updated time.Time
}

// Token is an API token. Hash is the hex SHA-256 of the token, which only
// its holder has.
type Token struct {
	Name      string // unique, case-insensitively
	Role      string
	Hash      string
	Created   time.Time
	Expires   time.Time // always set: every token expires
	Revoked   time.Time // zero while not revoked
	LastUsed  time.Time // zero when never used
	CreatedBy string
	// Tenants limits the token as User.Tenants does.
	Tenants []string
}

// JoinTenants is how a tenant list is stored: lower-case ids joined by
// commas ("" for every tenant).
func JoinTenants(ts []string) string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

// SplitTenants reads what JoinTenants stored; nil for every tenant.
func SplitTenants(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Session is a signed-in browser. Hash is the hex SHA-256 of the cookie's
// value, so a copy of the store does not sign anyone in.
type Session struct {
	Hash string
	User string
	// Source is "" for a local user's session, whose role is the user's
	// (read on every request), or the identity provider that signed the
	// person in ("oidc"), whose Role it keeps.
	Source   string
	Role     string // set exactly when Source is
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // absolute end, whatever the activity
	Remote   string    // where it signed in from
}

// AuditEntry is one write action in the audit trail: who, when, from
// where, what and how it ended.
type AuditEntry struct {
	Seq     int64 // set by the store, increasing
	At      time.Time
	Actor   string // user name, "token:NAME", or "cli:OSUSER"
	Via     string // session, token, cli
	Remote  string // client address ("" for the CLI)
	Action  string // e.g. login, login.failed, user.add, alert.ack
	Target  string // what it was done to (a user, token, alert id)
	Outcome string // ok, denied, failed
	Detail  string
}

// AuditFilter narrows AuditLog. Zero values mean any.
type AuditFilter struct {
	Since  time.Time
	Actor  string
	Action string
	Limit  int // newest first; 0 means 100
}

// Auth persists users, API tokens, sessions and the audit trail. It is not
// part of Store: a backend implements it beside Store (sqlite does).
type Auth interface {
	// AddUser stores a new user, or ErrExists.
	AddUser(ctx context.Context, u User) error
	// User returns one user by name (case-insensitively), or ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// Users lists users by name.
	Users(ctx context.Context) ([]User, error)
	// SetUserPassword replaces a user's hash and ends all of its local
	// sessions, or ErrNotFound.
	SetUserPassword(ctx context.Context, name, hash string, at time.Time) error
	// RemoveUser deletes a user and its local sessions, or ErrNotFound.
	RemoveUser(ctx context.Context, name string) error

	// AddToken stores a new token, or ErrExists (by name or hash).
	AddToken(ctx context.Context, t Token) error
	// TokenByHash returns the token with that hash, revoked or expired
	// included, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens lists tokens by name.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks a token revoked at at, or ErrNotFound. Revoking a
	// revoked token keeps the first time.
	RevokeToken(ctx context.Context, name string, at time.Time) error
	// TouchToken records a use (at most it moves LastUsed forward).
	TouchToken(ctx context.Context, hash string, at time.Time) error

	// AddSession stores a new session.
	AddSession(ctx context.Context, s Session) error
	// SessionByHash returns a session, or ErrNotFound.
	SessionByHash(ctx context.Context, hash string) (Session, error)
	// TouchSession sets LastSeen (never backwards), or ErrNotFound.
	TouchSession(ctx context.Context, hash string, at time.Time) error
	// DeleteSession ends a session; ending an unknown one is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes sessions whose Expires is before now, or
	// whose LastSeen is before idleBefore, and reports how many.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)

	// AddAudit appends an entry (Seq and, when zero, At are set by the
	// store).
	AddAudit(ctx context.Context, e AuditEntry) error
	// AuditLog lists entries, newest first.
	AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}
