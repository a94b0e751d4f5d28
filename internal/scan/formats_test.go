package scan

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// formatWant is what one alert of a documented format must carry.
type formatWant struct {
	rule, account, category, result, ip, app, location, operation string
}

// TestScanDocumentedFormats runs fixtures built from Microsoft's documented
// answer shapes (internal/logs/testdata/formats/SOURCES.md) through the
// scanner, with and without the prefilter, and checks each alert's key
// fields; the trap rows (alice, bob) stay silent.
func TestScanDocumentedFormats(t *testing.T) {
	accts := entra.NewAccountSet([]entra.Account{
		{ID: "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b", UPN: "bg-admin1@contoso.onmicrosoft.com"},
	})
	const bg = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "logs", "testdata", "formats", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	minify := func(s string) string {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		return string(b) + "\n"
	}
	signin := formatWant{rule: "bg.signin", account: bg, category: "SignInLogs", result: "50126", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}
	audit := formatWant{rule: "bg.change", account: bg, category: "AuditLogs", operation: "Reset user password"}
	cases := []struct {
		name string
		in   string
		want []formatWant
	}{
		{"la-api-signinlogs.json", read("la-api-signinlogs.json"), []formatWant{signin}},
		{"la-api-signinlogs.json/minified", minify(read("la-api-signinlogs.json")), []formatWant{signin}},
		{"la-api-signinlogs.json/statistics-first", `{"render":{"visualization":"table"},"statistics":{"query":{"executionTime":0.5}},` + strings.TrimPrefix(minify(read("la-api-signinlogs.json")), "{"), []formatWant{signin}},
		{"la-api-signinlogs.json/twice-ndjson", minify(read("la-api-signinlogs.json")) + minify(read("la-api-signinlogs.json")), []formatWant{signin, signin}},
		{"adx-v2-signinlogs.json", read("adx-v2-signinlogs.json"), []formatWant{signin}},
		{"adx-v2-signinlogs.json/minified", minify(read("adx-v2-signinlogs.json")), []formatWant{signin}},
		{"adx-v1-auditlogs.json", read("adx-v1-auditlogs.json"), []formatWant{audit}},
		{"adx-v1-auditlogs.json/in-array", "[" + read("adx-v1-auditlogs.json") + "]", []formatWant{audit}},
		// A row whose cells do not match the columns cannot be read as a
		// row, but it names the account: fail closed.
		{"tables/short-row", `{"tables":[{"name":"PrimaryResult","columns":[{"name":"UserId","type":"string"},{"name":"Type","type":"string"}],"rows":[["` + bg + `"]]}]}`, []formatWant{{rule: "bg.unparsed", account: bg}}},
		// Columns without names: not the table shape; the whole document
		// names the account: fail closed.
		{"tables/nameless-columns", `{"tables":[{"columns":[{"type":"string"}],"rows":[["` + bg + `"]]}]}`, []formatWant{{rule: "bg.unparsed", account: bg}}},
		{"defender-aadsignineventsbeta.csv", read("defender-aadsignineventsbeta.csv"), []formatWant{{rule: "bg.signin", account: bg, category: "SignInLogs", result: "50126", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}}},
		{"defender-api-aadsignin.json", read("defender-api-aadsignin.json"), []formatWant{{rule: "bg.signin", account: bg, category: "NonInteractiveUserSignInLogs", result: "success", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}}},
		{"defender-api-aadsignin.json/minified", minify(read("defender-api-aadsignin.json")), []formatWant{{rule: "bg.signin", account: bg, category: "NonInteractiveUserSignInLogs"}}},
		{"defender-graph-identitylogonevents.json", read("defender-graph-identitylogonevents.json"), []formatWant{{rule: "bg.signin", account: bg, result: "LogonFailed", ip: "10.0.0.77", app: "Active Directory", location: "NO"}}},
		{"defender-stream-identitylogonevents.json", read("defender-stream-identitylogonevents.json"), []formatWant{{rule: "bg.signin", account: bg, result: "LogonFailed", ip: "10.0.0.77", app: "Active Directory", location: "NO"}}},
		{"defender/sentinel-identitylogonevents", `{"TenantId":"ws","TimeGenerated":"2026-07-18T08:15:05Z","Timestamp":"2026-07-18T08:15:00Z","ActionType":"LogonSuccess","Application":"Microsoft Entra ID","LogonType":"Cloud logon","Protocol":"","AccountUpn":"bg-admin1@contoso.onmicrosoft.com","AccountObjectId":"` + bg + `","IPAddress":"203.0.113.7","Location":"NO","ReportId":"r9","SourceSystem":"","Type":"IdentityLogonEvents"}` + "\n",
			[]formatWant{{rule: "bg.signin", account: bg, result: "success", ip: "203.0.113.7", app: "Microsoft Entra ID", location: "NO"}}},
		// Another Defender table that names the account but is no sign-in
		// (IdentityDirectoryEvents: no LogonType): fails closed.
		{"defender/identitydirectoryevents", `{"Timestamp":"2026-07-18T08:15:00Z","ActionType":"Account Password changed","Application":"Active Directory","TargetAccountUpn":"bg-admin1@contoso.onmicrosoft.com","AccountUpn":"alice@contoso.onmicrosoft.com","ReportId":"9"}` + "\n", []formatWant{{rule: "bg.unparsed"}}},
		{"defender/stream-identitydirectoryevents", `{"records":[{"time":"2026-07-18T08:15:03Z","operationName":"Publish","category":"AdvancedHunting-IdentityDirectoryEvents","properties":{"ActionType":"Account Password changed","TargetAccountUpn":"bg-admin1@contoso.onmicrosoft.com","AccountUpn":"alice@contoso.onmicrosoft.com"}}]}`, []formatWant{{rule: "bg.unparsed"}}},
		// The Microsoft 365 unified audit log (Purview export CSV, and the
		// Management Activity API's JSON) carries Entra sign-ins and
		// directory changes but is not decoded: a record naming the
		// account fails closed.
		{"ual/purview-csv", "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n" +
			`e1,2026-07-18T06:30:12.0000000Z,AzureActiveDirectoryStsLogon,UserLoggedIn,bg-admin1@contoso.onmicrosoft.com,"{""CreationTime"":""2026-07-18T06:30:12"",""Id"":""e1"",""Operation"":""UserLoggedIn"",""Workload"":""AzureActiveDirectory"",""UserId"":""bg-admin1@contoso.onmicrosoft.com"",""ClientIP"":""203.0.113.7""}"` + "\n",
			[]formatWant{{rule: "bg.unparsed", account: bg}}},
		{"ual/management-api-json", `[{"CreationTime":"2026-07-18T06:30:12","Id":"e2","Operation":"Reset user password.","OrganizationId":"t","RecordType":8,"ResultStatus":"Success","UserKey":"10032000A1B2C3D4@contoso.onmicrosoft.com","UserType":0,"Workload":"AzureActiveDirectory","ObjectId":"bg-admin1@contoso.onmicrosoft.com","UserId":"alice@contoso.onmicrosoft.com","Target":[{"ID":"` + bg + `","Type":2},{"ID":"bg-admin1@contoso.onmicrosoft.com","Type":5}]}]`,
			[]formatWant{{rule: "bg.unparsed", account: bg}}},
		// A hunting answer whose schema comes first but has no results
		// array is read as one record, and fails closed.
		{"defender/schema-only", `{"schema":[{"name":"AccountUpn","type":"String"}],"rows":[["bg-admin1@contoso.onmicrosoft.com"]]}`, []formatWant{{rule: "bg.unparsed"}}},
		{"tables/empty", `{"tables":[{"name":"PrimaryResult","columns":[{"name":"UserId","type":"string"}],"rows":[]}]}`, nil},
	}
	for _, tc := range cases {
		for _, exhaustive := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				s := New(Options{Accounts: accts, Exhaustive: exhaustive})
				var st Stats
				var got []Finding
				if err := s.Scan(context.Background(), tc.name, strings.NewReader(tc.in), &st, func(fd Finding) error {
					got = append(got, fd)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("exhaustive=%v: %d alerts %q, want %d (stats %+v)", exhaustive, len(got), rulesOf(got), len(tc.want), st)
				}
				for i, w := range tc.want {
					a := got[i].Alert
					if len(got[i].Raw) == 0 {
						t.Errorf("%s: no raw record kept", a.Rule)
					}
					check := func(field, g, w string) {
						if w != "" && !strings.Contains(g, w) {
							t.Errorf("exhaustive=%v: alert %d %s = %q, want %q", exhaustive, i, field, g, w)
						}
					}
					check("rule", a.Rule, w.rule)
					check("account", a.AccountID, w.account)
					check("category", a.Category, w.category)
					check("result", a.Result, w.result)
					check("ip", a.IPAddress, w.ip)
					check("app", a.App, w.app)
					check("location", a.Location, w.location)
					check("operation", a.Operation, w.operation)
					if w.rule != "bg.unparsed" && a.EventTime.IsZero() {
						t.Errorf("alert %d: no event time", i)
					}
				}
			})
		}
	}
}
