package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/posture"
)

// The engine's compliant snapshot: bg1 and bg2 are the break-glass
// accounts, alice..dave other admins.
var compliantSnapshot = filepath.Join("..", "..", "internal", "posture", "testdata", "snapshots", "compliant")

const (
	discoverBG1 = "0b9f1a2c-3d4e-4f50-8a61-b7c8d9e0f101"
	discoverBG2 = "0b9f1a2c-3d4e-4f50-8a61-b7c8d9e0f102"
)

// discoverConfig lists bg2 only, so bg1 is the account discover suggests.
func discoverConfig(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "breakglass.yaml")
	if err := os.WriteFile(path, []byte("accounts:\n  - upn: bg2@contoso.onmicrosoft.com\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDiscoverSnapshotGolden runs the binary on the compliant snapshot in
// both formats: bg1 and bg2 lead, bg2 is configured, and only bg1 is
// offered as accounts: lines.
func TestDiscoverSnapshotGolden(t *testing.T) {
	cfg := discoverConfig(t, "")
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			r := runBinary(t, nil, "discover", "--config", cfg, "--snapshot", compliantSnapshot, "--format", format)
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr: %s", r.stderr)
			}
			golden(t, "discover."+format, r.stdout)
		})
	}

	r := runBinary(t, nil, "discover", "--config", cfg, "--snapshot", compliantSnapshot, "--format", "json")
	var out struct {
		Candidates []posture.Candidate `json:"candidates"`
		Accounts   string              `json:"accounts_yaml"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("json output: %v\n%s", err, r.stdout)
	}
	if len(out.Candidates) < 2 || !out.Candidates[0].Likely || !out.Candidates[1].Likely {
		t.Fatalf("the break-glass accounts do not lead: %+v", out.Candidates)
	}
	for _, c := range out.Candidates {
		if c.Configured != (c.ID == discoverBG2) {
			t.Errorf("%s: configured %v", c.UPN, c.Configured)
		}
		if len(c.Reasons) == 0 {
			t.Errorf("%s: no reasons", c.UPN)
		}
	}
	if !strings.Contains(out.Accounts, discoverBG1) || strings.Contains(out.Accounts, discoverBG2) || !strings.Contains(out.Accounts, "review before adding") {
		t.Errorf("accounts lines:\n%s", out.Accounts)
	}

	// The printed lines, pasted into the configuration, load and name bg1.
	pasted := filepath.Join(t.TempDir(), "pasted.yaml")
	body := strings.Replace(out.Accounts, "accounts:\n", "accounts:\n  - upn: bg2@contoso.onmicrosoft.com\n", 1)
	if err := os.WriteFile(pasted, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(pasted)
	if err != nil {
		t.Fatalf("pasted accounts lines do not load: %v\n%s", err, body)
	}
	if len(c.Accounts) != 2 || !strings.EqualFold(c.Accounts[1].ID, discoverBG1) || c.Accounts[1].UPN != "bg1@contoso.onmicrosoft.com" {
		t.Errorf("pasted accounts: %+v", c.Accounts)
	}
}

func TestDiscoverUsage(t *testing.T) {
	cfg := discoverConfig(t, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"discover", "--config", cfg, "--snapshot", compliantSnapshot, "--format", "sarif"}, "--format"},
		{"live without config", []string{"discover"}, "no configuration file"},
		{"not a snapshot", []string{"discover", "--config", cfg, "--snapshot", t.TempDir()}, "--snapshot"},
		{"argument", []string{"discover", "--config", cfg, "extra"}, "takes no arguments"},
		{"live without graph section", []string{"discover", "--config", cfg}, "graph"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

// TestAccountsYAMLHostile: a display name cannot break out of its line or
// reach the terminal with control characters.
func TestAccountsYAMLHostile(t *testing.T) {
	cands := []posture.Candidate{{ID: discoverBG1, UPN: "bg1@contoso.onmicrosoft.com", DisplayName: "x\"\n  - id: 00000000-0000-0000-0000-000000000001\n\x1b[31m", Score: 90, Likely: true,
		Reasons: []string{"- oddly named\x1b[2J"}}}
	y := accountsYAML(cands)
	entries := 0
	for _, line := range strings.Split(y, "\n") {
		if strings.HasPrefix(line, "  - ") {
			entries++
		}
	}
	if strings.Contains(y, "\x1b") || entries != 1 {
		t.Fatalf("hostile name escaped its line:\n%s", y)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(y), 0o600)
	c, err := config.Load(path)
	if err != nil || len(c.Accounts) != 1 {
		t.Fatalf("load: %v %+v\n%s", err, c, y)
	}
}

// TestDiscoverLive collects from a Graph-shaped server on loopback: the
// Global Administrator it serves is found, only GET requests are sent, and
// an unreachable Graph is exit 1.
func TestDiscoverLive(t *testing.T) {
	const bg1 = discoverBG1
	const ga = posture.RoleGlobalAdministrator
	gs := graphtest.New(t)
	principal := map[string]any{"@odata.type": "#microsoft.graph.user", "id": bg1, "userPrincipalName": "bg1@contoso.onmicrosoft.com", "displayName": "Break Glass 1"}
	gs.Collection("/v1.0/organization", []any{map[string]any{"id": "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "displayName": "Contoso"}}, 10)
	gs.Object("/v1.0/users/bg2@contoso.onmicrosoft.com", map[string]any{"id": discoverBG2, "userPrincipalName": "bg2@contoso.onmicrosoft.com", "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": nil})
	gs.Collection("/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '"+ga+"'&$expand=principal",
		[]any{map[string]any{"id": "ra1", "roleDefinitionId": ga, "principalId": bg1, "directoryScopeId": "/", "principal": principal}}, 10)
	gs.Collection("/v1.0/roleManagement/directory/roleAssignmentSchedules?$filter=roleDefinitionId eq '"+ga+"'&$expand=principal",
		[]any{map[string]any{"id": "rs1", "roleDefinitionId": ga, "principalId": bg1, "directoryScopeId": "/", "memberType": "Direct", "assignmentType": "Assigned",
			"scheduleInfo": map[string]any{"startDateTime": "2025-01-01T00:00:00Z", "expiration": map[string]any{"type": "noExpiration"}}, "principal": principal}}, 10)
	gs.Collection("/v1.0/identity/conditionalAccess/policies", []any{
		map[string]any{"id": "p1", "displayName": "Block legacy authentication", "state": "enabled",
			"conditions":    map[string]any{"users": map[string]any{"includeUsers": []string{"All"}, "excludeUsers": []string{bg1, discoverBG2}}, "applications": map[string]any{"includeApplications": []string{"All"}}, "clientAppTypes": []string{"exchangeActiveSync", "other"}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"block"}}},
	}, 10)
	gs.Collection("/v1.0/users/"+bg1+"/authentication/methods", []any{
		map[string]any{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"},
		map[string]any{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "f1", "aaGuid": "cb69481e-8ff7-4039-93ec-0a2729a154a8", "model": "YubiKey 5"},
	}, 10)
	cfg := discoverConfig(t, fmt.Sprintf("graph:\n  auth: access_token\n  base_url: %s\n", gs.URL))
	r := runBinary(t, []string{"BREAKGLASS_GRAPH_TOKEN=test-token"}, "discover", "--config", cfg, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Source     string              `json:"source"`
		Candidates []posture.Candidate `json:"candidates"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var found *posture.Candidate
	for i, c := range out.Candidates {
		if c.ID == bg1 {
			found = &out.Candidates[i]
		}
	}
	if found == nil || out.Source != "Microsoft Graph (live)" {
		t.Fatalf("bg1 not found live (source %q): %+v\n%s", out.Source, out.Candidates, r.stderr)
	}
	joined := strings.Join(found.Reasons, "\n")
	for _, want := range []string{"+ permanent active Global Administrator", "+ excluded from 1 of 1", "+ 1 FIDO2 passkey", "? onPremisesSyncEnabled was not collected"} {
		if !strings.Contains(joined, want) {
			t.Errorf("bg1 reasons lack %q:\n%s", want, joined)
		}
	}
	if !found.Likely || found.Configured {
		t.Errorf("bg1 likely %v configured %v (score %d)", found.Likely, found.Configured, found.Score)
	}
	for _, req := range gs.Requests() {
		if req.Method != http.MethodGet {
			t.Errorf("%s %s sent to Graph", req.Method, req.Path)
		}
	}

	// Graph unreachable: the run stops, exit 1.
	dead := discoverConfig(t, "graph:\n  auth: access_token\n  base_url: http://127.0.0.1:1\n")
	r = runBinary(t, []string{"BREAKGLASS_GRAPH_TOKEN=test-token"}, "discover", "--config", dead)
	if r.code != 1 || !strings.Contains(r.stderr, "reading the tenant from Graph") {
		t.Errorf("unreachable Graph: exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestDiscoverGroupEntryConfigured: an account listed through a group:
// entry is configured, and is not offered again as an accounts: line.
func TestDiscoverGroupEntryConfigured(t *testing.T) {
	path := filepath.Join(t.TempDir(), "breakglass.yaml")
	const cfg = "accounts:\n  - upn: bg2@contoso.onmicrosoft.com\n  - group: 9a000000-0000-4000-8000-0000000000e1\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, "discover", "--config", path, "--snapshot", compliantSnapshot, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Candidates []posture.Candidate `json:"candidates"`
		Accounts   string              `json:"accounts_yaml"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("json output: %v\n%s", err, r.stdout)
	}
	for _, c := range out.Candidates {
		if strings.EqualFold(c.ID, discoverBG1) && !c.Configured {
			t.Errorf("bg1, a member of the configured group, is not marked configured")
		}
	}
	if strings.Contains(out.Accounts, discoverBG1) {
		t.Errorf("bg1 offered as an accounts: line although its group is configured:\n%s", out.Accounts)
	}
}

// TestDiscoverWithoutConfig: a snapshot is judged without a configuration
// (how a first one gets written); nobody is marked configured, and both
// break-glass accounts are offered as accounts: lines.
func TestDiscoverWithoutConfig(t *testing.T) {
	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "discover", "--snapshot", compliantSnapshot, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Candidates []posture.Candidate `json:"candidates"`
		Accounts   string              `json:"accounts_yaml"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("json output: %v\n%s", err, r.stdout)
	}
	for _, c := range out.Candidates {
		if c.Configured {
			t.Errorf("%s marked configured without a configuration", c.UPN)
		}
	}
	for _, id := range []string{discoverBG1, discoverBG2} {
		if !strings.Contains(out.Accounts, id) {
			t.Errorf("%s not offered as an accounts: line:\n%s", id, out.Accounts)
		}
	}
}
