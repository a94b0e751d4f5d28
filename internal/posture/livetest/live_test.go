package livetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"breakglass/internal/graph"
	"breakglass/internal/graph/collect"
	"breakglass/internal/graph/collect/collecttest"
	"breakglass/internal/posture"
)

// audit decodes and audits s as the audit command does.
func audit(t *testing.T, s *collect.Snapshot, now time.Time) (*posture.Tenant, *posture.Report) {
	t.Helper()
	tn, err := posture.FromSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	return tn, posture.Run(tn, posture.Options{Now: now, Source: "test"})
}

// TestLiveAuditEqualsSnapshotAudit: the audit of a tenant read live from
// Graph (collect.CollectSnapshot) gives the same tenant model and the same
// results as the audit of a snapshot collect wrote to disk from the same
// Graph (the bundled compliant fixture and a synthetic tenant, served by
// collecttest), and, for the synthetic tenant, which collect itself made,
// as the audit of the snapshot the server was serving. (The hand-written
// fixture differs from what collect writes in whitespace and in the order
// of the privileged set, so it is not compared with itself.)
func TestLiveAuditEqualsSnapshotAudit(t *testing.T) {
	fixture, err := collect.Load("../testdata/snapshots/compliant")
	if err != nil {
		t.Fatal(err)
	}
	fixture.Dir = ""
	const seed = 11
	t.Logf("synthetic tenant seed %d", seed)
	synth, err := collecttest.Synth(collecttest.SynthOptions{Seed: seed, Policies: 40, PrivilegedUsers: 30, Nesting: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		s         *collect.Snapshot
		canonical bool // s is exactly what collect writes
	}{{"compliant fixture", fixture, false}, {"synthetic", synth, true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := collecttest.Serve(t, tc.s, 3)
			c, err := graph.New(graph.Options{BaseURL: srv.URL, Tokens: graph.StaticToken("t"), MaxRetries: -1, MaxThrottleRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			o := collecttest.Options(tc.s)
			live, err := collect.CollectSnapshot(context.Background(), c, o)
			if err != nil {
				t.Fatal(err)
			}
			o.Out = t.TempDir()
			if _, err := collect.Collect(context.Background(), c, o); err != nil {
				t.Fatal(err)
			}
			disk, err := collect.Load(o.Out)
			if err != nil {
				t.Fatal(err)
			}
			now := tc.s.Manifest.Collected.Add(time.Hour)
			liveT, liveR := audit(t, live, now)
			diskT, diskR := audit(t, disk, now)
			servedT, servedR := audit(t, tc.s, now)
			for _, tn := range []*posture.Tenant{liveT, diskT, servedT} {
				tn.Snapshot = nil // Dir differs; the rest must not
			}
			if !reflect.DeepEqual(liveT, diskT) {
				t.Errorf("live and snapshot tenants differ:\nlive %+v\ndisk %+v", liveT, diskT)
			}
			if !reflect.DeepEqual(liveR, diskR) {
				t.Errorf("live and snapshot audits differ:\nlive %+v\ndisk %+v", liveR.Results, diskR.Results)
			}
			if tc.canonical && !reflect.DeepEqual(liveT, servedT) {
				t.Errorf("the tenant collected from the server differs from the one it served:\ncollected %+v\nserved    %+v", liveT, servedT)
			}
			if tc.canonical && !reflect.DeepEqual(liveR, servedR) {
				t.Errorf("the audit of the collected tenant differs from the audit of the served one:\ncollected %+v\nserved    %+v", liveR.Results, servedR.Results)
			}
			if len(liveT.Accounts) < 2 || len(liveT.Users) < 2 || len(liveT.ConditionalAccessPolicies) == 0 {
				t.Errorf("nothing much was audited: %d accounts, %d users, %d policies", len(liveT.Accounts), len(liveT.Users), len(liveT.ConditionalAccessPolicies))
			}
			t.Logf("%d results from %d checks", len(liveR.Results), len(posture.All()))
		})
	}
}

// BenchmarkAuditSynth times the audit (decode and every registered check)
// of the tenant issue 8's speed figure names: 300 Conditional Access
// policies, 500 privileged users, group nesting 10. Compare it with
// collecttest's BenchmarkCollectSynth, the collection of the same tenant.
func BenchmarkAuditSynth(b *testing.B) {
	o := collecttest.SynthOptions{Seed: 1}
	s, err := collecttest.Synth(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seed %d: %d datasets, %d privileged users, %d checks", o.Seed, len(s.Datasets), len(s.Manifest.Privileged), len(posture.All()))
	now := s.Manifest.Collected.Add(time.Hour)
	b.ReportAllocs()
	var results int
	for b.Loop() {
		tn, err := posture.FromSnapshot(s)
		if err != nil {
			b.Fatal(err)
		}
		results = len(posture.Run(tn, posture.Options{Now: now}).Results)
	}
	b.ReportMetric(float64(results), "results")
}
