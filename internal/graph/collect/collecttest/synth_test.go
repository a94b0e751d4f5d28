package collecttest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/graphtest"
)

var synthOut = flag.String("synth", "", "write the default synthetic tenant (300 policies, 500 admins, nesting 10) into this directory")

// client is the real Graph client against srv, without retries.
func client(t testing.TB, srv *graphtest.Server) graph.Lister {
	t.Helper()
	c, err := graph.New(graph.Options{BaseURL: srv.URL, Tokens: graph.StaticToken("t"), MaxRetries: -1, MaxThrottleRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameSnapshot fails unless got and want have the same manifest and the
// same dataset bytes.
func sameSnapshot(t *testing.T, got, want *collect.Snapshot) {
	t.Helper()
	if !reflect.DeepEqual(got.Manifest, want.Manifest) {
		t.Errorf("manifests differ:\ngot  %+v\nwant %+v", got.Manifest, want.Manifest)
	}
	for name, raw := range want.Datasets {
		if !bytes.Equal(got.Datasets[name], raw) {
			t.Errorf("dataset %s differs:\ngot  %.300s\nwant %.300s", name, got.Datasets[name], raw)
		}
	}
	for name := range got.Datasets {
		if _, ok := want.Datasets[name]; !ok {
			t.Errorf("dataset %s collected but not in the snapshot served", name)
		}
	}
}

// TestServeReproducesSnapshot: collecting, through the real client and
// with paging, from a server serving a snapshot gives that snapshot back,
// refusals, a missing signInActivity, a deleted approver and an
// unresolved account included.
func TestServeReproducesSnapshot(t *testing.T) {
	const seed = 7
	t.Logf("seed %d", seed)
	synth, err := Synth(SynthOptions{Seed: seed, Policies: 30, PrivilegedUsers: 40, Nesting: 4})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script func(srv *graphtest.Server, s *collect.Snapshot) // failures of the first collection
		extra  []entra.Account
	}{
		{name: "complete"},
		{name: "refusals", script: func(srv *graphtest.Server, s *collect.Snapshot) {
			srv.Fail("/v1.0/identityGovernance/lifecycleWorkflows/workflows", 403, 100, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
			srv.Fail("/v1.0/roleManagement/directory/roleEligibilitySchedules", 400, 100, "", graphtest.GraphError("AadPremiumLicenseRequired", "The tenant needs an AAD Premium 2 license."))
			for _, p := range s.Manifest.Privileged {
				srv.Fail("/v1.0/users/"+p+"/authentication/methods", 403, 100, "", graphtest.GraphError("Authorization_RequestDenied", "Insufficient privileges."))
			}
			sel := url.Values{"$select": {selectOf(endpointOf(s, collect.DatasetBreakGlassUsers))}}.Encode()
			for _, a := range s.Manifest.Accounts {
				srv.Fail("/v1.0/users/"+a.ID+"?"+sel, 403, 1, "", graphtest.GraphError("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license"))
			}
		}, extra: []entra.Account{{UPN: "gone@contoso.onmicrosoft.com"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := Serve(t, synth, 3)
			if tc.script != nil {
				tc.script(srv, synth)
			}
			o := Options(synth)
			o.Accounts = append(o.Accounts, tc.extra...)
			first, err := collect.CollectSnapshot(context.Background(), client(t, srv), o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.script == nil {
				sameSnapshot(t, first, synth)
			} else if len(first.Manifest.Failed) < 4 || len(first.Manifest.Unresolved) != 1 {
				t.Fatalf("the scripted refusals did not take: %+v %+v", first.Manifest.Failed, first.Manifest.Unresolved)
			}
			for _, f := range first.Manifest.Failed {
				t.Logf("failed: %s from=%s partial=%v %d %s", f.Name, f.From, f.Partial, f.Status, f.Hint)
			}
			// Serve what was collected, refusals and all, and collect again.
			second, err := collect.CollectSnapshot(context.Background(), client(t, Serve(t, first, 2)), Options(first))
			if err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, second, first)
		})
	}
}

func endpointOf(s *collect.Snapshot, name string) string {
	for _, d := range s.Manifest.Datasets {
		if d.Name == name {
			return d.Endpoint
		}
	}
	return ""
}

func TestSynth(t *testing.T) {
	o := SynthOptions{Seed: 42, Policies: 60, PrivilegedUsers: 50, Nesting: 10}
	t.Logf("seed %d", o.Seed)
	a, err := Synth(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Synth(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave two different tenants")
	}
	o.Seed++
	if c, _ := Synth(o); reflect.DeepEqual(a.Manifest, c.Manifest) {
		t.Error("another seed gave the same tenant")
	}
	if len(a.Manifest.Failed) != 0 || len(a.Manifest.Unresolved) != 0 {
		t.Errorf("the synthetic tenant is not collected cleanly: %+v %+v", a.Manifest.Failed, a.Manifest.Unresolved)
	}
	count := func(name string) int {
		items, ok, err := a.Items(name)
		if !ok || err != nil {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
		return len(items)
	}
	if n := count(collect.DatasetConditionalAccessPolicies); n != o.Policies {
		t.Errorf("%d policies, want %d", n, o.Policies)
	}
	if n := len(a.Manifest.Privileged); n != o.PrivilegedUsers+2 {
		t.Errorf("%d privileged users, want %d admins + 2 break-glass", n, o.PrivilegedUsers)
	}
	bg := a.Manifest.Accounts
	if len(bg) != 2 {
		t.Fatalf("accounts = %+v", bg)
	}
	for _, acc := range bg {
		if n := count(collect.KeyedName(collect.DatasetMemberOf, acc.ID)); n != o.Nesting {
			t.Errorf("break-glass %s is in %d groups, want the %d of the chain", acc.UPN, n, o.Nesting)
		}
	}
	if n := count(collect.DatasetCAGroups); n != 1 {
		t.Errorf("%d exclusion groups, want 1", n)
	}
	approvers, _, _ := a.Items(collect.DatasetRoleApprovers)
	if n := slices.IndexFunc(approvers, func(raw json.RawMessage) bool { return strings.Contains(string(raw), collect.NotFoundMarker) }); n < 0 || len(approvers) != 4 {
		t.Errorf("role_approvers = %s, want 3 approvers and the deleted one marked", approvers)
	}
	if !strings.HasSuffix(bg[0].UPN, ".onmicrosoft.com") {
		t.Errorf("break-glass UPN %s not on the initial domain", bg[0].UPN)
	}
}

// TestWriteSnapshot: a snapshot written to disk loads back equal, so a
// synthetic tenant can be audited with --snapshot. With -synth DIR it
// writes the full-size tenant there (for the speed figure).
func TestWriteSnapshot(t *testing.T) {
	o := SynthOptions{Seed: 3, Policies: 20, PrivilegedUsers: 10}
	dir := t.TempDir()
	if *synthOut != "" {
		o, dir = SynthOptions{Seed: 1}, *synthOut
	}
	t.Logf("seed %d, %d policies, %d admins, nesting %d", o.Seed, o.Policies, o.PrivilegedUsers, o.Nesting)
	s, err := Synth(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSnapshot(dir, s); err != nil {
		t.Fatal(err)
	}
	back, err := collect.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	back.Dir = ""
	sameSnapshot(t, back, s)
}

// BenchmarkCollectSynth times collect, through the real client, of the
// tenant issue 8's speed figure names (300 policies, 500 privileged users,
// nesting 10) from a loopback server serving it, 100 items a page.
func BenchmarkCollectSynth(b *testing.B) {
	o := SynthOptions{Seed: 1}
	s, err := Synth(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seed %d: %d datasets, %d privileged users", o.Seed, len(s.Datasets), len(s.Manifest.Privileged))
	srv := Serve(b, s, DefaultPageSize)
	c := client(b, srv)
	opts := Options(s)
	b.ReportAllocs()
	for b.Loop() {
		got, err := collect.CollectSnapshot(context.Background(), c, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Datasets) != len(s.Datasets) {
			b.Fatalf("%d datasets collected, want %d", len(got.Datasets), len(s.Datasets))
		}
	}
	b.ReportMetric(float64(len(srv.Requests()))/float64(b.N), "requests/op")
}
