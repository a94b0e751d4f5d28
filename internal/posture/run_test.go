package posture

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeCheck gives canned results, or panics.
type fakeCheck struct {
	info Info
	run  func(env *Env) []Result
}

func (c fakeCheck) Info() Info            { return c.info }
func (c fakeCheck) Run(env *Env) []Result { return c.run(env) }

func fakeInfo(id string, order int, perAccount bool) Info {
	return Info{ID: id, Title: "Fake " + id, Severity: SeverityHigh, Requirements: []string{"R1"}, Rationale: "test", PerAccount: perAccount, Order: order}
}

// perAccount gives status st for every account.
func perAccount(id string, order int, st Status) Check {
	info := fakeInfo(id, order, true)
	return fakeCheck{info, func(env *Env) []Result {
		var out []Result
		// Reverse order: Run must sort into configuration order.
		for i := len(env.Tenant.Accounts) - 1; i >= 0; i-- {
			out = append(out, info.Result(&env.Tenant.Accounts[i], st, "%s for %s", st, env.Tenant.Accounts[i].UPN))
		}
		return out
	}}
}

func tenantWide(id string, order int, st Status) Check {
	info := fakeInfo(id, order, false)
	return fakeCheck{info, func(*Env) []Result { return []Result{info.Result(nil, st, "tenant %s", st)} }}
}

func twoAccounts() *Tenant {
	return &Tenant{Accounts: []AccountInfo{
		{Entry: "accounts[0]", ID: fxBG1, UPN: fxBG1UPN, Resolved: true},
		{Entry: "accounts[1]", ID: fxBG2, UPN: fxBG2UPN, Resolved: true},
	}}
}

// TestRunContract: a panicking check, a check that forgets an account, a
// check returning nothing, a bad status or a foreign id become error
// results naming the check; the audit carries on and results are sorted.
func TestRunContract(t *testing.T) {
	checks := []Check{
		perAccount("b-fails", 2, StatusFail),
		tenantWide("a-passes", 1, StatusPass),
		fakeCheck{fakeInfo("c-panics", 3, true), func(*Env) []Result { panic("boom") }},
		fakeCheck{fakeInfo("d-forgets", 4, true), func(env *Env) []Result {
			return []Result{fakeInfo("d-forgets", 4, true).Result(&env.Tenant.Accounts[1], StatusPass, "only bg2")}
		}},
		fakeCheck{fakeInfo("e-nothing", 5, false), func(*Env) []Result { return nil }},
		fakeCheck{fakeInfo("f-badstatus", 6, false), func(*Env) []Result {
			r := fakeInfo("f-badstatus", 6, false).Result(nil, "maybe", "hm")
			r2 := fakeInfo("f-badstatus", 6, false).Result(nil, StatusAccepted, "self-accepted")
			return []Result{r, r2}
		}},
		fakeCheck{fakeInfo("g-foreign", 7, false), func(*Env) []Result { return []Result{fakeInfo("other", 0, false).Result(nil, StatusPass, "x")} }},
	}
	rep := run(twoAccounts(), Options{Now: fixtureNow}, checks)
	type row struct {
		check, upn string
		st         Status
	}
	var got []row
	for _, r := range rep.Results {
		got = append(got, row{r.Check, r.AccountUPN, r.Status})
	}
	want := []row{
		{"a-passes", "", StatusPass},
		{"b-fails", fxBG1UPN, StatusFail},
		{"b-fails", fxBG2UPN, StatusFail},
		{"c-panics", "", StatusError},
		{"d-forgets", fxBG1UPN, StatusError},
		{"d-forgets", fxBG2UPN, StatusPass},
		{"e-nothing", "", StatusError},
		{"f-badstatus", "", StatusError},
		{"f-badstatus", "", StatusError},
		{"g-foreign", "", StatusError},
	}
	if !slices.Equal(got, want) {
		t.Errorf("results:\n got %v\nwant %v", got, want)
	}
	for _, r := range rep.Results {
		if r.Status == StatusError && !strings.Contains(r.Message, r.Check) {
			t.Errorf("error result does not name its check: %+v", r)
		}
	}
	if p := rep.Results[3]; !strings.Contains(p.Message, "crashed: boom") || len(p.Evidence) != 1 {
		t.Errorf("panic result = %+v", p)
	}
	wantSum := Summary{Total: 10, Pass: 2, Fail: 2, Error: 6}
	if rep.Summary != wantSum {
		t.Errorf("Summary = %+v, want %+v", rep.Summary, wantSum)
	}
	if len(rep.Accounts) != 2 || rep.ConditionalAccessMode != CAModeExcludeAll || !rep.Generated.Equal(fixtureNow) {
		t.Errorf("report header = %+v", rep)
	}
	// Deterministic: the same input gives the same order every time.
	for range 5 {
		again := run(twoAccounts(), Options{Now: fixtureNow}, slices.Clone(checks))
		if !slices.EqualFunc(again.Results, rep.Results, func(a, b Result) bool {
			return a.Check == b.Check && a.AccountUPN == b.AccountUPN && a.Message == b.Message
		}) {
			t.Fatal("results order differs between runs")
		}
	}
}

