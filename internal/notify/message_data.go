package notify

import (
	"cmp"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/store"
)

// LabelTest marks a drill notification; its message says it is a test.
const LabelTest = "test"

// MessageData is what a message template sees. Every string in it is one
// line with control and invisible characters removed, whatever the log
// record held; HTML templates escape it further for their context.
type MessageData struct {
	Status   string // "firing" or "resolved"
	Resolved bool
	// Severity is "Sev0".."Sev4"; SeverityWords says it in words
	// ("critical"), as Azure Monitor names the levels.
	Severity, SeverityWords string
	Rule, Title, AlertID    string
	// RuleTitle is the rule's own title, without the record's details.
	RuleTitle string
	Account   AccountData
	// What says in one sentence what happened; Facts are the details
	// (result, error code and text, operation, target, ...).
	What  string
	Facts []Field
	// From is where it came from: IP address, location, app, client app,
	// device, Conditional Access result; only what the alert carries.
	From []Field
	// When is the event's time; WhenUTC and WhenLocal are it written out
	// (WhenLocal is "" without notify.time_zone). TimeUnknown: the record
	// carried no usable time and When is when breakglass read it.
	When               time.Time
	WhenUTC, WhenLocal string
	TimeUnknown        bool
	// UTCClock and LocalClock are the time of day alone ("09:00",
	// "11:00 CEST"), for the short and voice forms.
	UTCClock, LocalClock string
	// Color is the severity's colour for HTML ("#b00020"; green when
	// resolved).
	Color string
	// Next is what to do now: the rule's runbook line, or for a resolved
	// alert what resolution means; NextShort is it in a few words.
	Next, NextShort string
	// AckURL acknowledges the alert; "" when links are not configured.
	AckURL string
	// EvidenceHead is the evidence log's head when the message was
	// rendered ("SEQ:HASH"); "" when unknown.
	EvidenceHead string
	// Unreadable lists fields of the record that could not be read.
	Unreadable  []string
	Source      string // where the record was read, or the log source
	EventID     string
	Labels      map[string]string
	Annotations map[string]string
	// Test is set on a drill: an alert carrying the label LabelTest (as
	// `notify test` will send) says in every form that it is a test.
	Test bool
	// Drill is the drill's id on a sign-in inside an announced drill's
	// window (label alert.LabelDrill): every form says DRILL first, so
	// nobody panics, and still asks for the acknowledgement the drill
	// measures.
	Drill string
}

// AccountData names the account an alert is about.
type AccountData struct {
	UPN, ID, Name string
	// Label is how a person knows the account: "Name (upn, id ...)".
	Label string
	// Short is the UPN, else the name, else the id: for SMS.
	Short string
	// Spoken is the account for a voice call: the name, else the UPN with
	// "at" and "dot" spelled out; the id is never read.
	Spoken string
}

// Data builds what templates see for n. It is exported so that channels
// and tests can inspect the facts a message is built from.
func (r *Renderer) Data(n Notification) *MessageData {
	a := n.Alert
	d := &MessageData{
		Status:        cmp.Or(oneLine(n.Status, 20), store.StatusFiring),
		Severity:      a.Severity.String(),
		SeverityWords: SeverityWords(a.Severity),
		Rule:          oneLine(a.Rule, 100),
		Title:         oneLine(a.Title, 300),
		AlertID:       oneLine(a.ID, 100),
		Source:        oneLine(a.Source, 200),
		EventID:       oneLine(a.EventID, 200),
		Labels:        cleanMap(a.Labels),
		Annotations:   cleanMap(a.Annotations),
		TimeUnknown:   a.EventTimeUnknown,
		Test:          a.Labels[LabelTest] != "",
		Drill:         oneLine(a.Labels[alert.LabelDrill], 100),
	}
	d.Resolved = d.Status == store.StatusResolved
	d.RuleTitle = d.Title
	if m, ok := detect.Lookup(a.Rule); ok {
		d.RuleTitle = m.Title
	}
	for _, u := range a.Unreadable {
		d.Unreadable = append(d.Unreadable, oneLine(u, 300))
	}
	d.Account = accountData(a)
	d.When = a.EventTime.UTC()
	if d.When.IsZero() {
		d.When = a.Detected.UTC()
	}
	d.WhenUTC = d.When.Format("2006-01-02 15:04:05 UTC")
	d.UTCClock = d.When.Format("15:04")
	if tz := r.opts.TimeZone; tz != nil && tz != time.UTC {
		d.WhenLocal = d.When.In(tz).Format("2006-01-02 15:04:05 MST") + " (" + tz.String() + ")"
		d.LocalClock = d.When.In(tz).Format("15:04 MST")
	}
	d.Color = severityColor(a.Severity, d.Resolved)
	if r.opts.AckURL != nil && a.ID != "" && !d.Resolved {
		d.AckURL = oneLine(r.opts.AckURL(a.ID), 2000)
	}
	if r.opts.EvidenceHead != nil {
		d.EvidenceHead = oneLine(r.opts.EvidenceHead(), 200)
	}
	d.What, d.Facts = describe(a, d.Annotations)
	d.From = fromFields(a, d.Annotations)
	if d.Resolved {
		d.Next = resolvedLine(a.Rule)
		d.NextShort = "No action needed."
	} else {
		d.Next, d.NextShort = Runbook(a.Rule), RunbookShort(a.Rule)
	}
	return d
}

