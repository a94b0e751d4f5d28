package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"breakglass/internal/ack"
	"breakglass/internal/alert"
	"breakglass/internal/auth"
	"breakglass/internal/store"
)

const (
	pwDana = "Dana's long night passphrase"
	pwVic  = "viewer only, looks but never touches"
)

func TestLoginFormWithoutCSRFRefused(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	c := e.browser()
	csrf := e.loginForm(c)
	for name, form := range map[string]url.Values{
		"no token":    {"name": {"dana"}, "password": {pwDana}},
		"wrong token": {"name": {"dana"}, "password": {pwDana}, "csrf_token": {csrf[:len(csrf)-2] + "AA"}},
	} {
		r := e.postForm(c, auth.PathLogin, form)
		if r.status != http.StatusForbidden || strings.Contains(r.header.Get("Set-Cookie"), "breakglass_session") {
			t.Errorf("%s: login = %d, Set-Cookie %q; want 403 and no session", name, r.status, r.header.Get("Set-Cookie"))
		}
		csrf = csrfRE.FindStringSubmatch(r.body)[1] // the refusal renders a fresh form
	}
	// A cross-site form has no login cookie at all.
	r := e.postForm(e.srv.Client(), auth.PathLogin, url.Values{"name": {"dana"}, "password": {pwDana}, "csrf_token": {csrf}})
	if r.status != http.StatusForbidden {
		t.Errorf("login without the form's cookie = %d, want 403", r.status)
	}
	if n := len(e.audit("login")); n != 3 {
		t.Errorf("%d login audit entries, want the 3 refusals", n)
	}
	e.login(c, "dana", pwDana) // and the real form works
}

func TestCSRFRequiredForSessionWrites(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	e.addAlert("a1")
	c := e.browser()
	csrf := e.login(c, "dana", pwDana)

	if r := e.postForm(c, auth.PathLogout, url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("logout without CSRF token = %d, want 403", r.status)
	}
	if r := e.get(c, auth.PathAccount); r.status != http.StatusOK {
		t.Fatalf("session ended by a logout without CSRF token: %d", r.status)
	}
	r := e.apiAck(c, "a1", "", "", "")
	if r.status != http.StatusForbidden || apiError(t, r).Code != "csrf" {
		t.Errorf("API ack from a session without X-CSRF-Token = %d %s, want 403 csrf", r.status, r.body)
	}
	if r := e.apiAck(c, "a1", "", "not-the-token", ""); r.status != http.StatusForbidden {
		t.Errorf("API ack with a wrong X-CSRF-Token = %d", r.status)
	}
	if s := e.alertState("a1"); s != alert.StateFiring {
		t.Fatalf("alert %s after refused acks", s)
	}
	if r := e.apiAck(c, "a1", "", csrf, ""); r.status != http.StatusOK {
		t.Fatalf("API ack with the session's token = %d %s", r.status, r.body)
	}
	denied := 0
	for _, a := range e.audit("request") {
		if a.Outcome == "denied" && a.Actor == "dana" && strings.Contains(a.Detail, "CSRF") {
			denied++
		}
	}
	if denied != 3 {
		t.Errorf("%d refused requests in the audit trail, want 3", denied)
	}
}

func TestSessionRefusedAfterLogout(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	e.addAlert("a1")
	c := e.browser()
	csrf := e.login(c, "dana", pwDana)
	u, _ := url.Parse(e.srv.URL)
	var kept *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "breakglass_session" {
			kept = ck
		}
	}
	if kept == nil {
		t.Fatal("no session cookie after login")
	}
	r := e.postForm(c, auth.PathLogout, url.Values{"csrf_token": {csrf}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout = %d, Set-Cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
	// Someone kept a copy of the cookie: the server must refuse it.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+auth.PathAccount, nil)
	req.AddCookie(kept)
	r = do(t, e.browser(), req)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), auth.PathLogin) {
		t.Fatalf("the session cookie after logout: GET /account = %d %q, want a redirect to sign in", r.status, r.header.Get("Location"))
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/alerts/a1/ack", nil)
	req.AddCookie(kept)
	req.Header.Set(auth.CSRFHeader, csrf)
	r = do(t, e.srv.Client(), req)
	if r.status != http.StatusUnauthorized || apiError(t, r).Code != "session_expired" {
		t.Errorf("API with a logged-out cookie = %d %s, want 401 session_expired", r.status, r.body)
	}
	if s := e.alertState("a1"); s != alert.StateFiring {
		t.Errorf("alert acknowledged with a logged-out cookie: %s", s)
	}
	if n := len(e.audit("logout")); n != 1 {
		t.Errorf("%d logout entries", n)
	}
}

