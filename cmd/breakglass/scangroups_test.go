package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/logging"
	"breakglass/internal/membership"
)

// TestScanExpandsGroups: scan matches the members of a group entry, read
// through Graph or from a collect snapshot; without either, or when Graph
// refuses the group, it exits 2 naming the group instead of scanning with
// a list that misses them.
func TestScanExpandsGroups(t *testing.T) {
	const (
		gid       = "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0"
		memberID  = "3c9a1f2e-8b7d-4e6a-9f01-2b3c4d5e6f70"
		memberUPN = "bg-member@contoso.onmicrosoft.com"
	)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "signin.json")
	rec := `{"time":"2026-06-20T07:00:00Z","category":"SignInLogs","operationName":"Sign-in activity","properties":{"id":"grp-s1","createdDateTime":"2026-06-20T07:00:00Z","userId":"` +
		memberID + `","userPrincipalName":"` + memberUPN + `","status":{"errorCode":0}}}` + "\n"
	if err := os.WriteFile(logFile, []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	gs := graphtest.New(t)
	members := "/v1.0" + membership.Path(gid)
	gs.Collection(members, []any{map[string]any{"@odata.type": "#microsoft.graph.user", "id": memberID, "userPrincipalName": memberUPN}}, 0)
	gs.Object("/v1.0/groups/"+gid, map[string]any{"id": gid, "displayName": "Break-glass", "isAssignableToRole": true})
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withGraph := write("graph.yaml", fmt.Sprintf("accounts:\n  - group: %s\n    name: Break-glass\ngraph:\n  auth: access_token\n  base_url: %s\n", gid, gs.URL))
	noGraph := write("nograph.yaml", fmt.Sprintf("accounts:\n  - upn: bg1@contoso.onmicrosoft.com\n  - group: %s\n", gid))
	env := []string{"BREAKGLASS_CONFIG=", "BREAKGLASS_GRAPH_TOKEN=test-token"}

	// A snapshot collected from the same fake tenant.
	snap := filepath.Join(dir, "snap")
	t.Setenv("BREAKGLASS_GRAPH_TOKEN", "test-token")
	cfg, err := loadConfig(withGraph)
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGraphClient(cfg, logging.New(io.Discard, logging.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	o := collectOptions(cfg, cfg.Groups(), newCollectProgress(io.Discard))
	o.Out = snap
	if _, err := collect.Collect(context.Background(), g, o); err != nil {
		t.Fatal(err)
	}
	emptySnap := filepath.Join(dir, "empty-snap")
	o.Groups, o.Out = nil, emptySnap
	if _, err := collect.Collect(context.Background(), g, o); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		failFrom int // refuse the group from here on
	}{
		{"through graph", []string{"scan", "-c", withGraph, "--no-store", "--fail-on-alert", logFile}, 3, memberUPN, "group \"Break-glass\" (" + gid + "): 1 members (through Microsoft Graph)", 0},
		{"from a snapshot, no graph needed", []string{"scan", "-c", noGraph, "--no-store", "--fail-on-alert", "--snapshot", snap, logFile}, 3, memberUPN, "1 members (from snapshot", 0},
		{"snapshot without the group", []string{"scan", "-c", noGraph, "--no-store", "--snapshot", emptySnap, logFile}, exitUsage, "", "group_members." + gid + " is not in the snapshot", 0},
		{"no graph, no snapshot", []string{"scan", "-c", noGraph, "--no-store", logFile}, exitUsage, "", "accounts[1] group " + gid + ": scan needs the members: add a graph: section", 0},
		{"graph refuses the group", []string{"scan", "-c", withGraph, "--no-store", logFile}, exitUsage, "", "group \"Break-glass\" (" + gid + "): cannot read its members through Microsoft Graph", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.failFrom > 0 {
				gs.Fail(members, 403, 1000, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
			}
			r := runBinary(t, env, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d (want %d); want stdout %q, stderr %q:\n%s\n%s", r.code, tt.code, tt.stdout, tt.stderr, r.stdout, r.stderr)
			}
		})
	}
}
