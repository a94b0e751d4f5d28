package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"breakglass/internal/store"
)

// Store is what authentication needs from the store.
type Store interface {
	User(ctx context.Context, name string) (store.User, error)
	TokenByHash(ctx context.Context, hash string) (store.Token, error)
	TouchToken(ctx context.Context, hash string, at time.Time) error
	AddSession(ctx context.Context, s store.Session) error
	SessionByHash(ctx context.Context, hash string) (store.Session, error)
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// Session lifetimes.
const (
	// DefaultSessionTTL ends a session this long after sign-in, however
	// active: a night's incident, not a week.
	DefaultSessionTTL = 12 * time.Hour
	// DefaultIdleTimeout ends a session unused this long.
	DefaultIdleTimeout = time.Hour
	// touchEvery bounds how often a request records activity (a write):
	// the idle timeout is exact to this.
	touchEvery = time.Minute
)

// Options configure a Service.
type Options struct {
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time
	// TLS says the endpoint is served over TLS: cookies are Secure (and
	// __Host- prefixed) and responses carry HSTS.
	TLS         bool
	SessionTTL  time.Duration // 0: DefaultSessionTTL
	IdleTimeout time.Duration // 0: DefaultIdleTimeout
	MaxFailures int           // failed logins per account or address in Window; 0: DefaultMaxFailures
	Window      time.Duration // 0: DefaultWindow
	// Home is where a sign-in without a next page lands; "": PathAccount.
	Home string
	// ProviderLogin, when set, is the path that starts sign-in through an
	// identity provider (oidc.PathLogin); the sign-in page links to it.
	ProviderLogin string
}

// Service authenticates requests and serves sign-in and sign-out.
type Service struct {
	o     Options
	lim   *limiter
	dummy func() string // a hash for unknown names, so they cost a real verify
}

// New returns a service; Register mounts its pages, Middleware and
// Require guard the rest.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("auth: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Home == "" {
		o.Home = PathAccount
	}
	s := &Service{o: o, lim: newLimiter(o.MaxFailures, o.Window)}
	s.dummy = sync.OnceValue(func() string {
		h, err := HashPasswordParams("breakglass-no-such-user", DefaultParams)
		if err != nil {
			panic(err) // random source failed: nothing else works either
		}
		return h
	})
	return s, nil
}

// Principal is who made a request.
type Principal struct {
	Name string // the user's or the token's name
	Role Role
	Via  string // ViaSession or ViaToken
	// Source is the identity provider of a session it started ("oidc"),
	// "" for a local user or a token.
	Source string
	// Tenants are the tenants a user or token is limited to (store.User
	// and store.Token Tenants); nil: every tenant. The API and the
	// dashboard show and act on only these tenants' items.
	Tenants []string
	// sessionID is the cookie's value (a session), for sign-out and CSRF.
	sessionID string
}

// TenantsOf is the tenants the request's principal is limited to; nil for
// every tenant (or no principal: the guard has refused it already).
func TenantsOf(r *http.Request) []string {
	if p := FromContext(r.Context()); p != nil {
		return p.Tenants
	}
	return nil
}

// How a principal authenticated (store.AuditEntry.Via too).
const (
	ViaSession = "session"
	ViaToken   = "token"
	ViaCLI     = "cli"
)

// Actor is how the audit trail and state histories name the principal:
// the user name, "token:NAME", or "SOURCE:NAME" for a person an identity
// provider signed in ("oidc:dana@contoso.com").
func (p *Principal) Actor() string {
	switch {
	case p.Via == ViaToken:
		return "token:" + p.Name
	case p.Source != "":
		return p.Source + ":" + p.Name
	}
	return p.Name
}

// CSRFToken is the token forms and htmx requests of this session must
// send ("" for a token).
func (p *Principal) CSRFToken() string {
	if p.sessionID == "" {
		return ""
	}
	return csrfFor(p.sessionID)
}

type ctxKey struct{}

type authState struct {
	p    *Principal
	fail *authError // a credential was presented and refused
}

// FromContext returns the request's principal, or nil when it presented
// no valid credential.
func FromContext(ctx context.Context) *Principal {
	if st, ok := ctx.Value(ctxKey{}).(*authState); ok {
		return st.p
	}
	return nil
}

// authError is why a credential was refused; code is the API's error code.
type authError struct {
	status int
	code   string
	msg    string
}

func (e *authError) Error() string { return e.msg }

