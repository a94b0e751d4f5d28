package daemon

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"

	"breakglass/internal/ack"
	"breakglass/internal/api"
	"breakglass/internal/auth"
	"breakglass/internal/evidence"
	"breakglass/internal/incident"
	"breakglass/internal/oidc"
	"breakglass/internal/store"
	"breakglass/internal/web"
)

// mountDashboard mounts the JSON API (/api/v1/), the dashboard pages and,
// when server.oidc is set, sign-in through the identity provider, all
// behind svc (sessions, tokens, roles, CSRF).
func (d *Daemon) mountDashboard(mux *http.ServeMux, svc *auth.Service, acker *ack.Handler) error {
	acts, err := NewActions(d.cfg, d.st, d.o.Now)
	if err != nil {
		return err
	}
	ao := api.Options{
		Store:          d.st,
		Accounts:       d.cfg.Users(),
		Posture:        d.postureReports, // posture_store.go
		VerifyIncident: d.verifyIncident,
		Guard:          svc.Guard,
		Who:            auth.Who,
		Actions:        acts,
		AlertAck:       acker.APIAck(svc),
		Now:            d.o.Now,
	}
	d.tenantAPIOptions(&ao)  // tenants.go
	d.pageOptions(&ao, acts) // pages.go
	a := api.New(ao)
	mux.Handle("/api/v1/", auditWrites(svc, a))
	var groups []string // each one a review attests for
	for _, g := range d.cfg.Notify.Groups {
		groups = append(groups, g.Name)
	}
	w, err := web.New(web.Options{
		API:       a,
		Guard:     svc.Guard,
		Principal: auth.PrincipalOf,
		Ack: func(ctx context.Context, id, who, note string) (bool, error) {
			return acker.AckAs(ctx, id, who, store.ViaWeb, note)
		},
		Review: func(ctx context.Context, id, class, who, note string, attest map[string]string) ([]string, error) {
			_, missing, err := acts.ReviewIncident(ctx, id, who, api.ReviewRequest{Class: class, Note: note, Attest: attest})
			return missing, err
		},
		Groups: groups,
		Logger: d.log.With("part", "dashboard"),
		Now:    d.o.Now,
	})
	if err != nil {
		return err
	}
	mux.Handle("/", auditWrites(svc, w))
	if o := d.cfg.Server.OIDC; o != nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("oidc: %w", err)
		}
		prov := oidc.Lazy(context.Background(), oidc.Config{Issuer: o.Issuer, ClientID: o.ClientID,
			ClientSecret: string(o.ClientSecret), RedirectURL: o.RedirectURL, Scopes: o.Scopes,
			RoleClaim: o.RoleClaim, Roles: o.Roles, Tenants: o.Tenants, TenantClaim: o.TenantClaim, Now: d.o.Now})
		f := &oidc.Flow{Provider: prov, Key: key, Secure: d.cfg.Server.TLS(), Logger: d.log.With("part", "oidc"), Now: d.o.Now,
			SignIn: func(w http.ResponseWriter, r *http.Request, id oidc.Identity) error {
				role, err := auth.ParseRole(id.Role)
				if err != nil {
					return err
				}
				return svc.StartSession(w, r, id.Name, role, "oidc", id.Tenants...)
			}}
		f.Register(mux)
	}
	return nil
}

// verifyIncident checks an incident's part of the evidence chain, from its
// first entry to the head, as an export bundle's segment is checked
// (every content hash, every link, nothing inserted or removed), and its
// store record against its log. Entries before the incident's first are
// `breakglass evidence verify`'s.
func (d *Daemon) verifyIncident(ctx context.Context, id string) (bool, []string, error) {
	entries, ok, err := evidence.Segment(ctx, d.st, id)
	if err != nil {
		return false, nil, err
	}
	var problems []string
	if ok {
		if res := evidence.VerifySegment(entries, 0, nil); !res.OK() {
			problems = append(problems, res.Break.Error())
		}
	}
	m, err := incident.CheckStoreLog(ctx, d.st, id)
	if err != nil {
		return false, nil, err
	}
	if m != nil {
		problems = append(problems, m.Error())
	}
	return len(problems) == 0, problems, nil
}

// writeActions names the audited writes of the API and the pages by their
// route: what the audit trail calls them. Reads sent as POST (a query) are
// not writes; the API's alert ack records itself (ack.Handler.APIAck).
var writeActions = []struct{ pattern, action string }{
	{"POST /api/v1/incidents/{id}/ack", "incident.ack"},
	{"POST /api/v1/incidents/{id}/review", "incident.review"},
	{"POST /api/v1/incidents/{id}/close", "incident.close"},
	{"POST /api/v1/drills", "drill.plan"},
	{"POST /api/v1/drills/{id}/start", "drill.start"},
	{"POST /api/v1/drills/{id}/finish", "drill.finish"},
	{"POST /alerts/{id}/ack", "alert.ack"},
	{"POST /incidents/{id}/review", "incident.review"},
}

// auditWrites records every write the API and the pages do in the audit
// trail, with who (the principal), from where, what, and how it ended. A
// refusal for role, credential or CSRF is recorded by the auth service
// itself, before the handler runs.
func auditWrites(rec interface {
	Record(r *http.Request, action, target, outcome, detail string) error
}, h http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, wa := range writeActions {
		wa := wa
		mux.Handle(wa.pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			h.ServeHTTP(sw, r)
			outcome, detail := "ok", "via "+viaOf(r)
			switch {
			case sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden:
				return // recorded by auth.Service.Require
			case sw.status >= 400:
				outcome, detail = "failed", fmt.Sprintf("HTTP %d via %s", sw.status, viaOf(r))
			}
			target := r.PathValue("id")
			if target == "" {
				target = r.URL.Path
			}
			_ = rec.Record(r, wa.action, target, outcome, detail)
		}))
	}
	mux.Handle("/", h)
	return mux
}

func viaOf(r *http.Request) string {
	if len(r.URL.Path) >= 8 && r.URL.Path[:8] == "/api/v1/" {
		return "api"
	}
	return "web"
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming answers streaming.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
