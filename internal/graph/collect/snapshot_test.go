package collect

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"testing"
)

// TestCollectSnapshotEqualsLoad: the in-memory collection the live audit
// uses gives exactly what Collect writes and Load reads back, refusals
// and partial datasets included.
func TestCollectSnapshotEqualsLoad(t *testing.T) {
	for _, name := range []string{"complete", "refusals"} {
		t.Run(name, func(t *testing.T) {
			tn := newTenant(t, 5)
			if name == "refusals" {
				tn.fail("/identityGovernance/lifecycleWorkflows/workflows", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
				tn.fail("select:signInActivity", 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
				tn.fail("suffix:/authentication/methods", 403, "Authorization_RequestDenied", "Insufficient privileges.")
			}
			dir := t.TempDir()
			if _, err := Collect(context.Background(), tn.client(), options(dir)); err != nil {
				t.Fatal(err)
			}
			want, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			o := options("")
			got, err := CollectSnapshot(context.Background(), tn.client(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != "" {
				t.Errorf("Dir = %q, want empty for an in-memory snapshot", got.Dir)
			}
			if !reflect.DeepEqual(got.Manifest, want.Manifest) {
				t.Errorf("manifests differ:\nmemory %+v\ndisk   %+v", got.Manifest, want.Manifest)
			}
			if len(got.Datasets) != len(want.Datasets) || len(got.Datasets) < 20 {
				t.Errorf("%d datasets in memory, %d on disk", len(got.Datasets), len(want.Datasets))
			}
			for name, raw := range want.Datasets {
				if !bytes.Equal(got.Datasets[name], raw) {
					t.Errorf("dataset %s differs:\nmemory %s\ndisk   %s", name, got.Datasets[name], raw)
				}
			}
			if name == "refusals" && !slices.ContainsFunc(got.Manifest.Failed, func(f Failure) bool { return f.Partial }) {
				t.Error("no partial failure recorded; the refusals did not take effect")
			}
		})
	}
}
