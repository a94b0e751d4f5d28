package web

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/drill"
	"breakglass/internal/kql/value"
	"breakglass/internal/store"
)

// This file is the rules page (each KQL rule, and a query box over the
// records the store keeps) and the drills page (a calendar of due and
// overdue dates, the checklist, the drills).

// rulesView is the rules page's data.
type rulesView struct {
	Rules   []api.RuleInfo
	Query   string
	MaxRows int
	// Ran: a query was run; Result or Error says how it went.
	Ran    bool
	Result *queryTable
	Error  *api.ErrorDetail
}

// queryTable is a query's result as the page shows it.
type queryTable struct {
	Columns   []api.QueryColumn
	Rows      [][]string
	Truncated bool
	MaxRows   int
	Elapsed   string
	Warnings  []string // what the result cannot show (api.QueryOutcome)
}

// maxCell bounds a cell on the page: a whole TargetResources array would
// bury the table; the API gives everything.
const maxCell = 300

func (s *Server) rules(w http.ResponseWriter, r *http.Request) {
	s.rulesPage(w, r, rulesView{MaxRows: api.DefaultQueryRows}, http.StatusOK)
}

// runQuery is the query box's form POST: it runs the query as POST
// /api/v1/query does and shows the result under the box.
func (s *Server) runQuery(w http.ResponseWriter, r *http.Request) {
	if s.o.API.TenantFilter(r).Limited() {
		http.Error(w, "A KQL query reads every tenant's records, and your account is limited to some tenants; ask someone without a tenant limit.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read (larger than 2 MiB?).", http.StatusBadRequest)
		return
	}
	v := rulesView{Query: r.PostFormValue("query"), MaxRows: api.DefaultQueryRows, Ran: true}
	if m := strings.TrimSpace(r.PostFormValue("max_rows")); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			v.Error = &api.ErrorDetail{Code: api.CodeBadRequest, Field: "max_rows", Message: "Rows at most: " + strconv.Quote(m) + " is not a number"}
			s.rulesPage(w, r, v, http.StatusBadRequest)
			return
		}
		v.MaxRows = n
	}
	out, qe := s.o.API.Query(r.Context(), api.QueryRequest{Query: v.Query, MaxRows: v.MaxRows})
	if qe != nil {
		v.Error = &qe.Detail
		s.rulesPage(w, r, v, qe.Status)
		return
	}
	t := &queryTable{Truncated: out.Result.Truncated, MaxRows: out.MaxRows, Elapsed: out.Elapsed.Round(time.Millisecond).String(), Warnings: out.Warnings}
	for _, c := range out.Result.Columns {
		t.Columns = append(t.Columns, api.QueryColumn{Name: c.Name, Type: c.Type.String()})
	}
	for _, row := range out.Result.Rows {
		cells := make([]string, len(out.Result.Columns))
		for i := range cells {
			var x value.Value
			if i < len(row) {
				x = row[i]
			}
			cells[i] = short(api.CellText(x), maxCell)
		}
		t.Rows = append(t.Rows, cells)
	}
	v.Result = t
	s.rulesPage(w, r, v, http.StatusOK)
}

func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request, v rulesView, status int) {
	rules, what, err := s.o.API.RuleList(r.Context())
	if err != nil {
		s.fail(w, what, err)
		return
	}
	v.Rules = rules.Rules
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	s.render(w, r, "rules.html", "rules", "Rules", v)
}

// drillsView is the drills page's data.
type drillsView struct {
	Accounts  []drillAccount
	Months    []calMonth
	Checklist []drill.Item
	Drills    []store.Drill
	// Known: the server knows drill.interval (the calendar is shown).
	Known bool
	// StatusError: when drills are due could not be worked out.
	StatusError bool
}

// drillAccount is one account's line of the calendar's agenda.
type drillAccount struct {
	drill.AccountStatus
	Label string
	// Never: no drill ever passed (due now).
	Never bool
	// Planned are the account's planned or running drills.
	Planned []drill.Summary
}

type calMonth struct {
	Name  string
	Weeks [][]calDay
	// Marks are the month's days with events, in order, for the list
	// under the grid (a cell has room for a word, not a name).
	Marks []calDay
}

