package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// TestAPIWrites drives the API's writes through the daemon's real actions
// on a real store: an incident acknowledged, reviewed as a drill and
// closed; a drill planned, started and finished; and each refusal with
// its status and field.
func TestAPIWrites(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Parse("t.yaml", []byte(`accounts: [{id: 11111111-1111-1111-1111-111111111111, upn: bg1@contoso.example}]
notify:
  groups:
    - name: oncall
      channels:
        - type: console
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	a := storetest.Alert("evt-1", "bg.signin", now.Add(-time.Minute))
	a.AccountID, a.AccountUPN = "11111111-1111-1111-1111-111111111111", "bg1@contoso.example"
	if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(a.AccountID), store.IncidentAccount, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := daemon.NewActions(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	guard := func(_ string, h http.Handler) http.Handler { return h }
	srv := httptest.NewServer(api.New(api.Options{Store: st, Accounts: cfg.Users(), Guard: guard, Actions: acts,
		Who: func(*http.Request) string { return "dana" }}))
	defer srv.Close()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("POST %s: not JSON: %s", path, b)
		}
		return resp.StatusCode, m
	}
	errField := func(m map[string]any) string {
		e, _ := m["error"].(map[string]any)
		f, _ := e["field"].(string)
		c, _ := e["code"].(string)
		return c + ":" + f
	}
	base := "/api/v1/incidents/" + inc.ID
	for _, tt := range []struct {
		path, body string
		status     int
		want       string // error code:field, or a state
	}{
		{base + "/close", ``, 409, "conflict:"},
		{base + "/ack", `{"note": "on it"}`, 200, "acknowledged"},
		{base + "/review", `{"class": "shrug", "note": "x"}`, 400, "bad_request:class"},
		{base + "/review", `{"class": "drill"}`, 400, "bad_request:note"},
		{base + "/review", `{"class": "drill", "note": "x", "colour": "red"}`, 400, "bad_request:colour"},
		{base + "/review", `{"class": "drill", "note": 5}`, 400, "bad_request:note"},
		{base + "/review", `{"class": "drill", "note": "x"`, 400, "bad_request:body"},
		{base + "/review", `{"class": "drill", "note": "quarterly drill", "attest": {"nogroup": "yes"}}`, 400, "bad_request:"},
		{base + "/review", `{"class": "drill", "note": "quarterly drill", "attest": {"oncall": "yes"}}`, 200, "reviewed"},
		{base + "/close", `{"note": "done"}`, 200, "closed"},
		{"/api/v1/incidents/nope/ack", ``, 404, "not_found:"},
		{"/api/v1/drills", `{"account": "nobody@contoso.example"}`, 400, "bad_request:"},
		{"/api/v1/drills", `{"account": "bg1@contoso.example", "window": "soon"}`, 400, "bad_request:window"},
		{"/api/v1/drills", `{}`, 400, "bad_request:account"},
	} {
		status, m := post(tt.path, tt.body)
		got := errField(m)
		if status == 200 {
			if v, ok := m["incident"].(map[string]any); ok {
				m = v
			}
			got, _ = m["state"].(string)
		}
		if status != tt.status || got != tt.want {
			t.Errorf("POST %s %s: %d %q, want %d %q\n%v", tt.path, tt.body, status, got, tt.status, tt.want, m)
		}
	}
	got, _ := st.Incident(ctx, inc.ID)
	if got.State != store.IncidentClosed || got.Review == nil || got.Review.By != "dana" || got.Review.Class != store.ClassDrill {
		t.Errorf("incident after the API's writes: %+v review %+v", got, got.Review)
	}
	// A drill through its life.
	status, m := post("/api/v1/drills", `{"account": "bg1@contoso.example", "window": "30m", "note": "Q4"}`)
	if status != 201 || m["state"] != store.DrillPlanned {
		t.Fatalf("plan: %d %v", status, m)
	}
	id := m["id"].(string)
	if status, m = post("/api/v1/drills/"+id+"/start", ``); status != 200 || m["state"] != store.DrillRunning {
		t.Fatalf("start: %d %v", status, m)
	}
	if status, m = post("/api/v1/drills/"+id+"/start", ``); status != 400 {
		t.Errorf("second start: %d %v, want 400", status, m)
	}
	if status, m = post("/api/v1/drills/"+id+"/finish", `{"attest": {"nosuchitem": "dana"}}`); status != 400 {
		t.Errorf("finish with an unknown checklist item: %d %v, want 400", status, m)
	}
	if status, m = post("/api/v1/drills/"+id+"/finish", ``); status != 200 || m["result"] == nil {
		t.Errorf("finish: %d %v", status, m)
	}
	d, _ := st.Drill(ctx, id)
	if d.State != store.DrillFinished || d.By != "dana" {
		t.Errorf("drill after finish: %+v", d)
	}
}
