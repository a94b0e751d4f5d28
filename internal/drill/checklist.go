package drill

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
	"breakglass/internal/watch"
)

// Item is one of the guidance's validation items ("Validate accounts
// regularly"), with a stable id for drill finish --attest ITEM=NAME.
type Item struct {
	ID   string
	Text string
}

// Checklist item ids.
const (
	ItemMonitoringAware   = "monitoring-aware"
	ItemAuthorisedList    = "authorised-list-reviewed"
	ItemProcessDocumented = "process-documented"
	ItemPeopleTrained     = "people-trained"
	ItemSignedInAdminTask = "signed-in-admin-task"
	ItemNoPersonalMFA     = "no-personal-mfa-sspr"
	ItemDeviceTwoPaths    = "device-two-paths"
	ItemSafeCombinations  = "safe-combinations"
)

// Checklist is the guidance's list, in its order.
var Checklist = []Item{
	{ItemMonitoringAware, "Monitoring staff are aware of the drill"},
	{ItemAuthorisedList, "List of people authorised to use the account reviewed"},
	{ItemProcessDocumented, "Break-glass process documented and current"},
	{ItemPeopleTrained, "People who may need the account are trained"},
	{ItemSignedInAdminTask, "Account signed in and performed an administrative task"},
	{ItemNoPersonalMFA, "No MFA or self-service password reset tied to a person"},
	{ItemDeviceTwoPaths, "Device reachable over two independent network paths"},
	{ItemSafeCombinations, "Safe combinations changed where needed"},
}

// ItemIDs are the checklist's ids, in order.
func ItemIDs() []string {
	out := make([]string, len(Checklist))
	for i, it := range Checklist {
		out[i] = it.ID
	}
	return out
}

// Check statuses.
const (
	CheckAttested = "attested" // someone attested it by name
	CheckEvidence = "checked"  // breakglass's own evidence shows it
	CheckFailed   = "failed"   // breakglass's own evidence contradicts it
	CheckOpen     = "open"     // neither
)

// Check is one checklist item of a drill.
type Check struct {
	ID       string `json:"id"`
	Text     string `json:"text"`
	Status   string `json:"status"`
	By       string `json:"attested_by,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

// Posture check ids whose latest drift speaks to no-personal-mfa-sspr.
var postureChecks = []string{"no-personal-methods", "phishing-resistant-credential"}

// ParseAttest parses drill finish --attest ITEM=NAME values.
func ParseAttest(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		item, name, ok := strings.Cut(v, "=")
		item, name = strings.TrimSpace(item), strings.TrimSpace(name)
		if !ok || item == "" || name == "" {
			return nil, usagef("--attest %q: write ITEM=NAME, e.g. people-trained=alice (items: %s)", v, strings.Join(ItemIDs(), ", "))
		}
		if !slices.Contains(ItemIDs(), item) {
			return nil, usagef("--attest %q: unknown item %q (items: %s)", v, item, strings.Join(ItemIDs(), ", "))
		}
		n, err := cleanText("--attest "+item, name)
		if err != nil {
			return nil, err
		}
		if prev, dup := out[item]; dup && prev != n {
			return nil, usagef("--attest %s given twice (%s and %s)", item, prev, n)
		}
		out[item] = n
	}
	return out, nil
}

// checklist fills r.Checklist and r.Open from the attestations and the
// evidence in the store.
func checklist(ctx context.Context, st Store, d store.Drill, r *Report) error {
	drift, err := postureDrift(ctx, st, d)
	if err != nil {
		return err
	}
	r.Checklist, r.Open = nil, []string{}
	for _, it := range Checklist {
		c := Check{ID: it.ID, Text: it.Text, Status: CheckOpen}
		switch it.ID {
		case ItemSignedInAdminTask:
			m := r.Measured
			switch {
			case m.EventTime != nil && m.SignInResult != "" && m.SignInResult != "success":
				// Detection and alerting were proven; the account itself
				// was not: a failed sign-in is no evidence it works.
				c.Evidence = fmt.Sprintf("the sign-in at %s UTC did not succeed (%s): the account's credentials were not proven", m.EventTime.Format("15:04:05"), m.SignInResult)
			case m.EventTime != nil && m.AdminEvent != nil:
				c.Status = CheckEvidence
				c.Evidence = fmt.Sprintf("sign-in at %s UTC (alert %s); administrative event %s at %s UTC (alert %s)",
					m.EventTime.Format("15:04:05"), m.AlertID, firstNonEmpty(m.AdminEvent.Operation, m.AdminEvent.Rule),
					m.AdminEvent.EventTime.Format("15:04:05"), m.AdminEvent.AlertID)
			case m.EventTime != nil:
				c.Evidence = fmt.Sprintf("sign-in at %s UTC seen; no administrative audit event of the account in the window", m.EventTime.Format("15:04:05"))
			default:
				c.Evidence = "no sign-in of the account in the window"
			}
		case ItemNoPersonalMFA:
			if drift != "" {
				c.Status, c.Evidence = CheckFailed, drift
			} else {
				c.Evidence = "not checked: run breakglass audit (checks no-personal-methods and phishing-resistant-credential)"
			}
		}
		if by := d.Attest[it.ID]; by != "" && c.Status != CheckFailed && c.Status != CheckEvidence {
			c.Status, c.By = CheckAttested, by
		} else if by != "" {
			c.By = by
		}
		if c.Status == CheckOpen {
			r.Open = append(r.Open, it.ID)
		}
		r.Checklist = append(r.Checklist, c)
	}
	return nil
}

// postureDrift describes an open posture drift alert of the account for
// the checks behind no-personal-mfa-sspr, or "". No open drift is not
// proof of a pass (the audit may never have run), so it says nothing.
func postureDrift(ctx context.Context, st Store, d store.Drill) (string, error) {
	var out []string
	for _, check := range postureChecks {
		as, err := st.Alerts(ctx, store.AlertFilter{Rule: detect.RulePosture, State: alert.StateFiring,
			Labels: map[string]string{watch.LabelCheck: check}, Limit: 100})
		if err != nil {
			return "", fmt.Errorf("reading posture alerts: %w", err)
		}
		for _, a := range as {
			if SameAccount(d, a) {
				out = append(out, fmt.Sprintf("posture check %s fails since %s (alert %s)", check, a.Detected.UTC().Format(time.DateOnly), a.ID))
				break
			}
		}
	}
	return strings.Join(out, "; "), nil
}
