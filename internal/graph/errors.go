package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"breakglass/internal/graph/scrub"
)

// Error is a Graph answer other than success, after any retries. Most
// failures breakglass meets in practice are missing permissions or
// licences, so Hint says which one the endpoint needs.
type Error struct {
	Status    int
	Code      string // Graph's error.code, e.g. Authorization_RequestDenied
	Message   string
	RequestID string // quote it to Microsoft support
	Method    string
	// URL is the request URL without its query: Graph URLs carry no
	// secrets, but filters name accounts and do not belong in every log.
	URL      string
	Hint     string
	Attempts int // requests sent, retries included
}

func (e *Error) Error() string {
	var b strings.Builder
	path := e.URL
	if u, err := url.Parse(e.URL); err == nil {
		path = u.EscapedPath()
	}
	fmt.Fprintf(&b, "graph: %s %s: %d", e.Method, path, e.Status)
	switch {
	case e.Code != "" && e.Message != "":
		fmt.Fprintf(&b, " %s: %s", e.Code, e.Message)
	case e.Code != "" || e.Message != "":
		fmt.Fprintf(&b, " %s%s", e.Code, e.Message)
	default:
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	// Fields are scrubbed when the answer is read; this covers an Error
	// built elsewhere.
	return scrub.String(b.String())
}

// IsNotFound reports whether err is a Graph 404, e.g. a deleted account.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsForbidden reports whether err is a Graph 403: a missing permission or
// licence, which no retry fixes.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsThrottled reports whether err is a Graph 429 that outlasted the
// client's retries.
func IsThrottled(err error) bool { return hasStatus(err, http.StatusTooManyRequests) }

func hasStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

func (c *Client) apiError(res result, t target, attempts int) *Error {
	var body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	_ = json.Unmarshal(res.body, &body) // not every error body is Graph's (proxies, gateways)
	// Graph, and proxies in front of it, may quote the request in the
	// message: the token must not travel on in an error.
	sc := scrub.New(res.token)
	e := &Error{
		Status:    res.status,
		Code:      sc.String(body.Error.Code),
		Message:   sc.String(body.Error.Message),
		RequestID: sc.String(body.Error.InnerError.RequestID),
		Method:    http.MethodGet,
		Attempts:  attempts,
	}
	if e.RequestID == "" {
		e.RequestID = sc.String(res.header.Get("request-id"))
	}
	if u, err := url.Parse(t.url); err == nil {
		e.URL = redact(u)
	}
	e.Hint = hint(res.status, t.endpoint, t.query, e.Message)
	c.log.Debug("graph error", "path", t.display(), "status", e.Status, "code", e.Code, "request_id", e.RequestID)
	return e
}

const consent = ", and admin-consent it"

// permissions lists, most specific first, which application permission
// each endpoint family needs. "{id}" matches one path segment. Where two
// permissions are joined by "and", Graph needs both (the sign-in log API
// is documented to need Directory.Read.All as well); "or" offers a
// narrower and a broader choice.
var permissions = []struct{ prefix, perms string }{
	{"/auditLogs/signIns", "AuditLog.Read.All and Directory.Read.All"},
	{"/auditLogs/directoryAudits", "AuditLog.Read.All and Directory.Read.All"},
	{"/auditLogs", "AuditLog.Read.All"},
	{"/reports/authenticationMethods", "AuditLog.Read.All and UserAuthenticationMethod.Read.All"},
	{"/users/{id}/authentication", "UserAuthenticationMethod.Read.All"},
	{"/users/{id}/memberOf", "GroupMember.Read.All (or Directory.Read.All)"},
	{"/users/{id}/transitiveMemberOf", "GroupMember.Read.All (or Directory.Read.All)"},
	{"/users", "User.Read.All"},
	{"/groups", "GroupMember.Read.All (or Directory.Read.All)"},
	{"/directoryRoles", "RoleManagement.Read.Directory (or Directory.Read.All)"},
	{"/roleManagement", "RoleManagement.Read.Directory"},
	{"/identity/conditionalAccess", "Policy.Read.All"},
	{"/policies", "Policy.Read.All"},
	{"/identityGovernance/lifecycleWorkflows", "LifecycleWorkflows.Read.All"},
	{"/identityGovernance/accessReviews", "AccessReview.Read.All"},
	{"/identityGovernance/roleManagementAlerts", "RoleManagementAlert.Read.Directory"},
	{"/identityGovernance", "LifecycleWorkflows.Read.All (lifecycle workflows) or AccessReview.Read.All (access reviews)"},
	{"/domains", "Domain.Read.All (or Directory.Read.All)"},
	{"/organization", "Directory.Read.All"},
}

// hint says what to fix for a failed request to endpoint.
func hint(status int, endpoint, rawQuery, message string) string {
	lower := strings.ToLower(message)
	licence := strings.Contains(lower, "premium") || strings.Contains(lower, "licence") || strings.Contains(lower, "license")
	switch status {
	case http.StatusUnauthorized:
		return "token rejected: check tenant_id, client_id and the credential"
	case http.StatusTooManyRequests:
		return "Graph is throttling this application; poll less often or narrow the query"
	case http.StatusForbidden:
	default:
		if licence {
			return "the tenant needs a Microsoft Entra ID P1 or P2 licence for this data"
		}
		return ""
	}
	perms := PermissionsFor(endpoint, rawQuery) // permissions.go
	h := "grant the application the read permission this endpoint needs" + consent
	if perms != "" {
		h = "grant the application permission " + perms + consent
	}
	if licence {
		h += "; the tenant also needs a Microsoft Entra ID P1 or P2 licence"
	}
	return h
}

// matchPrefix matches path segments case-insensitively, as Graph does.
func matchPrefix(path, prefix string) bool {
	ps := strings.Split(strings.Trim(path, "/"), "/")
	want := strings.Split(strings.Trim(prefix, "/"), "/")
	if len(ps) < len(want) {
		return false
	}
	for i, w := range want {
		seg := ps[i]
		if i == len(ps)-1 {
			// A key or function call may follow the last segment:
			// users('id'), signIns?...
			if j := strings.IndexByte(seg, '('); j >= 0 && w != "{id}" {
				seg = seg[:j]
			}
		}
		if w != "{id}" && !strings.EqualFold(seg, w) {
			return false
		}
	}
	return true
}

func selects(rawQuery, field string) bool {
	q, _ := url.ParseQuery(rawQuery) // keeps what parsed before a bad pair
	for _, k := range []string{"$select", "select"} {
		for _, v := range q[k] {
			for f := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(f), field) {
					return true
				}
			}
		}
	}
	return false
}
