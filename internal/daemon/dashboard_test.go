package daemon

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakglass/internal/auth"
	"breakglass/internal/incident"
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

// TestVerifyIncident: the dashboard's verdict on an incident's evidence is
// the bundle check of its segment: clean verifies; an edited entry, or an
// entry deleted after the incident's first, fails and says where.
func TestVerifyIncident(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper string
		want   string // "" for verified
	}{
		{"clean", "", ""},
		{"edited", `UPDATE evidence_log SET content = CAST('{"id":"other"}' AS BLOB) WHERE seq = 3`, "entry 3"},
		{"deleted", `DELETE FROM evidence_log WHERE seq = 3`, "entry"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := t.TempDir() + "/bg.db"
			st, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			a := storetest.Alert("evt-1", "bg.signin", time.Now().Add(-time.Minute))
			a.AccountID = bgID
			if _, err := st.AddAlert(ctx, a, storetest.Evidence(a, []byte(`{}`))); err != nil {
				t.Fatal(err)
			}
			inc, _, err := st.AttachAlert(ctx, a, strings.ToLower(bgID), store.IncidentAccount, time.Hour, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			// The entry serve's incident builder writes when it opens one.
			open, _ := json.Marshal(incident.Transition{Incident: inc.ID, Key: inc.Key, Kind: inc.Kind, To: store.IncidentOpen,
				By: "breakglass", At: inc.Opened, Note: "opened by alert " + a.ID})
			if _, err := st.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogIncident, Ref: "state:open", At: inc.Opened, Content: open}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := st.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogRecord, Ref: "r" + string(rune('0'+i)), At: time.Now(), Content: []byte(`{"id":"x"}`)}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.tamper != "" {
				db, err := sql.Open("sqlite", "file:"+path)
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range []string{"DROP TRIGGER IF EXISTS evidence_log_no_update", "DROP TRIGGER IF EXISTS evidence_log_no_delete", tt.tamper} {
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				db.Close()
			}
			d := &Daemon{st: st}
			ok, problems, err := d.verifyIncident(ctx, inc.ID)
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == "" && (!ok || len(problems) > 0):
				t.Errorf("clean incident: ok=%v %v", ok, problems)
			case tt.want != "" && (ok || !strings.Contains(strings.Join(problems, "\n"), tt.want)):
				t.Errorf("%s: ok=%v %v, want a problem naming %q", tt.name, ok, problems, tt.want)
			}
		})
	}
}
