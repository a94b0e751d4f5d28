// Package web is breakglass's dashboard: server-rendered pages for the
// people on call, over the same data as the JSON API (internal/api). A
// status board of every account, live alerts with acknowledge buttons,
// incident review with verified evidence, drills, the posture report and
// the deliveries. Templates, the stylesheet and a pinned htmx are embedded;
// there is no inline script or style, so the strict Content-Security-Policy
// holds, and every page reads at 360 px.
//
// Sign-in, roles and CSRF checks belong to the caller (Options.Guard, the
// auth service's Require); this package puts the session's CSRF token in
// every form.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Roles as the API names them.
const (
	roleViewer    = api.RoleViewer
	roleResponder = api.RoleResponder
)

// Options configures the dashboard.
type Options struct {
	API *api.Server
	// Guard serves h only to a signed-in caller whose role allows role.
	// Nil serves nothing but the static files: a dashboard without
	// authentication is never served by accident.
	Guard func(role string, h http.Handler) http.Handler
	// Principal names the caller (for the audit trail and the page
	// header) and gives the session's CSRF token for forms.
	Principal func(r *http.Request) (who, role, csrf string)
	// Ack acknowledges an alert as who; changed is false when it already was.
	Ack func(ctx context.Context, alertID, who, note string) (changed bool, err error)
	// Review classifies an incident (drill, emergency or misuse) as who,
	// with attest: per action group, "yes" or what differed from the
	// authorised use. It returns the groups left without an attestation.
	Review func(ctx context.Context, incidentID, class, who, note string, attest map[string]string) (notAttested []string, err error)
	// Groups are the action groups (notify.groups) a review attests for:
	// the review form has a field for each.
	Groups []string
	Logger *slog.Logger
	Now    func() time.Time
}

// Server is the dashboard handler.
type Server struct {
	o   Options
	t   *template.Template
	mux *http.ServeMux
}

// New returns the dashboard; mount it at /.
func New(o Options) (*Server, error) {
	if o.API == nil {
		return nil, errors.New("web: no API to read from")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Principal == nil {
		o.Principal = func(*http.Request) (string, string, string) { return "", "", "" }
	}
	t, err := template.New("").Funcs(funcs(o.Now)).Funcs(pageFuncs()).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s := &Server{o: o, t: t, mux: http.NewServeMux()}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	for _, p := range s.pages() {
		var h http.Handler = http.HandlerFunc(p.handler)
		if o.Guard == nil {
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "The dashboard needs sign-in, and none is configured.", http.StatusUnauthorized)
			})
		} else {
			h = o.Guard(p.role, h)
		}
		s.mux.Handle(p.pattern, h)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type page struct {
	pattern string
	role    string
	handler http.HandlerFunc
}

// pages is the dashboard's route table.
func (s *Server) pages() []page {
	return []page{
		{"GET /{$}", roleViewer, s.board},
		{"GET /alerts", roleViewer, s.alerts},
		{"GET /alerts/rows", roleViewer, s.alertRows},
		{"GET /alerts/{id}", roleViewer, s.alertPage},
		{"POST /alerts/{id}/ack", roleResponder, s.ack},
		{"GET /incidents", roleViewer, s.incidents},
		{"GET /incidents/{id}", roleViewer, s.incident},
		{"POST /incidents/{id}/review", roleResponder, s.review},
		{"GET /drills", roleViewer, s.drills}, // pages.go
		{"GET /rules", roleViewer, s.rules},
		{"POST /rules/query", roleViewer, s.runQuery},
		{"GET /posture", roleViewer, s.posture},
		{"GET /deliveries", roleViewer, s.deliveries},
	}
}

// Paths lists the dashboard's page paths (for tests and the README).
func (s *Server) Paths() []string {
	var out []string
	for _, p := range s.pages() {
		out = append(out, p.pattern)
	}
	return out
}

func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Pinned, versioned file names: cache them.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title, Nav string
	Who, Role  string
	CSRF       string
	Flash      string
	Groups     []string // the action groups, for the review form
	// Tenants are the tenants the filter offers (none with one tenant),
	// Tenant the one picked (?tenant=, "" for all).
	Tenants []api.TenantChoice
	Tenant  string
	Data    any
	Now     time.Time
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name, nav, title string, data any) {
	who, role, csrf := s.o.Principal(r)
	tf := s.o.API.TenantFilter(r) // tenants.go
	v := view{Title: title, Nav: nav, Who: who, Role: role, CSRF: csrf, Flash: r.URL.Query().Get("done"), Groups: s.o.Groups, Data: data, Now: s.o.Now().UTC(),
		Tenants: tf.Choices(), Tenant: tf.Only()}
	var b strings.Builder
	if err := s.t.ExecuteTemplate(&b, name, v); err != nil {
		s.o.Logger.Error("dashboard: rendering a page failed", "page", name, "err", err)
		http.Error(w, "This page could not be shown; the daemon's log says why.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, b.String())
}

func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, what+" was not found.", http.StatusNotFound)
		return
	}
	s.o.Logger.Error("dashboard: reading failed", "what", what, "err", err)
	http.Error(w, "Reading "+what+" failed; the daemon's log says why.", http.StatusInternalServerError)
}

func (s *Server) board(w http.ResponseWriter, r *http.Request) {
	accts, what, err := s.o.API.AccountList(r.Context())
	if err != nil {
		s.fail(w, what, err)
		return
	}
	firing, err := s.o.API.Store().Alerts(r.Context(), store.AlertFilter{State: alert.StateFiring, Limit: 20})
	if err != nil {
		s.fail(w, "firing alerts", err)
		return
	}
	accts.Accounts, firing = s.tenantAccounts(r, accts.Accounts), s.tenantAlerts(r, firing) // tenants.go
	s.render(w, r, "board.html", "board", "Status", map[string]any{"Accounts": accts.Accounts, "Firing": firing})
}