var (
	errNoCredential = &authError{http.StatusUnauthorized, "unauthenticated", "Sign in, or send an API token as Authorization: Bearer TOKEN."}
	errBadToken     = &authError{http.StatusUnauthorized, "invalid_token", "This API token is not known. Create one with: breakglass tokens create --name NAME --role ROLE"}
	errRevoked      = &authError{http.StatusUnauthorized, "token_revoked", "This API token was revoked. Create a new one with: breakglass tokens create"}
	errExpired      = &authError{http.StatusUnauthorized, "token_expired", "This API token has expired. Create a new one with: breakglass tokens create"}
	errSession      = &authError{http.StatusUnauthorized, "session_expired", "Your session has ended (signed out, expired or idle). Sign in again."}
	errStore        = &authError{http.StatusServiceUnavailable, "store_unavailable", "The store could not be read, so nobody can be signed in. Check the daemon's log; the CLI on the host still works."}
)

// remoteIP is the client's address as the connection shows it. Forwarded
// headers are not trusted: behind a reverse proxy every client is the
// proxy, and the per-address login limit then applies to all of them.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate finds the principal of r: a bearer token if an
// Authorization header is sent (a bad one is refused, never passed over
// for a cookie), else a session cookie. Neither is (nil, nil).
func (s *Service) authenticate(r *http.Request) (*Principal, *authError) {
	ctx := r.Context()
	now := s.o.Now()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := ParseBearer(h)
		if !ok {
			return nil, nil // not ours (a webhook's own token): no principal
		}
		t, err := s.o.Store.TokenByHash(ctx, HashToken(tok))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, errBadToken
		case err != nil:
			s.o.Logger.Error("auth: reading a token", "error", err)
			return nil, errStore
		case !t.Revoked.IsZero():
			return nil, errRevoked
		case !now.Before(t.Expires):
			return nil, errExpired
		}
		role, err := ParseRole(t.Role)
		if err != nil {
			s.o.Logger.Error("auth: token with an unknown role refused", "token", t.Name, "role", t.Role)
			return nil, errBadToken
		}
		if now.Sub(t.LastUsed) >= touchEvery {
			if err := s.o.Store.TouchToken(ctx, t.Hash, now); err != nil {
				s.o.Logger.Warn("auth: recording a token's use", "token", t.Name, "error", err)
			}
		}
		return &Principal{Name: t.Name, Role: role, Via: ViaToken, Tenants: t.Tenants}, nil
	}
	c, err := r.Cookie(s.sessionCookie())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	if !wellFormed(c.Value, "") {
		return nil, errSession
	}
	hash := HashToken(c.Value)
	se, err := s.o.Store.SessionByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errSession
	case err != nil:
		s.o.Logger.Error("auth: reading a session", "error", err)
		return nil, errStore
	}
	if !now.Before(se.Expires) || now.Sub(se.LastSeen) >= s.o.IdleTimeout {
		if err := s.o.Store.DeleteSession(ctx, hash); err != nil {
			s.o.Logger.Warn("auth: deleting an ended session", "error", err)
		}
		return nil, errSession
	}
	if se.Source != "" {
		// Signed in by an identity provider: the role its claims mapped
		// to, for this session's life.
		role, err := ParseRole(se.Role)
		if err != nil {
			s.o.Logger.Error("auth: session with an unknown role refused", "source", se.Source, "role", se.Role)
			return nil, errSession
		}
		s.touch(ctx, hash, se, now)
		source, tenants := splitSessionSource(se.Source)
		return &Principal{Name: se.User, Role: role, Via: ViaSession, Source: source, Tenants: tenants, sessionID: c.Value}, nil
	}
	u, err := s.o.Store.User(ctx, se.User)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errSession // removed meanwhile
	case err != nil:
		s.o.Logger.Error("auth: reading a session's user", "error", err)
		return nil, errStore
	}
	role, err := ParseRole(u.Role)
	if err != nil {
		s.o.Logger.Error("auth: user with an unknown role refused", "user", u.Name, "role", u.Role)
		return nil, errSession
	}
	s.touch(ctx, hash, se, now)
	return &Principal{Name: u.Name, Role: role, Via: ViaSession, Tenants: u.Tenants, sessionID: c.Value}, nil
}

