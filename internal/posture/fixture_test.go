package posture

// Snapshot fixtures. testdata/snapshots/compliant is a tenant, in Graph's
// exact shapes, that every check passes (in the default exclude-all
// Conditional Access mode). Each failure is a mutation of it: a small
// function that edits the copied files, so a failure fixture reads as the
// one change it makes. A few mutated fixtures are also written out as
// directories (testdata/snapshots/<name>/, go test -run
// TestFailureFixtureDirs -update) for people to read and to run
// `breakglass audit --snapshot` on.
//
// The compliant tenant (contoso.onmicrosoft.com, collected fixtureCollected):
//   - bg1 (accounts[0] by id) and bg2 (accounts[1] by UPN): cloud-only,
//     enabled, on the initial managed domain, password never expires,
//     signed in successfully 46 days before the audit, one FIDO2 key each
//     (distinct AAGUIDs, no other admin has them), permanent direct active
//     Global Administrator, no personal methods, no SSPR;
//   - other admins: alice (GA, active permanent; Authenticator + WHfB;
//     the GA PIM approver), bob (GA, eligible until 2027; Authenticator +
//     phone), carol (PRA active; FIDO2 of another model), dave (PRA
//     eligible; Authenticator + OATH);
//   - Conditional Access: CA001 (all users, excludes the role-assignable
//     group fxExclGroup holding bg1+bg2), CA002 (excludes bg1, bg2
//     directly), CA003 (GA/PRA roles, phishing-resistant strength, excludes
//     the group), CA004 report-only (excludes the group), CA005 workload
//     identities only, CA006 disabled, CA007 guests only;
//   - a lifecycle workflow with an inactivity trigger whose scope holds
//     erin (Sales) only; an access review of the IT administrators group.

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/graph/collect"
)

var update = flag.Bool("update", false, "rewrite the failure fixture directories in testdata/snapshots")

// Ids and names of the compliant fixture.
const (
	fxTenant    = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	fxBG1       = "0b9f1a2c-3d4e-4f50-8a61-b7c8d9e0f101"
	fxBG2       = "0b9f1a2c-3d4e-4f50-8a61-b7c8d9e0f102"
	fxBG1UPN    = "bg1@contoso.onmicrosoft.com"
	fxBG2UPN    = "bg2@contoso.onmicrosoft.com"
	fxAlice     = "a11ce000-0000-4000-8000-000000000001"
	fxBob       = "b0b00000-0000-4000-8000-000000000002"
	fxCarol     = "ca401000-0000-4000-8000-000000000003"
	fxDave      = "da4e0000-0000-4000-8000-000000000004"
	fxErin      = "e4140000-0000-4000-8000-000000000005"
	fxExclGroup = "9a000000-0000-4000-8000-0000000000e1"
	fxITGroup   = "9a000000-0000-4000-8000-0000000000e2"
	fxWorkflow  = "1f000000-0000-4000-8000-000000000001" // inactivity trigger
	fxGA        = collect.RoleGlobalAdministrator
	fxPRA       = collect.RolePrivilegedRoleAdministrator
)

var (
	fixtureCollected = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	// fixtureNow is the audit time the fixture tests use.
	fixtureNow = fixtureCollected.Add(time.Hour)
)

// fixtureOptions are the options fixture tests audit with.
func fixtureOptions() Options {
	return Options{Now: fixtureNow, DrillInterval: 90 * 24 * time.Hour, ConditionalAccessMode: CAModeExcludeAll, Source: "fixture"}
}

// fixture is a copied snapshot directory that mutations edit.
type fixture struct {
	t   testing.TB
	dir string
	m   collect.Manifest
}

// mutation changes a fixture; it fails the test when what it edits is not
// there, so a mutation can never silently do nothing.
type mutation func(f *fixture)

