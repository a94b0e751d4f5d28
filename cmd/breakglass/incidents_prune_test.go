package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// closeFixture closes the fixture's reviewed incident at a fixed time,
// through the incident package as the CLI would, so its last activity is
// in March 2026.
func closeFixture(t *testing.T, storePath, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := incident.Close(ctx, st, id, "carol", "reviewed and done", incidentBase.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// storeSnapshot is every evidence entry and the incident, to show that a
// command changed nothing.
func storeSnapshot(t *testing.T, storePath, id string) ([]store.LogEntry, store.Incident) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.LogEntries(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := st.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return es, inc
}

func mustRun(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := runBinary(t, nil, args...)
	if r.code != want {
		t.Fatalf("%v: exit %d, want %d\n%s%s", args, r.code, want, r.stdout, r.stderr)
	}
	return r
}

// TestIncidentsPruneExpiryBinary: a closed incident past
// incidents.retention is listed by a dry run (which changes nothing), then
// pruned; the evidence log still verifies and says what was pruned, the
// accounts status still shows the incident and its classification, show
// says it was pruned, and export refuses.
func TestIncidentsPruneExpiryBinary(t *testing.T) {
	cfg, storePath, id := evidenceEnv(t, "incidents:\n  retention: 30d\n")
	closeFixture(t, storePath, id)
	statusBefore := mustRun(t, 0, "accounts", "status", "-c", cfg, "--format", "json").stdout

	beforeLog, beforeInc := storeSnapshot(t, storePath, id)
	r := mustRun(t, 0, "incidents", "prune", "-c", cfg, "--dry-run")
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "would prune") || !strings.Contains(r.stdout, "expired: last activity 2026-03-14 + retention 30d") ||
		!strings.Contains(r.stdout, "nothing was changed") || !strings.Contains(r.stdout, "emergency") {
		t.Errorf("dry run:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "incidents", "prune", "-c", cfg, "--dry-run", "--format", "json")
	var item map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &item); err != nil || item["incident"] != id || item["reason"] != store.PruneExpired || item["pruned"] != false {
		t.Errorf("dry run json: %v\n%s", err, r.stdout)
	}
	afterLog, afterInc := storeSnapshot(t, storePath, id)
	if !reflect.DeepEqual(beforeLog, afterLog) || !reflect.DeepEqual(beforeInc, afterInc) {
		t.Fatal("the dry run changed the store")
	}

	r = mustRun(t, 0, "incidents", "prune", "-c", cfg)
	if !regexp.MustCompile(id+`\s.*\spruned\s+expired`).MatchString(r.stdout) || !strings.Contains(r.stdout, "pruned 1 incident (") {
		t.Errorf("prune:\n%s", r.stdout)
	}
	v := mustRun(t, 0, "evidence", "verify", "-c", cfg)
	if !strings.Contains(v.stdout, "OK: evidence log") || !strings.Contains(v.stdout, "pruned:    1 incident pruned (") || !strings.Contains(v.stdout, "kept as headers only") {
		t.Errorf("verify after the prune:\n%s%s", v.stdout, v.stderr)
	}
	mustRun(t, 0, "evidence", "verify", "-c", cfg, "--incident", id)
	var vj struct {
		OK    bool `json:"ok"`
		Chain struct {
			Pruned *struct{ Entries, Incidents int } `json:"pruned"`
		} `json:"chain"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, 0, "evidence", "verify", "-c", cfg, "--format", "json").stdout), &vj); err != nil ||
		!vj.OK || vj.Chain.Pruned == nil || vj.Chain.Pruned.Incidents != 1 || vj.Chain.Pruned.Entries != len(beforeLog) {
		t.Errorf("verify --format json after the prune: %v %+v", err, vj.Chain.Pruned)
	}

	// accounts status: the same last incident and classification as
	// before the prune.
	statusAfter := mustRun(t, 0, "accounts", "status", "-c", cfg, "--format", "json").stdout
	var before, after struct {
		LastIncident *struct{ ID, State, Classification string } `json:"last_incident"`
	}
	if json.Unmarshal([]byte(statusBefore), &before) != nil || json.Unmarshal([]byte(statusAfter), &after) != nil || after.LastIncident == nil ||
		after.LastIncident.ID != id || after.LastIncident.Classification != store.ClassEmergency || *after.LastIncident != *before.LastIncident {
		t.Errorf("accounts status after the prune:\n%s\nbefore:\n%s", statusAfter, statusBefore)
	}
	table := mustRun(t, 0, "accounts", "status", "-c", cfg).stdout
	if !strings.Contains(table, id) || !strings.Contains(table, "emergency") {
		t.Errorf("accounts status table:\n%s", table)
	}

	show := mustRun(t, 0, "incidents", "show", "-c", cfg, id).stdout
	if !strings.Contains(show, "Pruned") || !strings.Contains(show, "(expired)") {
		t.Errorf("show after the prune:\n%s", show)
	}
	if r := runBinary(t, nil, "incidents", "export", "-c", cfg, id, "--out", filepath.Join(t.TempDir(), "b.zip")); r.code != 1 || !strings.Contains(r.stderr, "was pruned") {
		t.Errorf("export of a pruned incident: %d %s", r.code, r.stderr)
	}
	if r := mustRun(t, 0, "incidents", "prune", "-c", cfg); !strings.Contains(r.stdout, "nothing to prune") {
		t.Errorf("second prune:\n%s", r.stdout)
	}
	if r := mustRun(t, 0, "incidents", "report", "-c", cfg, id); !strings.Contains(r.stdout, "pruned") {
		t.Errorf("report after the prune does not say so:\n%s", r.stdout)
	}
}

// TestIncidentsPruneExportedBinary: an exported incident within its
// retention is pruned only with --exported, and the prune names the
// bundle's sha256; the bundle still verifies on its own.
func TestIncidentsPruneExportedBinary(t *testing.T) {
	cfg, storePath, id := evidenceEnv(t, "")
	closeFixture(t, storePath, id)
	out := filepath.Join(t.TempDir(), "bundle.zip")
	r := mustRun(t, 0, "incidents", "export", "-c", cfg, id, "--out", out, "--format", "json")
	var ex struct{ SHA256 string }
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil || len(ex.SHA256) != 64 {
		t.Fatalf("export json: %v %s", err, r.stdout)
	}
	// The default retention, 400 days, has not passed since March 2026.
	if r := mustRun(t, 0, "incidents", "prune", "-c", cfg); !strings.Contains(r.stdout, "nothing to prune") || !strings.Contains(r.stdout, "--exported") {
		t.Errorf("prune without --exported:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "incidents", "prune", "-c", cfg, "--exported", "--dry-run")
	if !strings.Contains(r.stdout, "would prune") || !strings.Contains(r.stdout, "bundle sha256 "+ex.SHA256) {
		t.Errorf("dry run --exported:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "incidents", "prune", "-c", cfg, "--exported", "--format", "json")
	var item incident.PruneItem
	if err := json.Unmarshal([]byte(r.stdout), &item); err != nil || !item.Done || item.Reason != store.PruneExported || item.Bundle != ex.SHA256 || item.Entries == 0 {
		t.Errorf("prune --exported: %v %+v", err, item)
	}
	mustRun(t, 0, "evidence", "verify", "-c", cfg)
	if v := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "evidence", "verify", "--bundle", out); v.code != 0 {
		t.Errorf("the bundle after the prune: %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	show := mustRun(t, 0, "incidents", "show", "-c", cfg, id, "--format", "json").stdout
	if !strings.Contains(show, `"bundle_sha256": "`+ex.SHA256) {
		t.Errorf("show json lacks the tombstone:\n%s", show)
	}
}

// TestIncidentsPruneOpenBinary: an incident that is not closed is never
// pruned, however old; a prune of a tampered log refuses and exits 1.
func TestIncidentsPruneOpenBinary(t *testing.T) {
	cfg, storePath, id := evidenceEnv(t, "incidents:\n  retention: 30d\n")
	for _, args := range [][]string{{"--exported"}, {}} {
		r := mustRun(t, 0, append([]string{"incidents", "prune", "-c", cfg}, args...)...)
		if !strings.Contains(r.stdout, "nothing to prune") {
			t.Errorf("prune of a reviewed incident:\n%s", r.stdout)
		}
	}
	if _, inc := storeSnapshot(t, storePath, id); inc.Pruned != nil || inc.State != store.IncidentReviewed {
		t.Fatalf("incident after prune: %+v", inc)
	}
	closeFixture(t, storePath, id)
	db, err := sql.Open("sqlite", "file:"+storePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER evidence_log_no_update`, `UPDATE evidence_log SET content = CAST('{}' AS BLOB) WHERE seq = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	r := mustRun(t, 1, "incidents", "prune", "-c", cfg)
	if !strings.Contains(r.stderr, "not pruning") || !strings.Contains(r.stderr, "entry 2") {
		t.Errorf("prune of a broken log: %s", r.stderr)
	}
	if _, inc := storeSnapshot(t, storePath, id); inc.Pruned != nil {
		t.Error("pruned despite the break")
	}
}
