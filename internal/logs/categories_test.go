package logs_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
)

// The accounts the fixtures in testdata/categories name. Every fixture also
// holds records of alice (and bob), which must stay silent: they decode
// cleanly and name someone else, even where they mention a break-glass
// account's UPN in an unrelated field (a Graph call *about* the account).
const (
	catBG    = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	catBGUPN = "bg-admin1@contoso.onmicrosoft.com"
	catBG2   = "bg-upn-only@contoso.onmicrosoft.com" // configured by UPN alone
	catAlice = "c0ffee00-1111-4222-8333-444455556666"
)

func catAccounts() *entra.AccountSet {
	return entra.NewAccountSet([]entra.Account{
		{ID: catBG, UPN: catBGUPN, Name: "Break glass 1"},
		{UPN: catBG2, Name: "Break glass 2"},
	})
}

type catDecoded struct {
	class  logs.Class
	ev     entra.Event
	alerts []string // "rule account"
	titles []string
}

// decodeFixture runs every record of a fixture through classify, decode and
// detect, exactly as the scanner's slow path does.
func decodeFixture(t *testing.T, name string) []catDecoded {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "categories", name))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := logs.NewSplitter(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	det := detect.New(catAccounts())
	var out []catDecoded
	for {
		rec, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: split: %v", name, err)
		}
		d := catDecoded{class: logs.Classify(rec.Data)}
		if !d.class.Monitored() {
			t.Fatalf("%s:%d: classified as %v (%s), not monitored: %s", name, rec.Line, d.class.Shape, d.class.Category, rec.Data)
		}
		if err := logs.Decode(rec.Data, d.class, &d.ev); err != nil {
			t.Fatalf("%s:%d: decode: %v", name, rec.Line, err)
		}
		for _, a := range det.Detect(nil, &d.ev, name) {
			acct := a.AccountID
			if acct == "" {
				acct = a.AccountUPN
			}
			d.alerts = append(d.alerts, a.Rule+" "+acct)
			d.titles = append(d.titles, a.Title)
			if a.EventTime.IsZero() || a.EventID == "" || a.Category == "" {
				t.Errorf("%s: incomplete alert %+v", name, a)
			}
		}
		out = append(out, d)
	}
	return out
}

