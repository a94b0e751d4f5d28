package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"breakglass/internal/store"
)

// postureReports: a report round-trips byte for byte with its time in
// UTC to the nanosecond, a second audit of a tenant replaces its first,
// several tenants are listed in tenant order (the "" of a config without
// tenants: first), tenant ids are lower-cased, and all of it survives a
// reopen (a restarted replica shows it).
func (s suite) postureReports(t *testing.T) {
	ctx := context.Background()
	st, path := s.fresh(t)
	if got, err := st.PostureReports(ctx); err != nil || len(got) != 0 {
		t.Fatalf("PostureReports of a new store = %v, %v; want none", got, err)
	}
	// Bytes a text column would mangle: a NUL, invalid UTF-8, a newline.
	first := []byte("{\"tenant\":\"b\",\"x\":\"\x00\xff\n\"}")
	set := func(tenant string, at time.Time, rep []byte) {
		t.Helper()
		if err := st.SetPostureReport(ctx, tenant, at, rep); err != nil {
			t.Fatalf("SetPostureReport(%q): %v", tenant, err)
		}
	}
	set("BBBB-tenant", base, first)
	set("", base.Add(time.Minute), []byte(`{"none":true}`))
	set("aaaa-tenant", base.Add(2*time.Minute), []byte(`{"a":1}`))
	replaced := []byte(`{"tenant":"b","second":true}`)
	set("bbbb-tenant", base.Add(time.Hour), replaced)
	want := []store.PostureReport{
		{Tenant: "", RanAt: base.Add(time.Minute).UTC(), Report: []byte(`{"none":true}`)},
		{Tenant: "aaaa-tenant", RanAt: base.Add(2 * time.Minute).UTC(), Report: []byte(`{"a":1}`)},
		{Tenant: "bbbb-tenant", RanAt: base.Add(time.Hour).UTC(), Report: replaced},
	}
	check := func(st store.Store, when string) {
		t.Helper()
		got, err := st.PostureReports(ctx)
		if err != nil {
			t.Fatalf("PostureReports %s: %v", when, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PostureReports %s =\n%+v\nwant\n%+v", when, got, want)
		}
		for _, p := range got {
			if p.RanAt.Location() != time.UTC {
				t.Errorf("RanAt of %q in %v, want UTC", p.Tenant, p.RanAt.Location())
			}
		}
	}
	check(st, "after three tenants and a replace")
	set("bbbb-tenant", base, first) // an older audit still replaces: the last one written is the latest
	want[2] = store.PostureReport{Tenant: "bbbb-tenant", RanAt: base.UTC(), Report: first}
	check(st, "after replacing with the first bytes")
	st.Close()
	check(s.reopen(t, path), "after reopen")
}

// postureReportsInvalid: an empty report is refused, and the refusal
// stores nothing.
func (s suite) postureReportsInvalid(t *testing.T) {
	ctx := context.Background()
	st, _ := s.fresh(t)
	if err := st.SetPostureReport(ctx, "t", base, nil); err == nil {
		t.Error("SetPostureReport of an empty report succeeded, want an error")
	}
	if got, err := st.PostureReports(ctx); err != nil || len(got) != 0 {
		t.Errorf("PostureReports after a refused write = %v, %v; want none", got, err)
	}
}
