package oidc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Paths the flow serves.
const (
	PathLogin    = "/oidc/login"
	PathCallback = "/oidc/callback"
)

// flowCookie carries one sign-in attempt's secrets between the redirect to
// the provider and the callback, signed so it cannot be forged.
const flowCookie = "breakglass_oidc"

// flowTTL bounds how long a sign-in at the provider may take.
const flowTTL = 10 * time.Minute

// Flow serves the sign-in redirect and the callback.
type Flow struct {
	// Provider is discovered lazily (the provider may be down at start);
	// Get returns it or an error wrapping ErrUnavailable.
	Provider func() (*Provider, error)
	// Key signs the flow cookie (32 random bytes, kept by the daemon).
	Key []byte
	// SignIn starts a session for id (the auth service); it writes the
	// session cookie. An error is shown to the person.
	SignIn func(w http.ResponseWriter, r *http.Request, id Identity) error
	// Secure marks the cookie Secure (TLS on).
	Secure bool
	Logger *slog.Logger
	Now    func() time.Time
}

// Register mounts the flow on mux.
func (f *Flow) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathLogin, f.login)
	mux.HandleFunc("GET "+PathCallback, f.callback)
}

type attempt struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Exp      int64  `json:"e"`
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *Flow) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Flow) sign(b []byte) string {
	m := hmac.New(sha256.New, f.Key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// safeNext keeps a post-sign-in destination on this site: a path, never
// "//host" or a scheme.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (f *Flow) login(w http.ResponseWriter, r *http.Request) {
	p, err := f.Provider()
	if err != nil {
		f.fail(w, http.StatusServiceUnavailable, err)
		return
	}
	a := attempt{State: random(), Nonce: random(), Verifier: random(), Next: safeNext(r.URL.Query().Get("next")), Exp: f.now().Add(flowTTL).Unix()}
	b, _ := json.Marshal(a)
	val := base64.RawURLEncoding.EncodeToString(b) + "." + f.sign(b)
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: val, Path: PathCallback, HttpOnly: true, Secure: f.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(flowTTL.Seconds())}) // Lax: the provider's redirect back is a top-level GET
	http.Redirect(w, r, p.AuthCodeURL(a.State, a.Nonce, a.Verifier), http.StatusSeeOther)
}

func (f *Flow) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// Whatever happens, the attempt is used up.
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: PathCallback, HttpOnly: true, Secure: f.Secure, MaxAge: -1})
	if e := q.Get("error"); e != "" {
		f.fail(w, http.StatusUnauthorized, fmt.Errorf("the identity provider did not sign you in (%s: %s)", clip(e, 60), clip(q.Get("error_description"), 160)))
		return
	}
	c, err := r.Cookie(flowCookie)
	if err != nil {
		f.fail(w, http.StatusBadRequest, fmt.Errorf("this sign-in was not started here or took longer than %s: start again", flowTTL))
		return
	}
	enc, mac, _ := strings.Cut(c.Value, ".")
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || subtle.ConstantTimeCompare([]byte(mac), []byte(f.sign(b))) != 1 {
		f.fail(w, http.StatusBadRequest, fmt.Errorf("this sign-in's cookie was altered: start again"))
		return
	}
	var a attempt
	if json.Unmarshal(b, &a) != nil || f.now().Unix() > a.Exp {
		f.fail(w, http.StatusBadRequest, fmt.Errorf("this sign-in took longer than %s: start again", flowTTL))
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(a.State)) != 1 {
		f.fail(w, http.StatusBadRequest, fmt.Errorf("the provider's answer is not for this sign-in (state): start again"))
		return
	}
	p, err := f.Provider()
	if err != nil {
		f.fail(w, http.StatusServiceUnavailable, err)
		return
	}
	id, err := p.Exchange(r.Context(), q.Get("code"), a.Verifier, a.Nonce)
	if err != nil {
		f.fail(w, http.StatusUnauthorized, err)
		return
	}
	if err := f.SignIn(w, r, id); err != nil {
		f.fail(w, http.StatusInternalServerError, err)
		return
	}
	// Not a redirect: the session cookie is SameSite=Strict, and a browser
	// does not send it on a redirect chain that began at the provider's
	// site. A page of this site moving on is a same-site navigation.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = donePage.Execute(w, map[string]string{"Next": safeNext(a.Next), "Name": id.Name, "Role": id.Role})
}

var donePage = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url={{.Next}}">
<title>Signed in · breakglass</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main id="main"><h1>Signed in</h1>
<p>Signed in as {{.Name}} ({{.Role}}). <a id="continue" href="{{.Next}}">Continue</a>.</p>
</main></body></html>`))

var failPage = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in failed · breakglass</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main id="main"><h1>Sign-in through the identity provider failed</h1>
<p>{{.}}</p>
<p><a href="/login">Sign in with a local account</a>: local accounts work even when the identity provider is down.</p>
</main></body></html>`))

func (f *Flow) fail(w http.ResponseWriter, status int, err error) {
	if f.Logger != nil {
		f.Logger.Warn("oidc sign-in failed", "err", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	msg := err.Error()
	if r, n := utf8.DecodeRuneInString(msg); n > 0 { // a sentence on the page
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	_ = failPage.Execute(w, msg)
}