// Fields are the label/value pairs of a card (Teams, Slack), in the order
// a person reads them.
func (d *MessageData) Fields() []Field {
	f := []Field{{"Status", strings.ToUpper(d.Status)}}
	// A card (Teams, Slack, the incident tools' details) says DRILL in its
	// facts too, not only in its title, and still asks for the
	// acknowledgement the drill measures.
	if d.Drill != "" {
		f = append(f, Field{"Drill", "DRILL " + d.Drill + ": a planned, announced exercise of this account; acknowledge it as usual"})
	}
	f = append(f, Field{"Severity", d.Severity + " " + d.SeverityWords})
	f = append(f, Field{"Account", d.Account.Label}, Field{"What happened", d.What})
	f = append(f, d.Facts...)
	f = append(f, d.From...)
	when := d.WhenUTC
	if d.TimeUnknown {
		when += " (time of reading: the record had no usable time)"
	}
	f = append(f, Field{"When (UTC)", when})
	if d.WhenLocal != "" {
		f = append(f, Field{"When (local)", d.WhenLocal})
	}
	f = append(f, Field{"What to do", d.Next}, Field{"Alert", d.AlertID})
	return f
}

func cleanMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[oneLine(k, 100)] = oneLine(v, 1000)
	}
	return out
}

// SeverityWords names a severity as Azure Monitor does (alert.Severity.Words).
func SeverityWords(s alert.Severity) string { return s.Words() }

func severityColor(s alert.Severity, resolved bool) string {
	switch {
	case resolved:
		return "#2e7d32"
	case s <= alert.Sev0:
		return "#b00020"
	case s == alert.Sev1:
		return "#d84315"
	case s == alert.Sev2:
		return "#b26a00"
	}
	return "#455a64"
}

func accountData(a alert.Alert) AccountData {
	ac := AccountData{UPN: oneLine(a.AccountUPN, 200), ID: oneLine(a.AccountID, 100), Name: oneLine(a.Account, 200)}
	var parts []string
	if ac.UPN != "" {
		parts = append(parts, ac.UPN)
	}
	if ac.ID != "" {
		parts = append(parts, "id "+ac.ID)
	}
	switch {
	case ac.Name != "" && len(parts) > 0:
		ac.Label = ac.Name + " (" + strings.Join(parts, ", ") + ")"
	case ac.Name != "":
		ac.Label = ac.Name
	case len(parts) > 0:
		ac.Label = strings.Join(parts, ", ")
	default:
		ac.Label = "none: this alert is about breakglass itself"
	}
	ac.Short = cmp.Or(ac.UPN, ac.Name, ac.ID)
	switch {
	case ac.Name != "":
		ac.Spoken = ac.Name
	case ac.UPN != "":
		ac.Spoken = spokenUPN(ac.UPN)
	case ac.ID != "":
		ac.Spoken = "with id ending " + spokenChars(ac.ID[max(0, len(ac.ID)-4):])
	default:
		ac.Spoken = "none"
	}
	return ac
}

// spokenUPN writes "bg1@contoso.com" as "bg1 at contoso dot com", which
// speech engines read correctly.
func spokenUPN(upn string) string {
	local, domain, ok := strings.Cut(upn, "@")
	if !ok {
		return upn
	}
	return local + " at " + strings.ReplaceAll(domain, ".", " dot ")
}

// spokenChars spaces characters out so they are read one by one.
func spokenChars(s string) string {
	return strings.Join(strings.Split(s, ""), " ")
}

