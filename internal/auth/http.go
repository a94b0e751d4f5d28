package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"breakglass/internal/apierr"
)

// Paths the service serves.
const (
	PathLogin   = "/login"
	PathLogout  = "/logout"
	PathAccount = "/account"
	PathStyle   = "/auth/style.css"
)

// Names of the cookies and of the CSRF fields.
const (
	cookieSession    = "breakglass_session"
	cookieSessionTLS = "__Host-breakglass_session" // the browser keeps it to this origin, over TLS only
	cookieLogin      = "breakglass_login"          // the login form's CSRF value (double submit)
	cookieLoginTLS   = "__Host-breakglass_login"
	// CSRFField is the form field, CSRFHeader the header (htmx, fetch) that
	// carry a session's CSRF token.
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
	// MaxFormBody bounds a form's body (sign-in, sign-out).
	MaxFormBody = 16 << 10
)

func (s *Service) sessionCookie() string {
	if s.o.TLS {
		return cookieSessionTLS
	}
	return cookieSession
}

func (s *Service) loginCookie() string {
	if s.o.TLS {
		return cookieLoginTLS
	}
	return cookieLogin
}

// CSP is the Content-Security-Policy of every response: nothing inline,
// nothing from elsewhere, never framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SetSecurityHeaders sets the headers every response carries. A handler
// may replace one (the acknowledge page sets its own policy).
func (s *Service) SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.o.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// Middleware sets the security headers on every response and finds the
// request's principal (FromContext). It refuses nothing by itself:
// Require does, per route, so the acknowledge links, webhooks, health and
// metrics keep their own credentials.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.SetSecurityHeaders(w.Header())
		p, fail := s.authenticate(r)
		ctx := context.WithValue(r.Context(), ctxKey{}, &authState{p: p, fail: fail})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isAPI reports whether r is for the JSON API (errors as JSON).
func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// Require serves h only to a principal whose role allows need. It answers
// 401 without a valid credential (an HTML GET is sent to the sign-in
// page), 403 for a role too low, and, for an unsafe method from a cookie
// session, 403 unless the session's CSRF token comes in the X-CSRF-Token
// header or the csrf_token form field. Bearer tokens need no CSRF token: a
// browser never sends one by itself. Refused writes are recorded in the
// audit trail.
func (s *Service) Require(need Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(ctxKey{}).(*authState)
		if st == nil {
			// Mounted without Middleware: a wiring bug; refuse.
			s.o.Logger.Error("auth: Require without Middleware", "path", r.URL.Path)
			WriteError(w, r, http.StatusInternalServerError, "internal", "The server is misconfigured: authentication is not set up. Use the CLI on the host.")
			return
		}
		if st.p == nil {
			e := st.fail
			if e == nil {
				e = errNoCredential
			}
			if !isAPI(r) && r.Method == http.MethodGet && e.status == http.StatusUnauthorized {
				http.Redirect(w, r, PathLogin+"?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			if unsafeMethod(r.Method) {
				s.recordRefusal(r, "unauthenticated: "+e.code)
			}
			WriteError(w, r, e.status, e.code, e.msg)
			return
		}
		if unsafeMethod(r.Method) && st.p.Via == ViaSession && !s.csrfOK(r, st.p) {
			s.recordRefusal(r, "missing or wrong CSRF token")
			WriteError(w, r, http.StatusForbidden, "csrf", "This form is stale or came from another site, so nothing was done. Reload the page and try again.")
			return
		}
		if !st.p.Role.Allows(need) {
			if unsafeMethod(r.Method) {
				s.recordRefusal(r, "role "+st.p.Role.String()+" below "+need.String())
			}
			WriteError(w, r, http.StatusForbidden, "forbidden",
				"Your role ("+st.p.Role.String()+") may not do this; it needs "+need.String()+". Ask an admin (breakglass users add --role).")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Guard is Require with the role by name, the shape the API's and the
// dashboard's Options.Guard take. An unknown name admits nobody (a typo
// in a route table must not open it), and says so in the log.
func (s *Service) Guard(role string, h http.Handler) http.Handler {
	need, err := ParseRole(role)
	if err != nil {
		s.o.Logger.Error("auth: a route asks for an unknown role; it admits nobody", "role", role)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, http.StatusInternalServerError, "internal", "This route is misconfigured (unknown role "+role+"), so it admits nobody. Use the CLI on the host.")
		})
	}
	return s.Require(need, h)
}

// Who is the actor of r's principal (Principal.Actor), "" without one.
func Who(r *http.Request) string {
	if p := FromContext(r.Context()); p != nil {
		return p.Actor()
	}
	return ""
}

// PrincipalOf is who made r, their role and the session's CSRF token
// (all "" without a principal; csrf "" for a token): the dashboard's
// Options.Principal.
func PrincipalOf(r *http.Request) (who, role, csrf string) {
	p := FromContext(r.Context())
	if p == nil {
		return "", "", ""
	}
	return p.Actor(), p.Role.String(), p.CSRFToken()
}

func (s *Service) recordRefusal(r *http.Request, why string) {
	_ = s.Record(r, "request", r.Method+" "+r.URL.Path, "denied", why)
}

// csrfOK checks the session's CSRF token in the header, else in the form.
func (s *Service) csrfOK(r *http.Request, p *Principal) bool {
	want := p.CSRFToken()
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBody)
			if err := r.ParseForm(); err == nil {
				got = r.PostForm.Get(CSRFField)
			}
		}
	}
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// ErrorBody and ErrorDetail are the JSON shape of every API error
// (package apierr owns it, shared with internal/api).
type (
	ErrorBody   = apierr.ErrorBody
	ErrorDetail = apierr.ErrorDetail
)

// WriteError answers an error: {"error":{"code","message"}} for the API,
// a plain page otherwise.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && isAPI(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="breakglass"`)
	}
	if isAPI(r) {
		WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
		return
	}
	renderPage(w, status, pageData{Title: http.StatusText(status), Heading: http.StatusText(status), Message: msg})
}

// WriteJSON answers v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// DecodeJSON reads r's body, at most max bytes, into v: an unknown field,
// trailing data or a body too large is an error naming the offset. An
// empty body leaves v as it is.
func DecodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errors.New("the body is larger than " + itoa(max) + " bytes")
		}
		return errors.New("the body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return errors.New("the body is not valid JSON near byte " + itoa(se.Offset))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errors.New("field " + te.Field + " has the wrong type (at byte " + itoa(te.Offset) + ")")
		}
		return errors.New("the body cannot be read as the expected JSON object: " + err.Error())
	}
	if dec.More() {
		return errors.New("the body has data after its JSON object")
	}
	return nil
}

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
