package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/drill"
	"breakglass/internal/incident"
	"breakglass/internal/preserve"
	"breakglass/internal/store"
)

// Page sizes of the alerts list.
const (
	defaultPage = 50
	maxPage     = 500
)

// Routes is the API's route table: the one place a route is declared.
func Routes() []Route {
	return slices.Concat(readRoutes(), ruleRoutes(), queryRoutes(), writeRoutes())
}

func readRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/openapi.json", Summary: "This API's OpenAPI 3.1 document", handler: (*Server).openapi},
		{Method: "GET", Path: "/api/v1/accounts", Role: RoleViewer, Summary: "Every break-glass account with its posture, last sign-in, last drill and open incidents",
			Params: []Param{tenantParam}, Response: AccountList{}, handler: (*Server).accounts},
		{Method: "GET", Path: "/api/v1/posture", Role: RoleViewer, Summary: "The latest posture audit: every check with its evidence and fix (none when it is another tenant's than the one asked for)",
			Params: []Param{tenantParam}, Response: Posture{}, handler: (*Server).posture},
		{Method: "GET", Path: "/api/v1/alerts", Role: RoleViewer, Summary: "Alerts, newest first, a page at a time",
			Params: []Param{
				{"rule", "query", "string", "only this rule (e.g. bg.signin)"},
				{"account", "query", "string", "only this account's object id (case-insensitive)"},
				{"state", "query", "string", "firing, acknowledged or resolved"},
				{"severity", "query", "string", "comma-separated severities 0-4 (0 is the most severe)"},
				{"since", "query", "string", "event time at or after (RFC 3339)"},
				{"until", "query", "string", "event time before (RFC 3339)"},
				{"label", "query", "string", "key=value; repeat for several (all must match)"},
				tenantParam,
				{"limit", "query", "integer", "page size, 1-500 (default 50)"},
				{"cursor", "query", "string", "the next value of the previous page"},
			},
			Response: AlertList{}, handler: (*Server).alerts},
		{Method: "GET", Path: "/api/v1/alerts/{id}", Role: RoleViewer, Summary: "One alert with its state history",
			Params: []Param{{"id", "path", "string", "alert id"}}, Response: AlertDetail{}, handler: (*Server).alert},
		{Method: "GET", Path: "/api/v1/alerts/{id}/deliveries", Role: RoleViewer, Summary: "Every notification of one alert and what became of it",
			Params: []Param{{"id", "path", "string", "alert id"}}, Response: DeliveryList{}, handler: (*Server).deliveries},
		{Method: "GET", Path: "/api/v1/deadletters", Role: RoleViewer, Summary: "Notifications that could not be delivered",
			Params:   []Param{{"limit", "query", "integer", "at most this many (default 100, at most 1000)"}, tenantParam},
			Response: DeliveryList{}, handler: (*Server).deadLetters},
		{Method: "GET", Path: "/api/v1/incidents", Role: RoleViewer, Summary: "Incidents, newest first",
			Params: []Param{
				{"state", "query", "string", "open, acknowledged, reviewed or closed"},
				{"kind", "query", "string", "incident kind (account, ...)"},
				{"account", "query", "string", "only this account's object id"},
				{"since", "query", "string", "opened at or after (RFC 3339)"},
				{"limit", "query", "integer", "at most this many (default 100, at most 1000)"},
				tenantParam,
			},
			Response: IncidentList{}, handler: (*Server).incidents},
		{Method: "GET", Path: "/api/v1/incidents/{id}", Role: RoleViewer, Summary: "One incident with its timeline, its evidence and the evidence's verification",
			Params: []Param{{"id", "path", "string", "incident id"}}, Response: IncidentDetail{}, handler: (*Server).incident},
		{Method: "GET", Path: "/api/v1/drills", Role: RoleViewer, Summary: "Drills, newest window first",
			Params: []Param{
				{"account", "query", "string", "only this account's object id"},
				{"state", "query", "string", "planned, running or finished"},
				{"result", "query", "string", "passed or failed"},
				{"limit", "query", "integer", "at most this many (default 100, at most 1000)"},
				tenantParam,
			},
			Response: DrillList{}, handler: (*Server).drills},
		{Method: "GET", Path: "/api/v1/drills/{id}", Role: RoleViewer, Summary: "One drill with its plan, timings and attestations",
			Params: []Param{{"id", "path", "string", "drill id"}}, Response: Drill{}, handler: (*Server).drill},
	}
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AlertFilter{Rule: q.Get("rule"), AccountID: q.Get("account"), State: q.Get("state")}
	if f.State != "" && !slices.Contains([]string{alert.StateFiring, alert.StateAcknowledged, alert.StateResolved}, f.State) {
		fieldError(w, "state", fmt.Sprintf("%q is not a state (firing, acknowledged or resolved)", f.State))
		return
	}
	if v := q.Get("severity"); v != "" {
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < int(alert.Sev0) || n > int(alert.Sev4) {
				fieldError(w, "severity", fmt.Sprintf("%q is not a severity (0 to 4, comma-separated)", p))
				return
			}
			f.Severities = append(f.Severities, alert.Severity(n))
		}
	}
	var ok bool
	if f.Since, ok = timeParam(w, q.Get("since"), "since"); !ok {
		return
	}
	if f.Until, ok = timeParam(w, q.Get("until"), "until"); !ok {
		return
	}
	for _, l := range q["label"] {
		k, v, found := strings.Cut(l, "=")
		if !found || k == "" {
			fieldError(w, "label", fmt.Sprintf("%q is not key=value", l))
			return
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	limit, ok := intParam(w, q.Get("limit"), "limit", defaultPage, maxPage)
	if !ok {
		return
	}
	v, ok := s.viewOf(w, r) // tenants.go
	if !ok {
		return
	}
	if v.only != "" {
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[alert.LabelTenant] = v.only
	}
	page, next, err := s.o.Store.AlertPage(r.Context(), f, q.Get("cursor"), limit)
	if err != nil {
		s.storeError(w, "alerts", err)
		return
	}
	// A caller limited to several tenants: the page keeps theirs (it may
	// then hold fewer than limit; follow next to the end).
	page = slices.DeleteFunc(page, func(a alert.Alert) bool { return !v.sees(a.Labels[alert.LabelTenant]) })
	if page == nil {
		page = []alert.Alert{}
	}
	writeJSON(w, http.StatusOK, AlertList{Alerts: page, Next: next})
}

func (s *Server) alert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, err := s.o.Store.Alert(r.Context(), id)
	if err != nil {
		s.storeError(w, "alert "+strconv.Quote(id), err)
		return
	}
	cs, err := s.o.Store.StateChanges(r.Context(), id)
	if err != nil {
		s.storeError(w, "alert history", err)
		return
	}
	writeJSON(w, http.StatusOK, AlertDetail{Alert: a, History: stateChanges(cs)})
}

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.o.Store.Alert(r.Context(), id); err != nil {
		s.storeError(w, "alert "+strconv.Quote(id), err)
		return
	}
	ds, err := s.o.Store.AlertDeliveries(r.Context(), id)
	if err != nil {
		s.storeError(w, "deliveries", err)
		return
	}
	out := DeliveryList{Deliveries: []Delivery{}}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryOf(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit, ok := intParam(w, r.URL.Query().Get("limit"), "limit", 100, 1000)
	if !ok {
		return
	}
	v, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	ds, err := s.o.Store.DeadLetters(r.Context(), limit)
	if err != nil {
		s.storeError(w, "dead letters", err)
		return
	}
	out := DeliveryList{Deliveries: []Delivery{}}
	for _, d := range ds {
		if v.filtered() {
			a, err := s.o.Store.Alert(r.Context(), d.AlertID)
			if err != nil || !v.sees(a.Labels[alert.LabelTenant]) {
				continue
			}
		}
		out.Deliveries = append(out.Deliveries, deliveryOf(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.IncidentFilter{State: q.Get("state"), Kind: q.Get("kind"), AccountID: q.Get("account")}
	if f.State != "" && !slices.Contains([]string{store.IncidentOpen, store.IncidentAcknowledged, store.IncidentReviewed, store.IncidentClosed}, f.State) {
		fieldError(w, "state", fmt.Sprintf("%q is not an incident state (open, acknowledged, reviewed or closed)", f.State))
		return
	}
	var ok bool
	if f.Since, ok = timeParam(w, q.Get("since"), "since"); !ok {
		return
	}
	if f.Limit, ok = intParam(w, q.Get("limit"), "limit", 100, 1000); !ok {
		return
	}
	v, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	limit := f.Limit
	if v.filtered() {
		f.Limit = 0 // filtered below, then cut to limit
	}
	incs, err := s.o.Store.Incidents(r.Context(), f)
	if err != nil {
		s.storeError(w, "incidents", err)
		return
	}
	out := IncidentList{Incidents: []incident.View{}}
	for _, inc := range incs {
		if len(out.Incidents) == limit {
			break
		}
		if v.filtered() && !v.sees(s.incidentTenant(r.Context(), inc)) {
			continue
		}
		out.Incidents = append(out.Incidents, incident.ViewOf(inc))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) incident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	out, what, err := s.IncidentDetail(r.Context(), id)
	if err != nil {
		s.storeError(w, what, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// IncidentDetail returns one incident with its timeline, evidence and
// the evidence's verdict. On error, what names what could not be read.
func (s *Server) IncidentDetail(ctx context.Context, id string) (out IncidentDetail, what string, err error) {
	inc, err := s.o.Store.Incident(ctx, id)
	if err != nil {
		return out, "incident " + strconv.Quote(id), err
	}
	changes, err := s.o.Store.IncidentChanges(ctx, id)
	if err != nil {
		return out, "incident timeline", err
	}
	log, err := s.o.Store.IncidentLog(ctx, id)
	if err != nil {
		return out, "incident evidence", err
	}
	out = IncidentDetail{Incident: incident.ViewOf(inc), Timeline: []IncidentChange{}, Evidence: []EvidenceEntry{}, Verified: "unchecked"}
	for _, c := range changes {
		out.Timeline = append(out.Timeline, IncidentChange{From: c.From, To: c.To, By: c.By, At: c.At.UTC(), Note: c.Note})
	}
	for _, e := range log {
		out.Evidence = append(out.Evidence, evidenceOf(e))
	}
	if out.Suggested = drill.Suggested(log); out.Suggested != nil {
		var alerts []alert.Alert
		for _, aid := range inc.Alerts {
			a, err := s.o.Store.Alert(ctx, aid)
			if err != nil {
				// Unreadable: not shown to be the drill's.
				a = alert.Alert{ID: aid}
			}
			alerts = append(alerts, a)
		}
		out.NotTheDrill = out.Suggested.NotTheDrill(alerts)
	}
	if s.o.VerifyIncident != nil {
		ok, problems, err := s.o.VerifyIncident(ctx, id)
		switch {
		case err != nil:
			// Not verifiable is not verified: say so rather than "ok".
			out.Verified, out.Problems = "failed", []string{"the evidence could not be verified: " + err.Error()}
		case ok:
			out.Verified = "ok"
		default:
			out.Verified, out.Problems = "failed", problems
		}
	}
	return out, "", nil
}

func (s *Server) drills(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.DrillFilter{AccountID: q.Get("account"), State: q.Get("state"), Result: q.Get("result")}
	var ok bool
	if f.Limit, ok = intParam(w, q.Get("limit"), "limit", 100, 1000); !ok {
		return
	}
	v, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	limit := f.Limit
	if v.filtered() {
		f.Limit = 0
	}
	ds, err := s.o.Store.Drills(r.Context(), f)
	if err != nil {
		s.storeError(w, "drills", err)
		return
	}
	out := DrillList{Drills: []Drill{}}
	for _, d := range ds {
		if len(out.Drills) == limit {
			break
		}
		if v.filtered() && !v.sees(s.accountTenant(d.AccountID, d.AccountUPN)) {
			continue
		}
		out.Drills = append(out.Drills, drillOf(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) drill(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.o.Store.Drill(r.Context(), id)
	if err != nil {
		s.storeError(w, "drill "+strconv.Quote(id), err)
		return
	}
	writeJSON(w, http.StatusOK, drillOf(d))
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request) {
	v, ok := s.viewOf(w, r)
	if !ok {
		return
	}
	out, what, err := s.AccountList(r.Context())
	if err != nil {
		s.storeError(w, what, err)
		return
	}
	if v.filtered() {
		out.Accounts = slices.DeleteFunc(out.Accounts, func(a Account) bool { return !v.sees(s.accountTenant(a.AccountID, a.AccountUPN)) })
	}
	writeJSON(w, http.StatusOK, out)
}

// AccountList returns every account with its status, posture results,
// last drill and open incidents. On error, what names what could not be
// read.
func (s *Server) AccountList(ctx context.Context) (out AccountList, what string, err error) {
	sts, err := preserve.Status(ctx, s.o.Store, s.o.Accounts)
	if err != nil {
		return out, "account status", err
	}
	incs, err := s.o.Store.Incidents(ctx, store.IncidentFilter{Kind: store.IncidentAccount})
	if err != nil {
		return out, "incidents", err
	}
	reps, err := s.PostureReports(ctx)
	if err != nil {
		return out, "posture reports", err
	}
	// A drill status that cannot be worked out is said on each account,
	// not allowed to take the whole status board down with it.
	var due []drill.AccountStatus
	var dueErr string
	if s.o.DrillStatus != nil {
		var derr error
		if due, derr = s.o.DrillStatus(ctx); derr != nil {
			s.o.Logger.Error("api: the drill status could not be worked out", "err", derr)
			due, dueErr = nil, "when the next drill is due could not be worked out; the daemon's log says why"
		}
	}
	out = AccountList{Accounts: []Account{}}
	for _, st := range sts {
		a := Account{AccountStatus: st, Posture: reportOf(reps, s.accountTenant(st.AccountID, st.AccountUPN)).of(st.AccountID, st.AccountUPN), OpenIncidents: []string{}}
		for _, inc := range incs {
			if inc.State != store.IncidentClosed && sameAccount(inc.AccountID, inc.AccountUPN, st.AccountID, st.AccountUPN) {
				a.OpenIncidents = append(a.OpenIncidents, inc.ID)
			}
		}
		if st.AccountID != "" {
			ds, err := s.o.Store.Drills(ctx, store.DrillFilter{AccountID: st.AccountID, Limit: 1})
			if err != nil {
				return out, "drills", err
			}
			if len(ds) > 0 {
				d := drillOf(ds[0])
				a.LastDrill = &d
			}
		}
		a.DrillStatusError = dueErr
		for _, ds := range due {
			if sameAccount(ds.AccountID, ds.AccountUPN, st.AccountID, st.AccountUPN) {
				a.DrillDue, a.DrillOverdue = ds.Due, ds.Overdue
				if a.DrillDue != nil {
					t := a.DrillDue.UTC()
					a.DrillDue = &t
				}
			}
		}
		out.Accounts = append(out.Accounts, a)
	}
	return out, "", nil
}

// Store returns what the API reads, for pages rendered beside it.
func (s *Server) Store() Store { return s.o.Store }

func sameAccount(id1, upn1, id2, upn2 string) bool {
	return id1 != "" && strings.EqualFold(id1, id2) || upn1 != "" && strings.EqualFold(upn1, upn2)
}

func timeParam(w http.ResponseWriter, v, field string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		fieldError(w, field, fmt.Sprintf("%q is not an RFC 3339 time such as 2026-12-01T03:00:00Z", v))
		return time.Time{}, false
	}
	return t.UTC(), true
}

func intParam(w http.ResponseWriter, v, field string, def, max int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		fieldError(w, field, fmt.Sprintf("%q is not a number from 1 to %d", v, max))
		return 0, false
	}
	return n, true
}