func TestSessionIdleAndAbsoluteTimeout(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	c := e.browser()
	e.login(c, "dana", pwDana)
	e.clock.Add(auth.DefaultIdleTimeout - time.Minute)
	if r := e.get(c, auth.PathAccount); r.status != http.StatusOK {
		t.Fatalf("session ended before the idle timeout: %d", r.status)
	}
	e.clock.Add(auth.DefaultIdleTimeout - time.Minute) // active a minute before: still in
	if r := e.get(c, auth.PathAccount); r.status != http.StatusOK {
		t.Fatalf("active session ended: %d", r.status)
	}
	e.clock.Add(auth.DefaultIdleTimeout)
	if r := e.get(c, auth.PathAccount); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
		t.Errorf("idle session: GET /account = %d %q, want a redirect to sign in", r.status, r.header.Get("Location"))
	}

	c = e.browser()
	e.login(c, "dana", pwDana)
	for elapsed := time.Duration(0); elapsed < auth.DefaultSessionTTL-30*time.Minute; elapsed += 30 * time.Minute {
		e.clock.Add(30 * time.Minute)
		if r := e.get(c, auth.PathAccount); r.status != http.StatusOK {
			t.Fatalf("session ended after %v of activity", elapsed)
		}
	}
	e.clock.Add(31 * time.Minute)
	if r := e.get(c, auth.PathAccount); r.status == http.StatusOK {
		t.Error("session outlived its absolute lifetime")
	}
}

