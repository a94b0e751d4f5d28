package api

import (
	"context"
	"net/http"
	"strings"

	"breakglass/internal/posture"
)

// postureReport picks one account's results out of a report (nil: none).
type postureReport posture.Report

func (p *postureReport) of(id, upn string) []posture.Result {
	out := []posture.Result{}
	if p == nil {
		return out
	}
	for _, r := range p.Results {
		if r.AccountID == "" && r.AccountUPN == "" {
			continue
		}
		if sameAccount(r.AccountID, r.AccountUPN, id, upn) {
			out = append(out, r)
		}
	}
	return out
}

// PostureReports returns every tenant's latest posture report (none
// before the first audit), in tenant order.
func (s *Server) PostureReports(ctx context.Context) ([]TenantReport, error) {
	if s.o.Posture == nil {
		return nil, nil
	}
	reps, err := s.o.Posture(ctx)
	if err != nil {
		return nil, err
	}
	for i := range reps {
		reps[i].Name = s.o.TenantNames[reps[i].Tenant]
		if reps[i].Name == "" {
			for id, n := range s.o.TenantNames { // configured ids keep their case
				if strings.EqualFold(id, reps[i].Tenant) {
					reps[i].Name = n
				}
			}
		}
	}
	return reps, nil
}

// reportOf is tenant's report in reps, or nil.
func reportOf(reps []TenantReport, tenant string) *postureReport {
	for _, r := range reps {
		if strings.EqualFold(r.Tenant, tenant) {
			return (*postureReport)(r.Report)
		}
	}
	return nil
}

// reportTenant is the tenant a report is shown for: its key, else (a
// config without tenants:) the tenant the audit itself names.
func reportTenant(r TenantReport) string {
	if r.Tenant == "" && r.Report != nil {
		return r.Report.Tenant.ID
	}
	return r.Tenant
}

// PostureOf is the posture the request may see (the API's posture route
// and the dashboard's posture page): the reports of the tenants in its
// view (?tenant= within the caller's tenants; a caller limited to tenants
// never sees a report of no tenant), and the one report to show first.
func (s *Server) PostureOf(r *http.Request) (Posture, error) {
	return s.postureIn(r.Context(), s.TenantFilter(r).v)
}

func (s *Server) postureIn(ctx context.Context, v tenantView) (Posture, error) {
	reps, err := s.PostureReports(ctx)
	if err != nil {
		return Posture{}, err
	}
	out := Posture{Reports: []TenantReport{}}
	for _, rep := range reps {
		if rep.Report == nil || (v.filtered() && !v.sees(reportTenant(rep))) {
			continue
		}
		out.Reports = append(out.Reports, rep)
		if out.Report == nil || rep.Report.Generated.After(out.Report.Generated) {
			out.Report = rep.Report
		}
	}
	return out, nil
}

func (s *Server) posture(w http.ResponseWriter, r *http.Request) {
	v, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	p, err := s.postureIn(r.Context(), v)
	if err != nil {
		s.storeError(w, "posture reports", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
