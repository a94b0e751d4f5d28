package doctor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/graph"
	"breakglass/internal/graph/scrub"
	"breakglass/internal/membership"
	"breakglass/internal/version"
)

func init() { register(40, "graph", true, checkGraph) }

// graphState is what the graph check leaves for the clock and account
// checks: a client whose token was obtained.
type graphState struct {
	client *graph.Client
	base   string
	appID  string // graph.client_id, else the token's appid: whom to grant permissions
}

// graphProbe is one GET that a configured feature will make, so that its
// answer proves the permission it needs. The permission itself is
// graph.PermissionsFor's (the table the client's 403 hints use).
type graphProbe struct {
	feature  string
	v        graph.Version
	path     string // under the version
	q        graph.Query
	optional bool // a failure is a warning: the feature degrades, serve runs
}

// graphProbes are the reads of each configured feature, from the README's
// permission table: the graph source polls sign-ins and audits; with
// graph: configured serve audits posture on a schedule (the collect
// reads) and pulls incident evidence (audit logs); group entries read
// their members; the accounts are looked up (check_accounts.go).
func graphProbes(cfg *config.Config) []graphProbe {
	top := graph.Query{Top: 1}
	var ps []graphProbe
	if slices.ContainsFunc(cfg.Sources, func(s config.SourceConfig) bool { return s.Type == config.SourceTypeGraph }) {
		ps = append(ps,
			graphProbe{feature: "graph source: sign-in polling", v: graph.V1, path: "/auditLogs/signIns", q: top},
			graphProbe{feature: "graph source: audit polling", v: graph.V1, path: "/auditLogs/directoryAudits", q: top})
	} else {
		ps = append(ps, graphProbe{feature: "incident evidence: Graph pull", v: graph.V1, path: "/auditLogs/directoryAudits", q: top})
	}
	ps = append(ps,
		graphProbe{feature: "posture audit: users", v: graph.V1, path: "/users", q: graph.Query{Top: 1, Select: []string{"id"}}},
		graphProbe{feature: "posture audit: role assignments", v: graph.V1, path: "/roleManagement/directory/roleAssignments", q: top},
		graphProbe{feature: "posture audit: Conditional Access", v: graph.V1, path: "/identity/conditionalAccess/policies", q: top},
		graphProbe{feature: "posture audit: authentication methods policy", v: graph.V1, path: "/policies/authenticationMethodsPolicy"},
		graphProbe{feature: "posture audit: domains", v: graph.V1, path: "/domains", q: top},
		graphProbe{feature: "posture audit: registration details", v: graph.V1, path: "/reports/authenticationMethods/userRegistrationDetails", q: top},
	)
	if u := cfg.Users(); len(u) > 0 {
		key := u[0].ID
		if key == "" {
			key = u[0].UPN
		}
		ps = append(ps, graphProbe{feature: "posture audit: an account's methods", v: graph.V1, path: "/users/" + key + "/authentication/methods", q: top})
	}
	if groups := cfg.Groups(); len(groups) > 0 {
		ps = append(ps, graphProbe{feature: "group entries: members", v: graph.V1, path: membership.Path(groups[0]), q: graph.Query{Top: 1, Select: membership.Select}})
	}
	ps = append(ps,
		graphProbe{feature: "posture audit: lifecycle workflows", v: graph.V1, path: "/identityGovernance/lifecycleWorkflows/workflows", q: top, optional: true},
		graphProbe{feature: "posture audit: access reviews", v: graph.V1, path: "/identityGovernance/accessReviews/definitions", q: top, optional: true},
	)
	return ps
}

