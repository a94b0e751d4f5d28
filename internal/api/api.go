// Package api is breakglass's JSON API under /api/v1/: the accounts and
// their status, posture results, alerts (cursor-paginated, filtered),
// deliveries, incidents with their evidence and timeline, and drills, for
// automation and for the dashboard. Every route is declared once in the
// route table below; the mux and the OpenAPI document served at
// /api/v1/openapi.json are both built from it, so a route cannot exist
// without being documented.
//
// Authentication and roles belong to the caller (Options.Authorize): this
// package only names the least role each route needs.
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/drill"
	"breakglass/internal/entra"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kqlrule"
	"breakglass/internal/store"
)

// Roles, least to most. Options.Authorize decides what they mean.
const (
	RoleViewer    = "viewer"
	RoleResponder = "responder"
	RoleAdmin     = "admin"
)

// Store is what the API reads.
type Store interface {
	Alert(ctx context.Context, id string) (alert.Alert, error)
	Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error)
	AlertPage(ctx context.Context, f store.AlertFilter, cursor string, limit int) ([]alert.Alert, string, error)
	StateChanges(ctx context.Context, id string) ([]store.StateChange, error)
	AlertDeliveries(ctx context.Context, alertID string) ([]store.Delivery, error)
	DeadLetters(ctx context.Context, limit int) ([]store.Delivery, error)
	Incident(ctx context.Context, id string) (store.Incident, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	IncidentChanges(ctx context.Context, id string) ([]store.IncidentChange, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
	Drill(ctx context.Context, id string) (store.Drill, error)
	Drills(ctx context.Context, f store.DrillFilter) ([]store.Drill, error)
}

// Options configures the API.
type Options struct {
	Store    Store
	Accounts []entra.Account
	// Posture returns the latest posture report of every tenant ("" for
	// a config without tenants:), none before the first audit (or when no
	// audit is configured). The daemon reads them from the store, so
	// every replica serves the scheduler's audits.
	Posture func(ctx context.Context) ([]TenantReport, error)
	// VerifyIncident checks an incident's evidence chain (nil: the
	// incident's evidence is served without a verdict).
	VerifyIncident func(ctx context.Context, id string) (ok bool, problems []string, err error)
	// Guard serves h only to a caller whose role allows role, answering
	// 401 or 403 itself otherwise (auth.Service.Require). Nil admits
	// nobody: an API without authentication is never served by accident.
	Guard func(role string, h http.Handler) http.Handler
	// Who names the caller of a write (auth.FromContext(...).Actor()).
	Who func(r *http.Request) string
	// AlertAck serves POST /alerts/{id}/ack (ack.Handler.APIAck: the
	// links' and the CLI's acknowledgement); nil answers 503.
	AlertAck http.Handler
	// Actions are the writes; nil serves the reads only (writes answer 503).
	Actions Actions
	// Catalog is what POST /query reads (tables.NewEvidence over the
	// store: read-only); nil answers 503.
	Catalog eval.Catalog
	// Watchlists are the queries' _GetWatchlist tables
	// (kqlrule.Watchlists of the config).
	Watchlists map[string]*eval.Table
	// Geo answers geo_info_from_ip_address (kqlrule.Geo of the config);
	// nil: every location is null, and the answer says so.
	Geo fn.Geo
	// Rules are the configured KQL rules for GET /rules.
	Rules []kqlrule.Info
	// RuleState returns a scheduled rule's newest evaluated window end
	// and when it was evaluated (kqlrule.LastEvaluated over the store);
	// nil: not known.
	RuleState func(ctx context.Context, id string) (window, at time.Time, err error)
	// DrillStatus returns every account's drills and when the next is due
	// (drill.Evaluator.Status with drill.interval); nil: not known.
	DrillStatus func(ctx context.Context) ([]drill.AccountStatus, error)
	// Tenants are the configured tenant ids (tenants:); ?tenant= must name
	// one. Empty: any value filters by the alerts' tenant label.
	Tenants []string
	// TenantNames are the tenants' names by id, for people.
	TenantNames map[string]string
	// AccountTenant is the tenant that lists an account (by object id or
	// UPN), "" when none does; the tenant of incidents and drills. Nil: no
	// account has a tenant.
	AccountTenant func(id, upn string) string
	// Scope is the tenants the caller is limited to (its role's tenants:);
	// nil or empty: every tenant. A limited caller's lists hold only its
	// tenants' items, other items answer 404 and queries 403 (tenants.go).
	Scope func(r *http.Request) []string
	// Logger logs the server's own failures (nil: discarded).
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Route is one API route: the mux pattern's method and path, the least
// role it needs, what it does, and what it answers (for OpenAPI).
type Route struct {
	Method, Path string
	Role         string
	Summary      string
	Params       []Param
	// Request and Response are values of the bodies' types (for their
	// schemas); a nil Response is any object.
	Request, Response any
	// Created: success is 201 Created rather than 200 OK.
	Created bool
	handler func(s *Server, w http.ResponseWriter, r *http.Request)
}

// Param is a query or path parameter.
type Param struct {
	Name, In, Type, Description string
}

// Server is the API handler.
type Server struct {
	o       Options
	mux     *http.ServeMux
	queries chan struct{} // running queries (at most queriesAtOnce)
}

// New returns the API; mount it at /api/v1/.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, mux: http.NewServeMux(), queries: make(chan struct{}, queriesAtOnce)}
	for _, rt := range Routes() {
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.handler(s, w, r) })
		if rt.Role != "" {
			h = s.scoped(rt, h) // tenants.go
		}
		switch {
		case rt.Role == "":
		case o.Guard == nil:
			h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				writeError(w, http.StatusUnauthorized, CodeUnauthorized, "the API needs authentication, and none is configured")
			})
		default:
			h = o.Guard(rt.Role, h)
		}
		s.mux.Handle(rt.Method+" "+rt.Path, h)
	}
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such API route: "+r.Method+" "+r.URL.Path+" (see /api/v1/openapi.json)")
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The mux answers a known path with the wrong method by 405 in plain
	// text; keep every answer JSON.
	if _, pattern := s.mux.Handler(r); pattern == "" || (pattern == "/api/v1/" && s.knownPath(r.URL.Path)) {
		if s.knownPath(r.URL.Path) {
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// knownPath reports whether some route serves path with another method.
func (s *Server) knownPath(path string) bool {
	for _, rt := range Routes() {
		if matchPath(rt.Path, path) {
			return true
		}
	}
	return false
}

func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
