package notify

import (
	"slices"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// sampleTime is the event time of every sample alert: a Tuesday at 03:12
// UTC, the hour these messages are written for.
var sampleTime = time.Date(2026, 3, 3, 3, 12, 9, 0, time.UTC)

// SampleAlerts returns one realistic alert of every registered rule
// (detect.All), with the fields and annotations that rule's alerts carry.
// ValidateTemplates renders each; they are also the goldens' inputs.
func SampleAlerts() []alert.Alert {
	var out []alert.Alert
	for _, m := range detect.All() {
		out = append(out, sampleAlert(m))
	}
	return out
}

func sampleAlert(m detect.Meta) alert.Alert {
	a := alert.Alert{
		ID:         alert.Key("sample-"+m.ID, m.ID),
		Rule:       m.ID,
		Severity:   m.Severity,
		Title:      m.Title,
		AccountID:  "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70",
		AccountUPN: "bg-admin1@contoso.onmicrosoft.com",
		Account:    "Break glass 1",
		EventID:    "44444444-0000-4000-8000-000000000001",
		EventTime:  sampleTime,
		Category:   "SignInLogs",
		Source:     "signin-export/2026-03-03.json:17",
		Detected:   sampleTime.Add(4 * time.Second),
	}
	ann := map[string]string{}
	switch m.ID {
	case detect.RuleSignIn:
		a.Title += " (failure 50126)"
		a.Result, a.App, a.IPAddress, a.Location = "failure 50126", "Azure Portal", "203.0.113.7", "Oslo, Oslo, NO"
		ann = map[string]string{"error_code": "50126", "error_text": "Error validating credentials due to invalid username or password.",
			"client_app": "Browser", "conditional_access": "notApplied",
			"device":   "MacBook-Pro (MacOs, Chrome 131, not registered in Entra)",
			"resource": "Windows Azure Service Management API", "auth_requirement": "singleFactorAuthentication"}
	case detect.RuleActivity:
		a.Category, a.Operation, a.Result, a.IPAddress = "AuditLogs", "Add member to role", "success", "203.0.113.7"
		a.Title += ": " + a.Operation
		ann = map[string]string{"target": "mallory@contoso.com (User)"}
	case detect.RuleChange:
		a.Category, a.Operation, a.Result, a.IPAddress = "AuditLogs", "Reset user password", "success", "198.51.100.4"
		a.ChangeType, a.Actor = "password", "alice@contoso.com"
		a.Title += ": " + a.Operation
	case detect.RuleGraphActivity:
		a.Category, a.Operation, a.Result = "MicrosoftGraphActivityLogs", "https://graph.microsoft.com/v1.0/users?$top=999", "200"
		a.App, a.IPAddress, a.Location = "14d82eec-204b-4c2f-b7e8-296a70dab67e", "203.0.113.7", "Oslo, Oslo, NO"
		a.Title += ": GET /v1.0/users → 200"
	case detect.RuleRisk:
		a.Category, a.Operation, a.Result, a.IPAddress, a.Location = "UserRiskEvents", "unfamiliarFeatures", "atRisk", "192.0.2.44", "Lagos, Lagos, NG"
		a.Title += ": unfamiliarFeatures (risk high)"
	case detect.RuleProvisioning:
		a.Category, a.Operation, a.Result, a.App = "ProvisioningLogs", "Update", "success", "Workday to Entra ID"
		a.Title += ": Update (target, Workday)"
	case detect.RuleUnparsed:
		a.Category, a.EventTimeUnknown, a.EventTime = "unknown", true, sampleTime.Add(4*time.Second)
		a.Title += " (invalid_json)"
		a.Unreadable = []string{"invalid_json: line 18 ends inside the record (truncated line?)"}
		ann = map[string]string{"reason": "invalid_json", "detail": "line 18 ends inside the record (truncated line?)"}
	case detect.RuleSilence:
		a.AccountID, a.AccountUPN, a.Account, a.Category, a.Source = "", "", "", "Source", "eventhub-signins"
		a.Title = `Break-glass monitoring is blind: log source "eventhub-signins" has shown no sign of life for 1h0m0s (since 2026-03-03 02:12 UTC)`
		ann = map[string]string{"description": `No successful read or poll from "eventhub-signins" within max_silence 1h0m0s.`}
	case detect.RuleSource:
		a.AccountID, a.AccountUPN, a.Account, a.Category, a.Source = "", "", "", "Source", "graph-signins"
		a.Title = `Break-glass monitoring is failing: log source "graph-signins" cannot read auditLogs/signIns: 403 Forbidden`
		ann = map[string]string{"key": "auditLogs/signIns", "description": "Since 2026-03-03 03:12 UTC every attempt has failed. Last error: 403 Forbidden (AuditLog.Read.All missing)"}
	case detect.RuleNotify:
		a.Category, a.Source, a.Operation, a.Result = CategoryNotify, "notify", "dead letter", "gave up after 24h0m0s"
		a.Labels = map[string]string{LabelTarget: "oncall/sms"}
		a.Title = `NOT DELIVERED: Sev0 bg.signin alert "Break-glass account sign-in (success)" for bg-admin1@contoso.onmicrosoft.com could not be sent to oncall/sms since 2026-03-02 03:12 UTC: gave up after 24h0m0s`
		ann = map[string]string{"undelivered_alert": "210442e0e97b783f11c6a683535cdc89", "undelivered_rule": "bg.signin",
			"undelivered_title": "Break-glass account sign-in (success)", "reason": "gave up after 24h0m0s", "attempts": "41", "since": "2026-03-02T03:12:09Z"}
	case detect.RulePosture:
		a.Category, a.Source = "Posture", "posture"
		a.Labels = map[string]string{"check": "ca-exclusion"}
		a.Title = "Posture drift: ca-exclusion now fails for bg-admin1@contoso.onmicrosoft.com"
		ann = map[string]string{"description": `The posture check "ca-exclusion" passed on 2026-03-02 03:00 UTC and now reports fail: policy "Require MFA for admins" no longer excludes the account`,
			"message": `policy "Require MFA for admins" no longer excludes the account`, "check_title": "Excluded from every Conditional Access policy",
			"status": "fail", "remediation": "Add the break-glass exclusion group back to the policy's excluded users."}
	case detect.RuleMisuse:
		a.Category, a.Source, a.Operation = "Review", "review", "review"
		a.Title = "Break-glass MISUSE: bg-admin1@contoso.onmicrosoft.com (incident inc-3f2a9c0d1b4e, reviewed by carol)"
		ann = map[string]string{"description": "carol reviewed incident inc-3f2a9c0d1b4e (3 alerts, 2026-03-03 03:12 UTC to 03:40 UTC) as misuse: nobody on the team used the account.",
			"incident": "inc-3f2a9c0d1b4e", "reviewer": "carol", "note": "nobody on the team used the account"}
	case detect.RuleDrillDue:
		a.Category, a.Source = "Drill", "drill-schedule"
		a.Title = "Break-glass drill due for Break glass 1 (bg-admin1@contoso.onmicrosoft.com) by 2026-03-10 03:00 UTC: plan it now (breakglass drill plan --account bg-admin1@contoso.onmicrosoft.com)"
		ann = map[string]string{"description": "Last passed drill: drill-5c1e on 2025-12-10 03:00 UTC; drills are due every 90d. A passed drill resolves this.",
			"due": "2026-03-10T03:00:00Z"}
	case detect.RuleDrillOverdue:
		a.Category, a.Source = "Drill", "drill-schedule"
		a.Title = "Break-glass drill overdue for Break glass 1 (bg-admin1@contoso.onmicrosoft.com): due 2026-03-01 03:00 UTC (2d ago); run a drill (breakglass drill plan --account bg-admin1@contoso.onmicrosoft.com)"
		ann = map[string]string{"description": "Last passed drill: drill-5c1e on 2025-12-01 03:00 UTC; drills are due every 90d. A passed drill resolves this.",
			"due": "2026-03-01T03:00:00Z"}
	case detect.RuleDrillFailed:
		a.Category, a.Source = "Drill", "drill"
		a.Title = "Break-glass drill FAILED for bg-admin1@contoso.onmicrosoft.com: its sign-in was not detected (drill drl-5c1e2f3a4b5c)"
		ann = map[string]string{"drill": "drl-5c1e2f3a4b5c",
			"description": "not detected: no sign-in of bg-admin1@contoso.onmicrosoft.com was seen between 2026-03-03 02:00:00 and 2026-03-03 03:00:00 UTC. Check that the sources deliver sign-in logs and that the account is listed under accounts:. " +
				"This is what a drill exists to find: if the account did sign in, breakglass would not have alerted on a real emergency either. See breakglass drill report drl-5c1e2f3a4b5c."}
	case detect.RuleCanary:
		a.AccountID, a.AccountUPN, a.Account = "c0ffee00-1111-4222-8333-444455556666", "canary@contoso.com", "canary test identity"
		a.Source, a.Result, a.App, a.IPAddress = "canary:20260303T031209.000000000Z:1", "synthetic", "breakglass canary", "192.0.2.1"
		a.EventID = "breakglass-canary-20260303T031209.000000000Z"
		a.Title = "CANARY TEST, not a break-glass sign-in: the daily synthetic sign-in of canary@contoso.com got through. No action needed."
		a.Labels = map[string]string{"canary": "true", LabelTest: "canary"}
		ann = map[string]string{"description": "breakglass serve pushed this synthetic sign-in through its own pipeline to prove that detection and delivery work. " +
			"It goes to the canary's test group only. If you see it anywhere else, fix notify.routes."}
	case detect.RuleCanaryFailed:
		a.AccountID, a.AccountUPN, a.Account, a.Category, a.Source = "", "", "", "Canary", "canary"
		a.Title = "Break-glass monitoring may be broken: the daily canary failed: its alert was not delivered to the canary group " +
			"(not delivered within 10m0s to canary-test/webhook after 4 attempts, last error: HTTP 503)"
		ann = map[string]string{"step": "deliver", "canary_group": "canary-test", "run": "20260303T031209.000000000Z",
			"detail":      "not delivered within 10m0s to canary-test/webhook after 4 attempts, last error: HTTP 503",
			"description": `At 2026-03-03 03:12 UTC breakglass pushed a synthetic sign-in of the canary identity canary@contoso.com through its own pipeline and it did not reach the canary group "canary-test": not delivered within 10m0s to canary-test/webhook after 4 attempts, last error: HTTP 503. A real break-glass sign-in may be failing the same way: until this is fixed, watch the break-glass accounts' sign-ins in the Entra portal.`}
	default:
		ann = map[string]string{"description": m.Description}
	}
	a.Annotations = ann
	a.Labels = a.StandardLabels()
	return a
}

// ValidateTemplates parses t and executes every template against a sample
// alert of every registered rule, firing and resolved, with and without a
// time zone and an acknowledge link, so that a template that cannot render
// some alert fails `config check` rather than a page at 3 a.m. It returns
// TemplateErrors (one per form, the first failure) or nil.
func ValidateTemplates(t Templates) error {
	if t == (Templates{}) {
		return nil // the defaults are tested (TestMessageGolden)
	}
	var errs TemplateErrors
	failed := map[string]bool{}
	// Parse errors first, per form, so that one broken form does not hide
	// the run-time errors of the others.
	for _, form := range Forms {
		if src := t.get(form); src != "" {
			if _, err := parseTemplate(form, src); err != nil {
				errs = append(errs, newTemplateError(form, err))
				failed[form] = true
			}
		}
	}
	parsed := t
	for form := range failed {
		parsed.set(form, "")
	}
	cet := time.FixedZone("CET", 3600)
	variants := []RenderOptions{
		{Templates: parsed},
		{Templates: parsed, TimeZone: cet, AckURL: func(id string) string { return "https://breakglass.example/ack/" + id + "?sig=x" },
			EvidenceHead: func() string { return "1234:abababababababababababababababababababababababababababababababab" }},
	}
	for _, o := range variants {
		r, err := NewRenderer(o)
		if err != nil {
			return append(errs, newTemplateError("", err))
		}
		for _, a := range SampleAlerts() {
			for _, status := range []string{store.StatusFiring, store.StatusResolved} {
				n := Notification{ID: NotificationID(a.ID, status), Status: status, Alert: a, Attempt: 1, Sent: a.Detected}
				d := r.Data(n)
				for _, form := range Forms {
					e, ok := r.custom[form]
					if !ok || failed[form] {
						continue
					}
					if _, err := e.execute(d); err != nil {
						te := newTemplateError(form, err)
						te.Rule, te.Status = a.Rule, status
						errs = append(errs, te)
						failed[form] = true
					}
				}
			}
		}
	}
	slices.SortStableFunc(errs, func(a, b *TemplateError) int {
		return slices.Index(Forms, a.Form) - slices.Index(Forms, b.Form)
	})
	if len(errs) > 0 {
		return errs
	}
	return nil
}
