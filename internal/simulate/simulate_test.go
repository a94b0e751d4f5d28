package simulate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/entra"
)

// rec is a record reduced to what ground truth talks about, whatever shape
// it was written in.
type rec struct {
	id, category     string
	userID, upn      string // sign-ins
	actorID, actorUP string // audits
	targets          [][2]string
}

func runGen(t testing.TB, o Options) ([]byte, []Truth, Stats) {
	t.Helper()
	var out, truth bytes.Buffer
	st, err := Generate(context.Background(), &out, o, &truth)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	var ts []Truth
	sc := bufio.NewScanner(&truth)
	for sc.Scan() {
		var tr Truth
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatalf("truth line %q: %v", sc.Text(), err)
		}
		ts = append(ts, tr)
	}
	return out.Bytes(), ts, st
}

func lines(b []byte) [][]byte {
	var ls [][]byte
	for l := range bytes.Lines(b) {
		if l = bytes.TrimRight(l, "\r\n"); len(l) > 0 {
			ls = append(ls, l)
		}
	}
	return ls
}

func str(v any) string { s, _ := v.(string); return s }

// dyn reads a dynamic column that may be an object or JSON text.
func dyn(t testing.TB, v any) any {
	if s, ok := v.(string); ok && s != "" && (s[0] == '{' || s[0] == '[') {
		var x any
		if err := json.Unmarshal([]byte(s), &x); err != nil {
			t.Fatalf("dynamic column %q: %v", s, err)
		}
		return x
	}
	return v
}

var eventTypeCategory = map[string]string{
	"interactiveUser": entra.CategorySignIn, "nonInteractiveUser": entra.CategoryNonInteractive,
	"servicePrincipal": entra.CategoryServicePrincipal, "managedIdentity": entra.CategoryManagedIdentity,
}

var tableCategory = map[string]string{
	"SigninLogs": entra.CategorySignIn, "AADNonInteractiveUserSignInLogs": entra.CategoryNonInteractive,
	"AADServicePrincipalSignInLogs": entra.CategoryServicePrincipal, "AADManagedIdentitySignInLogs": entra.CategoryManagedIdentity,
	"AuditLogs": entra.CategoryAudit,
}

func auditRec(t testing.TB, r *rec, initiatedBy, targets any) {
	if ib, ok := dyn(t, initiatedBy).(map[string]any); ok {
		if u, ok := ib["user"].(map[string]any); ok {
			r.actorID, r.actorUP = str(u["id"]), str(u["userPrincipalName"])
		}
	}
	ts, _ := dyn(t, targets).([]any)
	for _, x := range ts {
		m := x.(map[string]any)
		r.targets = append(r.targets, [2]string{str(m["id"]), str(m["userPrincipalName"])})
	}
}

// fromDiag reads a diagnostic-settings record.
func fromDiag(t testing.TB, m map[string]any) rec {
	p := m["properties"].(map[string]any)
	r := rec{category: str(m["category"])}
	if r.category == entra.CategoryAudit {
		r.id = str(p["id"])
		auditRec(t, &r, p["initiatedBy"], p["targetResources"])
		return r
	}
	r.id, r.userID, r.upn = str(p["id"]), str(p["userId"]), str(p["userPrincipalName"])
	if r.id == "" {
		r.id = str(p["requestId"]) // MicrosoftGraphActivityLogs
	}
	return r
}

func fromGraphPage(t testing.TB, m map[string]any) []rec {
	ctx := str(m["@odata.context"])
	vals := m["value"].([]any)
	if len(vals) == 0 || len(vals) > 100 {
		t.Fatalf("graph page with %d records", len(vals))
	}
	var out []rec
	for _, v := range vals {
		o := v.(map[string]any)
		switch {
		case strings.HasSuffix(ctx, "#auditLogs/signIns"):
			types := o["signInEventTypes"].([]any)
			r := rec{id: str(o["id"]), category: eventTypeCategory[str(types[0])], userID: str(o["userId"]), upn: str(o["userPrincipalName"])}
			out = append(out, r)
		case strings.HasSuffix(ctx, "#auditLogs/directoryAudits"):
			r := rec{id: str(o["id"]), category: entra.CategoryAudit}
			auditRec(t, &r, o["initiatedBy"], o["targetResources"])
			out = append(out, r)
		default:
			t.Fatalf("unexpected @odata.context %q", ctx)
		}
	}
	return out
}

