package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store/postgres"
)

var csrfValue = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// dashCall is one request to a replica's dashboard, with the cookies given,
// not following redirects.
func dashCall(t *testing.T, method, u string, cookies []*http.Cookie, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b)
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	return nil
}

// TestReplicasDashboard: the dashboard works from any replica, since its
// users, sessions and CSRF tokens live in the store. The sign-in form is
// fetched from r0 and posted to r1; the session r1 made opens a page on r2;
// the CSRF token of r2's page acknowledges an alert through r0's API; and
// signing out on r1 ends the session on r2 too.
func TestReplicasDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three daemons")
	}
	g := newReplicaRig(t, 3)
	w := newWorkload(t, 5, 300, 0.2)
	for range 3 {
		g.add()
	}
	add := exec.Command(binary, "users", "add", dashUser, "--role", "responder", "-c", g.reps[0].cfg)
	add.Env = append(os.Environ(), "E2E_PG_DSN="+g.dsn, "E2E_KAFKA_PASSWORD="+replicaKafkaPass, "BREAKGLASS_CONFIG=")
	add.Stdin = strings.NewReader(dashPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	for _, r := range g.reps {
		g.start(r)
	}
	for _, r := range g.reps {
		g.ready(r, 30*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := g.produce(ctx, w.msgs, 500); err != nil {
		t.Fatal(err)
	}
	if missing := g.waitDelivered(w, 30*time.Second); len(missing) > 0 {
		t.Fatalf("%d alerts not delivered", len(missing))
	}
	base := func(i int) string { return "http://" + g.reps[i].listen }

	resp, page := dashCall(t, "GET", base(0)+"/login", nil, nil, nil)
	m := csrfValue.FindStringSubmatch(page)
	loginCookie := cookieNamed(resp.Cookies(), "breakglass_login")
	if resp.StatusCode != 200 || m == nil || loginCookie == nil {
		t.Fatalf("GET /login on r0: %d, csrf %v, cookies %v", resp.StatusCode, m, resp.Cookies())
	}
	form := url.Values{"name": {dashUser}, "password": {dashPassword}, "csrf_token": {m[1]}, "next": {"/alerts"}}
	resp, page = dashCall(t, "POST", base(1)+"/login", []*http.Cookie{loginCookie}, strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	session := cookieNamed(resp.Cookies(), "breakglass_session")
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("POST /login on r1 with r0's form: %d, cookies %v\n%.500s", resp.StatusCode, resp.Cookies(), page)
	}

	resp, page = dashCall(t, "GET", base(2)+"/account", []*http.Cookie{session}, nil, nil)
	m = csrfValue.FindStringSubmatch(page)
	if resp.StatusCode != 200 || !strings.Contains(page, dashUser) || m == nil {
		t.Fatalf("GET /account on r2 with r1's session: %d, csrf %v\n%.500s", resp.StatusCode, m, page)
	}
	csrf := m[1]

	var id string
	for a, rule := range w.expected {
		if rule == "bg.signin" {
			id = a
			break
		}
	}
	resp, page = dashCall(t, "POST", base(0)+"/api/v1/alerts/"+id+"/ack", []*http.Cookie{session}, strings.NewReader(`{"note":"seen on another replica"}`),
		map[string]string{"Content-Type": "application/json", "X-CSRF-Token": csrf})
	if resp.StatusCode != 200 {
		t.Fatalf("ack through r0 with r2's CSRF token: %d %s", resp.StatusCode, page)
	}
	st, err := postgres.Open(ctx, g.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if a, err := st.Alert(ctx, id); err != nil || a.State != alert.StateAcknowledged {
		t.Errorf("alert after the ack: state %q, %v", a.State, err)
	}
	// A wrong token is refused on every replica, so the check is real.
	for i := range g.reps {
		resp, _ := dashCall(t, "POST", base(i)+"/api/v1/alerts/"+id+"/ack", []*http.Cookie{session}, strings.NewReader(`{}`),
			map[string]string{"Content-Type": "application/json", "X-CSRF-Token": csrf + "x"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("r%d: ack with a wrong CSRF token: %d, want 403", i, resp.StatusCode)
		}
	}

	resp, page = dashCall(t, "POST", base(1)+"/logout", []*http.Cookie{session}, strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout on r1: %d %.300s", resp.StatusCode, page)
	}
	for i := range g.reps {
		resp, page := dashCall(t, "GET", base(i)+"/account", []*http.Cookie{session}, nil, nil)
		if resp.StatusCode == 200 && strings.Contains(page, dashUser) {
			t.Errorf("r%d still serves the signed-out session's account page", i)
		}
	}
	for _, r := range g.reps {
		g.term(r)
	}
}
