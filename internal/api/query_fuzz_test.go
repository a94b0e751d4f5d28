package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/api"
	"breakglass/internal/kql/tables"
	"breakglass/internal/store/sqlite"
)

// FuzzQuery posts any body to POST /api/v1/query: the answer is always
// JSON, a result or an error in the documented shape, never a crash.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{`{"query": "SigninLogs | take 1"}`, `{"query": "SigninLogs\n| where "}`, `{"query": "print x = 1", "max_rows": 3}`,
		`{"query": "AuditLogs | summarize count() by OperationName", "timeout": "1s"}`, `{"query": 5}`, `[]`, `{"query": "a\n\nb"}`, ``} {
		f.Add(s)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "bg.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h := api.New(api.Options{Store: st, Guard: tokenGuard, Catalog: tables.NewEvidence(st)})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/query", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer viewer")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 200 {
			var res api.QueryResult
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.Columns == nil || res.Rows == nil {
				t.Fatalf("200 but not a result: %v\n%s", err, rec.Body.String())
			}
			return
		}
		var e api.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%d not in the error shape: %v\n%s", rec.Code, err, rec.Body.String())
		}
	})
}
