package daemon

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/auth"
	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

// TestAuditTrailOfWrites: every write through the API lands in the audit
// trail with who, from where and how it ended; a refused one too; a read
// sent as POST (a query) does not.
func TestAuditTrailOfWrites(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "sources:\n  - type: file\n    path: %[1]s\n")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, role := range []string{"viewer", "responder"} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddToken(ctx, store.Token{Name: "t-" + role, Role: role, Hash: hash, Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		tokens[role] = tok
	}
	a := storetest.Alert("evt-1", "bg.signin", time.Now().Add(-time.Minute))
	a.AccountID, a.AccountUPN = bgID, bgUPN
	if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{}`))); err != nil {
		t.Fatal(err)
	}
	inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(bgID), store.IncidentAccount, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := start(t, cfg, Options{})
	base := "http://" + r.d.Addr().String()
	post := func(path, role, body string) int {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[role])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/api/v1/incidents/"+inc.ID+"/ack", "viewer", `{}`); c != 403 {
		t.Errorf("viewer ack: %d, want 403", c)
	}
	if c := post("/api/v1/incidents/"+inc.ID+"/ack", "responder", `{"note":"on it"}`); c != 200 {
		t.Errorf("responder ack: %d, want 200", c)
	}
	if c := post("/api/v1/incidents/"+inc.ID+"/close", "responder", `{}`); c != 409 {
		t.Errorf("close before review: %d, want 409", c)
	}
	if c := post("/api/v1/query", "viewer", `{"query":"SigninLogs | count"}`); c != 200 {
		t.Errorf("query: %d, want 200", c)
	}
	entries, err := r.d.st.AuditLog(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Target+" "+e.Outcome+" "+e.Actor)
		if e.Remote == "" {
			t.Errorf("entry %+v: no remote address", e)
		}
	}
	want := []string{
		"incident.close " + inc.ID + " failed token:t-responder",
		"incident.ack " + inc.ID + " ok token:t-responder",
	}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("audit trail lacks %q:\n%s", w, joined)
		}
	}
	if !strings.Contains(joined, "denied token:t-viewer") {
		t.Errorf("the viewer's refused ack is not in the audit trail:\n%s", joined)
	}
	if strings.Contains(joined, "query") {
		t.Errorf("a query (a read) is in the audit trail:\n%s", joined)
	}
}
