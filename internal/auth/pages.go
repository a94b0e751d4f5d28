package auth

import (
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

//go:embed web
var webFS embed.FS

var (
	pageTmpl = template.Must(template.ParseFS(webFS, "web/page.html"))
	styleCSS = func() []byte {
		b, err := webFS.ReadFile("web/style.css")
		if err != nil {
			panic(err)
		}
		return b
	}()
)

type pageData struct {
	Title, Heading, Message string
	OK                      bool // the message is good news
	Login                   bool
	CSRF, Next, Name        string
	Provider                string // the identity provider's sign-in path, "" for none
	Who                     *Principal
	Back                    bool
	Home                    string // a link back from the account page, "" for none
}

func renderPage(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// Register mounts the sign-in page, sign-out, the account page and the
// stylesheet on mux. Wrap the mux in Middleware.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathLogin, s.loginGet)
	mux.HandleFunc("POST "+PathLogin, s.loginPost)
	mux.Handle("POST "+PathLogout, s.Require(RoleViewer, http.HandlerFunc(s.logout)))
	mux.Handle("GET "+PathAccount, s.Require(RoleViewer, http.HandlerFunc(s.account)))
	mux.HandleFunc("GET "+PathStyle, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(styleCSS)
	})
}

// safeNext is next if it is a path on this site, else home: a sign-in
// page must not send people to another site.
func (s *Service) safeNext(next string) string {
	if next == "" || len(next) > 1024 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.IndexFunc(next, unicode.IsControl) >= 0 || strings.HasPrefix(next, PathLogin) {
		return s.o.Home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return s.o.Home
	}
	return next
}

// loginForm renders the form with a fresh double-submit CSRF value.
func (s *Service) loginForm(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	v, err := newSecret()
	if err != nil {
		WriteError(w, r, http.StatusInternalServerError, "internal", "No random numbers: the host is in trouble. Use the CLI on the host.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.loginCookie(), Value: v, Path: "/", HttpOnly: true, Secure: s.o.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	d.Title, d.Heading, d.Login, d.CSRF = "Sign in", "Sign in to breakglass", true, v
	d.Provider = s.o.ProviderLogin
	renderPage(w, status, d)
}

func (s *Service) loginGet(w http.ResponseWriter, r *http.Request) {
	d := pageData{Next: s.safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("out") == "1" {
		d.Message, d.OK = "You are signed out. Your session has ended on the server too.", true
	}
	if p := FromContext(r.Context()); p != nil && p.Via == ViaSession {
		http.Redirect(w, r, d.Next, http.StatusSeeOther)
		return
	}
	s.loginForm(w, r, http.StatusOK, d)
}

func (s *Service) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	if err := r.ParseForm(); err != nil {
		s.loginForm(w, r, http.StatusBadRequest, pageData{Message: "The form could not be read. Try again."})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	next := s.safeNext(r.PostForm.Get("next"))
	c, err := r.Cookie(s.loginCookie())
	got := r.PostForm.Get(CSRFField)
	if err != nil || c.Value == "" || got == "" || !constEq(c.Value, got) {
		_ = s.Record(r, "login", clip(name), "denied", "missing or wrong CSRF token")
		s.loginForm(w, r, http.StatusForbidden, pageData{Next: next, Name: clip(name),
			Message: "This sign-in form is stale or came from another site. Type your password again below."})
		return
	}
	remote := remoteIP(r)
	id, _, err := s.Login(r.Context(), name, r.PostForm.Get("password"), remote)
	var rl *RateLimitedError
	switch {
	case errors.As(err, &rl):
		secs := int64(time.Until(rl.Until).Seconds()) + 1
		if d := rl.Until.Sub(s.o.Now()); d > 0 {
			secs = int64(d.Seconds()) + 1
		}
		w.Header().Set("Retry-After", itoa(secs))
		s.loginForm(w, r, http.StatusTooManyRequests, pageData{Next: next, Name: clip(name),
			Message: "Too many failed sign-ins for this name or from this address. Wait " + itoa((secs+59)/60) + " min and try again, or use the CLI on the breakglass host (breakglass alerts ack)."})
		return
	case errors.Is(err, ErrBadLogin):
		s.loginForm(w, r, http.StatusUnauthorized, pageData{Next: next, Name: clip(name),
			Message: "The name or password is wrong. Check Caps Lock; after " + itoa(int64(s.lim.max)) + " failures sign-in pauses for " +
				itoa(int64(s.lim.win/time.Minute)) + " minutes."})
		return
	case err != nil:
		s.o.Logger.Error("sign-in failed", "error", err)
		s.loginForm(w, r, http.StatusServiceUnavailable, pageData{Next: next, Name: clip(name),
			Message: "Signing in failed because the store could not be written, so you are not signed in. Check the daemon's log; the CLI on the host still works."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.loginCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.o.TLS, SameSite: http.SameSiteStrictMode})
	s.setSessionCookie(w, id)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// setSessionCookie hands the session id to the browser: never to
// scripts, never to another site's requests, over TLS only when TLS is on.
func (s *Service) setSessionCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: id, Path: "/", HttpOnly: true, Secure: s.o.TLS, SameSite: http.SameSiteStrictMode})
	// SameSite=Strict: a browser does not send it on a navigation that
	// began on another site (an identity provider's redirect back, and
	// the redirects that follow it); the page after that has it.
}

func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	p := FromContext(r.Context())
	if p.Via != ViaSession {
		WriteError(w, r, http.StatusBadRequest, "not_a_session", "Sign-out ends a browser session; an API token is revoked with: breakglass tokens revoke NAME")
		return
	}
	if err := s.Logout(r.Context(), p, remoteIP(r)); err != nil {
		s.o.Logger.Error("sign-out failed", "error", err)
		WriteError(w, r, http.StatusServiceUnavailable, "store_unavailable", "Signing out failed: the session could not be removed from the store, so it is still valid. Try again; it ends by itself after an hour unused.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.o.TLS, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, PathLogin+"?out=1", http.StatusSeeOther)
}

func (s *Service) account(w http.ResponseWriter, r *http.Request) {
	p := FromContext(r.Context())
	d := pageData{Title: "Signed in", Heading: "Signed in", Who: p, CSRF: p.CSRFToken()}
	if s.o.Home != PathAccount {
		d.Home = s.o.Home // not a dead end: back to where sign-in lands
	}
	renderPage(w, http.StatusOK, d)
}

func constEq(a, b string) bool { return len(a) == len(b) && subtleEq(a, b) }

// clip bounds text someone typed before it is shown or recorded.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if r := []rune(s); len(r) > maxNameLen {
		s = string(r[:maxNameLen])
	}
	return s
}