func TestCategoryFixtures(t *testing.T) {
	type want struct {
		shape, category string
		alerts          []string // per record, "" for a silent one
		check           func(t *testing.T, recs []catDecoded)
		title           string // substring of the first alert's title
	}
	bg, bg2 := catBG, catBG2
	cases := map[string]want{
		"graphactivity-eventhub.json": {shape: "diagnostic", category: entra.CategoryGraphActivity,
			alerts: []string{"bg.graph_activity " + bg, ""}, title: "PATCH /v1.0/users/alice@contoso.com → 200",
			check: func(t *testing.T, r []catDecoded) {
				ev := r[0].ev
				eq(t, "UserID", ev.UserID, bg)
				eq(t, "RequestMethod", ev.Extra.RequestMethod, "PATCH")
				eq(t, "ResponseStatus", ev.Extra.ResponseStatus, "200")
				eq(t, "AppID", ev.AppID, "1950a258-227b-4e31-a9cf-717495945fc2")
				eq(t, "IPAddress", ev.IPAddress, "203.0.113.50")
				eq(t, "SignInActivityID", ev.Extra.SignInActivityID, "OPD3UZnmTkud24wRw6ATAA")
				eq(t, "ID", ev.ID, "8a566ebb-77a1-4f60-9855-d4eb40190001")
				eq(t, "Time", ev.Time.Format("2006-01-02T15:04:05"), "2026-07-16T02:00:45")
			}},
		"graphactivity-la.json": {shape: "loganalytics", category: entra.CategoryGraphActivity,
			alerts: []string{"bg.graph_activity " + bg, ""}, title: "GET /beta/users/me/authentication/methods → 403",
			check: func(t *testing.T, r []catDecoded) {
				eq(t, "ResponseStatus", r[0].ev.Extra.ResponseStatus, "403")
				eq(t, "IPAddress", r[0].ev.IPAddress, "203.0.113.51")
			}},
		"riskevents-pt1h.json": {shape: "diagnostic", category: entra.CategoryUserRiskEvents,
			alerts: []string{"bg.risk " + bg, ""}, title: "unfamiliarFeatures (risk high)",
			check: func(t *testing.T, r []catDecoded) {
				ev := r[0].ev
				eq(t, "RiskEventType", ev.Extra.RiskEventType, "unfamiliarFeatures")
				eq(t, "RiskState", ev.Extra.RiskState, "atRisk")
				eq(t, "Location", ev.Location, "Amsterdam, Noord-Holland, NL")
				eq(t, "Time", ev.Time.Format("2006-01-02T15:04:05.000"), "2026-07-17T10:07:37.729")
			}},
		"riskevents-la.ndjson": {shape: "loganalytics", category: entra.CategoryUserRiskEvents,
			alerts: []string{"bg.risk " + bg, ""},
			check: func(t *testing.T, r []catDecoded) {
				eq(t, "Location", r[0].ev.Location, "Amsterdam, Noord-Holland, NL")
				eq(t, "IPAddress", r[0].ev.IPAddress, "185.220.101.7")
			}},
		"riskdetections-graph.json": {shape: "graph", category: entra.CategoryUserRiskEvents,
			alerts: []string{"bg.risk " + bg2, ""}, title: "Risk detected on a break-glass account: unfamiliarFeatures"},
		"riskyusers-pt1h.json": {shape: "diagnostic", category: entra.CategoryRiskyUsers,
			alerts: []string{"bg.risk " + bg, ""}, title: "flagged as risky: atRisk (risk high)",
			check: func(t *testing.T, r []catDecoded) {
				eq(t, "UserID", r[0].ev.UserID, bg)
				if !strings.HasPrefix(r[0].ev.ID, "riskyUser/"+bg+"/2026-07-17T10:09:12.315Z") {
					t.Errorf("ID = %q, want the user plus the state's time", r[0].ev.ID)
				}
			}},
		"riskyusers-graph.json": {shape: "graph", category: entra.CategoryRiskyUsers,
			alerts: []string{"bg.risk " + bg, ""}, title: "confirmedCompromised"},
		"riskyusers-la.json": {shape: "loganalytics", category: entra.CategoryRiskyUsers,
			alerts: []string{"bg.risk " + bg, ""}},
		"provisioning-pt1h.json": {shape: "diagnostic", category: entra.CategoryProvisioning,
			alerts: []string{"bg.provisioning " + bg, ""}, title: "disable (source, ServiceNow)",
			check: func(t *testing.T, r []catDecoded) {
				x := r[0].ev.Extra
				eq(t, "SourceIdentity.ID", x.SourceIdentity.ID, bg)
				eq(t, "SourceIdentity.UPN", x.SourceIdentity.UserPrincipalName, catBGUPN)
				eq(t, "ProvisioningStatus", x.ProvisioningStatus, "success")
				eq(t, "TargetSystem", x.TargetSystem, "ServiceNow")
			}},
		"provisioning-graph.json": {shape: "graph", category: entra.CategoryProvisioning,
			alerts: []string{"bg.provisioning " + bg2, ""}},
		"provisioning-la.json": {shape: "loganalytics", category: entra.CategoryProvisioning,
			alerts: []string{"bg.provisioning " + bg, ""}, title: "(target, ServiceNow)",
			check: func(t *testing.T, r []catDecoded) {
				eq(t, "TargetIdentity.ID", r[0].ev.Extra.TargetIdentity.ID, bg)
				eq(t, "ProvisioningStatus", r[0].ev.Extra.ProvisioningStatus, "success")
			}},
		"adfs-pt1h.json": {shape: "diagnostic", category: entra.CategoryADFSSignIn,
			alerts: []string{"bg.signin " + bg, ""}, title: "(success), federated through AD FS"},
		"adfs-la.json": {shape: "loganalytics", category: entra.CategoryADFSSignIn,
			alerts: []string{"bg.signin " + bg, ""}, title: "(failure 300030), federated through AD FS"},
		"legacy-audit-eventhub.json": {shape: "diagnostic", category: entra.CategoryLegacyAudit,
			alerts: []string{"bg.activity " + bg + ",bg.change " + bg, "bg.change " + bg2, ""},
			check: func(t *testing.T, r []catDecoded) {
				ev := r[0].ev
				eq(t, "Category", ev.Category, entra.CategoryAudit)
				eq(t, "Initiator.UPN", ev.Initiator.UserPrincipalName, catBGUPN)
				eq(t, "Operation", ev.Operation, "Change password (self-service)")
				eq(t, "Result", ev.Result, "Success")
				if len(ev.Targets) != 1 || ev.Targets[0].ID != bg || ev.Targets[0].Type != "User" {
					t.Errorf("Targets = %+v", ev.Targets)
				}
				sp := r[2].ev.Targets
				if len(sp) != 1 || sp[0].ID != "ea70a262-4da3-440a-b396-9734ddfd9df2" || sp[0].DisplayName != "Salesforce" {
					t.Errorf("service principal target = %+v", sp)
				}
			}},
		"thirdparty-category.json": {shape: "diagnostic", category: entra.CategoryAudit,
			alerts: []string{"bg.change " + bg, "bg.activity " + bg, ""},
			check: func(t *testing.T, r []catDecoded) {
				eq(t, "AuditCategory", r[0].ev.AuditCategory, "RoleManagement")
				eq(t, "Operation", r[1].ev.Operation, "Update policy")
			}},
		"portal-signins.csv": {shape: "portal", category: entra.CategorySignIn,
			alerts: []string{"bg.signin " + bg, "bg.signin " + bg2, ""}, title: "(failure 50126)",
			check: func(t *testing.T, r []catDecoded) {
				ev := r[0].ev
				eq(t, "ID", ev.ID, "8c1e2f3a-0000-4000-8000-0000000000e1")
				eq(t, "AppID", ev.AppID, "c44b4083-3bb0-49c1-b47d-974e53cbdf3c") // header "Application ID " has a trailing space
				eq(t, "AppDisplayName", ev.AppDisplayName, "Azure Portal")
				eq(t, "IPAddress", ev.IPAddress, "203.0.113.7")
				eq(t, "Location", ev.Location, "Oslo, Oslo, NO")
				eq(t, "ResultDescription", ev.ResultDescription, "Error validating credentials due to invalid username or password.")
				eq(t, "ConditionalAccess", ev.ConditionalAccess, "Success")
				eq(t, "ResultType (success)", r[2].ev.ResultType, "0")
			}},
		"portal-signins.json": {shape: "graph", category: entra.CategorySignIn,
			alerts: []string{"bg.signin " + bg, ""}, title: "(failure 50126)"},
		"portal-audit.csv": {shape: "portal", category: entra.CategoryAudit,
			alerts: []string{"bg.change " + bg, "bg.activity " + bg2, ""}, title: "Change to a break-glass account: Add member to role",
			check: func(t *testing.T, r []catDecoded) {
				ev := r[0].ev
				eq(t, "Initiator.UPN", ev.Initiator.UserPrincipalName, "alice@contoso.com")
				eq(t, "AuditCategory", ev.AuditCategory, "RoleManagement")
				eq(t, "Result", ev.Result, "success")
				if len(ev.Targets) != 2 || ev.Targets[1].ID != bg || len(ev.Targets[1].ModifiedProperties) != 1 {
					t.Errorf("Targets = %+v", ev.Targets)
				}
				eq(t, "app actor", r[2].ev.Initiator.AppDisplayName, "HR sync")
				eq(t, "Result (failure)", r[2].ev.Result, "failure")
			}},
		"portal-audit.json": {shape: "graph", category: entra.CategoryAudit,
			alerts: []string{"bg.change " + bg, ""}},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "categories", "*"))
	for _, f := range files {
		if n := filepath.Base(f); n != "SOURCES.md" && !strings.HasPrefix(n, ".") {
			if _, ok := cases[n]; !ok {
				t.Errorf("fixture %s has no test case", n)
			}
		}
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			recs := decodeFixture(t, name)
			if len(recs) != len(w.alerts) {
				t.Fatalf("%d records, want %d", len(recs), len(w.alerts))
			}
			for i, r := range recs {
				if i == 0 && (r.class.Shape.String() != w.shape || r.class.Category != w.category) {
					t.Errorf("class = %s %s, want %s %s", r.class.Shape, r.class.Category, w.shape, w.category)
				}
				if got := strings.Join(r.alerts, ","); got != w.alerts[i] {
					t.Errorf("record %d: alerts %q, want %q", i+1, got, w.alerts[i])
				}
			}
			if w.title != "" && (len(recs[0].titles) == 0 || !strings.Contains(recs[0].titles[0], w.title)) {
				t.Errorf("title %q, want it to contain %q", recs[0].titles, w.title)
			}
			if w.check != nil {
				w.check(t, recs)
			}
		})
	}
}