// alertsShown is how many alerts the live page lists.
const alertsShown = 50

func (s *Server) alertList(r *http.Request) ([]alert.Alert, error) {
	f := store.AlertFilter{}
	if t := s.o.API.TenantFilter(r).Only(); t != "" {
		f.Labels = map[string]string{alert.LabelTenant: t}
	}
	page, _, err := s.o.API.Store().AlertPage(r.Context(), f, "", alertsShown)
	return s.tenantAlerts(r, page), err
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	as, err := s.alertList(r)
	if err != nil {
		s.fail(w, "alerts", err)
		return
	}
	s.render(w, r, "alerts.html", "alerts", "Alerts", as)
}

// alertRows is the live table's body, fetched every second by htmx.
func (s *Server) alertRows(w http.ResponseWriter, r *http.Request) {
	as, err := s.alertList(r)
	if err != nil {
		s.fail(w, "alerts", err)
		return
	}
	s.render(w, r, "alert-rows", "alerts", "", as)
}

// alertPage is one alert: what it says, its state history and every
// notification of it with what became of it.
func (s *Server) alertPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st := s.o.API.Store()
	a, err := st.Alert(r.Context(), id)
	if err == nil && !s.o.API.TenantFilter(r).Alert(a) {
		err = store.ErrNotFound // another tenant's: as if it did not exist
	}
	if err != nil {
		s.fail(w, "alert "+strconv.Quote(id), err)
		return
	}
	hist, err := st.StateChanges(r.Context(), id)
	if err != nil {
		s.fail(w, "the alert's history", err)
		return
	}
	ds, err := st.AlertDeliveries(r.Context(), id)
	if err != nil {
		s.fail(w, "the alert's deliveries", err)
		return
	}
	s.render(w, r, "alert.html", "alerts", "Alert", map[string]any{"Alert": a, "History": hist, "Deliveries": ds})
}

func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	who, _, _ := s.o.Principal(r)
	if s.o.Ack == nil {
		http.Error(w, "Acknowledging is not available here; use breakglass alerts ack on the host.", http.StatusServiceUnavailable)
		return
	}
	if !s.visibleAlert(w, r, id) { // tenants.go
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	note := strings.TrimSpace(r.PostFormValue("note"))
	changed, err := s.o.Ack(r.Context(), id, who, note)
	if err != nil {
		s.fail(w, "alert "+strconv.Quote(id), err)
		return
	}
	done := "acknowledged"
	if !changed {
		done = "already-acknowledged"
	}
	http.Redirect(w, r, "/alerts?done="+done, http.StatusSeeOther)
}

func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	incs, err := s.o.API.Store().Incidents(r.Context(), store.IncidentFilter{Limit: 200})
	if err != nil {
		s.fail(w, "incidents", err)
		return
	}
	incs = s.tenantIncidents(r, incs)
	s.render(w, r, "incidents.html", "incidents", "Incidents", incs)
}

func (s *Server) incident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.visibleIncident(w, r, id) {
		return
	}
	d, what, err := s.o.API.IncidentDetail(r.Context(), id)
	if err != nil {
		s.fail(w, what, err)
		return
	}
	s.render(w, r, "incident.html", "incidents", "Incident "+id, d)
}

func (s *Server) review(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	who, _, _ := s.o.Principal(r)
	if s.o.Review == nil {
		http.Error(w, "Reviewing is not available here; use breakglass incidents review on the host.", http.StatusServiceUnavailable)
		return
	}
	if !s.visibleIncident(w, r, id) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	class := r.PostFormValue("class")
	switch class {
	case store.ClassDrill, store.ClassEmergency, store.ClassMisuse:
	default:
		http.Error(w, "Choose drill, emergency or misuse.", http.StatusBadRequest)
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	attest := map[string]string{}
	for _, g := range s.o.Groups {
		if v := strings.TrimSpace(r.PostFormValue("attest-" + g)); v != "" {
			attest[g] = v
		}
	}
	missing, err := s.o.Review(r.Context(), id, class, who, note, attest)
	if err != nil {
		var bad interface{ BadRequest() bool }
		if errors.As(err, &bad) && bad.BadRequest() {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.fail(w, "incident "+strconv.Quote(id), err)
		return
	}
	done := "reviewed"
	if len(missing) > 0 { // recorded, but incomplete: say so where it is read
		done += "; not attested for " + strings.Join(missing, ", ") + " (review again to add it)"
	}
	http.Redirect(w, r, "/incidents/"+id+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

func (s *Server) posture(w http.ResponseWriter, r *http.Request) {
	p, err := s.o.API.PostureOf(r) // ?tenant= within the caller's tenants
	if err != nil {
		s.fail(w, "the posture reports", err)
		return
	}
	s.render(w, r, "posture.html", "posture", "Posture", p.Reports)
}

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	dead, err := s.o.API.Store().DeadLetters(r.Context(), 200)
	if err != nil {
		s.fail(w, "dead letters", err)
		return
	}
	dead = s.tenantDeliveries(r, dead)
	depth := 0
	if d, ok := s.o.API.Store().(interface {
		OutboxDepth(context.Context) (int, error)
	}); ok {
		depth, _ = d.OutboxDepth(r.Context())
	}
	s.render(w, r, "deliveries.html", "deliveries", "Deliveries", map[string]any{"Dead": dead, "Depth": depth})
}
