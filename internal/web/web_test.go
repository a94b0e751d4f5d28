package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/api"
	"breakglass/internal/drill"
	"breakglass/internal/entra"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
	"breakglass/internal/web"
)

var base = time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)

const csrf = "test-csrf-token"

// roleGuard stands in for auth.Service.Require: the X-Role header is the
// caller's role, and unsafe methods need the CSRF token, as the real
// guard does.
func roleGuard(need string, h http.Handler) http.Handler {
	rank := map[string]int{api.RoleViewer: 1, api.RoleResponder: 2, api.RoleAdmin: 3}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := r.Header.Get("X-Role")
		switch {
		case rank[role] == 0:
			http.Error(w, "sign in", http.StatusUnauthorized)
		case rank[role] < rank[need]:
			http.Error(w, "forbidden", http.StatusForbidden)
		case r.Method == "POST" && r.PostFormValue("csrf_token") != csrf:
			http.Error(w, "csrf", http.StatusForbidden)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

type fixture struct {
	st       *sqlite.Store
	srv      *httptest.Server
	acked    []string
	reviewed []string
	incID    string
	alertID  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st}
	acct := entra.Account{ID: "11111111-1111-1111-1111-111111111111", UPN: "bg1@contoso.example", Name: "Break glass 1"}
	for i := 0; i < 3; i++ {
		a := storetest.Alert(fmt.Sprintf("evt-%d", i), "bg.signin", base.Add(time.Duration(i)*time.Minute))
		a.AccountID, a.AccountUPN = acct.ID, acct.UPN
		a.Title = fmt.Sprintf("Break-glass sign-in %d <script>alert(1)</script>", i)
		if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{"id":"x"}`))); err != nil {
			t.Fatal(err)
		}
		inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(acct.ID), store.IncidentAccount, time.Hour, a.Detected)
		if err != nil {
			t.Fatal(err)
		}
		f.incID = inc.ID
		if i == 0 {
			f.alertID = a.ID
		}
	}
	ao := api.Options{Store: st, Accounts: []entra.Account{acct}, Guard: roleGuard}
	pageOptions(t, st, &ao) // pages_test.go
	a := api.New(ao)
	w, err := web.New(web.Options{API: a, Guard: roleGuard,
		Principal: func(r *http.Request) (string, string, string) { return "dana", r.Header.Get("X-Role"), csrf },
		Ack: func(_ context.Context, id, who, note string) (bool, error) {
			f.acked = append(f.acked, id+" by "+who+": "+note)
			return true, nil
		},
		Review: func(_ context.Context, id, class, who, note string, attest map[string]string) ([]string, error) {
			f.reviewed = append(f.reviewed, id+" "+class+" by "+who+fmt.Sprint(attest))
			if attest["security"] == "" {
				return []string{"security"}, nil
			}
			return nil, nil
		},
		Groups: []string{"oncall", "security"},
		Now:    func() time.Time { return base.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(w)
	t.Cleanup(f.srv.Close)
	return f
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) do(t *testing.T, method, path, role string, form url.Values) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if role != "" {
		req.Header.Set("X-Role", role)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	inlineStyle  = regexp.MustCompile(`\sstyle=|<style`)
	inlineEvent  = regexp.MustCompile(`\son[a-z]+=`)
)

func TestPages(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/", []string{"Break glass 1", "3 alerts firing", "not audited yet", "never drilled", f.incID[:12]}},
		{"/alerts", []string{`hx-get="/alerts/rows"`, `hx-trigger="every 1s"`, "Break-glass sign-in 2", "FIRING"}},
		{"/alerts/rows", []string{"Break-glass sign-in 0", "Sev"}},
		{"/incidents", []string{f.incID, "not reviewed"}},
		{"/alerts/" + f.alertID, []string{"State history", "Notifications of this alert", "Break-glass sign-in 0", "bg.signin"}},
		{"/incidents/" + f.incID, []string{"Timeline", "Evidence", `name="class" value="misuse"`}},
		{"/drills", []string{"No drill yet"}},
		{"/posture", []string{"No audit has run yet"}},
		{"/deliveries", []string{"waiting in the outbox", "Dead letters"}},
		{"/static/app.css", []string{"max-width: 640px"}},
		{"/static/htmx-2.0.4.min.js", []string{"htmx"}},
	} {
		status, body, _ := f.do(t, "GET", tt.path, api.RoleResponder, nil)
		if status != 200 {
			t.Errorf("GET %s: %d\n%s", tt.path, status, body)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: lacks %q", tt.path, w)
			}
		}
		if strings.HasPrefix(tt.path, "/static/") {
			continue
		}
		// The strict CSP holds only if nothing is inline.
		for _, re := range []*regexp.Regexp{inlineScript, inlineStyle, inlineEvent} {
			if m := re.FindString(body); m != "" {
				t.Errorf("GET %s: inline script or style %q breaks the CSP", tt.path, m)
			}
		}
		if strings.Contains(body, "<script>alert(1)") {
			t.Errorf("GET %s: an alert title was not escaped", tt.path)
		}
		if strings.Contains(body, "<form") && !strings.Contains(body, `name="csrf_token" value="`+csrf+`"`) {
			t.Errorf("GET %s: a form lacks the CSRF token", tt.path)
		}
		if tt.path != "/alerts/rows" && (!strings.Contains(body, `name="viewport"`) || !strings.Contains(body, `<html lang="en">`)) {
			t.Errorf("GET %s: lacks the viewport or the language", tt.path)
		}
	}
}

func TestRolesAndForms(t *testing.T) {
	f := newFixture(t)
	alerts, _ := f.st.Alerts(context.Background(), store.AlertFilter{})
	id := alerts[0].ID
	// A viewer sees no acknowledge button and cannot post one.
	if _, body, _ := f.do(t, "GET", "/alerts", api.RoleViewer, nil); strings.Contains(body, "Acknowledge</button>") {
		t.Error("a viewer is offered the acknowledge button")
	}
	if status, _, _ := f.do(t, "POST", "/alerts/"+id+"/ack", api.RoleViewer, url.Values{"csrf_token": {csrf}}); status != 403 {
		t.Errorf("viewer ack: %d, want 403", status)
	}
	if status, _, _ := f.do(t, "GET", "/", "", nil); status != 401 {
		t.Errorf("no session: %d, want 401", status)
	}
	// Without the CSRF token nothing is done.
	if status, _, _ := f.do(t, "POST", "/alerts/"+id+"/ack", api.RoleResponder, url.Values{"note": {"x"}}); status != 403 || len(f.acked) != 0 {
		t.Errorf("ack without CSRF: %d, acked %v", status, f.acked)
	}
	status, _, h := f.do(t, "POST", "/alerts/"+id+"/ack", api.RoleResponder, url.Values{"csrf_token": {csrf}, "note": {"on it"}})
	if status != 303 || h.Get("Location") != "/alerts?done=acknowledged" || len(f.acked) != 1 || f.acked[0] != id+" by dana: on it" {
		t.Errorf("ack: %d %q, acked %v", status, h.Get("Location"), f.acked)
	}
	// Review: a class is required; a good one is recorded.
	if status, _, _ := f.do(t, "POST", "/incidents/"+f.incID+"/review", api.RoleResponder, url.Values{"csrf_token": {csrf}, "class": {"shrug"}}); status != 400 {
		t.Errorf("review with a bad class: %d, want 400", status)
	}
	status, _, h = f.do(t, "POST", "/incidents/"+f.incID+"/review", api.RoleResponder, url.Values{"csrf_token": {csrf}, "class": {"drill"},
		"attest-oncall": {" yes "}, "attest-other": {"not a group"}})
	if status != 303 || len(f.reviewed) != 1 || f.reviewed[0] != f.incID+" drill by danamap[oncall:yes]" ||
		!strings.Contains(h.Get("Location"), "not+attested+for+security") {
		t.Errorf("review: %d %q, reviewed %v", status, h.Get("Location"), f.reviewed)
	}
	if status, _, _ := f.do(t, "GET", "/incidents/nope", api.RoleViewer, nil); status != 404 {
		t.Errorf("unknown incident: %d, want 404", status)
	}
	_ = alert.StateFiring
}

func TestNoGuardServesNothing(t *testing.T) {
	f := newFixture(t)
	w, err := web.New(web.Options{API: api.New(api.Options{Store: f.st})})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 {
		t.Errorf("dashboard without a guard: %d, want 401", rec.Code)
	}
}

// TestIncidentDrillSuggestion: an incident whose sign-in was a drill's
// says so on its page before anyone reviews it, with the
// command that confirms it; hostile text in it is escaped.
func TestIncidentDrillSuggestion(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := drill.Classification{SuggestedClass: store.ClassDrill, Drill: "drl-0123456789ab", Account: "bg1@contoso.example", AlertID: f.alertID,
		PlannedBy: "alice <b>", Note: "Q1 drill <script>alert(1)</script>", At: base, Confirm: "breakglass incidents review " + f.incID + " --as drill --by NAME --note TEXT"}
	b, _ := json.Marshal(c)
	if _, _, err := f.st.AppendLogOnce(ctx, store.LogEntry{Incident: f.incID, Kind: drill.LogKind, Ref: c.Drill, At: base, Content: b}); err != nil {
		t.Fatal(err)
	}
	_, body, _ := f.do(t, "GET", "/incidents/"+f.incID, api.RoleResponder, nil)
	for _, w := range []string{`<span class="tag warn">DRILL</span> this is the sign-in of drill <a href="/drills">drl-0123456789ab</a> of bg1@contoso.example, planned by alice &lt;b&gt;`,
		"choose Drill below", "incidents review " + f.incID + " --as drill", `<span class="tag bad">NOT THE DRILL'S</span> 2 alert(s)`} {
		if !strings.Contains(body, w) {
			t.Errorf("incident page lacks %q", w)
		}
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("the drill's note is not escaped")
	}
}