func TestBruteForceRateLimited(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	e.addUser("vic", "viewer", pwVic)
	c := e.browser()
	try := func(name, pw string) resp {
		return e.postForm(c, auth.PathLogin, url.Values{"name": {name}, "password": {pw}, "csrf_token": {e.loginForm(c)}})
	}
	var unknown, wrong resp
	for i := range auth.DefaultMaxFailures {
		wrong = try("dana", "guess number "+string(rune('a'+i))+" of many")
		if wrong.status != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, wrong.status)
		}
	}
	// The right password is refused too while the account is limited,
	// and the password is not even checked.
	r := try("dana", pwDana)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt with the right password = %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
	}
	// The address is limited as well: guessing another account from it
	// is refused.
	if r := try("vic", pwVic); r.status != http.StatusTooManyRequests {
		t.Errorf("other account from the same address = %d, want 429", r.status)
	}
	e.clock.Add(auth.DefaultWindow)
	e.login(e.browser(), "dana", pwDana) // the window has passed

	// Unknown name and wrong password look alike.
	e.clock.Add(auth.DefaultWindow)
	unknown = try("nobody", "guess number a of many")
	wrong = try("vic", "guess number a of many")
	norm := func(s string) string {
		return strings.NewReplacer("nobody", "NAME", "vic", "NAME").Replace(csrfRE.ReplaceAllString(s, ""))
	}
	if unknown.status != wrong.status || norm(unknown.body) != norm(wrong.body) {
		t.Errorf("unknown user and wrong password differ:\n%d %s\n%d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}
	fails := 0
	for _, a := range e.audit("login") {
		if a.Outcome == "failed" || a.Outcome == "denied" {
			fails++
			if a.Remote == "" {
				t.Errorf("audit entry without the client address: %+v", a)
			}
		}
	}
	if fails != auth.DefaultMaxFailures+4 {
		t.Errorf("%d failed or refused sign-ins in the audit trail, want %d", fails, auth.DefaultMaxFailures+4)
	}
}

func TestPasswordNeverInClear(t *testing.T) {
	e := newEnv(t, false)
	secret := "plaintext-canary-" + time.Now().Format("150405.000000000")
	e.addUser("dana", "responder", secret)
	e.login(e.browser(), "dana", secret)
	c := e.browser()
	e.postForm(c, auth.PathLogin, url.Values{"name": {"dana"}, "password": {secret + "x"}, "csrf_token": {e.loginForm(c)}})
	e.postForm(c, auth.PathLogin, url.Values{"name": {"nobody"}, "password": {secret}, "csrf_token": {e.loginForm(c)}})
	// The control: a value that is stored must be found by the same scan.
	control := "stored-control-" + secret[len(secret)-9:]
	if err := e.st.AddAudit(context.Background(), store.AuditEntry{Action: "test", Detail: control}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	checked, found := 0, false
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(e.path + suffix); err == nil && bytes.Contains(b, []byte(control)) {
			found = true
		}
	}
	if !found {
		t.Fatal("the scan does not find a value that is stored: it cannot see a password either")
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(e.path + suffix)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the password in clear", e.path+suffix)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no store file was read")
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Errorf("the log holds the password:\n%s", e.logs.String())
	}
	if !strings.Contains(e.logs.String(), "sign-in failed") {
		t.Error("the log shows no failed sign-in: is it captured?")
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		e := newEnv(t, tlsOn)
		e.addUser("dana", "responder", pwDana)
		c := e.browser()
		e.login(c, "dana", pwDana)
		for _, p := range []string{auth.PathLogin, auth.PathAccount, "/api/v1/nothing", "/healthz", auth.PathStyle} {
			r := e.get(c, p)
			h := r.header
			for k, want := range map[string]string{
				"Content-Security-Policy": "default-src 'self'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if !strings.Contains(h.Get(k), want) {
					t.Errorf("tls %v %s: %s = %q, want %q", tlsOn, p, k, h.Get(k), want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("tls %v %s: CSP %q", tlsOn, p, csp)
			}
			if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != tlsOn {
				t.Errorf("tls %v %s: HSTS %q", tlsOn, p, hsts)
			}
			if strings.Contains(r.body, "<script") || strings.Contains(r.body, "style=") || strings.Contains(r.body, "<style") {
				t.Errorf("%s has inline script or style", p)
			}
		}
		// The session cookie's attributes.
		c2 := e.browser()
		r := e.postForm(c2, auth.PathLogin, url.Values{"name": {"dana"}, "password": {pwDana}, "csrf_token": {e.loginForm(c2)}})
		var sc string
		for _, v := range r.header.Values("Set-Cookie") {
			if strings.Contains(v, "breakglass_session=") {
				sc = v
			}
		}
		want := []string{"HttpOnly", "SameSite=Strict", "Path=/"}
		if tlsOn {
			want = append(want, "Secure", "__Host-breakglass_session=")
		}
		for _, w := range want {
			if !strings.Contains(sc, w) {
				t.Errorf("tls %v: session cookie %q lacks %s", tlsOn, sc, w)
			}
		}
		if !tlsOn && strings.Contains(sc, "Secure") {
			t.Errorf("plain HTTP session cookie is Secure (the browser would drop it): %q", sc)
		}
	}
}

func TestRolesOnAPIAck(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("vic", "viewer", pwVic)
	e.addUser("dana", "responder", pwDana)
	viewerTok := e.addToken("dash-reader", "viewer", time.Hour)
	responderTok := e.addToken("pager-bridge", "responder", time.Hour)
	adminTok := e.addToken("ops-admin", "admin", time.Hour)
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		e.addAlert(id)
	}

	// A viewer cannot acknowledge, by session or by token.
	vc := e.browser()
	vcsrf := e.login(vc, "vic", pwVic)
	if r := e.apiAck(vc, "a1", "", vcsrf, ""); r.status != http.StatusForbidden || apiError(t, r).Code != "forbidden" {
		t.Errorf("viewer session ack = %d %s, want 403 forbidden", r.status, r.body)
	}
	if r := e.apiAck(e.srv.Client(), "a1", viewerTok, "", ""); r.status != http.StatusForbidden || apiError(t, r).Code != "forbidden" {
		t.Errorf("viewer token ack = %d %s", r.status, r.body)
	}
	// A viewer token sent with a responder's session cookie acts as the
	// viewer: the bearer decides, never the cookie beside it.
	dc := e.browser()
	dcsrf := e.login(dc, "dana", pwDana)
	if r := e.apiAck(dc, "a1", viewerTok, dcsrf, ""); r.status != http.StatusForbidden {
		t.Errorf("viewer token with a responder cookie = %d %s, want 403", r.status, r.body)
	}
	// A bad token beside a good cookie is refused, not passed over.
	bad, _, _ := auth.NewToken()
	if r := e.apiAck(dc, "a1", bad, dcsrf, ""); r.status != http.StatusUnauthorized || apiError(t, r).Code != "invalid_token" {
		t.Errorf("unknown token with a responder cookie = %d %s, want 401", r.status, r.body)
	}
	if s := e.alertState("a1"); s != alert.StateFiring {
		t.Fatalf("a1 is %s after refused acks", s)
	}

	for _, tt := range []struct {
		id, tok, by string
	}{{"a2", responderTok, "token:pager-bridge"}, {"a3", adminTok, "token:ops-admin"}} {
		r := e.apiAck(e.srv.Client(), tt.id, tt.tok, "", `{"note":"on it"}`)
		var out ack.APIAckResponse
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &out) != nil || !out.Changed || out.Alert.State != alert.StateAcknowledged {
			t.Fatalf("ack %s = %d %s", tt.id, r.status, r.body)
		}
		cs, _ := e.st.StateChanges(context.Background(), tt.id)
		if len(cs) != 1 || cs[0].By != tt.by || cs[0].Via != store.ViaAPI || cs[0].Note != "on it" {
			t.Errorf("state history of %s: %+v", tt.id, cs)
		}
	}
	if r := e.apiAck(dc, "a4", "", dcsrf, ""); r.status != http.StatusOK {
		t.Errorf("responder session ack = %d %s", r.status, r.body)
	}
	acks := map[string]string{}
	for _, a := range e.audit("alert.ack") {
		acks[a.Target] = a.Actor + " " + a.Via + " " + a.Outcome
		if a.Remote == "" {
			t.Errorf("ack audit entry without remote: %+v", a)
		}
	}
	want := map[string]string{"a2": "token:pager-bridge token ok", "a3": "token:ops-admin token ok", "a4": "dana session ok"}
	for id, w := range want {
		if acks[id] != w {
			t.Errorf("audit of %s = %q, want %q", id, acks[id], w)
		}
	}
	if _, ok := acks["a1"]; ok {
		t.Error("refused ack recorded as alert.ack")
	}
}

