package doctor

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"breakglass/internal/config"
	"breakglass/internal/graph/graphtest"
	"breakglass/internal/notify/notifytest"
	"breakglass/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The tenant the tests' Graph serves.
const (
	bg1ID    = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	bg1UPN   = "bg1@contoso.onmicrosoft.com"
	bg2ID    = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
	bg2UPN   = "bg2@contoso.onmicrosoft.com"
	groupID  = "5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
	clientID = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	tenantID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"

	smtpPass    = "smtp-pass-DO-NOT-PRINT"
	webhookPath = "/hook/KEY-DO-NOT-PRINT"
	ingestToken = "ingest-token-DO-NOT-PRINT"
)

// allRoles is every permission the configured features need.
var allRoles = []string{"AuditLog.Read.All", "Directory.Read.All", "User.Read.All", "GroupMember.Read.All",
	"RoleManagement.Read.Directory", "Policy.Read.All", "Domain.Read.All", "UserAuthenticationMethod.Read.All",
	"LifecycleWorkflows.Read.All", "AccessReview.Read.All"}

// fixture is a whole installation on loopback: a store, a followed
// directory, free ports, the Graph test server, an SMTP server and a
// webhook receiver. Tests change a part and run doctor on it.
type fixture struct {
	t       *testing.T
	dir     string
	store   string
	logs    string
	graph   *graphtest.Server
	smtp    *notifytest.SMTP
	hook    *httptest.Server
	hookN   atomic.Int32
	roles   []string
	smtpPrt int

	ingest, listen string
	extra          string // more YAML, appended to the config
	sources        string // more sources: entries
	storeYAML      string // replaces the store: block
	accounts       string // the accounts: block
	token          string
	now            func() time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), roles: allRoles}
	f.store = filepath.Join(f.dir, "data", "breakglass.db")
	st, err := sqlite.Open(context.Background(), f.store)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	f.logs = filepath.Join(f.dir, "logs")
	os.MkdirAll(f.logs, 0o755)
	os.WriteFile(filepath.Join(f.logs, "PT1H.json"), []byte("{}\n"), 0o644)
	f.ingest, f.listen = freeAddr(t), freeAddr(t)

	f.smtp, err = notifytest.NewSMTP(f.dir, "breakglass", smtpPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.smtp.Close)
	f.smtpPrt = f.smtp.Port
	f.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			f.hookN.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(f.hook.Close)

	g := graphtest.New(t)
	f.graph = g
	col := func(p string, items ...any) { g.Collection(p, items, 0) }
	col("/v1.0/auditLogs/signIns")
	col("/v1.0/auditLogs/directoryAudits")
	col("/v1.0/users", map[string]any{"id": bg1ID})
	col("/v1.0/roleManagement/directory/roleAssignments")
	col("/v1.0/identity/conditionalAccess/policies")
	g.Object("/v1.0/policies/authenticationMethodsPolicy", map[string]any{"id": "authenticationMethodsPolicy"})
	col("/v1.0/domains")
	col("/v1.0/reports/authenticationMethods/userRegistrationDetails")
	col("/v1.0/users/" + bg1ID + "/authentication/methods")
	col("/v1.0/groups/" + groupID + "/transitiveMembers/microsoft.graph.user")
	col("/v1.0/identityGovernance/lifecycleWorkflows/workflows")
	col("/v1.0/identityGovernance/accessReviews/definitions")
	g.Object("/v1.0/users/"+bg1ID, map[string]any{"id": bg1ID, "userPrincipalName": bg1UPN, "displayName": "Break Glass 1", "accountEnabled": true})
	g.Object("/v1.0/users/"+bg2ID, map[string]any{"id": bg2ID, "userPrincipalName": bg2UPN, "displayName": "Break Glass 2", "accountEnabled": true})
	g.Object("/v1.0/groups/"+groupID, map[string]any{"id": groupID, "displayName": "Break-glass accounts"})
	f.accounts = fmt.Sprintf("accounts:\n  - id: %s\n    upn: %s\n  - id: %s\n  - group: %s\n", bg1ID, bg1UPN, bg2ID, groupID)
	return f
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// jwt is an unsigned token with the claims doctor reads.
func jwt(roles []string, exp time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." +
		enc(map[string]any{"roles": roles, "appid": clientID, "tid": tenantID, "exp": exp.Unix()}) + ".c2lnbmF0dXJl"
}

