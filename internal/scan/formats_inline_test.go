package scan

import (
	"context"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// TestScanDocumentedShapesInline covers small documented shapes inline:
// each names the break-glass account in the way its documentation
// writes the field, and must raise the rule with the key fields read.
func TestScanDocumentedShapesInline(t *testing.T) {
	const bg = "4f1c2b3a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	const upn = "bg-admin1@contoso.onmicrosoft.com"
	accts := entra.NewAccountSet([]entra.Account{{ID: bg, UPN: upn}})
	cases := []struct {
		name, in string
		want     []formatWant
	}{
		{"la-portal-csv-export", "TimeGenerated [UTC],UserPrincipalName,UserId,ResultType,AppDisplayName,IPAddress,LocationDetails,Status,Category,Id,Type,CreatedDateTime [UTC]\n" +
			`"7/18/2026, 6:30:12.345 AM",` + upn + `,` + bg + `,50126,Azure Portal,203.0.113.7,"{""city"":""Bergen"",""state"":""Vestland"",""countryOrRegion"":""NO""}","{""errorCode"":50126,""failureReason"":""Invalid username or password.""}",SignInLogs,a1b2c3d4-0000-4000-8000-0000000000c1,SigninLogs,"7/18/2026, 6:30:12.345 AM"` + "\n",
			[]formatWant{{rule: "bg.signin", account: bg, category: "SignInLogs", result: "50126", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}}},
		{"az-cli-query-output", `[{"TableName":"PrimaryResult","TimeGenerated":"2026-07-18T06:30:12.345Z","UserPrincipalName":"` + upn + `","UserId":"` + bg + `","ResultType":"0","AppDisplayName":"Azure Portal","IPAddress":"203.0.113.7","IsInteractive":"True","LocationDetails":"{\"city\":\"Bergen\"}","Status":"{\"errorCode\":0}","Id":"a1b2c3d4-0000-4000-8000-0000000000c2","Type":"SigninLogs"}]`,
			[]formatWant{{rule: "bg.signin", account: bg, category: "SignInLogs", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}}},
		{"diag-envelope-variants", `{"time":"2026-07-18T06:30:12.3456789Z","resourceId":"/tenants/t/providers/Microsoft.aadiam","operationName":"Sign-in activity","operationVersion":"1.0","category":"SignInLogs","tenantId":"t","resultType":50126,"resultSignature":"None","resultDescription":"Invalid username or password.","durationMs":"0","callerIpAddress":"203.0.113.7","correlationId":"c1","identity":"Break Glass 1","Level":4,"location":"NO","properties":{"id":"a1b2c3d4-0000-4000-8000-0000000000c3","createdDateTime":"2026-07-18T06:30:12.3456789+00:00","userDisplayName":"Break Glass 1","userPrincipalName":"BG-ADMIN1@contoso.onmicrosoft.com","userId":"` + strings.ToUpper(bg) + `","appId":"c44b4083","appDisplayName":"Azure Portal","ipAddress":"203.0.113.7","status":{"errorCode":50126},"clientAppUsed":"Browser","location":{"city":"Bergen","state":"Vestland","countryOrRegion":"NO"},"isInteractive":true}}` + "\n",
			[]formatWant{{rule: "bg.signin", account: bg, category: "SignInLogs", result: "50126", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}}},
		{"eventhub-properties-json-text", `{"records":[{"time":"2026-07-18T06:30:12Z","category":"NonInteractiveUserSignInLogs","properties":"{\"id\":\"a1b2c3d4-0000-4000-8000-0000000000c4\",\"createdDateTime\":\"2026-07-18T06:30:12Z\",\"userId\":\"` + bg + `\",\"userPrincipalName\":\"` + upn + `\",\"appDisplayName\":\"Microsoft Office\",\"ipAddress\":\"203.0.113.8\",\"status\":{\"errorCode\":0},\"isInteractive\":false}"}]}`,
			[]formatWant{{rule: "bg.signin", account: bg, category: "NonInteractiveUserSignInLogs", ip: "203.0.113.8", app: "Microsoft Office"}}},
		{"graph-delta-page", `{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns","@odata.nextLink":"https://graph.microsoft.com/beta/auditLogs/signIns?$skiptoken=x","value":[{"id":"a1b2c3d4-0000-4000-8000-0000000000c5","createdDateTime":"2026-07-18T06:30:12Z","userId":"` + bg + `","userPrincipalName":"` + upn + `","userType":"member","signInEventTypes":["interactiveUser"],"isInteractive":true,"appDisplayName":"Azure Portal","ipAddress":"203.0.113.7","status":{"errorCode":50126,"failureReason":"Invalid username or password."},"location":{"city":"Bergen"}},{"id":"trap","createdDateTime":"2026-07-18T06:30:12Z","userId":"5a5a5a5a-1111-4222-8333-444455556666","userPrincipalName":"alice@contoso.onmicrosoft.com","signInEventTypes":["interactiveUser"]}],"@odata.deltaLink":"https://graph.microsoft.com/beta/auditLogs/signIns?$deltatoken=y"}`,
			[]formatWant{{rule: "bg.signin", account: bg, category: "SignInLogs", result: "50126", ip: "203.0.113.7", app: "Azure Portal", location: "Bergen"}}},
		{"graph-audit-app-initiator-target-upn-only", `{"value":[{"id":"Directory_c6","category":"UserManagement","correlationId":"c6","result":"success","activityDisplayName":"Update user","activityDateTime":"2026-07-18T07:00:00Z","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{"app":{"appId":"a1","displayName":"Automation","servicePrincipalId":"sp1","servicePrincipalName":null},"user":null},"targetResources":[{"id":null,"displayName":null,"type":"User","userPrincipalName":"` + upn + `","modifiedProperties":[{"displayName":"AccountEnabled","oldValue":"[true]","newValue":"[false]"}]}]}]}`,
			[]formatWant{{rule: "bg.change", account: bg, category: "AuditLogs", operation: "Update user"}}},
		{"la-auditlogs-json-text", `[{"TimeGenerated":"2026-07-18T07:00:00Z","OperationName":"Add member to role","Category":"RoleManagement","Result":"success","Id":"Directory_c7","CorrelationId":"c7","LoggedByService":"Core Directory","InitiatedBy":"{\"user\":{\"id\":\"` + bg + `\",\"userPrincipalName\":\"` + upn + `\",\"ipAddress\":\"203.0.113.9\"}}","TargetResources":"[{\"id\":\"5a5a5a5a-1111-4222-8333-444455556666\",\"type\":\"User\",\"userPrincipalName\":\"alice@contoso.onmicrosoft.com\"}]","Type":"AuditLogs"}]`,
			[]formatWant{{rule: "bg.activity", account: bg, category: "AuditLogs", operation: "Add member to role"}}},
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
					if a.EventTime.IsZero() || a.EventTimeUnknown {
						t.Errorf("alert %d: no event time", i)
					}
					if len(a.Unreadable) > 0 {
						t.Errorf("alert %d: unreadable %q", i, a.Unreadable)
					}
				}
			})
		}
	}
}