func fromLA(t testing.TB, m map[string]any) rec {
	r := rec{id: str(m["Id"]), category: tableCategory[str(m["Type"])]}
	if r.category == "" {
		t.Fatalf("LA row of unknown table %q", m["Type"])
	}
	if _, ok := m["TimeGenerated"].(string); !ok {
		t.Fatalf("LA row without TimeGenerated: %v", m)
	}
	if r.category == entra.CategoryAudit {
		auditRec(t, &r, m["InitiatedBy"], m["TargetResources"])
		return r
	}
	r.userID, r.upn = str(m["UserId"]), str(m["UserPrincipalName"])
	return r
}

// parse reads any shape back into recs, failing on anything malformed.
func parse(t testing.TB, shape string, b []byte) []rec {
	t.Helper()
	var out []rec
	obj := func(l []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%s: invalid JSON line %.200q: %v", shape, l, err)
		}
		return m
	}
	switch shape {
	case ShapeLAJSON:
		var rows []map[string]any
		if err := json.Unmarshal(b, &rows); err != nil {
			t.Fatalf("la-json: %v", err)
		}
		for _, m := range rows {
			out = append(out, fromLA(t, m))
		}
		return out
	case ShapeLACSV:
		cr := csv.NewReader(bytes.NewReader(b))
		all, err := cr.ReadAll() // also enforces one column count per file
		if err != nil {
			t.Fatalf("la-csv: %v", err)
		}
		header := all[0]
		if !slices.Contains(header, "TimeGenerated [UTC]") {
			t.Fatalf("la-csv header lacks TimeGenerated [UTC]: %v", header)
		}
		for _, row := range all[1:] {
			m := map[string]any{}
			for i, v := range row {
				if v != "" {
					m[strings.TrimSuffix(header[i], " [UTC]")] = v
				}
			}
			if _, err := time.Parse(layoutLocale, row[slices.Index(header, "TimeGenerated [UTC]")]); err != nil {
				t.Fatalf("la-csv TimeGenerated: %v", err)
			}
			out = append(out, fromLA(t, m))
		}
		return out
	}
	for _, l := range lines(b) {
		m := obj(l)
		switch {
		case m["records"] != nil:
			rs := m["records"].([]any)
			if len(rs) < 1 || len(rs) > 200 {
				t.Fatalf("eventhub payload with %d records", len(rs))
			}
			for _, x := range rs {
				out = append(out, fromDiag(t, x.(map[string]any)))
			}
		case m["@odata.context"] != nil:
			out = append(out, fromGraphPage(t, m)...)
		case m["properties"] != nil:
			out = append(out, fromDiag(t, m))
		case m["Type"] != nil:
			out = append(out, fromLA(t, m))
		default:
			t.Fatalf("%s: unrecognised line %.200q", shape, l)
		}
	}
	return out
}

