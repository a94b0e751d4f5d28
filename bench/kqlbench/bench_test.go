package kqlbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/kql"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/tables"
	"breakglass/internal/kqlrule"
	"breakglass/internal/scan"
	"breakglass/internal/simulate"
)

const (
	records = 200000
	seed    = 7
	bgID    = "6a1e3f0c-2b7d-4c59-9e84-0d2f5a7b1c93"
)

var accounts = []entra.Account{
	{ID: bgID, UPN: "bg-alpha@contoso.onmicrosoft.com"},
	{ID: "c4f8b2d1-7e3a-4a06-8b5d-91e2f0c3a7d4", UPN: "bg-bravo@contoso.onmicrosoft.com"},
}

// The rules of the comparison. The filter is Microsoft's recipe.
const (
	filterRule    = `SigninLogs | project UserId | where UserId == "` + bgID + `"`
	summarizeRule = `SigninLogs | summarize Attempts = count(), Failures = countif(ResultType != "0") by UserPrincipalName, bin(TimeGenerated, 1h)`
	joinRule      = `SigninLogs
| summarize SignIns = count() by UserId
| join kind=inner (AuditLogs | extend UserId = tostring(InitiatedBy.user.id) | summarize Changes = count() by UserId) on UserId`
	// jqFilter is the filter rule in jq over the same mixed file: unwrap
	// Graph pages and Event Hubs payloads, keep the interactive sign-ins
	// (SigninLogs) as each shape marks them, and match the user id as each
	// shape names it. It finds the same records as the filter rule.
	jqFilter = `(if type == "object" and has("value") then .value[] elif type == "object" and has("records") then .records[] else . end)
| select(
    (.category? == "SignInLogs" and .properties.userId? == $id)
    or (.Type? == "SigninLogs" and .UserId? == $id)
    or (.userId? == $id and (((.signInEventTypes? // null) | if . == null then false else any(. == "interactiveUser") end) or (.signInEventTypes? == null and .isInteractive? == true))))
| .id // .properties.id // .Id // .CorrelationId`
)

var (
	fileOnce sync.Once
	file     string
	fileSize int64
	fileRecs int // records in the file, when generated here
	fileErr  error
	tmpDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

// benchFile generates the file once per run (or uses
// $BREAKGLASS_KQL_BENCH_FILE).
func benchFile(b *testing.B) (string, int64) {
	b.Helper()
	fileOnce.Do(func() {
		if p := os.Getenv("BREAKGLASS_KQL_BENCH_FILE"); p != "" {
			file = p
		} else {
			tmpDir, fileErr = os.MkdirTemp("", "kqlbench")
			if fileErr != nil {
				return
			}
			file = filepath.Join(tmpDir, "mixed.json")
			var f *os.File
			if f, fileErr = os.Create(file); fileErr != nil {
				return
			}
			w := bufio.NewWriterSize(f, 1<<20)
			var st simulate.Stats
			st, fileErr = simulate.Generate(context.Background(), w, simulate.Options{
				Seed: seed, Count: records, Shape: simulate.ShapeMixed, BGShare: 0.001, Accounts: accounts,
			}, nil)
			if fileErr == nil {
				fileErr = w.Flush()
			}
			if err := f.Close(); fileErr == nil {
				fileErr = err
			}
			fileRecs = int(st.Records)
			fmt.Fprintf(os.Stderr, "kqlbench: generated %d records (%d break-glass), %.1f MB, mixed shapes, seed %d\n", st.Records, st.BGEvents, float64(st.Bytes)/1e6, seed)
		}
		var fi os.FileInfo
		if fi, fileErr = os.Stat(file); fileErr == nil {
			fileSize = fi.Size()
		}
	})
	if fileErr != nil {
		b.Fatal(fileErr)
	}
	return file, fileSize
}

func compile(b *testing.B, q string, cat eval.Catalog) *eval.Query {
	b.Helper()
	sc, err := kql.Parse(q)
	if err != nil {
		b.Fatal(err)
	}
	cq, err := eval.Compile(sc, cat, eval.Options{Now: time.Date(2024, 6, 21, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	return cq
}

// filterRules compiles the filter rule as the daemon does (config, then
// kqlrule): the detect.Rule the pipeline's scanner runs on each record,
// with the rule's prefilter literals.
func filterRules(b *testing.B) []detect.Rule {
	b.Helper()
	doc := "accounts:\n"
	for _, a := range accounts {
		doc += "  - id: " + a.ID + "\n    upn: " + a.UPN + "\n"
	}
	doc += "rules:\n  - name: recipe\n    query: '" + filterRule + "'\n"
	cfg, err := config.Parse("bench.yaml", []byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	rules, err := kqlrule.Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	set := entra.NewAccountSet(accounts)
	out := kqlrule.FilterRules(rules, func() *entra.AccountSet { return set })
	if len(out) != 1 {
		b.Fatalf("the recipe is not a filter rule (%d filter rules)", len(out))
	}
	return out
}

func scanWith(b *testing.B, path string, o scan.Options) int {
	s := scan.New(o)
	defer s.Close()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := 0
	var st scan.Stats
	if err := s.Scan(context.Background(), path, f, &st, func(scan.Finding) error { n++; return nil }); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkSpeed runs every row of the comparison on the same file.
func BenchmarkSpeed(b *testing.B) {
	path, size := benchFile(b)
	set := entra.NewAccountSet(accounts)
	found := map[string]int{}
	run := func(name string, fn func(b *testing.B) int) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n = fn(b)
			}
			if n == 0 {
				b.Fatalf("%s found nothing: the file has break-glass activity, so the comparison is broken", name)
			}
			if fileRecs > 0 {
				b.ReportMetric(float64(fileRecs)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			}
			b.ReportMetric(float64(n), "results")
			found[name] = n
		})
	}
	run("scan-builtin", func(b *testing.B) int {
		return scanWith(b, path, scan.Options{Accounts: set})
	})
	fr := filterRules(b)
	run("kql-filter-rule", func(b *testing.B) int {
		return scanWith(b, path, scan.Options{Rules: fr})
	})
	// As serve runs it: the built-in rules and the filter rule in one scan.
	run("scan-builtin+kql-filter-rule", func(b *testing.B) int {
		return scanWith(b, path, scan.Options{Accounts: set, Rules: append(detect.Builtins(set), fr...)})
	})
	for _, tc := range []struct{ name, q string }{
		{"kql-filter-query", filterRule},
		{"kql-summarize", summarizeRule},
		{"kql-join", joinRule},
	} {
		run(tc.name, func(b *testing.B) int {
			cat := tables.NewFiles([]string{path}, tables.FileOptions{})
			res, err := compile(b, tc.q, cat).Run(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if n, _ := cat.Skipped(); n > 0 {
				b.Fatalf("%d pieces of the file were not read as records", n)
			}
			return len(res.Rows)
		})
	}
	jq, err := exec.LookPath("jq")
	if err != nil {
		b.Run("jq", func(b *testing.B) { b.Skip("jq not installed") })
		return
	}
	run("jq", func(b *testing.B) int {
		cmd := exec.Command(jq, "-c", "--arg", "id", bgID, jqFilter, path)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatalf("jq: %v\n%s", err, errb.Bytes())
		}
		return bytes.Count(out.Bytes(), []byte("\n"))
	})
	// The baseline must do the same work: jq and both KQL forms of the
	// filter find the same records.
	if j, k, r := found["jq"], found["kql-filter-query"], found["kql-filter-rule"]; j != 0 && (j != k || k != r) {
		b.Errorf("jq finds %d records, the filter query %d, the filter rule %d: not the same filter", j, k, r)
	}
}
