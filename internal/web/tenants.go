package web

import (
	"net/http"
	"slices"
	"strconv"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/store"
)

// The pages follow the API's tenant rule (api.TenantFilter): ?tenant=
// picks one tenant, and a user limited to tenants sees only theirs;
// another tenant's alert or incident is "not found", as in the API.

func (s *Server) tenantAlerts(r *http.Request, as []alert.Alert) []alert.Alert {
	f := s.o.API.TenantFilter(r)
	if !f.Filtered() {
		return as
	}
	return slices.DeleteFunc(as, func(a alert.Alert) bool { return !f.Alert(a) })
}

func (s *Server) tenantAccounts(r *http.Request, as []api.Account) []api.Account {
	f := s.o.API.TenantFilter(r)
	if !f.Filtered() {
		return as
	}
	return slices.DeleteFunc(as, func(a api.Account) bool { return !f.Account(a.AccountID, a.AccountUPN) })
}

func (s *Server) tenantIncidents(r *http.Request, incs []store.Incident) []store.Incident {
	f := s.o.API.TenantFilter(r)
	if !f.Filtered() {
		return incs
	}
	return slices.DeleteFunc(incs, func(inc store.Incident) bool { return !f.Incident(r.Context(), inc) })
}

func (s *Server) tenantDrills(r *http.Request, ds []store.Drill) []store.Drill {
	f := s.o.API.TenantFilter(r)
	if !f.Filtered() {
		return ds
	}
	return slices.DeleteFunc(ds, func(d store.Drill) bool { return !f.Drill(d) })
}

func (s *Server) tenantDeliveries(r *http.Request, ds []store.Delivery) []store.Delivery {
	f := s.o.API.TenantFilter(r)
	if !f.Filtered() {
		return ds
	}
	return slices.DeleteFunc(ds, func(d store.Delivery) bool {
		a, err := s.o.API.Store().Alert(r.Context(), d.AlertID)
		return err != nil || !f.Alert(a)
	})
}

// visibleAlert answers 404 (and false) for an alert the caller may not see.
func (s *Server) visibleAlert(w http.ResponseWriter, r *http.Request, id string) bool {
	a, err := s.o.API.Store().Alert(r.Context(), id)
	if err == nil && !s.o.API.TenantFilter(r).Alert(a) {
		err = store.ErrNotFound
	}
	if err != nil {
		s.fail(w, "alert "+strconv.Quote(id), err)
		return false
	}
	return true
}

// visibleIncident answers 404 (and false) for an incident the caller may
// not see.
func (s *Server) visibleIncident(w http.ResponseWriter, r *http.Request, id string) bool {
	inc, err := s.o.API.Store().Incident(r.Context(), id)
	if err == nil && !s.o.API.TenantFilter(r).Incident(r.Context(), inc) {
		err = store.ErrNotFound
	}
	if err != nil {
		s.fail(w, "incident "+strconv.Quote(id), err)
		return false
	}
	return true
}

// tenantLinks is what the tenant-filter template draws: a link per tenant
// the caller may pick, and "all".
type tenantLinks struct {
	Path    string
	Choices []api.TenantChoice
	Current string
}
