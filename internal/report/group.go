package report

import (
	"strings"
	"unicode"

	"breakglass/internal/posture"
)

// group is the results of one account, or of the tenant, in report order.
type group struct {
	// Account is nil for the tenant-wide results.
	Account *posture.AccountInfo
	Results []posture.Result
}

// Label names the group for people: the UPN, else the id, else the
// configuration entry.
func (g group) Label() string {
	if g.Account == nil {
		return "Tenant-wide"
	}
	return accountLabel(*g.Account)
}

func accountLabel(a posture.AccountInfo) string {
	switch {
	case a.UPN != "":
		return a.UPN
	case a.ID != "":
		return a.ID
	}
	return a.Entry
}

// resultLabel names the subject of one result: its account or "tenant".
func resultLabel(r posture.Result) string {
	switch {
	case r.AccountUPN != "":
		return r.AccountUPN
	case r.AccountID != "":
		return r.AccountID
	}
	return "tenant"
}

func accountKey(id, upn string) string { return strings.ToLower(id) + "|" + strings.ToLower(upn) }

// groups splits the results into the tenant-wide group (first, when it has
// results) and one group per account in the report's account order. A
// result whose account is not in rep.Accounts gets a group of its own
// rather than being dropped: every result is shown somewhere.
func groups(rep *posture.Report) []group {
	tenant := group{}
	var out []group
	index := map[string]int{}
	for i := range rep.Accounts {
		a := rep.Accounts[i]
		k := accountKey(a.ID, a.UPN)
		if _, dup := index[k]; dup {
			continue
		}
		index[k] = len(out)
		out = append(out, group{Account: &a})
	}
	for _, r := range rep.Results {
		if r.AccountID == "" && r.AccountUPN == "" {
			tenant.Results = append(tenant.Results, r)
			continue
		}
		k := accountKey(r.AccountID, r.AccountUPN)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, group{Account: &posture.AccountInfo{ID: r.AccountID, UPN: r.AccountUPN, Resolved: true, Entry: "(not in the report's accounts)"}})
		}
		out[i].Results = append(out[i].Results, r)
	}
	if len(tenant.Results) > 0 {
		out = append([]group{tenant}, out...)
	}
	return out
}

// clean makes tenant data safe to print on a terminal or in a one-line
// cell: control characters (escape sequences a hostile display name could
// carry, line breaks) become spaces or visible escapes.
func clean(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case isControl(r):
			b.WriteString(quoteRune(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// quoteRune spells a control character as \x1b or \u202e.
func quoteRune(r rune) string {
	const hex = "0123456789abcdef"
	if r < 0x100 {
		return `\x` + string(hex[r>>4]) + string(hex[r&0xf])
	}
	return `\u` + string(hex[r>>12&0xf]) + string(hex[r>>8&0xf]) + string(hex[r>>4&0xf]) + string(hex[r&0xf])
}

// exceptionNote says how an exception applies, in one line.
func exceptionNote(e *posture.Exception) string {
	if e == nil {
		return ""
	}
	d := day(e.Expires)
	if e.Expired {
		return "exception by " + e.AcceptedBy + " expired on " + d + " (" + e.Reason + ")"
	}
	return "accepted by " + e.AcceptedBy + " until " + d + ": " + e.Reason
}