// touch records a session's activity, at most every touchEvery.
func (s *Service) touch(ctx context.Context, hash string, se store.Session, now time.Time) {
	if now.Sub(se.LastSeen) >= touchEvery {
		if err := s.o.Store.TouchSession(ctx, hash, now); err != nil {
			s.o.Logger.Warn("auth: recording a session's activity", "error", err)
		}
	}
}

// ErrBadLogin is the one answer to a wrong name or password.
var ErrBadLogin = errors.New("the name or password is wrong")

// RateLimitedError is Login's refusal while too many attempts failed.
type RateLimitedError struct{ Until time.Time }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed sign-ins; try again after %s", e.Until.UTC().Format("15:04:05 UTC"))
}

// maxNameLen bounds a user name.
const maxNameLen = 64

// CheckName says why name cannot be a user or token name, or nil: 1 to 64
// letters, digits, '.', '_', '-' or '@'.
func CheckName(name string) error {
	if name == "" {
		return errors.New("the name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("the name is longer than %d bytes", maxNameLen)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)) {
			return fmt.Errorf("the name may hold only letters, digits and . _ - @ (not %q)", r)
		}
	}
	return nil
}

// Login checks a name and password from remote and, when they match,
// starts a session: it returns the session id (the cookie's value, shown
// to nobody else). Wrong name and wrong password are the same ErrBadLogin
// after the same work; too many failures are *RateLimitedError. Each
// attempt lands in the audit trail; when that cannot be written the
// sign-in is refused.
func (s *Service) Login(ctx context.Context, name, password, remote string) (string, store.User, error) {
	now := s.o.Now()
	if !utf8.ValidString(name) || len(name) > 4*maxNameLen {
		name = "?"
	}
	keys := []string{userKey(name), ipKey(remote)}
	audit := store.AuditEntry{At: now, Actor: name, Via: ViaSession, Remote: remote, Target: name}
	if until := s.lim.blocked(now, keys...); !until.IsZero() {
		audit.Action, audit.Outcome, audit.Detail = "login", "denied", "rate limited until "+until.UTC().Format(time.RFC3339)
		if err := s.o.Store.AddAudit(ctx, audit); err != nil {
			s.o.Logger.Error("auth: recording a refused sign-in", "error", err)
		}
		return "", store.User{}, &RateLimitedError{Until: until}
	}
	u, err := s.o.Store.User(ctx, name)
	hash := u.PasswordHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.o.Logger.Error("auth: reading a user for sign-in", "error", err)
			return "", store.User{}, fmt.Errorf("reading the user: %w", err)
		}
		hash = s.dummy()
	}
	ok, verr := VerifyPassword(hash, password)
	if verr != nil {
		s.o.Logger.Error("auth: a stored password hash cannot be read; reset it with breakglass users passwd", "user", u.Name, "error", verr)
	}
	if err != nil || !ok || verr != nil {
		s.lim.fail(now, keys...)
		audit.Action, audit.Outcome = "login", "failed"
		if aerr := s.o.Store.AddAudit(ctx, audit); aerr != nil {
			s.o.Logger.Error("auth: recording a failed sign-in", "error", aerr)
		}
		s.o.Logger.Warn("sign-in failed", "remote", remote)
		return "", store.User{}, ErrBadLogin
	}
	id, err := s.newSession(ctx, u.Name, "", RoleNone, nil, remote)
	if err != nil {
		return "", store.User{}, err
	}
	s.lim.succeed(userKey(name))
	return id, u, nil
}

// newSession records the sign-in in the audit trail (refusing it when
// that fails) and stores a new session, whose id it returns.
func (s *Service) newSession(ctx context.Context, name, source string, role Role, tenants []string, remote string) (string, error) {
	now := s.o.Now()
	id, err := newSecret()
	if err != nil {
		return "", err
	}
	se := store.Session{Hash: HashToken(id), User: name, Created: now, LastSeen: now, Expires: now.Add(s.o.SessionTTL), Remote: remote}
	audit := store.AuditEntry{At: now, Actor: name, Via: ViaSession, Remote: remote, Action: "login", Target: name, Outcome: "ok"}
	if source != "" {
		if role == RoleNone {
			return "", errors.New("an identity provider's sign-in needs a role")
		}
		se.Source, se.Role = source, role.String()
		audit.Actor = source + ":" + name
		audit.Detail = "signed in by " + source + " as " + role.String()
		if tenants != nil {
			se.Source += sessionTenants + strings.Join(tenants, ",")
			audit.Detail += ", limited to tenants " + strings.Join(tenants, ", ")
		}
	}
	if err := s.o.Store.AddAudit(ctx, audit); err != nil {
		return "", fmt.Errorf("recording the sign-in in the audit trail: %w", err)
	}
	if err := s.o.Store.AddSession(ctx, se); err != nil {
		return "", fmt.Errorf("starting the session: %w", err)
	}
	s.o.Logger.Info("signed in", "user", audit.Actor, "remote", remote)
	return id, nil
}

