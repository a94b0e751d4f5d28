package logs

import (
	"fmt"
	"strings"

	"breakglass/internal/entra"
)

// legacyAudit is the properties object of the 2018-era "Audit" diagnostic
// category (Azure Monitor audit log schema, first two examples; see
// testdata/categories/SOURCES.md). The initiator is the envelope's
// "identity"; the target is packed into targetResourceName as values
// separated by "__", whose meaning targetResourceType gives in the same
// order ("UPN__TenantContextID__PUID__ObjectID__ObjectClass").
type legacyAudit struct {
	// Identity: some pipelines (and hand-made exports) carry the
	// envelope's identity inside properties too.
	Identity                text `json:"identity"`
	IdentityType            text `json:"identityType"`
	OperationType           text `json:"operationType"`
	TargetResourceType      text `json:"targetResourceType"`
	TargetResourceName      text `json:"targetResourceName"`
	AuditEventCategory      text `json:"auditEventCategory"`
	TargetUpdatedProperties dyn[[]struct {
		Name     text `json:"Name"`
		OldValue text `json:"OldValue"`
		NewValue text `json:"NewValue"`
	}] `json:"targetUpdatedProperties"`
}

func decodeLegacyAudit(rec []byte, c Class, ev *entra.Event) error {
	ev.Category, ev.Kind = entra.CategoryAudit, entra.KindAudit
	n := notes{ev}
	env, props, err := body(rec, c, ev, n)
	if err != nil || props == nil {
		return decodeErr(err)
	}
	if categoryByContent(props) == entra.CategoryAudit {
		// "Audit" with today's properties: the core decoder reads them.
		*ev = entra.Event{Category: entra.CategoryAudit, Kind: entra.KindAudit, Shape: c.Shape.String()}
		return decodeErr(decodeDiagnostic(rec, ev, notes{ev}))
	}
	var l legacyAudit
	if err := unmarshal(props, &l, n, "properties."); err != nil {
		return decodeErr(err)
	}
	n.time(timeField{"time", env.Time})
	ev.Operation = strings.TrimSpace(string(env.OperationName))
	ev.AuditCategory, ev.OperationType = string(l.AuditEventCategory), string(l.OperationType)
	ev.Result, ev.CorrelationID = auditResult(env.ResultType), string(env.CorrelationID)
	if ip := string(env.CallerIPAddress); ip != "<null>" {
		ev.Initiator.IPAddress = ip
	}
	envID, propID := legacyIdentity(env.Identity), legacyIdentity(l.Identity)
	if envID == "" {
		envID = propID
	}
	if envID != "" {
		switch {
		case entra.IsGUID(envID):
			ev.Initiator.UserID = envID
		case strings.EqualFold(string(l.IdentityType), "UPN") || strings.Contains(envID, "@"):
			ev.Initiator.UserPrincipalName = envID
		default:
			ev.Initiator.UserDisplayName = envID
		}
	}
	if propID != "" && !strings.EqualFold(propID, envID) {
		// Two initiators that disagree: either may be the account.
		n.identity("properties.identity", fmt.Sprintf("differs from the envelope's identity (%q, %q)", envID, propID))
		ev.Ambiguous = append(ev.Ambiguous, entra.AltIdentity{Where: "initiator", Value: propID})
	}
	ev.Targets = legacyTargets(string(l.TargetResourceType), string(l.TargetResourceName))
	dynBad(n, "properties.targetUpdatedProperties", l.TargetUpdatedProperties, false)
	if len(ev.Targets) > 0 && l.TargetUpdatedProperties.OK {
		for _, m := range l.TargetUpdatedProperties.V {
			ev.Targets[0].ModifiedProperties = append(ev.Targets[0].ModifiedProperties,
				entra.ModifiedProperty{Name: string(m.Name), OldValue: string(m.OldValue), NewValue: string(m.NewValue)})
		}
	}
	if ev.Initiator.UserID == "" && ev.Initiator.UserPrincipalName == "" && len(ev.Targets) == 0 && strings.TrimSpace(string(l.TargetResourceName)) != "" {
		n.identity("properties.targetResourceName", "no object id or UPN in "+quoteHead([]byte(l.TargetResourceName)))
	}
	return nil
}

// legacyIdentity is an identity value, or "" when there is none ("NA").
func legacyIdentity(t text) string {
	id := strings.TrimSpace(string(t))
	if strings.EqualFold(id, "NA") {
		return ""
	}
	return id
}

// legacyTargets unpacks targetResourceName. When its parts do not line up
// with targetResourceType's, every part that looks like an object id or a
// UPN becomes a target of its own: a target we cannot label must still be
// matched.
func legacyTargets(typ, name string) []entra.Target {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	names, values := strings.Split(typ, "__"), strings.Split(name, "__")
	if len(names) == len(values) {
		var t entra.Target
		for i, n := range names {
			v := strings.TrimSpace(values[i])
			switch strings.ToLower(n) {
			case "upn":
				t.UserPrincipalName = v
			case "objectid":
				t.ID = v
			case "name":
				t.DisplayName = v
			case "objectclass":
				t.Type = v
			}
		}
		if t.DisplayName == "" {
			t.DisplayName = firstNonEmpty(t.UserPrincipalName, t.ID)
		}
		if t.ID != "" || t.UserPrincipalName != "" {
			return []entra.Target{t}
		}
	}
	var out []entra.Target
	for _, v := range values {
		v = strings.TrimSpace(v)
		switch {
		case entra.IsGUID(v):
			out = append(out, entra.Target{ID: v, DisplayName: v})
		case strings.Contains(v, "@"):
			out = append(out, entra.Target{UserPrincipalName: v, DisplayName: v})
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