// loadFixture copies testdata/snapshots/<name>, applies the mutations and
// decodes it.
func loadFixture(t testing.TB, name string, muts ...mutation) *Tenant {
	t.Helper()
	tn, err := FromSnapshot(loadFixtureSnapshot(t, name, muts...))
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// loadFixtureSnapshot is loadFixture without the decoding: the snapshot
// as collect.Load reads it.
func loadFixtureSnapshot(t testing.TB, name string, muts ...mutation) *collect.Snapshot {
	t.Helper()
	f := copyFixture(t, name, t.TempDir())
	for _, mu := range muts {
		mu(f)
	}
	f.save()
	s, err := collect.Load(f.dir)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return s
}

func copyFixture(t testing.TB, name, dir string) *fixture {
	t.Helper()
	src := filepath.Join("testdata", "snapshots", name)
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{t: t, dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, collect.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f.m); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) save() {
	f.t.Helper()
	slices.SortFunc(f.m.Datasets, func(a, b collect.Dataset) int { return strings.Compare(a.Name, b.Name) })
	if err := os.WriteFile(filepath.Join(f.dir, collect.ManifestFile), canonicalJSON(f.t, f.m), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) dataset(name string) (int, bool) {
	i := slices.IndexFunc(f.m.Datasets, func(d collect.Dataset) bool { return d.Name == name })
	return i, i >= 0
}

func (f *fixture) read(name string) []byte {
	f.t.Helper()
	i, ok := f.dataset(name)
	if !ok {
		f.t.Fatalf("fixture: no dataset %s", name)
	}
	data, err := os.ReadFile(filepath.Join(f.dir, f.m.Datasets[i].File))
	if err != nil {
		f.t.Fatal(err)
	}
	return data
}

// items returns a list dataset's items as generic JSON.
func (f *fixture) items(name string) []any {
	f.t.Helper()
	var l struct{ Value []any }
	dec := json.NewDecoder(bytes.NewReader(f.read(name)))
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil {
		f.t.Fatalf("fixture: %s: %v", name, err)
	}
	return l.Value
}

// setItems writes a list dataset, adding it to the manifest when new.
func (f *fixture) setItems(name string, items []any) {
	f.t.Helper()
	if items == nil {
		items = []any{}
	}
	f.writeDataset(name, canonicalJSON(f.t, map[string]any{"value": items}), len(items), false)
}

func (f *fixture) writeDataset(name string, data []byte, count int, object bool) {
	f.t.Helper()
	i, ok := f.dataset(name)
	if !ok {
		f.m.Datasets = append(f.m.Datasets, collect.Dataset{Name: name, File: name + ".json", Endpoint: "/" + name, Version: "v1.0"})
		i = len(f.m.Datasets) - 1
	}
	f.m.Datasets[i].Count, f.m.Datasets[i].Object = count, object
	if err := os.WriteFile(filepath.Join(f.dir, f.m.Datasets[i].File), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// canonicalJSON is how fixture files are written: two-space indent,
// sorted object keys, no HTML escaping, so a mutated fixture differs from
// compliant only where the mutation changed it.
func canonicalJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFixtureCanonical: the compliant fixture's files are canonical JSON
// (-update rewrites them so), which keeps failure directories' diffs to
// the mutation.
func TestFixtureCanonical(t *testing.T) {
	dir := filepath.Join("testdata", "snapshots", "compliant")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if e.Name() == collect.ManifestFile {
			v = new(collect.Manifest) // in the field order collect writes
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want := canonicalJSON(t, v)
		if bytes.Equal(data, want) {
			continue
		}
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s is not canonical JSON (run go test -run TestFixtureCanonical -update)", path)
	}
}

// object returns a single-object dataset; setObject writes it.
func (f *fixture) object(name string) map[string]any {
	f.t.Helper()
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(f.read(name)))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		f.t.Fatalf("fixture: %s: %v", name, err)
	}
	return o
}

func (f *fixture) setObject(name string, o map[string]any) {
	f.t.Helper()
	f.writeDataset(name, canonicalJSON(f.t, o), 1, true)
}

// edit applies fn to every item of a list dataset that match selects; it
// fails the test when none does.
func (f *fixture) edit(name string, match func(map[string]any) bool, fn func(map[string]any)) {
	f.t.Helper()
	items := f.items(name)
	n := 0
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && match(m) {
			fn(m)
			n++
		}
	}
	if n == 0 {
		f.t.Fatalf("fixture: no item of %s matched", name)
	}
	f.setItems(name, items)
}

// remove drops the items of a list dataset that match selects (at least
// one).
func (f *fixture) remove(name string, match func(map[string]any) bool) {
	f.t.Helper()
	items := f.items(name)
	kept := items[:0]
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && match(m) {
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) == len(items) {
		f.t.Fatalf("fixture: no item of %s matched", name)
	}
	f.setItems(name, kept)
}

// drop removes datasets from the snapshot, as an older collect that did
// not know them would have; a family name drops every member.
func (f *fixture) drop(names ...string) {
	f.t.Helper()
	for _, name := range names {
		before := len(f.m.Datasets)
		f.m.Datasets = slices.DeleteFunc(f.m.Datasets, func(d collect.Dataset) bool {
			if d.Name == name || strings.HasPrefix(d.Name, name+".") {
				_ = os.Remove(filepath.Join(f.dir, d.File))
				return true
			}
			return false
		})
		if len(f.m.Datasets) == before {
			f.t.Fatalf("fixture: no dataset %s to drop", name)
		}
	}
}

// refuse drops a dataset (or family) and records Graph's refusal in the
// manifest, as collect does on a 403.
func (f *fixture) refuse(name string, reason string) {
	f.t.Helper()
	endpoint := "/" + name
	if i, ok := f.dataset(name); ok {
		endpoint = f.m.Datasets[i].Endpoint
	}
	f.drop(name)
	fl := collect.Failure{Name: name, Endpoint: endpoint, Reason: reason}
	switch reason {
	case collect.ReasonLicence:
		fl.Status, fl.Code, fl.Hint = 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "the tenant needs a Microsoft Entra ID P1 or P2 licence"
	default:
		fl.Status, fl.Code, fl.Hint = 403, "Authorization_RequestDenied", "grant the application the read permission for "+name+", and admin-consent it"
	}
	f.m.Failed = append(f.m.Failed, fl)
}

// partial removes field from every item of a list dataset and records the
// partial failure, as collect does when signInActivity needs a licence.
func (f *fixture) partial(name, field string) {
	f.t.Helper()
	f.edit(name, func(map[string]any) bool { return true }, func(m map[string]any) { delete(m, field) })
	f.m.Failed = append(f.m.Failed, collect.Failure{Name: name, Endpoint: "/users/{id|upn}?$select=" + field, Status: 403,
		Code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant", Reason: collect.ReasonLicence, Field: field, Partial: true,
		Hint: "signInActivity needs Microsoft Entra ID P1"})
}

// unresolve turns a configured account into one collect could not
// resolve: out of the manifest's accounts and breakglass_users, into
// Unresolved.
func (f *fixture) unresolve(id, reason string) {
	f.t.Helper()
	i := slices.IndexFunc(f.m.Accounts, func(r collect.Resolved) bool { return strings.EqualFold(r.ID, id) })
	if i < 0 {
		f.t.Fatalf("fixture: no account %s", id)
	}
	f.m.Unresolved = append(f.m.Unresolved, collect.Unresolved{Entry: f.m.Accounts[i].Entry, Reason: reason})
	f.m.Accounts = slices.Delete(f.m.Accounts, i, i+1)
	f.remove(collect.DatasetBreakGlassUsers, byID(id))
}

// deleteEverywhere removes a field of an object from every list dataset
// that holds it, expanded role principals included (FromSnapshot merges
// an object's fields across datasets).
func (f *fixture) deleteEverywhere(id, field string) {
	f.t.Helper()
	n := 0
	for _, d := range slices.Clone(f.m.Datasets) {
		if d.Object {
			continue
		}
		items := f.items(d.Name)
		changed := false
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			for _, o := range []any{m, m["principal"]} {
				if om, ok := o.(map[string]any); ok && byID(id)(om) {
					if _, has := om[field]; has {
						delete(om, field)
						changed = true
						n++
					}
				}
			}
		}
		if changed {
			f.setItems(d.Name, items)
		}
	}
	if n == 0 {
		f.t.Fatalf("fixture: %s.%s is in no dataset", id, field)
	}
}