type calDay struct {
	Day    int // 0: a day of another month (an empty cell)
	Date   time.Time
	Today  bool
	Events []calEvent
}

// calEvent is one mark on a day, in words (colour is never the only
// signal): Kind "due", "overdue" or "planned", and Word, what a cell
// has room for (due, late, plan).
type calEvent struct {
	Kind, Word, Account string
}

var calWords = map[string]string{"due": "due", "overdue": "late", "planned": "plan"}

func event(kind, account string) calEvent { return calEvent{kind, calWords[kind], account} }

// calendarMonths is how many months the calendar shows, from this one.
const calendarMonths = 3

func (s *Server) drills(w http.ResponseWriter, r *http.Request) {
	ds, err := s.o.API.Store().Drills(r.Context(), store.DrillFilter{Limit: 200})
	if err != nil {
		s.fail(w, "drills", err)
		return
	}
	ds = s.tenantDrills(r, ds) // tenants.go
	now := s.o.Now().UTC()
	v := drillsView{Checklist: drill.Checklist, Drills: ds}
	sts, err := s.o.API.DrillStatus(r.Context())
	if err != nil {
		// Say so, and still show the checklist and the drills.
		s.o.Logger.Error("dashboard: the drill status could not be worked out", "err", err)
		v.StatusError, sts = true, nil
	}
	v.Known = sts != nil
	for _, st := range sts {
		a := drillAccount{AccountStatus: st, Label: firstOf(st.Name, st.AccountUPN, st.AccountID), Never: st.LastPassed == nil}
		for _, d := range st.Drills {
			if d.State == store.DrillPlanned || d.State == store.DrillRunning {
				a.Planned = append(a.Planned, d)
			}
		}
		v.Accounts = append(v.Accounts, a)
	}
	v.Months = calendar(now, v.Accounts)
	s.render(w, r, "drills.html", "drills", "Drills", v)
}

// calendar lays out calendarMonths months from now's, weeks from Monday,
// with each account's due date and planned drills on their days. An
// overdue account is marked on today: its due date is in the past.
func calendar(now time.Time, accts []drillAccount) []calMonth {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	events := map[time.Time][]calEvent{}
	day := func(t time.Time) time.Time {
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	for _, a := range accts {
		switch {
		case a.Overdue || a.Due == nil:
			events[today] = append(events[today], event("overdue", a.Label))
		default:
			events[day(*a.Due)] = append(events[day(*a.Due)], event("due", a.Label))
		}
		for _, d := range a.Planned {
			events[day(d.WindowFrom)] = append(events[day(d.WindowFrom)], event("planned", a.Label))
		}
	}
	var out []calMonth
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for m := 0; m < calendarMonths; m++ {
		start := first.AddDate(0, m, 0)
		cm := calMonth{Name: start.Format("January 2006")}
		lead := (int(start.Weekday()) + 6) % 7 // Monday first
		var week []calDay
		for i := 0; i < lead; i++ {
			week = append(week, calDay{})
		}
		for d := start; d.Month() == start.Month(); d = d.AddDate(0, 0, 1) {
			cd := calDay{Day: d.Day(), Date: d, Today: d.Equal(today), Events: events[d]}
			week = append(week, cd)
			if len(cd.Events) > 0 {
				cm.Marks = append(cm.Marks, cd)
			}
			if len(week) == 7 {
				cm.Weeks = append(cm.Weeks, week)
				week = nil
			}
		}
		if len(week) > 0 {
			for len(week) < 7 {
				week = append(week, calDay{})
			}
			cm.Weeks = append(cm.Weeks, week)
		}
		out = append(out, cm)
	}
	return out
}

// pageFuncs are the template functions of these pages.
func pageFuncs() template.FuncMap {
	return template.FuncMap{
		// severity makes a rule's configured severity an alert's, for sev.
		"severity": func(n int) alert.Severity { return alert.Severity(n) },
		"weekday":  func(d time.Weekday) string { return d.String() },
		"date":     func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006") },
		// tenantLinks is the tenant filter of a list page (tenants.go).
		"tenantLinks": func(path string, v view) tenantLinks {
			return tenantLinks{Path: path, Choices: v.Tenants, Current: v.Tenant}
		},
	}
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
