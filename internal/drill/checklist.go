package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/posture"
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

// Posture check ids whose stored results and open drift speak to
// no-personal-mfa-sspr: both must pass for the item to be checked.
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
// evidence in the store, as of now (the drill's finish, or the time a
// running drill is evaluated).
func (e Evaluator) checklist(ctx context.Context, st Store, d store.Drill, r *Report, now time.Time) error {
	drift, err := postureDrift(ctx, st, d)
	if err != nil {
		return err
	}
	audit, err := e.postureAudit(ctx, st, d, now)
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
			// An open drift alert fails the item whatever the stored
			// report says (a newer audit found it); then the report.
			switch {
			case drift != "" && audit.status == CheckFailed:
				c.Status, c.Evidence = CheckFailed, drift+"; "+audit.evidence
			case drift != "":
				c.Status, c.Evidence = CheckFailed, drift
			default:
				c.Status, c.Evidence = audit.status, audit.evidence
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

// auditVerdict is what the stored posture report says of
// no-personal-mfa-sspr: CheckEvidence, CheckFailed or CheckOpen, and why.
type auditVerdict struct {
	status, evidence string
}

// postureAudit reads the newest stored posture report (any tenant's) that
// ran at or before now and has results of d's account for the checks
// behind no-personal-mfa-sspr. Both passed: checked. Either failed:
// failed, naming the check and its message. Anything else (no report, the
// account not in it, a check skipped, warned, errored or accepted by an
// exception) leaves the item open. A report older than drill.interval
// before now proves nothing about the drill and leaves it open too,
// saying what it showed.
func (e Evaluator) postureAudit(ctx context.Context, st Store, d store.Drill, now time.Time) (auditVerdict, error) {
	const none = "not checked: no stored posture audit has results of the account for no-personal-methods and phishing-resistant-credential (serve's scheduled audit stores one every audit.interval)"
	reps, err := st.PostureReports(ctx)
	if err != nil {
		return auditVerdict{}, fmt.Errorf("reading the stored posture reports: %w", err)
	}
	var (
		best    store.PostureReport
		results map[string]posture.Result
		later   []string
	)
	for _, p := range reps {
		var rep posture.Report
		if err := json.Unmarshal(p.Report, &rep); err != nil {
			return auditVerdict{}, fmt.Errorf("the stored posture report of tenant %q does not decode (run the audit again to replace it): %w", p.Tenant, err)
		}
		got := map[string]posture.Result{}
		for _, res := range rep.Results {
			if slices.Contains(postureChecks, res.Check) && sameAccountIDs(d, res.AccountID, res.AccountUPN) {
				if prev, ok := got[res.Check]; !ok || worse(res.Status, prev.Status) {
					got[res.Check] = res
				}
			}
		}
		if len(got) == 0 {
			continue
		}
		if p.RanAt.After(now) {
			// Ran after the drill's finish: the report it replaced is
			// gone, and this one is not evidence of the drill's time.
			later = append(later, p.RanAt.UTC().Format(time.DateTime)+" UTC")
			continue
		}
		if results == nil || p.RanAt.After(best.RanAt) {
			best, results = p, got
		}
	}
	if results == nil {
		if len(later) > 0 {
			return auditVerdict{CheckOpen, fmt.Sprintf("not checked: the only stored posture audit of the account ran at %s, after this drill was evaluated (%s UTC)",
				strings.Join(later, ", "), now.UTC().Format(time.DateTime))}, nil
		}
		return auditVerdict{CheckOpen, none}, nil
	}
	audit := fmt.Sprintf("posture audit of %s UTC", best.RanAt.UTC().Format(time.DateTime))
	if best.Tenant != "" {
		audit += " (tenant " + best.Tenant + ")"
	}
	var said, failed []string
	passed := 0
	for _, check := range postureChecks {
		res, ok := results[check]
		switch {
		case !ok:
			said = append(said, check+" has no result for the account")
		case res.Status == posture.StatusPass:
			passed++
			said = append(said, check+" passed")
		case res.Status == posture.StatusFail:
			failed = append(failed, fmt.Sprintf("%s failed: %s", check, res.Message))
		default:
			said = append(said, fmt.Sprintf("%s %s: %s", check, res.Status, res.Message))
		}
	}
	interval := e.Bounds.Interval
	if interval <= 0 {
		interval = config.DefaultDrillInterval
	}
	if age := now.Sub(best.RanAt); age > interval {
		return auditVerdict{CheckOpen, fmt.Sprintf("not checked: the newest %s is %s old, more than drill.interval (%s), so it is not counted (it said: %s); let serve's scheduled audit run",
			audit, days(age), days(interval), strings.Join(append(failed, said...), "; "))}, nil
	}
	switch {
	case len(failed) > 0:
		return auditVerdict{CheckFailed, audit + ": " + strings.Join(failed, "; ")}, nil
	case passed == len(postureChecks):
		return auditVerdict{CheckEvidence, audit + ": " + strings.Join(said, ", ")}, nil
	}
	return auditVerdict{CheckOpen, "not checked: " + audit + ": " + strings.Join(said, "; ")}, nil
}

// worse reports whether status a outranks b in posture's report order
// (fail first, pass last): of two results of one check and account, the
// worse one speaks.
func worse(a, b posture.Status) bool {
	return slices.Index(posture.Statuses, a) < slices.Index(posture.Statuses, b)
}

// days says a duration in days once it is at least one (2160h is "90d").
func days(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// sameAccountIDs reports whether an object id and UPN name d's account
// (any case).
func sameAccountIDs(d store.Drill, id, upn string) bool {
	return (d.AccountID != "" && strings.EqualFold(d.AccountID, id)) ||
		(d.AccountUPN != "" && strings.EqualFold(d.AccountUPN, upn))
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
