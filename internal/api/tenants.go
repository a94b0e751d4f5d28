package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// ParamTenant is the query parameter of every list that filters by tenant.
const ParamTenant = "tenant"

// tenantParam is the ?tenant= parameter of the list routes.
var tenantParam = Param{ParamTenant, "query", "string", "only this tenant's (its id, as in tenants[].id; the alerts' tenant label)"}

// tenantView is what one request may see: the tenant it asked for
// (?tenant=) within the tenants its caller is limited to (Options.Scope).
type tenantView struct {
	only  string   // ?tenant=, lower-cased; "" for any
	scope []string // the caller's tenants; nil: every tenant
}

// sees reports whether an item of tenant t (its id; "" when it has none)
// is in the view. A caller limited to tenants never sees an item of no
// tenant: nothing says it is theirs.
func (v tenantView) sees(t string) bool {
	t = strings.ToLower(t)
	if v.only != "" && t != v.only {
		return false
	}
	return v.scope == nil || slices.Contains(v.scope, t)
}

// filtered reports whether the view hides anything.
func (v tenantView) filtered() bool { return v.only != "" || v.scope != nil }

// scopeOf is the caller's tenants, lower-cased; nil when not limited.
func (s *Server) scopeOf(r *http.Request) []string {
	if s.o.Scope == nil {
		return nil
	}
	sc := s.o.Scope(r)
	if len(sc) == 0 {
		return nil
	}
	out := make([]string, len(sc))
	for i, t := range sc {
		out[i] = strings.ToLower(t)
	}
	return out
}

// viewOf reads ?tenant= (answering 400 for a tenant that is not
// configured) and the caller's scope. ok is false when it answered.
func (s *Server) viewOf(w http.ResponseWriter, r *http.Request) (tenantView, bool) {
	v := tenantView{only: strings.ToLower(strings.TrimSpace(r.URL.Query().Get(ParamTenant))), scope: s.scopeOf(r)}
	if v.only != "" && len(s.o.Tenants) > 0 && !slices.ContainsFunc(s.o.Tenants, func(t string) bool { return strings.EqualFold(t, v.only) }) {
		fieldError(w, ParamTenant, fmt.Sprintf("%q is not a configured tenant id (tenants: %s)", v.only, strings.Join(s.o.Tenants, ", ")))
		return v, false
	}
	return v, true
}

// accountTenant is the tenant that lists an account, or "".
func (s *Server) accountTenant(id, upn string) string {
	if s.o.AccountTenant == nil {
		return ""
	}
	return s.o.AccountTenant(id, upn)
}

// incidentTenant is an incident's tenant: its account's, else the tenant
// label of its first alert (a watcher failure of one tenant).
func (s *Server) incidentTenant(ctx context.Context, inc store.Incident) string {
	if t := s.accountTenant(inc.AccountID, inc.AccountUPN); t != "" {
		return t
	}
	if len(inc.Alerts) > 0 {
		if a, err := s.o.Store.Alert(ctx, inc.Alerts[0]); err == nil {
			return a.Labels[alert.LabelTenant]
		}
	}
	return ""
}

// errHidden is an item outside the caller's tenants: answered as if it
// did not exist, so ids of other tenants' items cannot be probed.
var errHidden = fmt.Errorf("not found: %w", store.ErrNotFound)