func TestShapes(t *testing.T) {
	accts := NewAccountSetForTest()
	for _, shape := range Shapes {
		t.Run(shape, func(t *testing.T) {
			o := Options{Seed: 7, Count: 2000, Shape: shape, BGShare: 0.05}
			b, truth, st := runGen(t, o)
			recs := parse(t, shape, b)
			if int64(len(recs)) != st.Records || len(recs) != o.Count {
				t.Fatalf("parsed %d records, stats say %d, asked for %d", len(recs), st.Records, o.Count)
			}
			if st.Bytes != int64(len(b)) {
				t.Errorf("Stats.Bytes = %d, wrote %d", st.Bytes, len(b))
			}

			byID := map[string]rec{}
			cats := map[string]int{}
			for _, r := range recs {
				if r.id == "" {
					t.Fatalf("record without id: %+v", r)
				}
				// RiskyUsers records are keyed by the user's object id, as
				// in Entra; every other record has an id of its own.
				if _, dup := byID[r.id]; dup && r.category != "RiskyUsers" {
					t.Fatalf("duplicate id %s", r.id)
				}
				byID[r.id] = r
				cats[r.category]++
			}
			// The core categories are generated as background; the others
			// (OtherCategories) only in shapes that carry a category.
			for _, c := range catNames {
				if cats[c] == 0 {
					t.Errorf("no %s records", c)
				}
			}
			carriesOther := shape == ShapeStorage || shape == ShapeEventHub || shape == ShapeMixed
			for _, c := range OtherCategories {
				if (cats[c] > 0) != carriesOther && st.ByCategory[c] > 0 {
					t.Errorf("%s: %d records, want them only in shapes with a category", c, cats[c])
				}
			}
			for c, n := range cats {
				if st.ByCategory[c] != int64(n) {
					t.Errorf("Stats.ByCategory[%s] = %d, parsed %d", c, st.ByCategory[c], n)
				}
			}
			checkTruth(t, accts, byID, truth, st)
		})
	}
}

// NewAccountSetForTest is the detector's own matcher, so that ground truth
// is checked with the same case-insensitive, id-first rules.
func NewAccountSetForTest() *entra.AccountSet { return entra.NewAccountSet(DemoAccounts()) }

func checkTruth(t *testing.T, accts *entra.AccountSet, byID map[string]rec, truth []Truth, st Stats) {
	t.Helper()
	if int64(len(truth)) != st.BGEvents {
		t.Fatalf("%d truth lines, Stats.BGEvents = %d", len(truth), st.BGEvents)
	}
	inTruth := map[string]bool{}
	for _, tr := range truth {
		r, ok := byID[tr.EventID]
		if !ok {
			t.Fatalf("truth event %s not in output", tr.EventID)
		}
		inTruth[tr.EventID] = true
		if r.category != tr.Category {
			t.Errorf("%s: truth category %s, record %s", tr.EventID, tr.Category, r.category)
		}
		got := rulesOf(accts, r, tr.AccountID)
		if !slices.Equal(got, tr.Rules) {
			t.Errorf("%s (%s): truth rules %v, record shows %v: %+v", tr.EventID, r.category, tr.Rules, got, r)
		}
	}
	// Nothing outside ground truth may mention a break-glass account.
	for id, r := range byID {
		if !inTruth[id] && len(rulesOf(accts, r, "")) > 0 {
			t.Errorf("record %s involves a break-glass account but is not in truth: %+v", id, r)
		}
	}
}

// rulesOf evaluates the three rules on a record. With account != "", only
// matches of that account count.
func rulesOf(accts *entra.AccountSet, r rec, account string) []string {
	match := func(id, upn string) bool {
		a, ok := accts.Match(id, upn)
		return ok && (account == "" || a.ID == account)
	}
	var rules []string
	switch r.category {
	case entra.CategoryAudit:
		if match(r.actorID, r.actorUP) {
			rules = append(rules, RuleActivity)
		}
		for _, tg := range r.targets {
			if match(tg[0], tg[1]) {
				rules = append(rules, RuleChange)
				break
			}
		}
	case entra.CategorySignIn, entra.CategoryNonInteractive:
		if match(r.userID, r.upn) {
			rules = append(rules, RuleSignIn)
		}
	case entra.CategoryServicePrincipal, entra.CategoryManagedIdentity:
		// apps, never break-glass sign-ins
	}
	return rules
}

