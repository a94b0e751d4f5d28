package tables

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaMatchesOracle: for each table, `T | take 1` has, for
// Microsoft's own analyser (the oracle, with its default schema and
// standard columns), exactly the columns of Schema(T): names, types,
// order. It skips when node or the oracle package is not installed.
func TestSchemaMatchesOracle(t *testing.T) {
	s := sharedDir(t)
	if s == "" {
		t.Skip("../shared is absent: no oracle")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the live oracle test needs it")
	}
	dir := filepath.Join(s, "tools", "kql-oracle")
	ls := os.Getenv("KUSTO_LS_DIR")
	if ls == "" {
		ls = filepath.Join(dir, "node_modules", "@kusto", "language-service-next")
	}
	if _, err := os.Stat(filepath.Join(ls, "bridge.js")); err != nil {
		t.Skipf("the oracle package is not installed (set KUSTO_LS_DIR; see the kql-oracle README): %v", err)
	}
	var in strings.Builder
	for _, name := range Names() {
		b, _ := json.Marshal(map[string]string{"id": name, "query": name + " | take 1"})
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command(node, filepath.Join(dir, "parse.js"), "--tables", strings.Join(Names(), ","))
	cmd.Env = append(os.Environ(), "KUSTO_LS_DIR="+ls)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	seen := 0
	for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var o struct {
			ID      string `json:"id"`
			Columns []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"result_columns"`
		}
		if err := json.Unmarshal([]byte(ln), &o); err != nil {
			t.Fatalf("oracle output: %v: %s", err, ln)
		}
		cols, ok := Schema(o.ID)
		if !ok {
			t.Fatalf("oracle answered for %q", o.ID)
		}
		seen++
		var got, want []string
		for _, c := range cols {
			got = append(got, c.Name+":"+c.Type.String())
		}
		for _, c := range o.Columns {
			want = append(want, c.Name+":"+c.Type)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: Schema differs from the oracle's result columns:\n got %v\nwant %v", o.ID, got, want)
		}
	}
	if seen != len(Names()) {
		t.Errorf("the oracle answered %d of %d queries", seen, len(Names()))
	}
}
