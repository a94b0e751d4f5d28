package logs

import (
	"maps"
	"testing"
	"time"

	"breakglass/internal/entra"
)

// TestColumns: the same sign-in and the same audit event, in every shape,
// give the same columns under their Log Analytics names and types.
func TestColumns(t *testing.T) {
	ts := time.Date(2024, 6, 20, 5, 12, 33, 0, time.UTC)
	const (
		uid = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
		upn = "bg-admin1@contoso.onmicrosoft.com"
	)
	signIns := map[string]string{
		"graph":      `{"id":"s1","createdDateTime":"2024-06-20T05:12:33Z","userId":"` + uid + `","userPrincipalName":"` + upn + `","userDisplayName":"BG","appDisplayName":"Azure Portal","appId":"c44b4083","ipAddress":"203.0.113.7","clientAppUsed":"Browser","conditionalAccessStatus":"success","isInteractive":true,"status":{"errorCode":50126,"failureReason":"Invalid password"},"location":{"city":"Oslo","state":"Oslo","countryOrRegion":"NO"}}`,
		"diagnostic": `{"time":"2024-06-20T05:12:33Z","category":"SignInLogs","resultType":"50126","properties":{"id":"s1","userId":"` + uid + `","userPrincipalName":"` + upn + `","userDisplayName":"BG","appDisplayName":"Azure Portal","appId":"c44b4083","ipAddress":"203.0.113.7","clientAppUsed":"Browser","conditionalAccessStatus":"success","isInteractive":true,"status":{"errorCode":50126,"failureReason":"Invalid password"},"location":{"city":"Oslo","state":"Oslo","countryOrRegion":"NO"}}}`,
		"la-json":    `{"TimeGenerated":"2024-06-20T05:12:33Z","Type":"SigninLogs","Category":"SignInLogs","Id":"s1","UserId":"` + uid + `","UserPrincipalName":"` + upn + `","UserDisplayName":"BG","AppDisplayName":"Azure Portal","AppId":"c44b4083","IPAddress":"203.0.113.7","ClientAppUsed":"Browser","ConditionalAccessStatus":"success","IsInteractive":true,"ResultType":"50126","ResultDescription":"Invalid password","Location":"NO","LocationDetails":"{\"city\":\"Oslo\",\"state\":\"Oslo\",\"countryOrRegion\":\"NO\"}"}`,
		"la-csv": "TimeGenerated [UTC],Type,Category,Id,UserId,UserPrincipalName,UserDisplayName,AppDisplayName,AppId,IPAddress,ClientAppUsed,ConditionalAccessStatus,IsInteractive,ResultType,ResultDescription,Location,LocationDetails\n" +
			`"6/20/2024, 5:12:33.000 AM",SigninLogs,SignInLogs,s1,` + uid + "," + upn + `,BG,Azure Portal,c44b4083,203.0.113.7,Browser,success,True,50126,Invalid password,NO,"{""city"":""Oslo"",""state"":""Oslo"",""countryOrRegion"":""NO""}"` + "\n",
	}
	wantSignIn := map[string]any{
		"Type": "SigninLogs", "Category": "SignInLogs", "OperationName": "Sign-in activity", "Id": "s1", "TimeGenerated": ts, "CreatedDateTime": ts,
		"UserId": uid, "UserPrincipalName": upn, "UserDisplayName": "BG", "Identity": "BG", "AppDisplayName": "Azure Portal", "AppId": "c44b4083",
		"IPAddress": "203.0.113.7", "ClientAppUsed": "Browser", "ConditionalAccessStatus": "success", "IsInteractive": true,
		"ResultType": "50126", "ResultDescription": "Invalid password", "Location": "NO",
	}
	audits := map[string]string{
		"graph":      `{"id":"a1","category":"UserManagement","result":"success","activityDisplayName":"Update user","activityDateTime":"2024-06-20T05:12:33Z","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{"user":{"id":"` + uid + `","userPrincipalName":"` + upn + `"}},"targetResources":[{"id":"t1","type":"User","modifiedProperties":[{"displayName":"AccountEnabled","oldValue":"[true]","newValue":"[false]"}]}]}`,
		"diagnostic": `{"time":"2024-06-20T05:12:33Z","category":"AuditLogs","operationName":"Update user","properties":{"id":"a1","category":"UserManagement","result":"success","activityDisplayName":"Update user","activityDateTime":"2024-06-20T05:12:33Z","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{"user":{"id":"` + uid + `","userPrincipalName":"` + upn + `"}},"targetResources":[{"id":"t1","type":"User","modifiedProperties":[{"displayName":"AccountEnabled","oldValue":"[true]","newValue":"[false]"}]}]}}`,
		"la-json":    `{"TimeGenerated":"2024-06-20T05:12:33Z","Type":"AuditLogs","Id":"a1","OperationName":"Update user","ActivityDisplayName":"Update user","Category":"UserManagement","Result":"success","LoggedByService":"Core Directory","AADOperationType":"Update","InitiatedBy":{"user":{"id":"` + uid + `","userPrincipalName":"` + upn + `"}},"TargetResources":"[{\"id\":\"t1\",\"type\":\"User\",\"modifiedProperties\":[{\"displayName\":\"AccountEnabled\",\"oldValue\":\"[true]\",\"newValue\":\"[false]\"}]}]"}`,
	}
	wantAudit := map[string]any{
		"Type": "AuditLogs", "Id": "a1", "TimeGenerated": ts, "ActivityDateTime": ts, "OperationName": "Update user", "ActivityDisplayName": "Update user",
		"Category": "UserManagement", "Result": "success", "LoggedByService": "Core Directory", "AADOperationType": "Update", "Identity": upn,
	}
	check := func(name, rec string, want map[string]any, extra func(t *testing.T, c map[string]any)) {
		t.Run(name, func(t *testing.T) {
			recs, errs := collect(t, []byte(rec))
			if len(recs) != 1 || len(errs) != 0 {
				t.Fatalf("split: %d records, %v", len(recs), errs)
			}
			var ev entra.Event
			if err := Decode(recs[0].Data, Classify(recs[0].Data), &ev); err != nil {
				t.Fatal(err)
			}
			c := Columns(&ev)
			got := maps.Clone(c)
			for _, k := range []string{"LocationDetails", "Status", "InitiatedBy", "TargetResources"} {
				delete(got, k)
			}
			if !maps.EqualFunc(got, want, func(a, b any) bool {
				if ta, ok := a.(time.Time); ok {
					tb, ok := b.(time.Time)
					return ok && ta.Equal(tb)
				}
				return a == b
			}) {
				t.Errorf("columns\n got %v\nwant %v", got, want)
			}
			extra(t, c)
		})
	}
	for shape, rec := range signIns {
		check("SigninLogs/"+shape, rec, wantSignIn, func(t *testing.T, c map[string]any) {
			ld, _ := c["LocationDetails"].(map[string]any)
			st, _ := c["Status"].(map[string]any)
			if ld["city"] != "Oslo" || ld["countryOrRegion"] != "NO" || st["errorCode"] != "50126" {
				t.Errorf("dynamic columns: %v %v", ld, st)
			}
		})
	}
	for shape, rec := range audits {
		check("AuditLogs/"+shape, rec, wantAudit, func(t *testing.T, c map[string]any) {
			in, _ := c["InitiatedBy"].(map[string]any)
			u, _ := in["user"].(map[string]any)
			tr, _ := c["TargetResources"].([]any)
			if u["id"] != uid || len(tr) != 1 {
				t.Fatalf("dynamic columns: %v %v", in, tr)
			}
			t0 := tr[0].(map[string]any)
			mp := t0["modifiedProperties"].([]any)
			if t0["id"] != "t1" || t0["type"] != "User" || mp[0].(map[string]any)["newValue"] != "[false]" {
				t.Errorf("target: %v", t0)
			}
		})
	}
	// A record without a usable time has no datetime columns.
	var ev entra.Event
	_ = Decode([]byte(`{"id":"x","userId":"`+uid+`","appDisplayName":"A"}`), Class{Shape: ShapeGraphSignIn, Category: entra.CategorySignIn}, &ev)
	if c := Columns(&ev); c["TimeGenerated"] != nil || c["CreatedDateTime"] != nil {
		t.Errorf("time columns without a time: %v", c)
	}
}