// byID selects the item with the id (any case).
func byID(id string) func(map[string]any) bool {
	return func(m map[string]any) bool { s, _ := m["id"].(string); return strings.EqualFold(s, id) }
}

// byPrincipal selects role items of a principal and role.
func byPrincipal(principal, role string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		p, _ := m["principalId"].(string)
		r, _ := m["roleDefinitionId"].(string)
		return strings.EqualFold(p, principal) && (role == "" || strings.EqualFold(r, role))
	}
}

// setUser sets fields of a break-glass user.
func setUser(id string, fields map[string]any) mutation {
	return func(f *fixture) {
		f.edit(collect.DatasetBreakGlassUsers, byID(id), func(m map[string]any) {
			for k, v := range fields {
				m[k] = v
			}
		})
	}
}

// fixtureCase is one failure fixture: the mutations of the compliant
// tenant, and the status one check must give for one account (UPN; ""
// for a tenant-wide result).
type fixtureCase struct {
	name    string
	mutate  []mutation
	check   string
	account string
	want    Status
	// options adjust the audit options (nil: fixtureOptions).
	options func(*Options)
	// dir writes this case out as testdata/snapshots/<name>/.
	dir bool
	// contains, when set, must appear in the result's message.
	contains string
}

// runFixtureCases runs each case's check on its fixture and asserts the
// status, and that the compliant tenant gives pass for the same check and
// account (so the mutation is what changed the verdict).
func runFixtureCases(t *testing.T, cases []fixtureCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := Lookup(tc.check)
			if !ok {
				t.Fatalf("no check %q registered", tc.check)
			}
			o := fixtureOptions()
			if tc.options != nil {
				tc.options(&o)
			}
			got := resultFor(t, run(loadFixture(t, "compliant", tc.mutate...), o, []Check{c}), tc.check, tc.account)
			if got.Status != tc.want {
				t.Errorf("%s %s: status %s, want %s: %s", tc.check, tc.account, got.Status, tc.want, got.Message)
			}
			if tc.contains != "" && !strings.Contains(got.Message, tc.contains) {
				t.Errorf("%s %s: message %q does not say %q", tc.check, tc.account, got.Message, tc.contains)
			}
			if tc.want != StatusPass {
				base := resultFor(t, compliantReport(t), tc.check, tc.account)
				if base.Status != StatusPass {
					t.Errorf("compliant fixture: %s %s is %s, want pass: %s", tc.check, tc.account, base.Status, base.Message)
				}
			}
			checkResultShape(t, got)
		})
	}
}