// StartSession signs in a person whom an identity provider (source, e.g.
// "oidc") has vouched for, with the role its claims mapped to: it stores
// a session that keeps that role for its life, records the sign-in in the
// audit trail (as "SOURCE:NAME") and sets the session cookie on w. The
// caller redirects. The name (an email or display name) must be
// printable text of at most 256 bytes; source a word without ':'.
//
// tenants, when given, limit the session to those tenant ids, as a local
// user's tenants do; none given: every tenant. An empty list is refused
// (nobody is let in to see nothing by mistake).
func (s *Service) StartSession(w http.ResponseWriter, r *http.Request, name string, role Role, source string, tenants ...string) error {
	if name == "" || len(name) > 256 || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return errors.New("the identity provider gave no usable name for this person (empty, over 256 bytes, or with control characters)")
	}
	if source == "" || strings.ContainsAny(source, ": ") {
		return fmt.Errorf("source %q: name the identity provider (oidc)", source)
	}
	if role < RoleViewer || role > RoleAdmin {
		return errors.New("no breakglass role: the identity provider granted none")
	}
	if tenants != nil {
		if len(tenants) == 0 {
			return errors.New("the identity provider granted no tenant")
		}
		norm := make([]string, 0, len(tenants))
		for _, t := range tenants {
			t = strings.ToLower(strings.TrimSpace(t))
			if t == "" || strings.ContainsAny(t, ",;") {
				return fmt.Errorf("tenant %q: not a tenant id", t)
			}
			norm = append(norm, t)
		}
		tenants = norm
	}
	id, err := s.newSession(r.Context(), name, source, role, tenants, remoteIP(r))
	if err != nil {
		return err
	}
	s.setSessionCookie(w, id)
	return nil
}

// Logout ends p's session in the store: its cookie is refused from now
// on, also if someone kept a copy.
func (s *Service) Logout(ctx context.Context, p *Principal, remote string) error {
	if p == nil || p.sessionID == "" {
		return errors.New("not a session")
	}
	if err := s.o.Store.DeleteSession(ctx, HashToken(p.sessionID)); err != nil {
		return fmt.Errorf("ending the session: %w", err)
	}
	if err := s.o.Store.AddAudit(ctx, store.AuditEntry{At: s.o.Now(), Actor: p.Actor(), Via: p.Via, Remote: remote,
		Action: "logout", Target: p.Name, Outcome: "ok"}); err != nil {
		s.o.Logger.Error("auth: recording a sign-out", "error", err)
	}
	return nil
}

// Record adds a write action done by r's principal to the audit trail:
// what (an action such as "alert.ack"), to which target, how it ended
// ("ok", "denied", "failed") and a detail. Other handlers call it after
// each write. A failure is logged as an error and returned.
func (s *Service) Record(r *http.Request, action, target, outcome, detail string) error {
	e := store.AuditEntry{At: s.o.Now(), Remote: remoteIP(r), Action: action, Target: target, Outcome: outcome, Detail: detail}
	if p := FromContext(r.Context()); p != nil {
		e.Actor, e.Via = p.Actor(), p.Via
	}
	if err := s.o.Store.AddAudit(r.Context(), e); err != nil {
		s.o.Logger.Error("audit trail: recording an action failed", "action", action, "target", target, "error", err)
		return fmt.Errorf("recording %s in the audit trail: %w", action, err)
	}
	return nil
}

// sessionTenants separates, in a stored session's source, the identity
// provider from the tenants the session is limited to ("oidc;tenants=a,b"):
// sessions have no column of their own for them.
const sessionTenants = ";tenants="

// splitSessionSource is a stored session source's provider and tenants
// (nil: every tenant).
func splitSessionSource(stored string) (source string, tenants []string) {
	source, list, ok := strings.Cut(stored, sessionTenants)
	if !ok {
		return stored, nil
	}
	tenants = []string{}
	for t := range strings.SplitSeq(list, ",") {
		if t != "" {
			tenants = append(tenants, t)
		}
	}
	return source, tenants
}