// describe says what happened, per rule, from the alert's fields and the
// annotations detection and the watchers set.
func describe(a alert.Alert, ann map[string]string) (string, []Field) {
	var facts []Field
	add := func(label, v string) {
		if v = oneLine(v, 500); v != "" {
			facts = append(facts, Field{label, v})
		}
	}
	title := oneLine(a.Title, 300)
	switch a.Rule {
	case detect.RuleSignIn:
		code := ann[detect.AnnErrorCode]
		result := oneLine(a.Result, 100)
		if c, ok := strings.CutPrefix(result, "failure "); ok && code == "" {
			code = c
		}
		kind := signInTypeOf(a.Category)
		var what string
		switch {
		case result == "success":
			what = "Someone signed in as this account (" + kind + ") and the sign-in SUCCEEDED."
		case code != "":
			what = "Someone tried to sign in as this account (" + kind + ") and it FAILED with error " + code + ": " + sentence(errorText(code, ann[detect.AnnErrorText]))
		default:
			what = "Someone signed in as this account (" + kind + "); the log does not say whether it succeeded."
		}
		add("Result", result)
		if code != "" {
			add("Error code", code)
			add("Error", errorText(code, ann[detect.AnnErrorText]))
		}
		add("Sign-in type", kind)
		add("Resource", ann[detect.AnnResource])
		add("Authentication", ann[detect.AnnAuthRequirement])
		return what + expectWhat(ann), append(facts, expectFacts(ann)...) // message_expect.go
	case detect.RuleActivity:
		what := "This account did " + quoteOr(a.Operation, "an operation")
		if t := ann[detect.AnnTarget]; t != "" {
			what += " on " + t
		}
		what += resultClause(a.Result) + "."
		add("Operation", a.Operation)
		add("Target", ann[detect.AnnTarget])
		add("Result", a.Result)
		add("Reason", ann[detect.AnnResultReason])
		return what, facts
	case detect.RuleChange:
		by := cmp.Or(oneLine(a.Actor, 200), "someone the log does not name")
		what := by + " did " + quoteOr(a.Operation, "an operation") + " on this account" + resultClause(a.Result) + "."
		add("Operation", a.Operation)
		add("Change type", a.ChangeType)
		add("Done by", a.Actor)
		add("Targets", ann[detect.AnnTarget])
		add("Result", a.Result)
		add("Reason", ann[detect.AnnResultReason])
		return what, facts
	case detect.RuleGraphActivity:
		add("Request", a.Operation)
		add("Response status", a.Result)
		return sentence("A Microsoft Graph API call was made with this account's token: " + strings.TrimPrefix(title, detect.MustLookup(a.Rule).Title+": ")), facts
	case detect.RuleRisk:
		add("Risk", a.Operation)
		add("Risk state", a.Result)
		return sentence("Identity Protection flagged this account: "+title) + expectWhat(ann), append(facts, expectFacts(ann)...)
	case detect.RuleProvisioning:
		add("Action", a.Operation)
		add("Status", a.Result)
		add("Initiated by", a.Actor)
		add("System", a.App)
		return sentence("A provisioning job acted on this account: " + title), facts
	case detect.RuleUnparsed:
		add("Why unreadable", ann["reason"])
		add("Detail", ann["detail"])
		add("Identity", ann["identity"])
		add("Account", ann["account"])
		return "A log record that mentions this account could not be read, so breakglass cannot say what it was: treat it as a sign-in until you have looked at the record.", facts
	case detect.RuleSilence:
		add("Log source", a.Source)
		add("Detail", ann["description"])
		return "Monitoring is blind: log source " + quoteOr(a.Source, "unknown") + " stopped delivering data, so break-glass sign-ins may go unseen.", facts
	case detect.RuleSource:
		add("Log source", a.Source)
		add("Reading", ann["key"])
		add("Detail", ann["description"])
		return "Monitoring is failing: log source " + quoteOr(a.Source, "unknown") + " cannot read its input, so break-glass sign-ins may go unseen.", facts
	case detect.RuleNotify:
		add("Channel", a.Labels[LabelTarget])
		undelivered := ann["undelivered_alert"]
		if t := ann["undelivered_title"]; t != "" {
			undelivered = t + " (alert " + undelivered + ")"
		}
		add("Undelivered alert", undelivered)
		add("Its rule", ann["undelivered_rule"])
		add("Why", cmp.Or(ann["reason"], a.Result))
		add("Attempts", ann["attempts"])
		add("Failing since", ann["since"])
		return "A notification could not be delivered to " + quoteOr(a.Labels[LabelTarget], "a channel") + ": people relying on that channel have NOT been told.", facts
	case detect.RulePosture:
		add("Check", cmp.Or(ann["check_title"], a.Labels["check"]))
		add("Status", ann["status"])
		add("Finding", ann["message"])
		add("Fix", ann["remediation"])
		add("Portal", ann["portal"])
		return sentence(cmp.Or(oneLine(ann["description"], 500), title)), facts
	}
	add("Operation", a.Operation)
	add("Result", a.Result)
	add("Detail", cmp.Or(ann["description"], ann["summary"]))
	return sentence(title), facts
}