func TestTokensRefused(t *testing.T) {
	e := newEnv(t, false)
	e.addAlert("a1")
	expiring := e.addToken("short", "responder", time.Hour)
	revoked := e.addToken("gone", "responder", 24*time.Hour)
	if err := e.st.RevokeToken(context.Background(), "gone", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.apiAck(e.srv.Client(), "nope", expiring, "", ""); r.status != http.StatusNotFound || apiError(t, r).Code != "not_found" {
		t.Errorf("unknown alert = %d %s, want 404 not_found", r.status, r.body)
	}
	e.clock.Add(time.Hour)
	for _, tt := range []struct {
		name, tok, code string
	}{{"expired", expiring, "token_expired"}, {"revoked", revoked, "token_revoked"}, {"none", "", "unauthenticated"}} {
		r := e.apiAck(e.srv.Client(), "a1", tt.tok, "", "")
		if r.status != http.StatusUnauthorized || apiError(t, r).Code != tt.code || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s token: %d %s, want 401 %s", tt.name, r.status, r.body, tt.code)
		}
	}
	if s := e.alertState("a1"); s != alert.StateFiring {
		t.Errorf("alert acknowledged by a refused token: %s", s)
	}
}

func TestAPIAckOutcomes(t *testing.T) {
	e := newEnv(t, false)
	tok := e.addToken("bridge", "responder", time.Hour)
	e.addAlert("a1")
	e.addAlert("r1")
	if err := e.st.SetAlertState(context.Background(), "r1", alert.StateResolved, "test", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	cl := e.srv.Client()
	if r := e.apiAck(cl, "a1", tok, "", `{"note": 5}`); r.status != http.StatusBadRequest || apiError(t, r).Code != "invalid_body" {
		t.Errorf("bad body = %d %s", r.status, r.body)
	}
	if r := e.apiAck(cl, "a1", tok, "", `{"nope": 1}`); r.status != http.StatusBadRequest {
		t.Errorf("unknown field = %d %s", r.status, r.body)
	}
	if r := e.apiAck(cl, "a1", tok, "", `{}`+strings.Repeat(" ", ack.MaxFormBody)); r.status != http.StatusBadRequest {
		t.Errorf("oversized body = %d", r.status)
	}
	if r := e.apiAck(cl, "r1", tok, "", ""); r.status != http.StatusConflict || apiError(t, r).Code != "alert_resolved" {
		t.Errorf("resolved alert = %d %s, want 409", r.status, r.body)
	}
	if r := e.apiAck(cl, "a1", tok, "", ""); r.status != http.StatusOK {
		t.Fatalf("ack = %d %s", r.status, r.body)
	}
	r := e.apiAck(cl, "a1", tok, "", "")
	var out ack.APIAckResponse
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &out) != nil || out.Changed || out.AcknowledgedBy != "token:bridge" || out.AcknowledgedAt == nil {
		t.Errorf("repeat ack = %d %s, want 200 changed=false by token:bridge", r.status, r.body)
	}
	if r := e.apiAck(cl, "bad%20id", tok, "", ""); r.status != http.StatusBadRequest || apiError(t, r).Code != "invalid_id" {
		t.Errorf("bad id = %d %s", r.status, r.body)
	}
	if r := e.get(cl, "/api/v1/nothing"); r.status != http.StatusNotFound || apiError(t, r).Code != "not_found" {
		t.Errorf("unknown route = %d %s", r.status, r.body)
	}
	outcomes := map[string]int{}
	for _, a := range e.audit("alert.ack") {
		outcomes[a.Target+" "+a.Outcome]++
	}
	if outcomes["a1 ok"] != 1 || outcomes["a1 unchanged"] != 1 || outcomes["r1 failed"] != 1 {
		t.Errorf("audit outcomes %v", outcomes)
	}
}