// TestRunDefaults: zero options get the documented run defaults, which
// the checks see.
func TestRunDefaults(t *testing.T) {
	var seen Options
	c := fakeCheck{fakeInfo("x", 0, false), func(env *Env) []Result {
		seen = env.Options
		return []Result{fakeInfo("x", 0, false).Result(nil, StatusPass, "ok")}
	}}
	before := time.Now()
	rep := run(nil, Options{}, []Check{c})
	if seen.DrillInterval != DefaultDrillInterval || seen.ConditionalAccessMode != CAModeExcludeAll || seen.Now.Before(before) {
		t.Errorf("options seen by the check = %+v", seen)
	}
	if rep.Accounts == nil || rep.Exceptions == nil || rep.Results == nil || rep.Problems != nil {
		t.Error("report slices must be empty, not null, in JSON")
	}
}

func TestRunExceptions(t *testing.T) {
	until := fixtureNow.Add(30 * 24 * time.Hour)
	past := fixtureNow.Add(-24 * time.Hour)
	checks := []Check{
		perAccount("fails", 1, StatusFail),
		perAccount("warns", 2, StatusWarn),
		perAccount("passes", 3, StatusPass),
		tenantWide("tenant-fails", 4, StatusFail),
		perAccount("errors", 5, StatusError),
		perAccount("skips", 6, StatusSkip),
	}
	ex := []Exception{
		{Check: "fails", Account: strings.ToUpper(fxBG1UPN), Reason: "key in repair", AcceptedBy: "alice", Expires: until, Where: "bg.yaml:10"},
		{Check: "warns", Reason: "known", AcceptedBy: "bob", Expires: past, Where: "bg.yaml:15"},
		{Check: "passes", Reason: "never used", AcceptedBy: "carol", Expires: until},
		{Check: "tenant-fails", Account: fxBG1, Reason: "account-specific: not for tenant-wide", AcceptedBy: "dave", Expires: until},
		{Check: "TENANT-FAILS", Reason: "accepted tenant-wide", AcceptedBy: "erin", Expires: until},
		{Check: "errors", Account: fxBG2, Reason: "by id", AcceptedBy: "frank", Expires: until},
		{Check: "skips", Reason: "skips cannot be accepted", AcceptedBy: "gina", Expires: until},
		{Check: "no-such-check", Reason: "typo", AcceptedBy: "hank", Expires: until, Where: "bg.yaml:40"},
		{Check: "fails", Account: fxBG2UPN, Reason: "no expiry", AcceptedBy: "ivan"},
	}
	rep := run(twoAccounts(), Options{Now: fixtureNow, Exceptions: ex}, checks)
	get := func(check, acct string) Result { return resultFor(t, rep, check, acct) }

	r := get("fails", fxBG1UPN)
	if r.Status != StatusAccepted || r.Exception == nil || r.Exception.AcceptedBy != "alice" || r.Exception.Expired ||
		!strings.HasPrefix(r.Message, "accepted by alice until "+until.Format(time.DateOnly)+": key in repair") || !strings.Contains(r.Message, "fail for "+fxBG1UPN) {
		t.Errorf("accepted result = %+v", r)
	}
	if r := get("fails", fxBG2UPN); r.Status != StatusFail || r.Exception == nil || !r.Exception.Expired || !strings.Contains(r.Message, "exception expired on (no date)") {
		t.Errorf("exception without expiry must not accept: %+v", r)
	}
	for _, acct := range []string{fxBG1UPN, fxBG2UPN} {
		r := get("warns", acct)
		if r.Status != StatusWarn || r.Exception == nil || !r.Exception.Expired || !strings.Contains(r.Message, "exception expired on "+past.Format(time.DateOnly)) {
			t.Errorf("expired exception = %+v", r)
		}
		if r := get("passes", acct); r.Status != StatusPass || r.Exception != nil {
			t.Errorf("a pass is never accepted: %+v", r)
		}
		if r := get("skips", acct); r.Status != StatusSkip || r.Exception != nil {
			t.Errorf("a skip is never accepted: %+v", r)
		}
	}
	if r := get("tenant-fails", ""); r.Status != StatusAccepted || r.Exception.AcceptedBy != "erin" {
		t.Errorf("tenant-wide result accepted by %+v", r.Exception)
	}
	if r := get("errors", fxBG2UPN); r.Status != StatusAccepted {
		t.Errorf("error accepted by id: %+v", r)
	}
	if r := get("errors", fxBG1UPN); r.Status != StatusError {
		t.Errorf("exception for bg2 accepted bg1: %+v", r)
	}
	u := get(CheckExceptions, "")
	if u.Status != StatusError || !strings.Contains(u.Message, "bg.yaml:40") || !strings.Contains(u.Message, `"no-such-check"`) {
		t.Errorf("unknown check exception = %+v", u)
	}
	matched := map[string]int{}
	for _, use := range rep.Exceptions {
		matched[use.AcceptedBy] = use.Matched
	}
	wantMatched := map[string]int{"alice": 1, "bob": 2, "carol": 0, "dave": 0, "erin": 1, "frank": 1, "gina": 0, "hank": 0, "ivan": 1}
	if len(rep.Exceptions) != len(ex) || !mapsEqual(matched, wantMatched) {
		t.Errorf("exception uses = %v, want %v", matched, wantMatched)
	}
	if rep.Summary.Accepted != 3 || rep.Summary.Fail != 1 || rep.Summary.Error != 2 {
		t.Errorf("Summary = %+v", rep.Summary)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestValidateExceptions(t *testing.T) {
	Register(tenantWide("validate-test-check", 999, StatusPass))
	t.Cleanup(func() {
		regMu.Lock()
		delete(registry, "validate-test-check")
		regMu.Unlock()
	})
	ex := []Exception{{Check: "validate-test-check"}, {Check: "Validate-Test-Check"}, {Check: "nope"}, {Check: ""}}
	err := ValidateExceptions(ex, func(i int) string { return "bg.yaml:" + string(rune('1'+i)) })
	if err == nil {
		t.Fatal("unknown check ids accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, `bg.yaml:3: exception names unknown check "nope"`) || !strings.Contains(msg, `bg.yaml:4: exception names unknown check ""`) ||
		strings.Contains(msg, "bg.yaml:1") || strings.Contains(msg, "bg.yaml:2") {
		t.Errorf("error = %v", err)
	}
	if err := ValidateExceptions(ex[:2], nil); err != nil {
		t.Errorf("known ids: %v", err)
	}
	if err := ValidateExceptions(ex[2:3], nil); err == nil || !strings.HasPrefix(err.Error(), "exceptions[0]:") {
		t.Errorf("default position: %v", err)
	}
}

// TestRunExceptionsOnFixture: on a real failure, an exception for one
// account accepts that account's finding only; the tenant-wide count it
// also causes stays a failure, and the report lists the use.
func TestRunExceptionsOnFixture(t *testing.T) {
	tn := loadFixture(t, "compliant", setUser(fxBG1, map[string]any{"accountEnabled": false}))
	o := fixtureOptions()
	o.Exceptions = []Exception{{Check: "accounts", Account: fxBG1UPN, Reason: "disabled while its key is replaced",
		AcceptedBy: "alice@contoso.com", Expires: fixtureNow.Add(7 * 24 * time.Hour), Where: "breakglass.yaml:31"}}
	rep := Run(tn, o)
	r := resultFor(t, rep, "accounts", fxBG1UPN)
	if r.Status != StatusAccepted || r.Exception == nil || r.Exception.Where != "breakglass.yaml:31" ||
		!strings.Contains(r.Message, "accepted by alice@contoso.com until 2026-12-07: disabled while its key is replaced") ||
		!strings.Contains(r.Message, "is disabled") {
		t.Errorf("bg1 = %+v", r)
	}
	if r := resultFor(t, rep, "accounts", ""); r.Status != StatusFail {
		t.Errorf("tenant-wide count = %s, want fail: %s", r.Status, r.Message)
	}
	if len(rep.Exceptions) != 1 || rep.Exceptions[0].Matched != 1 || rep.Exceptions[0].Expired {
		t.Errorf("Exceptions = %+v", rep.Exceptions)
	}
	if rep.Summary.Accepted != 1 || rep.Summary.Fail != 1 || len(rep.Failing(SeverityCritical)) != 1 {
		t.Errorf("Summary = %+v", rep.Summary)
	}
	// Once expired, the finding is back and says so.
	o.Now = fixtureNow.Add(8 * 24 * time.Hour)
	r = resultFor(t, Run(tn, o), "accounts", fxBG1UPN)
	if r.Status != StatusFail || !strings.Contains(r.Message, "exception expired on 2026-12-07") {
		t.Errorf("after expiry: %+v", r)
	}
}