func TestDeterministic(t *testing.T) {
	for _, shape := range Shapes {
		t.Run(shape, func(t *testing.T) {
			o := Options{Seed: 42, Count: 800, Shape: shape, BGShare: 0.01}
			a, ta, _ := runGen(t, o)
			b, tb, _ := runGen(t, o)
			if !bytes.Equal(a, b) || !slices.EqualFunc(ta, tb, func(x, y Truth) bool { return x.EventID == y.EventID }) {
				t.Fatal("same seed wrote different output")
			}
			o.Seed = 43
			if c, _, _ := runGen(t, o); bytes.Equal(a, c) {
				t.Fatal("different seeds wrote the same output")
			}
		})
	}
}

func TestBGShare(t *testing.T) {
	for _, tc := range []struct {
		share    float64
		lo, hi   int64
		countOpt int
	}{
		{0.01, 60, 140, 10000},
		{0, 0, 40, 10000}, // default 0.001
		{-1, 0, 0, 5000},  // none
		{0.5, 2300, 2700, 5000},
	} {
		_, truth, st := runGen(t, Options{Seed: 3, Count: tc.countOpt, BGShare: tc.share})
		if st.BGEvents < tc.lo || st.BGEvents > tc.hi || int64(len(truth)) != st.BGEvents {
			t.Errorf("BGShare %v: %d BG events (%d truth lines), want %d..%d", tc.share, st.BGEvents, len(truth), tc.lo, tc.hi)
		}
	}
}

// TestBGVariants checks that break-glass identifiers show up in the
// spellings a detector must handle.
func TestBGVariants(t *testing.T) {
	b, truth, st := runGen(t, Options{Seed: 11, Count: 2000, BGShare: 0.5, Shape: ShapeStorage})
	recs := parse(t, ShapeStorage, b)
	var upperID, mixedUPN, upnOnlyTarget int
	demo := DemoAccounts()
	isBG := func(s string) bool {
		for _, a := range demo {
			if strings.EqualFold(s, a.ID) || strings.EqualFold(s, a.UPN) {
				return true
			}
		}
		return false
	}
	for _, r := range recs {
		for _, s := range []string{r.userID, r.actorID} {
			if isBG(s) && s == strings.ToUpper(s) {
				upperID++
			}
		}
		for _, s := range []string{r.upn, r.actorUP} {
			if isBG(s) && s != strings.ToLower(s) {
				mixedUPN++
			}
		}
		for _, tg := range r.targets {
			if tg[0] == "" && isBG(tg[1]) {
				upnOnlyTarget++
			}
		}
	}
	if upperID == 0 || mixedUPN == 0 || upnOnlyTarget == 0 {
		t.Errorf("variants: upper-case id %d, mixed-case UPN %d, UPN-only target %d; want all > 0", upperID, mixedUPN, upnOnlyTarget)
	}
	rules := map[string]int{}
	both := 0
	for _, tr := range truth {
		for _, r := range tr.Rules {
			rules[r]++
		}
		if len(tr.Rules) == 2 {
			both++
		}
	}
	if rules[RuleSignIn] == 0 || rules[RuleActivity] == 0 || rules[RuleChange] == 0 || both == 0 {
		t.Errorf("rules in truth: %v, with both activity and change: %d", rules, both)
	}
	if rules[RuleSignIn] != int(st.ByRule[RuleSignIn]) {
		t.Errorf("Stats.ByRule = %v, truth %v", st.ByRule, rules)
	}
}

func TestCategories(t *testing.T) {
	_, truth, st := runGen(t, Options{Seed: 5, Count: 2000, BGShare: 0.05, Categories: []string{entra.CategoryAudit}})
	if len(st.ByCategory) != 1 || st.ByCategory[entra.CategoryAudit] != 2000 {
		t.Errorf("ByCategory = %v, want only AuditLogs", st.ByCategory)
	}
	if len(truth) == 0 {
		t.Error("no break-glass audit events")
	}
	_, truth, st = runGen(t, Options{Seed: 5, Count: 2000, BGShare: 0.05, Categories: []string{entra.CategoryServicePrincipal}})
	if len(truth) != 0 || st.ByCategory[entra.CategoryServicePrincipal] != 2000 {
		t.Errorf("service principals only: %d truth lines, %v", len(truth), st.ByCategory)
	}
}

