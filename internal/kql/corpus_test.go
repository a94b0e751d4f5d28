package kql

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// sharedDir finds ../shared beside the repository (the work tree's parent),
// or returns "" when it is absent.
func sharedDir(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

type corpusQuery struct {
	ID    string `json:"id"`
	SHA1  string `json:"sha1"`
	Query string `json:"query"`
}

// loadCorpus reads queries.jsonl; the key of a query is the oracle's: id,
// else sha1 (two records share a sha1, so the line number is kept too).
func loadCorpus(t testing.TB) []corpusQuery {
	s := sharedDir(t)
	if s == "" {
		t.Skip("../shared is absent: no corpus")
	}
	f, err := os.Open(filepath.Join(s, "corpus", "kql", "queries.jsonl"))
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	defer f.Close()
	var out []corpusQuery
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var q corpusQuery
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatalf("corpus line %d: %v", len(out)+1, err)
		}
		if q.ID == "" {
			q.ID = q.SHA1
		}
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCorpusDump(t *testing.T) {
	qs := loadCorpus(t)
	start := time.Now()
	bad := 0
	for i, q := range qs {
		for _, b := range SplitBlocks(q.Query) {
			if _, err := Parse(b.Text); err != nil && !IsUnsupported(err) {
				bad++
				t.Logf("%d %s: line %d+: %v", i+1, q.ID, b.Line, err)
			}
		}
	}
	t.Logf("%d queries, %d failing blocks, %v", len(qs), bad, time.Since(start))
}