// sentence ends s with a full stop unless it already ends a sentence.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?") {
		return s
	}
	return s + "."
}

// fromFields says where the event came from, as far as the alert knows.
func fromFields(a alert.Alert, ann map[string]string) []Field {
	var f []Field
	add := func(label, v string) {
		if v = oneLine(v, 300); v != "" {
			f = append(f, Field{label, v})
		}
	}
	add("IP address", a.IPAddress)
	add("Location", a.Location)
	if a.Rule != detect.RuleProvisioning {
		add("App", a.App)
	}
	add("Client app", ann[detect.AnnClientApp])
	add("Device", ann[detect.AnnDevice])
	add("Conditional Access", ann[detect.AnnConditionalAccess])
	return f
}

func signInTypeOf(category string) string {
	switch category {
	case "SignInLogs":
		return "interactive"
	case "NonInteractiveUserSignInLogs":
		return "non-interactive"
	case "ServicePrincipalSignInLogs":
		return "service principal"
	case "ManagedIdentitySignInLogs":
		return "managed identity"
	case "ADFSSignInLogs":
		return "federated through AD FS"
	}
	return "sign-in type unknown"
}

func quoteOr(s, def string) string {
	if s = oneLine(s, 300); s == "" {
		return def
	}
	return "“" + s + "”"
}

func resultClause(result string) string {
	switch r := oneLine(result, 100); strings.ToLower(r) {
	case "":
		return ""
	case "success":
		return " and it succeeded"
	default:
		return " (result: " + r + ")"
	}
}

// errorText is the meaning of an Entra sign-in error code: the record's own
// text when it has one, else the documented meaning of the common codes.
func errorText(code, logged string) string {
	if logged = oneLine(logged, 300); logged != "" && logged != "Other." {
		return logged
	}
	if t, ok := signInErrors[code]; ok {
		return t
	}
	return "no description in the log; look the code up in Microsoft's AADSTS error code list"
}

// signInErrors are the Entra sign-in error codes a break-glass account
// most often meets, worded as Microsoft documents them.
var signInErrors = map[string]string{
	"50053":  "account locked: too many attempts with a wrong password, or sign-in from a blocked IP",
	"50055":  "password expired",
	"50056":  "invalid or null password",
	"50057":  "account disabled",
	"50072":  "the user must register for multi-factor authentication",
	"50074":  "strong authentication (MFA) required",
	"50076":  "multi-factor authentication required by policy",
	"50079":  "the user must enrol for a second factor",
	"50126":  "invalid username or password",
	"50140":  "interrupted to ask whether to stay signed in",
	"50158":  "an external security challenge was not satisfied",
	"53003":  "blocked by Conditional Access",
	"53004":  "proof-up is blocked by a suspicious-activity policy",
	"500121": "strong authentication failed: the second factor was not completed",
	"50034":  "the account does not exist in the directory",
	"50105":  "the account is not assigned to the application",
	"530032": "blocked by a security policy",
}

