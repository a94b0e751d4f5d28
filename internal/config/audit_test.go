package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"breakglass/internal/entra"
)

func TestUsersAndGroups(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`accounts:
  - upn: bg1@contoso.onmicrosoft.com
  - group: 5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f
    name: BG group
  - id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
  - group: 7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []entra.Account{{UPN: "bg1@contoso.onmicrosoft.com"}, {ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}}
	if got := cfg.Users(); !reflect.DeepEqual(got, wantUsers) {
		t.Errorf("Users() = %+v, want %+v", got, wantUsers)
	}
	wantGroups := []string{"5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}
	if got := cfg.Groups(); !reflect.DeepEqual(got, wantGroups) {
		t.Errorf("Groups() = %q, want %q", got, wantGroups)
	}
	// The watcher's matcher sees users only: a group's id is not a user.
	set := entra.NewAccountSet(cfg.Accounts)
	if got := set.Accounts(); !reflect.DeepEqual(got, wantUsers) {
		t.Errorf("AccountSet.Accounts() = %+v, want the users only", got)
	}
	if _, ok := set.MatchAny(wantGroups[0]); ok {
		t.Errorf("AccountSet matched a group id")
	}
	if got := cfg.Accounts[1].Label(); got != "BG group" {
		t.Errorf("Label = %q", got)
	}
	if got := cfg.Accounts[3].Label(); got != "group "+wantGroups[1] {
		t.Errorf("unnamed group Label = %q", got)
	}
}

func TestAuditSettings(t *testing.T) {
	tests := []struct {
		yaml    string
		want    AuditConfig
		wantErr string
	}{
		{yaml: "", want: defaultAudit},
		{yaml: "audit: {}", want: defaultAudit},
		{yaml: "audit: {interval: 5m, drill_interval: 1d, conditional_access_mode: BOTH, max_exclusion_group_members: 1}",
			want: AuditConfig{Interval: 5 * time.Minute, ConditionalAccessMode: CAModeBoth, DrillInterval: 24 * time.Hour, MaxExclusionGroupMembers: 1}},
		{yaml: "audit: {drill_interval: 2160h}", want: defaultAudit},
		{yaml: "audit: {interval: 299s}", wantErr: "audit.interval: must be at least 5m"},
		{yaml: "audit: {interval: 0s}", wantErr: "audit.interval: must be at least 5m"},
		{yaml: "audit: {interval: -6h}", wantErr: "audit.interval: must be at least 5m"},
		{yaml: "audit: {drill_interval: 23h}", wantErr: "audit.drill_interval: must be at least 1d"},
		{yaml: "audit: {drill_interval: 1.5d}", wantErr: "audit.drill_interval: expected a duration"},
		{yaml: "audit: {max_exclusion_group_members: -1}", wantErr: "audit.max_exclusion_group_members: must be at least 1"},
		{yaml: "audit: {conditional_access_mode: none}", wantErr: "audit.conditional_access_mode: must be one of exclude-all, phishing-resistant, both"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte("accounts: [{upn: a@b.c}]\n"+tt.yaml+"\n"), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "t.yaml:2: "+tt.wantErr) {
					t.Fatalf("error = %v, want t.yaml:2: %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Audit != tt.want {
				t.Errorf("audit = %+v, want %+v", cfg.Audit, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "0d": 0, "1d": 24 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute,
	} {
		if got, err := parseDuration(s); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"d", "-1d", "1.5d", "1d12h", "99999999999d", " 90d", "90 d"} {
		if got, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", s, got)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	for v, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 10 * time.Minute: "10m", 90 * time.Minute: "1h30m", 6 * time.Hour: "6h",
		24 * time.Hour: "1d", 90 * 24 * time.Hour: "90d", 36 * time.Hour: "36h", 90 * time.Second: "1m30s",
	} {
		if got := fmtDuration(v); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestExceptions(t *testing.T) {
	cfg, err := Parse("bg.yaml", []byte(`accounts:
  - id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
    upn: bg1@contoso.onmicrosoft.com
exceptions:
  - check: cloud-only
    account: BG1@contoso.onmicrosoft.com
    reason: r
    accepted_by: a
    expires: 2026-03-31
  - check: last-sign-in
    reason: r
    accepted_by: a
    expires: 2026-03-31T18:00:00+02:00
  - check: initial-domain
    account: 3f2504e0-4f89-11d3-9a0c-0305e82c3301
    reason: far future is allowed; the README recommends a year at most
    accepted_by: a
    expires: 2099-01-01
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Exception{
		{Check: "cloud-only", Account: "BG1@contoso.onmicrosoft.com", Reason: "r", AcceptedBy: "a", Expires: "2026-03-31",
			ExpiresAt: time.Date(2026, 3, 31, 23, 59, 59, 999999999, time.UTC), Line: 5},
		{Check: "last-sign-in", Reason: "r", AcceptedBy: "a", Expires: "2026-03-31T18:00:00+02:00",
			ExpiresAt: time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC), Line: 10},
		{Check: "initial-domain", Account: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", Reason: "far future is allowed; the README recommends a year at most", AcceptedBy: "a", Expires: "2099-01-01",
			ExpiresAt: time.Date(2099, 1, 1, 23, 59, 59, 999999999, time.UTC), Line: 14},
	}
	if len(cfg.Exceptions) != len(want) {
		t.Fatalf("got %d exceptions, want %d", len(cfg.Exceptions), len(want))
	}
	for i, e := range cfg.Exceptions {
		w := want[i]
		if !e.ExpiresAt.Equal(w.ExpiresAt) {
			t.Errorf("[%d] ExpiresAt = %v, want %v", i, e.ExpiresAt, w.ExpiresAt)
		}
		e.ExpiresAt, w.ExpiresAt = time.Time{}, time.Time{}
		if e != w {
			t.Errorf("[%d] = %+v\nwant %+v", i, e, w)
		}
	}
	// The date form holds through the last day, not up to its first second.
	if end := cfg.Exceptions[0].ExpiresAt; !end.After(time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC)) || !end.Before(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date expiry %v is not the end of that day UTC", end)
	}
	if got := cfg.Where(cfg.Exceptions[1].Line); got != "bg.yaml:10" {
		t.Errorf("Where = %q", got)
	}

	// The check ids are the posture package's; config reports unknown ones
	// where they are.
	if err := cfg.CheckExceptionIDs([]string{"cloud-only", "last-sign-in", "initial-domain"}); err != nil {
		t.Errorf("known ids rejected: %v", err)
	}
	err = cfg.CheckExceptionIDs([]string{"last-sign-in", "accounts"})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("CheckExceptionIDs = %v, want two errors", err)
	}
	if got, want := list[0].Error(), `bg.yaml:5: exceptions[0].check: unknown check "cloud-only" (known: accounts, last-sign-in)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if list[1].Line != 14 || list[1].Field != "exceptions[2].check" {
		t.Errorf("second error = %+v", list[1])
	}
}

func TestExceptionAccountWithGroups(t *testing.T) {
	// With a group listed, an account that is not in accounts: may be one of
	// its members, which only Graph knows: it is accepted.
	doc := "accounts:\n  - %s\nexceptions:\n  - {check: cloud-only, account: member@contoso.com, reason: r, accepted_by: a, expires: 2026-12-31}\n"
	if _, err := Parse("t.yaml", []byte(strings.Replace(doc, "%s", "group: 5b6c7d8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f", 1)), nil); err != nil {
		t.Errorf("member of a group rejected: %v", err)
	}
	_, err := Parse("t.yaml", []byte(strings.Replace(doc, "%s", "upn: bg@contoso.com", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "t.yaml:4: exceptions[0].account: not the id or UPN of an entry of accounts:") {
		t.Errorf("unknown account without groups: %v", err)
	}
}

// TestExpiryErrors: an expiry in the right shape but no real date says so,
// rather than asking for the shape it already has.
func TestExpiryErrors(t *testing.T) {
	for _, tc := range []struct{ expires, want string }{
		{"2026-02-30", `bg.yaml:4: exceptions[0].expires: "2026-02-30" is not a calendar date (day out of range)`},
		{"2026-13-01", `bg.yaml:4: exceptions[0].expires: "2026-13-01" is not a calendar date (month out of range)`},
		{"2026-12-01T24:00:00Z", `bg.yaml:4: exceptions[0].expires: "2026-12-01T24:00:00Z" is not a valid time (hour out of range)`},
		{"20261201", "bg.yaml:4: exceptions[0].expires: expected YYYY-MM-DD or an RFC 3339 time such as 2026-03-31T18:00:00Z"},
	} {
		_, err := Parse("bg.yaml", []byte("accounts:\n  - upn: bg1@contoso.onmicrosoft.com\nexceptions:\n  - {check: cloud-only, reason: r, accepted_by: a, expires: '"+tc.expires+"'}\n"), nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("expires %s:\n got %v\nwant %s", tc.expires, err, tc.want)
		}
	}
}