var (
	compliantOnce sync.Once
	compliantRep  *Report
)

// compliantReport is every check's verdict on the unmutated compliant
// fixture, computed once.
func compliantReport(t *testing.T) *Report {
	t.Helper()
	compliantOnce.Do(func() { compliantRep = Run(loadFixture(t, "compliant"), fixtureOptions()) })
	if compliantRep == nil {
		t.Fatal("compliant fixture did not load")
	}
	return compliantRep
}

// resultFor finds the one result of a check for an account (UPN or id;
// "" the tenant-wide result).
func resultFor(t *testing.T, rep *Report, check, account string) Result {
	t.Helper()
	var found []Result
	for _, r := range rep.Results {
		if r.Check != check {
			continue
		}
		if account == "" && r.AccountID == "" && r.AccountUPN == "" ||
			account != "" && (strings.EqualFold(r.AccountUPN, account) || strings.EqualFold(r.AccountID, account)) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d results of %s for %q, want 1: %+v", len(found), check, account, rep.Results)
	}
	return found[0]
}

// checkResultShape holds every result to the report contract.
func checkResultShape(t *testing.T, r Result) {
	t.Helper()
	if r.Message == "" || r.Title == "" || r.Rationale == "" {
		t.Errorf("%s: message, title and rationale must be set: %+v", r.Check, r)
	}
	if len(r.Requirements) == 0 && r.Check != CheckExceptions {
		t.Errorf("%s: no requirements cited", r.Check)
	}
	if r.Status == StatusFail || r.Status == StatusWarn {
		if r.Remediation.Summary == "" || r.Remediation.Portal == "" {
			t.Errorf("%s %s: a finding needs a remediation summary and portal path: %+v", r.Check, r.AccountUPN, r.Remediation)
		}
	}
	if r.Status != StatusSkip && len(r.Evidence) == 0 {
		t.Errorf("%s %s: %s without evidence", r.Check, r.AccountUPN, r.Status)
	}
}

