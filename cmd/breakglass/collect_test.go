package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/collect/collecttest"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/logging"
	"breakglass/internal/posture"
)

// TestCollectCommand runs the real binary against a Graph-shaped server on
// loopback: the snapshot is written, its manifest records the dataset the
// server refuses (403 with a Graph error body) with its hint, an entry that
// resolves to no user is reported as unresolved (exit 3), and only GET
// requests reach Graph.
func TestCollectCommand(t *testing.T) {
	const bg1 = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	gs := graphtest.New(t)
	gs.Collection("/v1.0/organization", []any{map[string]any{"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "displayName": "Contoso"}}, 10)
	gs.Object("/v1.0/users/"+bg1, map[string]any{"id": bg1, "userPrincipalName": "bg-admin1@contoso.onmicrosoft.com", "accountEnabled": true})
	gs.Fail("/v1.0/users/ghost@contoso.onmicrosoft.com", http.StatusNotFound, 100, "", graphtest.GraphError("Request_ResourceNotFound", "Resource 'ghost@contoso.onmicrosoft.com' does not exist."))
	gs.Fail("/v1.0/identityGovernance/lifecycleWorkflows/workflows", http.StatusForbidden, 100, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`accounts:
  - id: %s
  - upn: ghost@contoso.onmicrosoft.com
graph:
  auth: access_token
  base_url: %s
`, bg1, gs.URL)), 0o600)
	out := filepath.Join(dir, "snap")
	r := runBinary(t, []string{"BREAKGLASS_GRAPH_TOKEN=test-token"}, "collect", "--config", cfg, "--out", out)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3 (unresolved entry):\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "unresolved:") || !strings.Contains(r.stderr, "ghost@contoso.onmicrosoft.com") {
		t.Errorf("unresolved entry not reported:\n%s", r.stderr)
	}
	var m struct {
		Datasets []struct{ Name string }
		Failed   []struct{ Name, Reason, Hint string }
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range m.Failed {
		if f.Name == "lifecycle_workflows" && f.Reason == "permission" && strings.Contains(f.Hint, "LifecycleWorkflows.Read.All") {
			found = true
		}
	}
	if !found {
		t.Errorf("manifest does not record the refused dataset with its hint: %+v", m.Failed)
	}
	// Everything else this bare server does not serve (404) is recorded,
	// never fatal; what it does serve is written.
	names := map[string]bool{}
	for _, d := range m.Datasets {
		names[d.Name] = true
	}
	if !names["organization"] || !names["breakglass_users"] {
		t.Errorf("datasets written: %+v", m.Datasets)
	}
	for _, req := range gs.Requests() {
		if req.Method != http.MethodGet {
			t.Errorf("%s %s sent to Graph", req.Method, req.Path)
		}
	}
}

// TestCollectLiveEqualsSnapshot: the live read that audit and discover use
// holds exactly what collect writes, for the same configuration, and says
// on stderr what it could not read.
func TestCollectLiveEqualsSnapshot(t *testing.T) {
	const bg1 = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	gs := graphtest.New(t)
	gs.Collection("/v1.0/organization", []any{map[string]any{"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "displayName": "Contoso"}}, 10)
	gs.Object("/v1.0/users/"+bg1, map[string]any{"id": bg1, "userPrincipalName": "bg-admin1@contoso.onmicrosoft.com", "accountEnabled": true})
	gs.Collection("/v1.0/identity/conditionalAccess/policies", []any{map[string]any{"id": "ca-1", "state": "enabled"}, map[string]any{"id": "ca-2", "state": "disabled"}}, 1)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("accounts:\n  - id: %s\n  - upn: ghost@contoso.onmicrosoft.com\ngraph:\n  auth: access_token\n  base_url: %s\n", bg1, gs.URL)), 0o600)
	t.Setenv("BREAKGLASS_GRAPH_TOKEN", "test-token")
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGraphClient(cfg, logging.New(io.Discard, logging.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	live, err := collectLiveFrom(context.Background(), cfg, g, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "snap")
	o := collectOptions(cfg, nil, newCollectProgress(io.Discard))
	o.Out = out
	o.Now = func() time.Time { return live.Manifest.Collected }
	if _, err := collect.Collect(context.Background(), g, o); err != nil {
		t.Fatal(err)
	}
	disk, err := collect.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(live.Manifest, disk.Manifest) {
		t.Errorf("manifests differ:\nlive %+v\ndisk %+v", live.Manifest, disk.Manifest)
	}
	if !reflect.DeepEqual(live.Datasets, disk.Datasets) {
		t.Errorf("datasets differ: live has %d, disk %d", len(live.Datasets), len(disk.Datasets))
	}
	if len(live.Manifest.Unresolved) != 1 || len(live.Datasets[collect.DatasetConditionalAccessPolicies]) == 0 {
		t.Errorf("live snapshot lacks the unresolved entry or the policies: %+v", live.Manifest)
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress written to a non-terminal: %q", stderr.String())
	}
	for _, want := range []string{"live: read ", "1 break-glass entries unresolved", "live: lifecycle_workflows unavailable (not_found 404)"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestCollectLiveNeedsGraph: without a graph: section the live read is a
// configuration error (exit 2) naming the file and the way out.
func TestCollectLiveNeedsGraph(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("accounts:\n  - upn: bg1@contoso.onmicrosoft.com\n  - upn: bg2@contoso.onmicrosoft.com\n"), 0o600)
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = collectLive(context.Background(), cfg, io.Discard)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--snapshot") {
		t.Errorf("err = %v, want a usage error naming %s and --snapshot", err, path)
	}
}

// TestCollectThenAuditThroughBinary: what a user runs, end to end through
// the binary against a Graph look-alike serving the bundled example
// tenant: collect writes a snapshot (exit 3: the example's legacy entry is
// unresolved), audit --snapshot of it judges every result as the live audit
// does and as the audit of examples/snapshot itself does, and only GETs
// reach Graph.
func TestCollectThenAuditThroughBinary(t *testing.T) {
	example, err := collect.Load(exampleSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	gs := collecttest.Serve(t, example, 2)
	cfgData, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "breakglass.yaml")
	cfgData = append(cfgData, fmt.Sprintf("graph:\n  auth: access_token\n  base_url: %s\n", gs.URL)...)
	if err := os.WriteFile(cfg, cfgData, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"BREAKGLASS_CONFIG=", "BREAKGLASS_GRAPH_TOKEN=test-token", "NO_COLOR="}
	snap := filepath.Join(dir, "snap")
	if r := runBinary(t, env, "collect", "-c", cfg, "--out", snap); r.code != exitUnresolved {
		t.Fatalf("collect: exit %d, want %d (one unresolved entry):\n%s", r.code, exitUnresolved, r.stderr)
	}
	audit := func(args ...string) []posture.Result {
		t.Helper()
		r := runBinary(t, env, append([]string{"audit", "-c", cfg, "--format", "json", "--fail-on", "none", "--as-of", "2026-12-01"}, args...)...)
		if r.code != 0 {
			t.Fatalf("audit %v: exit %d:\n%s", args, r.code, r.stderr)
		}
		var rep posture.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) == 0 {
			t.Fatalf("audit %v: no results", args)
		}
		return rep.Results
	}
	fromSnap, live, example2 := audit("--snapshot", snap), audit(), audit("--snapshot", exampleSnapshot)
	verdicts := func(rs []posture.Result) []string {
		var out []string
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s %s %s %s: %s", r.Check, r.AccountID, r.AccountUPN, r.Status, r.Message))
		}
		return out
	}
	if !reflect.DeepEqual(verdicts(fromSnap), verdicts(live)) {
		t.Errorf("audit of the collected snapshot and the live audit differ:\nsnapshot %q\nlive     %q", verdicts(fromSnap), verdicts(live))
	}
	if !reflect.DeepEqual(verdicts(fromSnap), verdicts(example2)) {
		t.Errorf("audit of the collected snapshot and of examples/snapshot differ:\ncollected %q\nexample   %q", verdicts(fromSnap), verdicts(example2))
	}
	for _, req := range gs.Requests() {
		if req.Method != http.MethodGet {
			t.Errorf("%s %s sent to Graph", req.Method, req.Path)
		}
	}
}

// TestCollectEntriesKeepConfigIndex: the manifest names each entry by its
// index in accounts:, which the audit report and collect's own messages
// repeat. With a group entry before a user entry, the user entry is
// accounts[1], not accounts[0] (the group's line).
func TestCollectEntriesKeepConfigIndex(t *testing.T) {
	const gid = "9a000000-0000-4000-8000-0000000000e1"
	gs := graphtest.New(t)
	gs.Collection("/v1.0/organization", []any{map[string]any{"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "displayName": "Contoso"}}, 10)
	gs.Fail("/v1.0/groups/"+gid, http.StatusNotFound, 100, "", graphtest.GraphError("Request_ResourceNotFound", "Resource does not exist."))
	gs.Fail("/v1.0/users/ghost@contoso.onmicrosoft.com", http.StatusNotFound, 100, "", graphtest.GraphError("Request_ResourceNotFound", "Resource does not exist."))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("accounts:\n  - group: %s\n  - upn: ghost@contoso.onmicrosoft.com\ngraph:\n  auth: access_token\n  base_url: %s\n", gid, gs.URL)), 0o600)
	out := filepath.Join(dir, "snap")
	r := runBinary(t, []string{"BREAKGLASS_CONFIG=", "BREAKGLASS_GRAPH_TOKEN=test-token"}, "collect", "-c", cfg, "--out", out)
	if r.code != exitUnresolved {
		t.Fatalf("exit %d, want %d:\n%s", r.code, exitUnresolved, r.stderr)
	}
	snap, err := collect.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, u := range snap.Manifest.Unresolved {
		entries = append(entries, u.Entry)
	}
	if !slices.Contains(entries, "accounts[1] upn ghost@contoso.onmicrosoft.com") || !slices.Contains(entries, "groups[0] id "+gid) {
		t.Errorf("unresolved entries %q, want accounts[1] for the user entry (accounts[0] is the group)", entries)
	}
}
