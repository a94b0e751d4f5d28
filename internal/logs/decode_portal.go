package logs

import (
	"strconv"
	"strings"

	"breakglass/internal/entra"
)

// portalRow is one row of the Entra admin center's "Download" of the
// sign-in or audit log, keyed by column name (the splitter turns CSV rows
// into such objects). Keys are matched with spaces and case folded, as the
// headers carry stray spaces ("Application ID ", "Autonomous system  number").
// Column lists: see testdata/categories/SOURCES.md.
type portalRow map[string]string

func (r portalRow) get(names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(r[n]); v != "" {
			return v
		}
	}
	return ""
}

func portalKey(k string) string {
	return strings.Join(strings.Fields(strings.ToLower(k)), " ")
}

func decodePortalRow(rec []byte, n notes) (portalRow, error) {
	var raw map[string]text
	if err := unmarshal(rec, &raw, n, ""); err != nil {
		return nil, err
	}
	r := make(portalRow, len(raw))
	for k, v := range raw {
		r[portalKey(k)] = string(v)
	}
	return r, nil
}

func decodePortal(rec []byte, c Class, ev *entra.Event) error {
	n := notes{ev}
	r, err := decodePortalRow(rec, n)
	if err != nil {
		return decodeErr(err)
	}
	n.time(timeField{"Date (UTC)", text(r.get("date (utc)", "date"))})
	if ev.Kind == entra.KindAudit {
		fillPortalAudit(r, ev)
		noIdentity(n, "ActorObjectId", ev.Initiator.UserID, ev.Initiator.UserPrincipalName, ev.Initiator.ServicePrincipalID, ev.Initiator.AppDisplayName,
			func() string {
				if len(ev.Targets) > 0 {
					return "targets"
				}
				return ""
			}())
		return nil
	}
	fillPortalSignIn(r, ev)
	fillPortalDetail(r, ev) // decode_signin.go
	noIdentity(n, "User ID", ev.UserID, ev.UserPrincipalName, ev.ServicePrincipalID)
	return nil
}

// fillPortalSignIn maps the sign-in download's columns. The request id is
// the sign-in's id in Graph and Log Analytics, so the same sign-in read
// from a download and from Graph is one alert.
func fillPortalSignIn(r portalRow, ev *entra.Event) {
	ev.ID, ev.CorrelationID = r.get("request id"), r.get("correlation id")
	ev.UserID, ev.UserPrincipalName, ev.UserDisplayName = r.get("user id"), r.get("username"), r.get("user")
	ev.AppID, ev.AppDisplayName, ev.ResourceDisplayName = r.get("application id"), r.get("application"), r.get("resource")
	ev.IPAddress, ev.Location, ev.ClientAppUsed = r.get("ip address"), r.get("location"), r.get("client app")
	ev.ConditionalAccess, ev.AuthRequirement = r.get("conditional access"), r.get("authentication requirement")
	ev.ServicePrincipalID, ev.ServicePrincipal = r.get("service principal id"), r.get("service principal name")
	ev.Interactive = ev.Category == entra.CategorySignIn
	ev.ResultDescription = r.get("failure reason")
	// Status is Success, Failure or Interrupted; the error code says which
	// failure. A download without the code column keeps the status.
	status, code := r.get("status"), r.get("sign-in error code")
	switch {
	case code != "":
		ev.ResultType = code
	case strings.EqualFold(status, "success"):
		ev.ResultType = "0"
	default:
		ev.ResultType = status
	}
	if ev.ResultDescription == "" && !strings.EqualFold(status, "success") {
		ev.ResultDescription = status
	}
}

// fillPortalAudit maps the audit download's columns: the actor, then
// Target1..TargetN with up to five modified properties each.
func fillPortalAudit(r portalRow, ev *entra.Event) {
	ev.CorrelationID = r.get("correlationid", "correlation id")
	ev.ID = r.get("id", "activity id")
	ev.Operation = r.get("activity")
	ev.AuditCategory, ev.LoggedByService = r.get("category"), r.get("service")
	ev.Result, ev.ResultReason = auditResult(text(strings.ToLower(r.get("result")))), r.get("resultreason")
	in := &ev.Initiator
	in.UserID, in.UserPrincipalName, in.UserDisplayName = r.get("actorobjectid"), r.get("actoruserprincipalname"), r.get("actordisplayname")
	in.IPAddress = r.get("ipaddress", "ip address")
	in.ServicePrincipalID, in.AppDisplayName = r.get("actorserviceprincipalid"), r.get("actorserviceprincipalname")
	if t := strings.ToLower(r.get("actortype")); t != "" && t != "user" && in.AppDisplayName == "" {
		// An app actor's name is in ActorDisplayName.
		in.AppDisplayName, in.UserDisplayName = in.UserDisplayName, ""
	}
	for n := 1; n <= 64; n++ {
		p := "target" + strconv.Itoa(n)
		t := entra.Target{ID: r.get(p + "objectid"), DisplayName: r.get(p + "displayname"), Type: r.get(p + "type"),
			UserPrincipalName: r.get(p + "userprincipalname")}
		for m := 1; m <= 16; m++ {
			q := p + "modifiedproperty" + strconv.Itoa(m)
			name := r.get(q + "name")
			if name == "" {
				continue
			}
			t.ModifiedProperties = append(t.ModifiedProperties, entra.ModifiedProperty{Name: name, OldValue: r.get(q + "oldvalue"), NewValue: r.get(q + "newvalue")})
		}
		// Empty cells are not in the row, so a missing TargetN does not
		// mean there is no TargetN+1.
		if t.ID == "" && t.UserPrincipalName == "" && t.DisplayName == "" && t.Type == "" && len(t.ModifiedProperties) == 0 {
			continue
		}
		ev.Targets = append(ev.Targets, t)
	}
}