// TestCompliantFixture: every registered check passes every account of
// the compliant tenant, and the snapshot decodes without a problem.
func TestCompliantFixture(t *testing.T) {
	tn := loadFixture(t, "compliant")
	if len(tn.Problems) > 0 {
		t.Errorf("problems decoding the compliant fixture:\n%s", strings.Join(tn.Problems, "\n"))
	}
	rep := Run(tn, fixtureOptions())
	if len(rep.Results) < len(All()) {
		t.Fatalf("%d results for %d checks", len(rep.Results), len(All()))
	}
	for _, r := range rep.Results {
		if r.Status != StatusPass {
			t.Errorf("%s %s: %s: %s", r.Check, r.AccountUPN, r.Status, r.Message)
		}
		checkResultShape(t, r)
	}
	for _, c := range All() {
		if !slices.ContainsFunc(rep.Results, func(r Result) bool { return r.Check == c.Info().ID }) {
			t.Errorf("check %s gave no result", c.Info().ID)
		}
	}
}

// TestFixtureFilesListed: every file of a fixture directory is in its
// manifest (collect.Load reads only listed files, so an unlisted one would
// be silently ignored), and each loads.
func TestFixtureFilesListed(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		dir := filepath.Join("testdata", "snapshots", d.Name())
		s, err := collect.Load(dir)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		files, _ := os.ReadDir(dir)
		for _, fe := range files {
			if fe.Name() == collect.ManifestFile {
				continue
			}
			if !slices.ContainsFunc(s.Manifest.Datasets, func(ds collect.Dataset) bool { return ds.File == fe.Name() }) {
				t.Errorf("%s: %s is not in the manifest", dir, fe.Name())
			}
		}
	}
}

// allFixtureCases are the cases written out as directories; every check
// file's table is appended here by its tests' init.
var allFixtureCases []fixtureCase

// TestFailureFixtureDirs: the failure directories equal their mutation of
// the compliant tenant (-update rewrites them).
func TestFailureFixtureDirs(t *testing.T) {
	for _, tc := range allFixtureCases {
		if !tc.dir {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			f := copyFixture(t, "compliant", t.TempDir())
			for _, mu := range tc.mutate {
				mu(f)
			}
			f.save()
			want := filepath.Join("testdata", "snapshots", tc.name)
			if _, err := os.Stat(want); err != nil && !*update {
				t.Fatalf("%s is missing: run go test -run TestFailureFixtureDirs -update", want)
			}
			if *update {
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(want, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := os.ReadDir(f.dir)
			for _, e := range got {
				data, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if *update {
					if err := os.WriteFile(filepath.Join(want, e.Name()), data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				old, err := os.ReadFile(filepath.Join(want, e.Name()))
				if err != nil || !bytes.Equal(old, data) {
					t.Errorf("%s/%s differs from its mutation of compliant (run go test -run TestFailureFixtureDirs -update): %v", want, e.Name(), err)
				}
			}
			if !*update {
				have, _ := os.ReadDir(want)
				if len(have) != len(got) {
					t.Errorf("%s has %d files, the mutation gives %d (run with -update)", want, len(have), len(got))
				}
			}
			// The directory on its own gives the case's verdict.
			c, ok := Lookup(tc.check)
			if !ok {
				t.Fatalf("no check %q", tc.check)
			}
			o := fixtureOptions()
			if tc.options != nil {
				tc.options(&o)
			}
			if r := resultFor(t, run(loadFixture(t, tc.name), o, []Check{c}), tc.check, tc.account); r.Status != tc.want {
				t.Errorf("%s: %s %s is %s, want %s: %s", want, tc.check, tc.account, r.Status, tc.want, r.Message)
			}
		})
	}
}