func eq(t *testing.T, field, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

// TestDetectRulesRegistered: every rule the new categories raise has
// metadata, so alerts, the README and notifications can name it.
func TestDetectRulesRegistered(t *testing.T) {
	var built []string
	for _, r := range detect.Builtins(catAccounts()) {
		built = append(built, r.Meta().ID)
	}
	for _, id := range []string{detect.RuleGraphActivity, detect.RuleRisk, detect.RuleProvisioning} {
		if m, ok := detect.Lookup(id); !ok || m.Title == "" || m.Description == "" {
			t.Errorf("rule %s not registered", id)
		}
		if !slices.Contains(built, id) {
			t.Errorf("rule %s is not among the built-ins the scanner runs", id)
		}
	}
}

// TestCategoryColumns: the new tables' columns are available by their Log
// Analytics names, typed as the tables have them.
func TestCategoryColumns(t *testing.T) {
	for _, c := range []struct {
		fixture string
		want    map[string]any
	}{
		{"graphactivity-eventhub.json", map[string]any{"Type": "MicrosoftGraphActivityLogs", "UserId": catBG, "RequestMethod": "PATCH", "ResponseStatusCode": 200,
			"RequestUri": "https://graph.microsoft.com/v1.0/users/alice@contoso.com"}},
		{"riskevents-la.ndjson", map[string]any{"Type": "AADUserRiskEvents", "UserId": catBG, "RiskEventType": "unfamiliarFeatures", "RiskLevel": "high",
			"IpAddress": "185.220.101.7"}},
		{"riskyusers-graph.json", map[string]any{"Type": "AADRiskyUsers", "Id": catBG, "RiskState": "confirmedCompromised", "UserPrincipalName": catBGUPN}},
		{"provisioning-pt1h.json", map[string]any{"Type": "AADProvisioningLogs", "ProvisioningAction": "disable", "ResultType": "success",
			"TargetSystem": `{"displayName":"ServiceNow"}`}},
		{"adfs-la.json", map[string]any{"Type": "ADFSSignInLogs", "UserId": catBG, "ResultType": "300030"}},
	} {
		ev := decodeFixture(t, c.fixture)[0].ev
		cols := logs.Columns(&ev)
		for k, v := range c.want {
			if cols[k] != v {
				t.Errorf("%s: %s = %#v, want %#v", c.fixture, k, cols[k], v)
			}
		}
	}
}

// TestCategoryFailClosed: a new-category record with a mangled field still
// raises its rule, naming what could not be read; one whose identity cannot
// be determined is marked so (the scanner then raises bg.unparsed when it
// mentions an account).
func TestCategoryFailClosed(t *testing.T) {
	det := detect.New(catAccounts())
	for _, c := range []struct {
		name, rec  string
		rule       string // "" when no rule can fire
		unreadable string // substring of an Unreadable entry
		timeUnk    bool
		idUnknown  bool
	}{
		{"risk: userId a number, UPN intact",
			`{"category":"UserRiskEvents","time":"2026-07-17T10:09:12Z","properties":{"id":"r1","riskEventType":"passwordSpray","riskLevel":"high","userId":12345,"userPrincipalName":"` + catBGUPN + `","activityDateTime":"2026-07-17T10:07:37Z"}}`,
			"bg.risk", "properties.userId", false, true},
		{"risk: no usable time",
			`{"category":"UserRiskEvents","time":"garbage","properties":{"id":"r2","riskEventType":"x","userId":"` + catBG + `","activityDateTime":"yesterday"}}`,
			"bg.risk", "properties.activityDateTime", true, false},
		{"graph activity: time an epoch number, status a string",
			`{"category":"MicrosoftGraphActivityLogs","time":1752631245,"properties":{"requestId":"g1","userId":"` + catBG + `","requestMethod":"GET","requestUri":"https://graph.microsoft.com/v1.0/me","responseStatusCode":"200"}}`,
			"bg.graph_activity", "", false, false},
		{"graph activity: properties not an object",
			`{"category":"MicrosoftGraphActivityLogs","time":"2026-07-16T02:00:45Z","properties":["` + catBG + `"]}`,
			"", "properties", false, true},
		{"provisioning: target identity wrong-typed next to the account as source",
			`{"category":"ProvisioningLogs","time":"2026-07-18T06:30:12Z","properties":{"id":"p1","activityDateTime":"2026-07-18T06:30:12Z","provisioningAction":"create","sourceIdentity":{"id":"` + catBG + `"},"targetIdentity":{"id":{"nested":1}}}}`,
			"bg.provisioning", "properties.targetIdentity", false, true},
		{"provisioning: names no identity",
			`{"category":"ProvisioningLogs","time":"2026-07-18T06:30:12Z","properties":{"id":"p2","activityDateTime":"2026-07-18T06:30:12Z","userId":"` + catBG + `"}}`,
			"", "properties.sourceIdentity", false, true},
		{"legacy audit: unparsable time",
			`{"category":"Audit","time":"sometime","operationName":"Update user","identity":"` + catBGUPN + `","properties":{"identityType":"UPN","targetResourceType":"UPN","targetResourceName":"bob@contoso.com"}}`,
			"bg.activity", "time", true, false},
		{"portal sign-in: date in another form",
			`{"Date (UTC)":"7/18/2026 9:15:27 AM","Request ID":"q1","User ID":"` + catBG + `","Username":"` + catBGUPN + `","Status":"Success"}`,
			"bg.signin", "", false, false},
		{"portal audit: actor object id garbage, UPN intact",
			`{"Date (UTC)":"2026-07-18T10:00:01Z","Activity":"Update user","ActorType":"User","ActorObjectId":"not-a-guid","ActorUserPrincipalName":"` + catBGUPN + `"}`,
			"bg.activity", "", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := []byte(c.rec)
			cls := logs.Classify(rec)
			var ev entra.Event
			if err := logs.Decode(rec, cls, &ev); err != nil {
				t.Fatalf("Decode (%+v): %v", cls, err)
			}
			var rules []string
			for _, a := range det.Detect(nil, &ev, "t:1") {
				rules = append(rules, a.Rule)
				if c.timeUnk != a.EventTimeUnknown {
					t.Errorf("EventTimeUnknown = %v", a.EventTimeUnknown)
				}
			}
			if got := strings.Join(rules, ","); got != c.rule {
				t.Errorf("rules %q, want %q (event %+v)", got, c.rule, ev)
			}
			if c.unreadable != "" && !slices.ContainsFunc(ev.Unreadable, func(s string) bool { return strings.Contains(s, c.unreadable) }) {
				t.Errorf("Unreadable = %q, want it to name %s", ev.Unreadable, c.unreadable)
			}
			if ev.TimeUnknown != c.timeUnk {
				t.Errorf("TimeUnknown = %v", ev.TimeUnknown)
			}
			if (ev.IdentityUnknown != "") != c.idUnknown {
				t.Errorf("IdentityUnknown = %q, want set=%v", ev.IdentityUnknown, c.idUnknown)
			}
		})
	}
}
