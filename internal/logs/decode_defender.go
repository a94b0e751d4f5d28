package logs

import (
	"encoding/json"
	"strings"

	"breakglass/internal/entra"
)

// ShapeDefender is a sign-in row of Microsoft Defender XDR advanced
// hunting: AADSignInEventsBeta (renamed EntraIdSignInEvents) and
// IdentityLogonEvents, as the advanced hunting "Export" writes them (CSV or
// JSON), as the hunting API answers them (Graph security/runHuntingQuery
// and the Defender API: {"schema":[...],"results":[{...}]}), and as
// Microsoft Sentinel holds them. The user is AccountObjectId and
// AccountUpn; LogonType is what sets these rows apart from Defender's other
// tables that name an account (IdentityDirectoryEvents, CloudAppEvents,
// ...), which are not sign-ins: those stay unknown shapes, so a row of
// theirs that names an account fails closed (bg.unparsed).
// Column lists: see testdata/formats/SOURCES.md.
const ShapeDefender Shape = 20

// ShapeDefenderStream is such a row as the Defender streaming API writes
// it to Event Hubs or storage: a diagnostic record whose category is
// "AdvancedHunting-IdentityLogonEvents" (or another table) with the
// columns inside properties.
const ShapeDefenderStream Shape = 21

// defenderProps classifies a streamed record's properties (an object, or
// JSON text of one) as a sign-in row (LogonType and an account) or not.
func defenderProps(props []byte) (Class, bool) {
	if len(props) > 0 && props[0] == '"' {
		var s string
		if json.Unmarshal(props, &s) != nil {
			return Class{}, false
		}
		props = []byte(s)
	}
	i := skipSpace(props, 0)
	if i >= len(props) || props[i] != '{' {
		return Class{}, false
	}
	var x extraKeys
	eachMember(props, i, func(key []byte, v, vend int) bool {
		switch k := string(key[1 : len(key)-1]); k {
		case "AccountObjectId", "AccountUpn", "LogonType":
			x.note(k, props[v:vend])
		}
		return true
	})
	c, ok := x.defenderClass()
	c.Shape = ShapeDefenderStream
	return c, ok
}

// defenderClass classifies a row by the keys note saw.
func (x *extraKeys) defenderClass() (Class, bool) {
	if !x.defAccount || !x.defLogonType {
		return Class{}, false
	}
	cat := entra.CategorySignIn
	if x.defNonInteractive {
		cat = entra.CategoryNonInteractive
	}
	return Class{Shape: ShapeDefender, Category: cat}, true
}

// nonInteractiveLogon reports whether a LogonType value (a string, or JSON
// text of an array such as ["nonInteractiveUser"]) names a non-interactive
// sign-in.
func nonInteractiveLogon(val []byte) bool {
	return strings.Contains(strings.ToLower(string(val)), "noninteractive")
}

func decodeDefender(rec []byte, c Class, ev *entra.Event) error {
	n := notes{ev}
	if c.Shape == ShapeDefenderStream {
		_, props, err := body(rec, Class{Shape: ShapeDiagnostic, Category: c.Category}, ev, n)
		if err != nil {
			return decodeErr(err)
		}
		if props == nil {
			return nil // noted by body: fails closed if it names an account
		}
		rec = props
	}
	r, err := decodePortalRow(rec, n)
	if err != nil {
		return decodeErr(err)
	}
	n.time(timeField{"Timestamp", text(r.get("timestamp"))}, timeField{"TimeGenerated", text(r.get("timegenerated"))})
	ev.ID = r.get("requestid", "reportid")
	ev.CorrelationID = r.get("correlationid")
	ev.UserID, ev.UserPrincipalName, ev.UserDisplayName = r.get("accountobjectid"), r.get("accountupn"), r.get("accountdisplayname")
	ev.AppID, ev.AppDisplayName, ev.ResourceDisplayName = r.get("applicationid"), r.get("application"), r.get("resourcedisplayname")
	ev.IPAddress, ev.ClientAppUsed = r.get("ipaddress"), r.get("clientappused")
	ev.ConditionalAccess, ev.AuthRequirement = r.get("conditionalaccessstatus"), r.get("authenticationrequirement")
	ev.Interactive = c.Category == entra.CategorySignIn
	var loc []string
	for _, k := range []string{"city", "state", "country"} {
		if v := r.get(k); v != "" {
			loc = append(loc, v)
		}
	}
	ev.Location = strings.Join(loc, ", ")
	if ev.Location == "" {
		ev.Location = defenderLocation(r.get("location"))
	}
	// AADSignInEventsBeta carries the Entra error code; IdentityLogonEvents
	// says LogonSuccess or LogonFailed with a FailureReason.
	ev.ResultDescription = r.get("failurereason")
	switch code, action := r.get("errorcode"), r.get("actiontype"); {
	case code != "":
		ev.ResultType = code
	case strings.EqualFold(action, "LogonSuccess"):
		ev.ResultType = "0"
	case action != "":
		ev.ResultType = action
	}
	fillDefenderDetail(r, ev, n) // decode_signin.go
	noIdentity(n, "AccountObjectId", ev.UserID, ev.UserPrincipalName)
	return nil
}

// defenderLocation reads IdentityLogonEvents' Location: a country code, or
// JSON text of an object with City/State/CountryCode.
func defenderLocation(s string) string {
	if !strings.HasPrefix(s, "{") {
		return s
	}
	var l map[string]any
	if json.Unmarshal([]byte(s), &l) != nil {
		return s
	}
	var parts []string
	for _, k := range []string{"City", "State", "CountryCode", "Country"} {
		if v, ok := l[k].(string); ok && v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ", ")
}