// runbooks are the first thing to do for each built-in rule, written for
// someone woken at 3 a.m. Every rule in detect's registry has one (a test
// checks); Runbook falls back to a generic line for rules added later.
var runbooks = map[string]string{
	detect.RuleSignIn: "If nobody on the team is using this account right now, treat it as an incident: " +
		"call the account's owners, then reset its password, revoke its sessions and review what it did in the audit log. " +
		"If it was a planned use or a drill, acknowledge and note who used it and why.",
	detect.RuleActivity: "This account is making changes. Confirm with the team that someone is using it on purpose; " +
		"if nobody is, treat it as an incident: revoke its sessions, reset its credentials and undo the operation.",
	detect.RuleChange: "Someone changed a break-glass account. Check with the person named as the actor; " +
		"if the change was not planned, undo it, then check the account still works and is still excluded from Conditional Access.",
	detect.RuleGraphActivity: "A program is using this account's token. If nobody is running a script as this account right now, " +
		"treat it as an incident: revoke its sessions and reset its credentials.",
	detect.RuleRisk: "Someone may be attacking this account. Check the risk detection in the Entra portal (Identity Protection); " +
		"if it is not a known test, reset the credentials and look for sign-ins from the same IP.",
	detect.RuleProvisioning: "A provisioning job touched this account. Break-glass accounts should be cloud-only and out of every provisioning scope: " +
		"check the job's scope and undo the change.",
	detect.RuleUnparsed: "Open the raw record (its file and line are under “source” at the end) and read it yourself: it mentions a break-glass account. " +
		"Until you know what it is, treat it as a sign-in.",
	detect.RuleSilence: "Break-glass sign-ins are not being watched. Check the log feed now (diagnostic setting, Event Hub, file path, Graph permissions) " +
		"and watch the break-glass accounts' sign-ins in the Entra portal until it is back.",
	detect.RuleSource: "Break-glass sign-ins may not be seen. Fix the source's error below (credentials, permissions, network), " +
		"and watch the break-glass accounts' sign-ins in the Entra portal until it recovers.",
	detect.RuleNotify: "A channel is not reaching people. Make sure the undelivered alert reached someone another way, " +
		"then fix the channel (credentials, URL, provider status).",
	detect.RulePosture: "A break-glass account no longer looks as it should. Apply the fix below during working hours unless it stops the account from working.",
	detect.RuleMisuse: "A reviewer found this use of a break-glass account was not authorised. Start your security incident process now: " +
		"revoke the account's sessions, reset its credentials, undo what it changed (breakglass incidents show ID lists it) and keep the evidence.",
	detect.RuleDrillDue: "Plan the drill now: book the account's holders and the workstation, then run the breakglass drill plan command in the title; " +
		"a passed drill resolves this.",
	detect.RuleDrillOverdue: "Nothing proves this account still works. Run a drill today (breakglass drill plan, drill start, drill finish); " +
		"a passed drill resolves this.",
	detect.RuleDrillFailed: "The drill's sign-in never reached breakglass, so a real emergency sign-in would go unseen too. Check now that the log sources deliver sign-in logs " +
		"(breakglass doctor, the sources' bg.silence alerts) and that the account is under accounts:, then run the drill again.",
	detect.RuleCanary: "Nothing to do: this is breakglass's daily test of its own alerting, sent to the canary's test group only. " +
		"If it reached a group that handles real alerts, fix notify.routes so that canary.group is the only group it goes to.",
	detect.RuleCanaryFailed: "breakglass's daily test sign-in did not get through (the failed step is below), so a real break-glass sign-in may not either. " +
		"Fix that step now (log feed, detection, or the test group's channel), and watch the break-glass accounts' sign-ins in the Entra portal until the next canary passes.",
}

// shortRunbooks are the runbook lines cut down for SMS and push, where
// the whole message has 320 bytes.
var shortRunbooks = map[string]string{
	detect.RuleSignIn:        "Not a planned use? Treat as an incident now.",
	detect.RuleActivity:      "Not a planned use? Treat as an incident now.",
	detect.RuleChange:        "Not planned? Undo it and check the account.",
	detect.RuleGraphActivity: "No script of yours? Treat as an incident now.",
	detect.RuleRisk:          "Not a test? Reset credentials, check sign-ins.",
	detect.RuleProvisioning:  "Take the account out of provisioning scope.",
	detect.RuleUnparsed:      "Read the raw record; treat it as a sign-in.",
	detect.RuleSilence:       "Sign-ins are unwatched: fix the feed.",
	detect.RuleSource:        "Sign-ins may be unwatched: fix the source.",
	detect.RuleNotify:        "A channel is down: check the undelivered alert.",
	detect.RulePosture:       "Fix the posture finding (see email).",
	detect.RuleMisuse:        "Misuse: start the security incident process.",
	detect.RuleDrillDue:      "Plan the drill: breakglass drill plan.",
	detect.RuleDrillOverdue:  "Drill overdue: run one today.",
	detect.RuleDrillFailed:   "Drill sign-in unseen: check the log feed.",
	detect.RuleCanary:        "Test only: no action needed.",
	detect.RuleCanaryFailed:  "Alerting test failed: fix the step named.",
}

// RunbookShort is Runbook in a few words, for the short form.
func RunbookShort(rule string) string {
	if s, ok := shortRunbooks[rule]; ok {
		return s
	}
	return "Check it with the team now."
}

// Runbook returns the first thing to do when rule fires.
func Runbook(rule string) string {
	if s, ok := runbooks[rule]; ok {
		return s
	}
	return "Look at the alert in breakglass and confirm with the team whether it was expected; if nobody knows about it, treat it as an incident."
}

func resolvedLine(rule string) string {
	switch rule {
	case detect.RuleSilence, detect.RuleSource:
		return "The source is delivering again. Check what happened while it was down: sign-ins in that time were not watched."
	case detect.RuleNotify:
		return "The channel is delivering again."
	case detect.RulePosture:
		return "The posture check passes again."
	}
	return "This alert is over. Nothing more to do, unless you were still investigating it."
}