func (f *fixture) config() string {
	f.t.Helper()
	storeBlock := "store:\n  path: " + f.store + "\n"
	if f.storeYAML != "" {
		storeBlock = f.storeYAML
	}
	cfg := fmt.Sprintf(`%s%sserver:
  listen: %s
sources:
  - type: file
    name: exports
    path: %s
  - type: http
    name: push
    listen: %s
    token: %s
  - type: graph
    name: entra
%sgraph:
  auth: access_token
  token_env: DOCTOR_TEST_TOKEN
  base_url: %s
notify:
  groups:
    - name: oncall
      channels:
        - type: email
          host: %s
          port: %d
          ca_file: %s
          username: breakglass
          password: %s
          from: breakglass@contoso.com
          to: [oncall@contoso.com]
        - type: webhook
          url: %s
          schema: breakglass
        - type: console
%s`, f.accounts, storeBlock, f.listen, f.logs, f.ingest, ingestToken, f.sources, f.graph.URL,
		f.smtp.Host, f.smtpPrt, f.smtp.CAFile, smtpPass, f.hook.URL+webhookPath, f.extra)
	p := filepath.Join(f.dir, "breakglass.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// run runs doctor on the fixture.
func (f *fixture) run(send bool) Report {
	f.t.Helper()
	now := f.now
	if now == nil {
		now = time.Now
	}
	tok := f.token
	if tok == "" {
		tok = jwt(f.roles, now().Add(time.Hour))
	}
	f.t.Setenv("DOCTOR_TEST_TOKEN", tok)
	var progress bytes.Buffer
	rep := Run(context.Background(), Options{ConfigPath: f.config(), Send: send, Progress: &progress, Now: now, Timeout: 5 * time.Second})
	if !strings.Contains(progress.String(), "doctor: checking accounts") {
		f.t.Errorf("no progress lines:\n%s", progress.String())
	}
	return rep
}

// find returns the one result of check whose item contains item.
func find(t *testing.T, rep Report, check, item string) Result {
	t.Helper()
	var got []Result
	for _, r := range rep.Results {
		if r.Check == check && strings.Contains(r.Item, item) {
			got = append(got, r)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d results for %s %q, want 1:\n%s", len(got), check, item, table(rep))
	}
	return got[0]
}

func table(rep Report) string {
	var b bytes.Buffer
	WriteTable(&b, rep)
	return b.String()
}

// normalize makes a table stable across runs: the temporary directory,
// loopback ports and the clock's rounding.
func (f *fixture) normalize(s string) string {
	s = strings.ReplaceAll(s, f.dir, "$TMP")
	s = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(s, "127.0.0.1:PORT")
	s = regexp.MustCompile(`off by \d+s`).ReplaceAllString(s, "off by Ns")
	s = regexp.MustCompile(`valid for [0-9hms]+`).ReplaceAllString(s, "valid for 1h0m0s")
	s = regexp.MustCompile(`nc -vz 127\.0\.0\.1 \d+`).ReplaceAllString(s, "nc -vz 127.0.0.1 PORT")
	s = regexp.MustCompile(`test-\d{8}T\d{6}\.\d{3}Z`).ReplaceAllString(s, "test-TIME")
	// Migrations other branches add must not change the goldens.
	s = regexp.MustCompile(`at schema \d{4} \(\d+ migrations\)`).ReplaceAllString(s, "at schema LATEST (N migrations)")
	s = regexp.MustCompile(`(\d+) migrations pending \(\d{4}(, \d{4})*\)`).ReplaceAllString(s, "N migrations pending (LIST)")
	s = regexp.MustCompile(`this binary at \d{4}`).ReplaceAllString(s, "this binary at LATEST")
	return s
}

// golden compares got with testdata/NAME.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// noSecrets fails if any configured secret appears in the output.
func noSecrets(t *testing.T, rep Report, token string) {
	t.Helper()
	var b bytes.Buffer
	WriteTable(&b, rep)
	WriteJSON(&b, rep)
	for _, s := range []string{smtpPass, "KEY-DO-NOT-PRINT", ingestToken, token} {
		if s != "" && strings.Contains(b.String(), s) {
			t.Errorf("the output holds a secret %q:\n%s", s, b.String())
		}
	}
}

// createStoreAt builds the SQLite store a breakglass with only the first n
// migrations would have left: those migrations' SQL, recorded in
// schema_migrations as migrate records them.
func createStoreAt(t *testing.T, path string, n int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "store", "sqlite", "migrations", "*.sql"))
	if err != nil || len(files) < n {
		t.Fatalf("migrations: %v (%d files)", err, len(files))
	}
	sort.Strings(files)
	os.MkdirAll(filepath.Dir(path), 0o700)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, file := range files[:n] {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(file), "_", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?)`, v, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			t.Fatal(err)
		}
	}
}

// createExtraMigration records a migration this binary does not have, as
// a newer breakglass would have.
func createExtraMigration(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?)`, v, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