func TestCustomAccounts(t *testing.T) {
	accts := []entra.Account{
		{ID: "11111111-2222-4333-8444-555555555555", UPN: "ea1@fabrikam.onmicrosoft.com"},
		{UPN: "ea2@fabrikam.onmicrosoft.com"}, // configured by UPN only
	}
	b, truth, _ := runGen(t, Options{Seed: 9, Count: 600, BGShare: 0.3, Accounts: accts})
	if !bytes.Contains(b, []byte("@fabrikam.onmicrosoft.com")) || bytes.Contains(b, []byte(demoDomain)) {
		t.Error("users are not on the accounts' domain")
	}
	seen := map[string]bool{}
	for _, tr := range truth {
		seen[tr.AccountID] = true
	}
	if !seen[accts[0].ID] || !seen[accts[1].UPN] {
		t.Errorf("truth accounts %v, want the id of the first and the UPN of the second", seen)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{Count: -1},
		{Count: 10, Shape: "xml"},
		{Count: 10, BGShare: 1.5},
		{Count: 10, Categories: []string{"SignIns"}},
		{},
		{Count: 10, Accounts: []entra.Account{{Name: "nameless"}}},
	} {
		if _, err := Generate(context.Background(), io.Discard, o, nil); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestStreamCancel checks that a paced stream ends cleanly on cancellation
// and leaves well-formed output behind.
func TestStreamCancel(t *testing.T) {
	for _, shape := range []string{ShapeLAJSON, ShapeEventHub} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		var out bytes.Buffer
		began := time.Now()
		st, err := Generate(ctx, &out, Options{Seed: 1, Rate: 2000, Shape: shape}, nil)
		elapsed := time.Since(began)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: err = %v, want deadline exceeded", shape, err)
		}
		// Setup time counts against the deadline, so only the upper bound
		// is tight: pacing must not run ahead of the rate.
		if st.Records < 1 || float64(st.Records) > 2000*elapsed.Seconds()+10 {
			t.Errorf("%s: %d records in %v at 2000/s", shape, st.Records, elapsed)
		}
		if recs := parse(t, shape, out.Bytes()); int64(len(recs)) != st.Records {
			t.Errorf("%s: parsed %d records, stats say %d", shape, len(recs), st.Records)
		}
	}
}

func TestDuration(t *testing.T) {
	start := time.Now()
	st, err := Generate(context.Background(), io.Discard, Options{Seed: 1, Rate: 500, Duration: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 190*time.Millisecond || el > 2*time.Second || st.Records < 50 || st.Records > 150 {
		t.Errorf("%d records in %v", st.Records, el)
	}
}

// TestTimeAdvances checks event times start at Start and never go back.
func TestTimeAdvances(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	b, _, _ := runGen(t, Options{Seed: 2, Count: 500, Start: start})
	prev := start
	for i, l := range lines(b) {
		var m struct{ Time time.Time }
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		if i == 0 && !m.Time.Equal(start) || m.Time.Before(prev) {
			t.Fatalf("record %d at %v after %v", i, m.Time, prev)
		}
		prev = m.Time
	}
	if prev.Sub(start) < 30*time.Second {
		t.Errorf("500 records span only %v", prev.Sub(start))
	}
}

func BenchmarkGenerateStorage(b *testing.B) {
	const n = 20000
	var size int64
	for b.Loop() {
		st, err := Generate(context.Background(), io.Discard, Options{Seed: 1, Count: n}, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Bytes
	}
	b.SetBytes(size)
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