func checkGraph(ctx context.Context, e *Env) []Result {
	cfg := e.Cfg
	res := func(item string, st Status, detail, fix string) Result {
		return Result{Check: "graph", Item: item, Status: st, Detail: detail, Fix: fix}
	}
	if !cfg.Graph.Configured() {
		return []Result{res("section", Skip, "no graph: section: serve reads nothing from Microsoft Graph (no graph source, "+
			"posture audit or incident evidence), and the accounts cannot be looked up", "")}
	}
	tokens, base, err := daemon.GraphTokens(cfg)
	if err != nil { // the config check built it already
		return []Result{res("token", Fail, err.Error(), "correct the graph: section")}
	}
	e.progress("requesting a Graph token (graph.auth %s)", cfg.Graph.Auth)
	tctx, cancel := e.timeout(ctx)
	tok, err := tokens.Token(tctx)
	cancel()
	if err != nil {
		return []Result{res("token", Fail, "no token: "+scrub.String(err.Error()), tokenFix(cfg.Graph))}
	}
	e.secrets = append(e.secrets, tok)
	claims, cerr := parseClaims(tok)
	if cerr == nil && claims.Exp > 0 && !time.Unix(claims.Exp, 0).After(e.Opts.Now()) {
		// A token source hands out a current token; an expired one is a
		// stale access_token (or a clock far off: see clock below).
		return []Result{res("token", Fail, tokenDetail(claims, cerr, e.Opts.Now()), tokenFix(cfg.Graph))}
	}
	out := []Result{res("token", OK, tokenDetail(claims, cerr, e.Opts.Now()), "")}

	client, err := graph.New(graph.Options{BaseURL: base, Tokens: graph.StaticToken(tok), UserAgent: "breakglass-doctor/" + version.Version,
		MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		return append(out, res("client", Fail, err.Error(), "correct graph.base_url"))
	}
	appID := cfg.Graph.ClientID
	if appID == "" {
		appID = claims.AppID
	}
	if appID == "" {
		appID = claims.Azp
	}
	e.graph = &graphState{client: client, base: base, appID: appID}

	probes := graphProbes(cfg)
	out = append(out, rolesResult(cfg, appID, probes, claims, cerr))
	for _, p := range probes {
		e.progress("GET %s", p.path)
		pctx, cancel := e.timeout(ctx)
		err := client.Get(pctx, p.v, p.path, p.q, nil)
		cancel()
		item := fmt.Sprintf("GET %s (%s)", displayPath(p.path), p.feature)
		if err == nil {
			out = append(out, res(item, OK, "answered", ""))
			continue
		}
		st := Fail
		if p.optional {
			st = Warn
		}
		out = append(out, res(item, st, scrub.String(err.Error()), graphFix(cfg, appID, err, p.path)))
	}
	return out
}

// displayPath hides which account a per-account probe names: it is not a
// secret, but the row is about the endpoint.
func displayPath(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) > 3 && (parts[1] == "users" || parts[1] == "groups") {
		parts[2] = "{id}"
	}
	return strings.Join(parts, "/")
}

// claims are the parts of an access token doctor reads. The token is not
// verified: Graph does that; doctor only reads what it was granted.
type claims struct {
	Roles []string `json:"roles"`
	Scp   string   `json:"scp"`
	AppID string   `json:"appid"`
	Azp   string   `json:"azp"`
	Tid   string   `json:"tid"`
	Exp   int64    `json:"exp"`
}

func parseClaims(tok string) (claims, error) {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("the token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, errors.New("the token's claims are not base64url")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errors.New("the token's claims are not JSON")
	}
	return c, nil
}