// scoped guards the routes that name one item, or act on one, for a
// caller limited to tenants: another tenant's alert, incident or drill is
// 404, and so is planning a drill of another tenant's account. Queries
// read every tenant's records, so they are refused.
func (s *Server) scoped(rt Route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := s.scopeOf(r)
		if scope == nil {
			h.ServeHTTP(w, r)
			return
		}
		v := tenantView{scope: scope}
		id := r.PathValue("id")
		var tenant string
		var err error
		switch {
		case rt.Path == "/api/v1/query":
			writeError(w, http.StatusForbidden, CodeForbidden, "a KQL query reads every tenant's records, and this account is limited to tenants "+strings.Join(scope, ", ")+"; ask someone without a tenant limit")
			return
		case id != "" && strings.HasPrefix(rt.Path, "/api/v1/alerts/"):
			var a alert.Alert
			if a, err = s.o.Store.Alert(r.Context(), id); err == nil {
				tenant = a.Labels[alert.LabelTenant]
			}
		case id != "" && strings.HasPrefix(rt.Path, "/api/v1/incidents/"):
			var inc store.Incident
			if inc, err = s.o.Store.Incident(r.Context(), id); err == nil {
				tenant = s.incidentTenant(r.Context(), inc)
			}
		case id != "" && strings.HasPrefix(rt.Path, "/api/v1/drills/"):
			var d store.Drill
			if d, err = s.o.Store.Drill(r.Context(), id); err == nil {
				tenant = s.accountTenant(d.AccountID, d.AccountUPN)
			}
		case rt.Method == "POST" && rt.Path == "/api/v1/drills":
			body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if rerr != nil {
				writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, "the request body is too large or unreadable")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var rq DrillRequest
			_ = json.Unmarshal(body, &rq) // the handler reports a bad body
			tenant = s.accountTenant(rq.Account, rq.Account)
			if !v.sees(tenant) {
				writeError(w, http.StatusNotFound, CodeNotFound, "no break-glass account "+fmt.Sprintf("%q", rq.Account)+" in this account's tenants")
				return
			}
			h.ServeHTTP(w, r)
			return
		default:
			h.ServeHTTP(w, r) // lists filter themselves
			return
		}
		if err == nil && !v.sees(tenant) {
			err = errHidden
		}
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, http.StatusNotFound, CodeNotFound, id+" not found")
				return
			}
			s.storeError(w, id, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TenantFilter is what one dashboard request may see: the tenant asked
// for (?tenant=) within the caller's tenants, the rule the API's lists
// follow, for the pages that read the store beside it.
type TenantFilter struct {
	s *Server
	v tenantView
}

// TenantFilter returns the request's filter. An unknown ?tenant= shows
// nothing (the API answers 400 for it; a page just shows no rows).
func (s *Server) TenantFilter(r *http.Request) TenantFilter {
	return TenantFilter{s: s, v: tenantView{only: strings.ToLower(strings.TrimSpace(r.URL.Query().Get(ParamTenant))), scope: s.scopeOf(r)}}
}

// Filtered reports whether the filter hides anything.
func (f TenantFilter) Filtered() bool { return f.v.filtered() }

// Limited reports whether the caller is limited to tenants.
func (f TenantFilter) Limited() bool { return f.v.scope != nil }

// Only is the tenant asked for, "" for any.
func (f TenantFilter) Only() string { return f.v.only }

// Alert reports whether the alert is shown.
func (f TenantFilter) Alert(a alert.Alert) bool { return f.v.sees(a.Labels[alert.LabelTenant]) }

// Incident reports whether the incident is shown.
func (f TenantFilter) Incident(ctx context.Context, inc store.Incident) bool {
	return !f.v.filtered() || f.v.sees(f.s.incidentTenant(ctx, inc))
}

// Drill reports whether the drill is shown.
func (f TenantFilter) Drill(d store.Drill) bool {
	return !f.v.filtered() || f.v.sees(f.s.accountTenant(d.AccountID, d.AccountUPN))
}

// Account reports whether the account is shown.
func (f TenantFilter) Account(id, upn string) bool {
	return !f.v.filtered() || f.v.sees(f.s.accountTenant(id, upn))
}

// TenantChoice is one tenant a filter can pick.
type TenantChoice struct{ ID, Name string }

// Choices are the tenants the caller may pick from (its own when limited),
// in configuration order; none without tenants:.
func (f TenantFilter) Choices() []TenantChoice {
	var out []TenantChoice
	for _, id := range f.s.o.Tenants {
		if f.v.scope == nil || slices.Contains(f.v.scope, strings.ToLower(id)) {
			out = append(out, TenantChoice{ID: id, Name: cmpOr(f.s.o.TenantNames[id], id)})
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Tenant reports whether an item of tenant id (an audit's) is shown.
func (f TenantFilter) Tenant(id string) bool { return !f.v.filtered() || f.v.sees(id) }
