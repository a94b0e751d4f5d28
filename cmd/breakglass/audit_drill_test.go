package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/posture"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
)

// TestAuditAcceptsPassedDrill: through the binary, a passed drill in the
// configured store is last-sign-in's evidence for an account whose last
// sign-in is too old (the example's bg-admin2); without the store the
// check fails as before, and audit creates no store.
func TestAuditAcceptsPassedDrill(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "bg.db")
	cfgPath := filepath.Join(dir, "breakglass.yaml")
	cfg := "accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\n    upn: " + exampleGood + "\n  - id: 1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d\n    upn: " + exampleBad + "\nstore:\n  path: " + db + "\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	lastSignIn := func() posture.Result {
		t.Helper()
		r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "audit", "-c", cfgPath, "--snapshot", exampleSnapshot, "--as-of", "2026-12-01", "--format", "json", "--fail-on", "none")
		var rep posture.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
			t.Fatalf("audit: exit %d %v\n%s", r.code, err, r.stderr)
		}
		for _, res := range rep.Results {
			if res.Check == "last-sign-in" && res.AccountUPN == exampleBad {
				return res
			}
		}
		t.Fatalf("no last-sign-in result for %s", exampleBad)
		return posture.Result{}
	}
	if res := lastSignIn(); res.Status != posture.StatusFail {
		t.Fatalf("without a drill: %s %s", res.Status, res.Message)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("audit created the store: %v", err)
	}
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := st.AddDrill(context.Background(), store.Drill{ID: "d-42", AccountID: "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", AccountUPN: exampleBad,
		State: store.DrillFinished, Result: store.DrillPassed, At: at, Window: time.Hour, Started: at, Finished: at.Add(time.Hour), Created: at, Updated: at}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	res := lastSignIn()
	if res.Status != posture.StatusPass || !strings.Contains(res.Message, "passed drill d-42 on 2026-11-20") {
		t.Fatalf("with a passed drill: %s %s", res.Status, res.Message)
	}
	if len(res.Evidence) == 0 || res.Evidence[0].Object != "drill d-42" {
		t.Errorf("evidence %+v", res.Evidence)
	}
}
