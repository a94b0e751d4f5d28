package scan

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/detect"
)

// The fail-closed proof: every mangled field of issue 7 item 1, in every
// shape a record arrives in, still raises the rule it would have raised
// (or bg.unparsed when the identity itself cannot be read), with the raw
// record kept, the unreadable field named and an unknown time flagged; and
// records that decode cleanly and name someone else stay silent.

const (
	bg1UPN   = "bg-admin1@contoso.onmicrosoft.com"
	aliceID  = "0a0a0a0a-1111-4222-8333-444455556666"
	aliceUPN = "alice@contoso.com"
)

// missing omits a field.
type missingT struct{}

var missing = missingT{}

// fields is an ordered JSON object; values that are missing are left out.
type fields []kv

type kv struct {
	k string
	v any
}

func (f fields) set(k string, v any) fields {
	out := slices.Clone(f)
	for i := range out {
		if out[i].k == k {
			out[i].v = v
			return out
		}
	}
	return append(out, kv{k, v})
}

func (f fields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, e := range f {
		if _, ok := e.v.(missingT); ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		if raw, ok := e.v.(rawJSON); ok {
			b.WriteString(string(raw))
			continue
		}
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// rawJSON is written as it is.
type rawJSON string

// signIn and audit are shape-neutral records; each case mangles them.
type signIn struct {
	time, userID, upn, display, status any
}

type audit struct {
	extra     any // the legacy "identity" field
	time      any
	initiator any // the initiatedBy value
	targets   any // the targetResources value
}

func okSignIn() signIn {
	return signIn{time: "2024-06-20T05:12:33Z", userID: bg1, upn: bg1UPN, display: "Break Glass", status: fields{{"errorCode", 0}}}
}

func okAudit() audit {
	return audit{
		extra:     missing,
		time:      "2024-06-20T05:12:33Z",
		initiator: fields{{"user", fields{{"id", aliceID}, {"userPrincipalName", aliceUPN}}}},
		targets:   []any{fields{{"id", bg1}, {"type", "User"}, {"userPrincipalName", bg1UPN}}},
	}
}

func j(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Renderers: one record of each shape. CSV cannot carry JSON types at the
// top level (every cell is text), so numbers there are text too.
func diagSignIn(s signIn) []byte {
	return []byte(j(fields{{"time", s.time}, {"resourceId", "/tenants/x/providers/Microsoft.aadiam"}, {"operationName", "Sign-in activity"},
		{"category", "SignInLogs"}, {"properties", fields{{"id", "si-1"}, {"userDisplayName", s.display}, {"userPrincipalName", s.upn},
			{"userId", s.userID}, {"appDisplayName", "Azure Portal"}, {"status", s.status}}}}))
}

func diagAudit(a audit) []byte {
	return []byte(j(fields{{"time", a.time}, {"operationName", "Update user"}, {"category", "AuditLogs"},
		{"properties", fields{{"id", "Directory_fc"}, {"category", "UserManagement"}, {"result", "success"},
			{"activityDisplayName", "Update user"}, {"identity", a.extra}, {"initiatedBy", a.initiator}, {"targetResources", a.targets}}}}))
}

var signInShapes = map[string]func(s signIn) []byte{
	"graph": func(s signIn) []byte {
		return []byte(j(fields{{"id", "si-1"}, {"createdDateTime", s.time}, {"userDisplayName", s.display}, {"userPrincipalName", s.upn},
			{"userId", s.userID}, {"appDisplayName", "Azure Portal"}, {"ipAddress", "203.0.113.7"}, {"status", s.status}}))
	},
	"diagnostic": diagSignIn,
	"eventhub": func(s signIn) []byte {
		return []byte(`{"records":[` + string(diagSignIn(s)) + `]}`)
	},
	"la-json": func(s signIn) []byte {
		return []byte(j([]any{fields{{"TenantId", "t"}, {"TimeGenerated", s.time}, {"Id", "si-1"}, {"UserPrincipalName", s.upn},
			{"UserDisplayName", s.display}, {"UserId", s.userID}, {"AppDisplayName", "Azure Portal"}, {"ResultType", "0"},
			{"Status", s.status}, {"Type", "SigninLogs"}}}))
	},
	"la-csv": func(s signIn) []byte {
		return csvOf([]string{"TenantId", "TimeGenerated [UTC]", "Id", "UserPrincipalName", "UserDisplayName", "UserId", "AppDisplayName", "ResultType", "Status", "Type"},
			[]any{"t", s.time, "si-1", s.upn, s.display, s.userID, "Azure Portal", "0", s.status, "SigninLogs"})
	},
}

var auditShapes = map[string]func(a audit) []byte{
	"graph": func(a audit) []byte {
		return []byte(j(fields{{"id", "Directory_fc"}, {"category", "UserManagement"}, {"result", "success"}, {"activityDisplayName", "Update user"},
			{"activityDateTime", a.time}, {"loggedByService", "Core Directory"}, {"identity", a.extra}, {"initiatedBy", a.initiator}, {"targetResources", a.targets}}))
	},
	"diagnostic": diagAudit,
	"eventhub": func(a audit) []byte {
		return []byte(`{"records":[` + string(diagAudit(a)) + `]}`)
	},
	"la-json": func(a audit) []byte {
		return []byte(j([]any{fields{{"TenantId", "t"}, {"TimeGenerated", a.time}, {"Id", "Directory_fc"}, {"OperationName", "Update user"},
			{"Category", "UserManagement"}, {"Result", "success"}, {"ActivityDisplayName", "Update user"}, {"Identity", a.extra},
			{"InitiatedBy", a.initiator}, {"TargetResources", a.targets}, {"Type", "AuditLogs"}}}))
	},
	"la-csv": func(a audit) []byte {
		return csvOf([]string{"TenantId", "TimeGenerated [UTC]", "Id", "OperationName", "Category", "Result", "ActivityDisplayName", "InitiatedBy", "TargetResources", "Type"},
			[]any{"t", a.time, "Directory_fc", "Update user", "UserManagement", "success", "Update user", a.initiator, a.targets, "AuditLogs"})
	},
}

// csvOf writes a header and one row; dynamic values are JSON text, as the
// portal exports them, and a missing value is an empty cell.
func csvOf(header []string, row []any) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(header)
	cells := make([]string, len(row))
	for i, v := range row {
		switch v := v.(type) {
		case missingT:
		case string:
			cells[i] = v
		case fields, []any, map[string]any:
			cells[i] = j(v)
		default:
			cells[i] = fmt.Sprint(v)
		}
	}
	_ = w.Write(cells)
	w.Flush()
	return b.Bytes()
}

type fcWant struct {
	rule        string // "" = silent
	account     string // id of the account named
	unreadable  string // a substring of the alert's Unreadable, "" = none expected
	timeUnknown bool
	eventTime   time.Time // checked when set
	skipShapes  []string  // shapes where the mangling cannot be written
}

func TestFailClosedSignIns(t *testing.T) {
	t2007 := time.Date(2007, 1, 9, 9, 41, 0, 0, time.UTC)
	cases := []struct {
		name string
		mut  func(s *signIn)
		want fcWant
	}{
		{"clean", func(s *signIn) {}, fcWant{rule: "bg.signin", account: bg1}},
		{"time with offset after PM", func(s *signIn) { s.time = "1/9/2007 10:41:00 AM +01:00" }, fcWant{rule: "bg.signin", account: bg1, eventTime: t2007}},
		{"time RFC 1123", func(s *signIn) { s.time = "Tue, 09 Jan 2007 09:41:00 GMT" }, fcWant{rule: "bg.signin", account: bg1, eventTime: t2007}},
		{"time epoch seconds", func(s *signIn) { s.time = t2007.Unix() }, fcWant{rule: "bg.signin", account: bg1, eventTime: t2007}},
		{"time epoch milliseconds", func(s *signIn) { s.time = t2007.UnixMilli() }, fcWant{rule: "bg.signin", account: bg1, eventTime: t2007}},
		{"time epoch seconds as text", func(s *signIn) { s.time = fmt.Sprint(t2007.Unix()) }, fcWant{rule: "bg.signin", account: bg1, eventTime: t2007}},
		{"time with 12 fractional digits", func(s *signIn) { s.time = "2007-01-09T09:41:00.000000000000Z" }, fcWant{rule: "bg.signin", account: bg1, eventTime: t2007}},
		{"time before 2000", func(s *signIn) { s.time = "1999-12-31T23:59:59Z" }, fcWant{rule: "bg.signin", account: bg1, eventTime: time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)}},
		{"time empty", func(s *signIn) { s.time = "" }, fcWant{rule: "bg.signin", account: bg1, timeUnknown: true, unreadable: "no timestamp"}},
		{"time missing", func(s *signIn) { s.time = missing }, fcWant{rule: "bg.signin", account: bg1, timeUnknown: true, unreadable: "no timestamp"}},
		{"time garbage", func(s *signIn) { s.time = "yesterday-ish" }, fcWant{rule: "bg.signin", account: bg1, timeUnknown: true, unreadable: "unrecognised timestamp"}},
		{"time an object", func(s *signIn) { s.time = fields{{"t", 1}} }, fcWant{rule: "bg.signin", account: bg1, timeUnknown: true, unreadable: "unrecognised timestamp"}},
		{"userId a number, UPN intact", func(s *signIn) { s.userID = 12345 }, fcWant{rule: "bg.signin", account: bg1, unreadable: "serId"}},
		{"userId an object, UPN intact", func(s *signIn) { s.userID = fields{{"v", 1}} }, fcWant{rule: "bg.signin", account: bg1, unreadable: "serId"}},
		{"userId in braces", func(s *signIn) { s.userID = "{" + strings.ToUpper(bg1) + "}"; s.upn = missing }, fcWant{rule: "bg.signin", account: bg1}},
		{"userId without hyphens, UPN intact", func(s *signIn) { s.userID = strings.ReplaceAll(bg1, "-", "") }, fcWant{rule: "bg.signin", account: bg1, unreadable: "not an object id"}},
		{"userId as urn", func(s *signIn) { s.userID = "urn:uuid:" + bg1; s.upn = missing }, fcWant{rule: "bg.signin", account: bg1}},
		{"status wrong-typed", func(s *signIn) { s.status = "oops" }, fcWant{rule: "bg.signin", account: bg1, unreadable: "tatus", skipShapes: []string{"la-csv"}}},
		{"userId a number, UPN someone else's, account named elsewhere", func(s *signIn) { s.userID = 12345; s.upn = aliceUPN; s.display = bg1 },
			fcWant{rule: "bg.unparsed", account: bg1, unreadable: "serId", timeUnknown: false}},
		{"no user at all, account named elsewhere", func(s *signIn) { s.userID = missing; s.upn = missing; s.display = bg1UPN },
			fcWant{rule: "bg.unparsed", account: bg1, unreadable: "names no user"}},
		// Traps: clean records that name someone else stay silent, even
		// when an account's id or UPN occurs elsewhere in them.
		{"trap: someone else, account in display name", func(s *signIn) { s.userID = aliceID; s.upn = aliceUPN; s.display = bg1UPN }, fcWant{}},
		{"trap: someone else's id with an account's UPN", func(s *signIn) { s.userID = aliceID }, fcWant{}},
	}
	for _, tc := range cases {
		for _, shape := range sortedKeys(signInShapes) {
			if slices.Contains(tc.want.skipShapes, shape) {
				continue
			}
			t.Run(tc.name+"/"+shape, func(t *testing.T) {
				s := okSignIn()
				tc.mut(&s)
				checkFailClosed(t, signInShapes[shape](s), tc.want)
			})
		}
	}
}

func TestFailClosedAudits(t *testing.T) {
	bgTarget := fields{{"id", bg1}, {"type", "User"}, {"userPrincipalName", bg1UPN}}
	bgUser := fields{{"user", fields{{"id", bg1}, {"userPrincipalName", bg1UPN}}}}
	cases := []struct {
		name string
		mut  func(a *audit)
		want fcWant
	}{
		{"clean", func(a *audit) {}, fcWant{rule: "bg.change", account: bg1}},
		{"activityDateTime unparsable", func(a *audit) { a.time = "32/13/2024 25:61" }, fcWant{rule: "bg.change", account: bg1, timeUnknown: true, unreadable: "unrecognised timestamp"}},
		{"activityDateTime missing", func(a *audit) { a.time = missing }, fcWant{rule: "bg.change", account: bg1, timeUnknown: true, unreadable: "no timestamp"}},
		{"activityDateTime epoch ms", func(a *audit) { a.time = int64(1718860353000) }, fcWant{rule: "bg.change", account: bg1, eventTime: time.UnixMilli(1718860353000).UTC()}},
		{"wrong-typed unrelated target (string) next to the account", func(a *audit) { a.targets = []any{"garbage", bgTarget} },
			fcWant{rule: "bg.change", account: bg1, unreadable: "[0]: expected an object"}},
		{"wrong-typed unrelated target (number id) next to the account", func(a *audit) { a.targets = []any{fields{{"id", 42}}, bgTarget} },
			fcWant{rule: "bg.change", account: bg1, unreadable: "[0].id: expected a string"}},
		{"modifiedProperties wrong-typed on the account", func(a *audit) {
			a.targets = []any{bgTarget.set("modifiedProperties", "not a list")}
		}, fcWant{rule: "bg.change", account: bg1, unreadable: "modifiedProperties"}},
		{"targets one object, not a list", func(a *audit) { a.targets = bgTarget }, fcWant{rule: "bg.change", account: bg1}},
		{"target id in braces", func(a *audit) { a.targets = []any{fields{{"id", "{" + bg1 + "}"}}} }, fcWant{rule: "bg.change", account: bg1}},
		{"initiator id a number, UPN intact", func(a *audit) {
			a.initiator = fields{{"user", fields{{"id", 7}, {"userPrincipalName", bg1UPN}}}}
			a.targets = []any{}
		}, fcWant{rule: "bg.activity", account: bg1, unreadable: "user.id"}},
		{"initiator by the account", func(a *audit) { a.initiator = bgUser; a.targets = []any{} }, fcWant{rule: "bg.activity", account: bg1}},
		{"initiator user a string naming the account", func(a *audit) {
			a.initiator = fields{{"user", bg1}}
			a.targets = []any{}
		}, fcWant{rule: "bg.unparsed", account: bg1, unreadable: "nitiatedBy"}},
		{"targets unreadable, naming the account", func(a *audit) { a.targets = 17.5; a.initiator = fields{{"app", fields{{"displayName", bg1UPN}}}} },
			fcWant{rule: "bg.unparsed", account: bg1, unreadable: "argetResources", skipShapes: []string{"la-csv"}}},
		{"no initiator or targets (another schema), naming the account", func(a *audit) {
			a.initiator, a.targets, a.extra = missing, missing, bg1UPN
		}, fcWant{rule: "bg.unparsed", account: bg1, unreadable: "no initiator or targets", skipShapes: []string{"la-csv"}}},
		{"trap: someone else on someone else, account in a modified property", func(a *audit) {
			a.targets = []any{fields{{"id", aliceID}, {"modifiedProperties", []any{fields{{"displayName", "Manager"}, {"newValue", bg1UPN}}}}}}
		}, fcWant{}},
	}
	for _, tc := range cases {
		for _, shape := range sortedKeys(auditShapes) {
			if slices.Contains(tc.want.skipShapes, shape) {
				continue
			}
			t.Run(tc.name+"/"+shape, func(t *testing.T) {
				a := okAudit()
				tc.mut(&a)
				checkFailClosed(t, auditShapes[shape](a), tc.want)
			})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkFailClosed scans in, fast path and exhaustive, and checks the one
// alert it must raise (or that it raises none).
func checkFailClosed(t *testing.T, in []byte, w fcWant) {
	t.Helper()
	for _, exhaustive := range []bool{false, true} {
		var problems []Problem
		s := New(Options{Accounts: testAccounts(), Exhaustive: exhaustive, Problem: func(p Problem) { problems = append(problems, p) }})
		var st Stats
		var got []Finding
		if err := s.Scan(context.Background(), "in", bytes.NewReader(in), &st, func(f Finding) error { got = append(got, f); return nil }); err != nil {
			t.Fatal(err)
		}
		if w.rule == "" {
			if len(got) != 0 {
				t.Fatalf("exhaustive=%v: a clean record naming someone else alerted: %+v\n%s", exhaustive, got[0].Alert, in)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("exhaustive=%v: %d alerts, want 1 %s\nrecord: %s\nproblems: %v\nstats: %+v", exhaustive, len(got), w.rule, in, problems, st)
		}
		f := got[0]
		a := f.Alert
		if a.Rule != w.rule || a.AccountID != w.account {
			t.Fatalf("alert %s for %q, want %s for %q: %+v", a.Rule, a.AccountID, w.rule, w.account, a)
		}
		if len(f.Raw) == 0 || !bytes.Contains(in, f.Raw) && !bytes.Contains(f.Raw, []byte(`"Type":`)) {
			t.Errorf("raw record not kept: %q", f.Raw)
		}
		joined := strings.Join(a.Unreadable, "; ")
		switch {
		case w.unreadable == "" && joined != "" && a.Rule != detect.RuleUnparsed:
			t.Errorf("unexpected unreadable fields %q", joined)
		case w.unreadable != "" && !strings.Contains(joined, w.unreadable):
			t.Errorf("unreadable = %q, want it to name %q", joined, w.unreadable)
		}
		if a.EventTimeUnknown != w.timeUnknown {
			t.Errorf("EventTimeUnknown = %v, want %v (event time %v)", a.EventTimeUnknown, w.timeUnknown, a.EventTime)
		}
		if a.EventTimeUnknown && (a.EventTime.IsZero() || time.Since(a.EventTime) > time.Minute) {
			t.Errorf("unknown event time is not the ingest time: %v", a.EventTime)
		}
		if !w.eventTime.IsZero() && !a.EventTime.Equal(w.eventTime) {
			t.Errorf("event time %v, want %v", a.EventTime, w.eventTime)
		}
		degraded := joined != ""
		alerted := slices.ContainsFunc(problems, func(p Problem) bool { return p.Alerted })
		if degraded && !alerted {
			t.Errorf("a degraded alert was not reported as an alerted problem: %v", problems)
		}
		if a.Rule == detect.RuleUnparsed && (st.Unparsed != 1 || a.Annotations["reason"] == "") {
			t.Errorf("bg.unparsed not counted or without reason: %+v %+v", st, a.Annotations)
		}
		if a.Rule != detect.RuleUnparsed && degraded && st.Degraded != 1 {
			t.Errorf("degraded alert not counted: %+v", st)
		}
	}
}