func TestUserRemovedOrPasswordChangedEndsSessions(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	e.addUser("vic", "viewer", pwVic)
	dc, vc := e.browser(), e.browser()
	e.login(dc, "dana", pwDana)
	e.login(vc, "vic", pwVic)
	h, _ := auth.HashPasswordParams("a brand new passphrase", cheap)
	if err := e.st.SetUserPassword(context.Background(), "dana", h, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RemoveUser(context.Background(), "vic"); err != nil {
		t.Fatal(err)
	}
	if r := e.get(dc, auth.PathAccount); r.status == http.StatusOK {
		t.Error("session survived a password change")
	}
	if r := e.get(vc, auth.PathAccount); r.status == http.StatusOK {
		t.Error("session survived the user's removal")
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "responder", pwDana)
	for next, want := range map[string]string{
		"/account?x=1":         "/account?x=1",
		"//evil.example/":      auth.PathAccount,
		"https://evil.example": auth.PathAccount,
		"/\\evil.example":      auth.PathAccount,
		"":                     auth.PathAccount,
	} {
		c := e.browser()
		r := e.postForm(c, auth.PathLogin, url.Values{"name": {"dana"}, "password": {pwDana}, "csrf_token": {e.loginForm(c)}, "next": {next}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("next %q: %d to %q, want %q", next, r.status, r.header.Get("Location"), want)
		}
	}
}

// FuzzLoginForm: whatever a client posts to the sign-in form, the answer
// is a page with a clear status, never a crash or a session.
func FuzzLoginForm(f *testing.F) {
	for _, s := range []string{"", "name=dana&password=x&csrf_token=y", "name=%zz", "csrf_token=" + strings.Repeat("A", 43), "a=" + strings.Repeat("b", 20000)} {
		f.Add(s, "application/x-www-form-urlencoded", "A")
	}
	f.Add("--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ndana\r\n--x--", "multipart/form-data; boundary=x", "")
	e := newEnv(f, false)
	e.addUser("dana", "responder", pwDana)
	f.Fuzz(func(t *testing.T, body, ctype, cookie string) {
		if !httpguts.ValidHeaderFieldValue(ctype) {
			t.Skip("the client cannot send this header")
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+auth.PathLogin, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if ck := (&http.Cookie{Name: "breakglass_login", Value: cookie}); ck.Valid() == nil {
			req.AddCookie(ck)
		}
		r := do(t, e.srv.Client(), req)
		switch r.status {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusUnauthorized, http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d for %q", r.status, body)
		}
		if strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "breakglass_session=") {
			t.Fatal("a session from a fuzzed form")
		}
	})
}

// TestUnknownUserCostsAsMuchAsWrongPassword: a name that does not exist
// takes the same argon2id work as a wrong password, so response time does
// not tell which names exist. The fastest of a few tries of each is
// compared (noise only ever adds time); without the dummy hash an unknown
// name would answer a hundred times faster.
func TestUnknownUserCostsAsMuchAsWrongPassword(t *testing.T) {
	e := newEnv(t, false)
	h, err := auth.HashPassword(pwDana) // the real cost, as users add makes it
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddUser(context.Background(), store.User{Name: "dana", Role: "responder", PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	n := 0
	fastest := func(name string) time.Duration {
		best := time.Hour
		for range 3 {
			n++ // a fresh address each time: the limiter stays out of it
			start := time.Now()
			_, _, err := e.svc.Login(context.Background(), name, "not the password at all", fmt.Sprintf("192.0.2.%d", n))
			if err != auth.ErrBadLogin {
				t.Fatalf("Login(%s) = %v, want ErrBadLogin", name, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	fastest("warm-up") // the dummy hash is made on first use
	unknown, wrong := fastest("nobody"), fastest("dana")
	t.Logf("unknown name %v, wrong password %v", unknown, wrong)
	if r := float64(unknown) / float64(wrong); r < 0.5 || r > 2 {
		t.Errorf("unknown name took %v, wrong password %v: the difference tells names apart", unknown, wrong)
	}
}

// TestProviderSession: a person an identity provider signed in (package
// oidc calls StartSession) keeps the role the provider granted, is named
// "oidc:NAME" in the audit trail and state histories, is not the local
// user of that name, and signs out like anyone.
func TestProviderSession(t *testing.T) {
	e := newEnv(t, false)
	e.addUser("dana", "viewer", pwDana) // a local user of the same name
	e.addAlert("a1")
	c := e.browser()
	r := e.get(c, "/test/provider-signin?name=dana&role=responder")
	if r.status != http.StatusSeeOther {
		t.Fatalf("StartSession: %d %s", r.status, r.body)
	}
	g := e.get(c, "/test/guarded")
	parts := strings.Fields(g.body)
	if g.status != http.StatusOK || len(parts) != 4 || parts[0] != "oidc:dana" || parts[1] != "responder" || parts[2] != "oidc:dana" {
		t.Fatalf("Guard(responder) for the provider's session: %d %q", g.status, g.body)
	}
	csrf := parts[3]
	if r := e.apiAck(c, "a1", "", "", ""); r.status != http.StatusForbidden {
		t.Errorf("provider session ack without CSRF token = %d", r.status)
	}
	if r := e.apiAck(c, "a1", "", csrf, ""); r.status != http.StatusOK {
		t.Fatalf("provider session ack = %d %s", r.status, r.body)
	}
	if cs, _ := e.st.StateChanges(context.Background(), "a1"); len(cs) != 1 || cs[0].By != "oidc:dana" {
		t.Errorf("state history %+v, want by oidc:dana", cs)
	}
	// Removing the local dana does not end the provider's dana.
	if err := e.st.RemoveUser(context.Background(), "dana"); err != nil {
		t.Fatal(err)
	}
	if r := e.get(c, "/test/guarded"); r.status != http.StatusOK {
		t.Errorf("provider session after removing the local user of that name: %d", r.status)
	}
	if r := e.postForm(c, auth.PathLogout, url.Values{"csrf_token": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := e.get(c, "/test/guarded"); r.status == http.StatusOK {
		t.Error("provider session works after logout")
	}
	for _, q := range []string{"name=dana&role=", "name=da%0Ana&role=admin", "name=&role=viewer"} {
		if r := e.get(e.browser(), "/test/provider-signin?"+q); r.status != http.StatusForbidden {
			t.Errorf("StartSession(%s) = %d, want refused", q, r.status)
		}
	}
	logins := map[string]string{}
	for _, a := range e.audit("login") {
		logins[a.Actor] = a.Outcome + " " + a.Detail
	}
	if logins["oidc:dana"] != "ok signed in by oidc as responder" {
		t.Errorf("audit of the provider's sign-in: %v", logins)
	}
	// A route asking for a role that does not exist admits nobody.
	if r := e.get(c, "/test/typo"); r.status != http.StatusInternalServerError || strings.Contains(r.body, "open") {
		t.Errorf("Guard(unknown role) = %d %q", r.status, r.body)
	}
}

// TestProviderSessionTenants: a provider's session limited to tenants
// (server.oidc.tenants) carries them, lower-cased, as a local user's
// tenants do, and says so in the audit trail; without a limit it sees
// every tenant, and an empty limit or a malformed id is refused.
func TestProviderSessionTenants(t *testing.T) {
	const tA, tB = "6B1E4E1C-3D5A-4C2B-9F10-2A3B4C5D6E7F", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
	e := newEnv(t, false)
	for _, tc := range []struct {
		query, want string
	}{
		{"name=erin&role=viewer&tenants=" + tA + "," + tB, "oidc:erin nil=false " + strings.ToLower(tA) + "," + tB},
		{"name=fay&role=viewer&tenants=" + tB, "oidc:fay nil=false " + tB},
		{"name=gus&role=viewer", "oidc:gus nil=true "},
	} {
		c := e.browser()
		if r := e.get(c, "/test/provider-signin?"+tc.query); r.status != http.StatusSeeOther {
			t.Fatalf("StartSession(%s): %d %s", tc.query, r.status, r.body)
		}
		if g := e.get(c, "/test/tenants"); g.status != http.StatusOK || g.body != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.query, g.status, g.body, tc.want)
		}
	}
	for _, q := range []string{"name=hal&role=viewer&tenants=", "name=hal&role=viewer&tenants=a%3Bb", "name=hal&role=viewer&tenants=a,,b"} {
		if r := e.get(e.browser(), "/test/provider-signin?"+q); r.status != http.StatusForbidden {
			t.Errorf("StartSession(%s) = %d, want refused", q, r.status)
		}
	}
	logins := map[string]string{}
	for _, a := range e.audit("login") {
		logins[a.Actor] = a.Detail
	}
	if d := logins["oidc:fay"]; d != "signed in by oidc as viewer, limited to tenants "+tB {
		t.Errorf("audit of fay's sign-in: %q", d)
	}
}