func tokenDetail(c claims, err error, now time.Time) string {
	if err != nil {
		return "obtained (" + err.Error() + ": its permissions are probed by the GETs below)"
	}
	app := c.AppID
	if app == "" {
		app = c.Azp
	}
	d := fmt.Sprintf("obtained for application %s in tenant %s", orUnknown(app), orUnknown(c.Tid))
	if c.Exp > 0 {
		left := time.Unix(c.Exp, 0).Sub(now).Round(time.Minute)
		if left <= 0 {
			return d + ", but it has expired"
		}
		d += fmt.Sprintf(", valid for %s", left)
	}
	return d
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// requirement is one permission text of graph.PermissionsFor parsed: all
// of its terms, each satisfied by any of its alternatives.
type requirement [][]string

// parseRequirement reads "A and B", "A (or B)"; ok is false for text it
// cannot read as permission names.
func parseRequirement(text string) (requirement, bool) {
	if text == "" {
		return nil, false
	}
	var req requirement
	for term := range strings.SplitSeq(text, " and ") {
		var alts []string
		if a, b, found := strings.Cut(term, " (or "); found {
			alts = []string{a, strings.TrimSuffix(b, ")")}
		} else {
			alts = []string{term}
		}
		for _, a := range alts {
			if a == "" || strings.ContainsAny(a, " ()") || !strings.Contains(a, ".") {
				return nil, false
			}
		}
		req = append(req, alts)
	}
	return req, true
}

// rolesResult checks the token's roles claim against what the probes'
// features need; the GETs prove it a second way.
func rolesResult(cfg *config.Config, appID string, probes []graphProbe, c claims, cerr error) Result {
	r := Result{Check: "graph", Item: "permissions (token roles)"}
	if cerr != nil {
		r.Status, r.Detail = Warn, "cannot be read from the token ("+cerr.Error()+"); the GETs below probe them"
		return r
	}
	held := c.Roles
	kind := "application permissions (roles)"
	if len(held) == 0 && c.Scp != "" {
		held = strings.Fields(c.Scp)
		kind = "delegated scopes (scp, a user's token)"
	}
	has := func(p string) bool {
		return slices.ContainsFunc(held, func(h string) bool { return strings.EqualFold(h, p) })
	}
	type need struct {
		perm     string
		features []string
		optional bool
	}
	var needs []*need
	var wanted []string
	for _, p := range probes {
		req, ok := parseRequirement(graph.PermissionsFor(p.path, "$select="+strings.Join(p.q.Select, ",")))
		if !ok {
			continue
		}
		for _, alts := range req {
			name := alts[0]
			if len(alts) > 1 {
				name = alts[0] + " (or " + strings.Join(alts[1:], ", ") + ")"
			}
			if !slices.Contains(wanted, name) {
				wanted = append(wanted, name)
			}
			if slices.ContainsFunc(alts, has) {
				continue
			}
			i := slices.IndexFunc(needs, func(n *need) bool { return n.perm == name })
			if i < 0 {
				needs = append(needs, &need{perm: name, optional: true})
				i = len(needs) - 1
			}
			if !slices.Contains(needs[i].features, p.feature) {
				needs[i].features = append(needs[i].features, p.feature)
			}
			needs[i].optional = needs[i].optional && p.optional
		}
	}
	var write []string
	for _, h := range held {
		if strings.Contains(strings.ToLower(h), "write") {
			write = append(write, h)
		}
	}
	if len(needs) == 0 {
		r.Status = OK
		r.Detail = fmt.Sprintf("the token's %s cover every configured feature: %s", kind, strings.Join(wanted, ", "))
		if len(write) > 0 {
			r.Status = Warn
			r.Detail += "; it also holds " + strings.Join(write, ", ") + ", which breakglass never uses"
			r.Fix = "remove write permissions from the application: breakglass only reads (least privilege)"
		}
		return r
	}
	var missing, perms []string
	r.Status = Warn
	for _, n := range needs {
		missing = append(missing, fmt.Sprintf("%s (for %s)", n.perm, strings.Join(n.features, "; ")))
		perms = append(perms, n.perm)
		if !n.optional {
			r.Status = Fail
		}
	}
	r.Detail = fmt.Sprintf("the token's %s lack %s", kind, strings.Join(missing, ", "))
	r.Fix = consentFix(cfg, appID, strings.Join(perms, ", "))
	return r
}

// consentFix is how to grant perms to the application doctor signed in
// as, and have an administrator consent.
func consentFix(cfg *config.Config, appID, perms string) string {
	app := "the application"
	if appID != "" {
		app = "the application " + appID
	}
	how := fmt.Sprintf("grant %s the Microsoft Graph application permission %s and admin-consent it: Entra admin center → App registrations → "+
		"%s → API permissions → Add a permission → Microsoft Graph → Application permissions; then \"Grant admin consent\" "+
		"(a Privileged Role Administrator or Global Administrator must)", app, perms, orUnknown(appID))
	if appID != "" {
		how += fmt.Sprintf(", or `az ad app permission admin-consent --id %s` after adding them", appID)
	}
	if cfg.Graph.Auth == graph.AuthManagedIdentity || cfg.Graph.Auth == graph.AuthWorkloadIdentity {
		how = fmt.Sprintf("assign the managed identity's service principal the Microsoft Graph app role %s "+
			"(an administrator: `New-MgServicePrincipalAppRoleAssignment`, or the portal's Enterprise applications → the identity → Permissions)", perms)
	}
	return how + "; a new token carries them: run doctor again in a few minutes"
}

// graphFix says what to do about a failed probe: the client's hint names
// the permission for a 403.
func graphFix(cfg *config.Config, appID string, err error, path string) string {
	var ge *graph.Error
	if !errors.As(err, &ge) {
		return "check that this machine reaches " + cfg.Graph.BaseURL + " (graph.base_url, or graph.cloud's endpoint) through any proxy, then run doctor again"
	}
	switch {
	case ge.Status == 403:
		perms := graph.PermissionsFor(path, "")
		if perms == "" {
			return ge.Hint
		}
		if strings.Contains(strings.ToLower(ge.Message), "licen") || strings.Contains(strings.ToLower(ge.Message), "premium") {
			return "the tenant needs the licence this data requires (README: Microsoft Graph permissions), and " + consentFix(cfg, appID, perms)
		}
		return consentFix(cfg, appID, perms)
	case ge.Status == 401:
		return tokenFix(cfg.Graph)
	case ge.Status == 404 && strings.HasPrefix(path, "/users/"):
		return "the account is not in the tenant: see the accounts check below"
	}
	if ge.Hint != "" {
		return ge.Hint
	}
	return "retry in a few minutes; if it persists, quote the request id to Microsoft support"
}

// tokenFix says where to look when no token could be had, per graph.auth.
func tokenFix(g config.GraphConfig) string {
	switch g.Auth {
	case graph.AuthClientSecret:
		return "check graph.tenant_id, graph.client_id and graph.client_secret; an expired secret is the usual cause " +
			"(App registrations → the app → Certificates & secrets shows its expiry): create a new one and update the secret"
	case graph.AuthClientCertificate:
		return "check graph.tenant_id, graph.client_id and graph.certificate_path: the certificate must be the one uploaded to the " +
			"app registration (Certificates & secrets) and not expired (`openssl x509 -enddate -noout -in FILE`)"
	case graph.AuthWorkloadIdentity:
		return "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, and that the app has a federated credential for this service account"
	case graph.AuthManagedIdentity:
		return "enable the managed identity on this VM or container (and set graph.client_id for a user-assigned one)"
	case graph.AuthAzureCLI:
		return "run `az login` as the user that runs breakglass, and check graph.tenant_id"
	case graph.AuthAccessToken:
		env := g.TokenEnv
		if env == "" {
			env = graph.DefaultTokenEnv
		}
		return fmt.Sprintf("set %s (graph.token_env) to a current token, e.g. `az account get-access-token --resource-type ms-graph --query accessToken -o tsv`", env)
	}
	return "correct the graph: section"
}
