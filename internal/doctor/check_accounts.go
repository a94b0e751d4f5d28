package doctor

import (
	"context"
	"fmt"
	"strings"

	"breakglass/internal/graph"
	"breakglass/internal/graph/scrub"
)

func init() { register(70, "accounts", true, checkAccounts) }

// checkAccounts looks each break-glass account up in the tenant: it
// exists, its id and UPN are the configured ones, and it is enabled. A
// group entry must exist (its members are read by the graph check).
func checkAccounts(ctx context.Context, e *Env) []Result {
	cfg := e.Cfg
	switch {
	case !cfg.Graph.Configured():
		return []Result{{Check: "accounts", Item: "lookup", Status: Skip,
			Detail: "no graph: section: the accounts cannot be looked up; they are matched by the id and UPN as configured"}}
	case e.graph == nil:
		return []Result{{Check: "accounts", Item: "lookup", Status: Skip, Detail: "no Graph token (see graph above)"}}
	}
	var out []Result
	for i, a := range cfg.Accounts {
		key := fmt.Sprintf("accounts[%d]", i)
		if a.IsGroup() {
			out = append(out, checkGroup(ctx, e, key, a.Group))
			continue
		}
		out = append(out, checkUser(ctx, e, key, a.ID, a.UPN))
	}
	return out
}

type graphUser struct {
	ID             string `json:"id"`
	UPN            string `json:"userPrincipalName"`
	DisplayName    string `json:"displayName"`
	AccountEnabled *bool  `json:"accountEnabled"`
}

func checkUser(ctx context.Context, e *Env, key, id, upn string) Result {
	label := id
	if upn != "" {
		label = upn
	}
	r := Result{Check: "accounts", Item: fmt.Sprintf("%s %s", key, label)}
	lookup := id
	if lookup == "" {
		lookup = upn
	}
	e.progress("looking up %s", label)
	var u graphUser
	gctx, cancel := e.timeout(ctx)
	err := e.graph.client.Get(gctx, graph.V1, "/users/"+lookup,
		graph.Query{Select: []string{"id", "userPrincipalName", "displayName", "accountEnabled"}}, &u)
	cancel()
	if err != nil {
		r.Status, r.Detail = Fail, scrub.String(err.Error())
		if graph.IsNotFound(err) {
			r.Detail = fmt.Sprintf("%s is not in the tenant: serve would never see it sign in under this %s", lookup, map[bool]string{true: "id", false: "UPN"}[id != ""])
			r.Fix = fmt.Sprintf("correct %s (`az ad user show --id %s` finds the account); a deleted account can be restored for 30 days "+
				"(Entra admin center → Users → Deleted users)", key, lookup)
		} else {
			r.Fix = graphFix(e.Cfg, e.graph.appID, err, "/users/"+lookup)
		}
		return r
	}
	var problems, notes []string
	if id != "" && !strings.EqualFold(strings.Trim(u.ID, "{}"), strings.Trim(id, "{}")) {
		problems = append(problems, fmt.Sprintf("Graph answered with id %s, not %s", u.ID, id))
	}
	if upn != "" && !strings.EqualFold(u.UPN, upn) {
		problems = append(problems, fmt.Sprintf("its UPN is %s, not %s as %s.upn says (renamed?)", u.UPN, upn, key))
	}
	if len(problems) > 0 {
		r.Status, r.Detail = Fail, strings.Join(problems, "; ")
		r.Fix = fmt.Sprintf("set %s to id: %s and upn: %s: a record that carries only the account's current UPN would not match the configured one", key, u.ID, u.UPN)
		return r
	}
	if id == "" {
		notes = append(notes, "configured by UPN only")
	}
	desc := fmt.Sprintf("%s (%s, id %s)", orUnknown(u.UPN), orUnknown(u.DisplayName), u.ID)
	switch {
	case u.AccountEnabled != nil && !*u.AccountEnabled:
		r.Status = Warn
		r.Detail = desc + " exists but is disabled: it cannot be used in an emergency"
		r.Fix = "enable it (Entra admin center → Users → the account → Edit properties → Settings → Account enabled) unless it is disabled on purpose"
	case id == "":
		r.Status = Warn
		r.Detail = desc + " exists and is enabled; " + strings.Join(notes, "; ")
		r.Fix = fmt.Sprintf("add id: %s to %s: object ids never change, UPNs can be renamed", u.ID, key)
	default:
		r.Status, r.Detail = OK, desc+" exists and is enabled"
	}
	return r
}

func checkGroup(ctx context.Context, e *Env, key, id string) Result {
	r := Result{Check: "accounts", Item: fmt.Sprintf("%s group %s", key, id)}
	var g struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	}
	gctx, cancel := e.timeout(ctx)
	err := e.graph.client.Get(gctx, graph.V1, "/groups/"+id, graph.Query{Select: []string{"id", "displayName"}}, &g)
	cancel()
	switch {
	case graph.IsNotFound(err):
		r.Status, r.Detail = Fail, fmt.Sprintf("group %s is not in the tenant: its members are not watched", id)
		r.Fix = fmt.Sprintf("correct %s.group to the group's object id (`az ad group show --group NAME --query id`)", key)
	case err != nil:
		r.Status, r.Detail, r.Fix = Fail, scrub.String(err.Error()), graphFix(e.Cfg, e.graph.appID, err, "/groups/"+id)
	default:
		r.Status, r.Detail = OK, fmt.Sprintf("group %s exists", orUnknown(g.DisplayName))
	}
	return r
}
