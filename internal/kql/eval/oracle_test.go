package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"breakglass/internal/kql"
	"breakglass/internal/kql/value"
)

var updateOracle = flag.Bool("update-oracle", false, "rewrite testdata/oracle_*.tsv from a live run of Microsoft's analyser (needs node and KUSTO_LS_DIR)")

const sixTables = "SigninLogs,AADNonInteractiveUserSignInLogs,AADServicePrincipalSignInLogs,AADManagedIdentitySignInLogs,AuditLogs,MicrosoftGraphActivityLogs"

// sharedDir finds ../shared beside the repository, or "".
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

// sixCatalog is the six tables of issue 12 with the oracle's schema
// (testdata/six_tables.csv), empty.
func sixCatalog(t testing.TB) *memCatalog {
	b, err := os.ReadFile("testdata/six_tables.csv")
	if err != nil {
		t.Fatal(err)
	}
	cat := &memCatalog{tables: map[string]*Table{}}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		typ, ok := value.ParseType(f[2])
		if !ok {
			t.Fatalf("six_tables.csv: type %q", f[2])
		}
		tb := cat.tables[f[0]]
		if tb == nil {
			tb = &Table{}
			cat.tables[f[0]] = tb
		}
		tb.Columns = append(tb.Columns, value.Column{Name: f[1], Type: typ})
	}
	return cat
}

// oracleVerdict is one query's verdict from Microsoft's analyser.
type oracleVerdict struct {
	ID      string
	OK      bool // semantic_ok
	Columns string
	Query   string
}

type oracleOut struct {
	ID         string `json:"id"`
	SemanticOK bool   `json:"semantic_ok"`
	ResultCols []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"result_columns"`
}

// runOracle runs parse.js on queries (id -> text), or returns an error when it cannot.
func runOracle(t testing.TB, ids []string, texts map[string]string) (map[string]oracleVerdict, error) {
	s := sharedDir(t)
	if s == "" || os.Getenv("KUSTO_LS_DIR") == "" {
		return nil, errors.New("no oracle: KUSTO_LS_DIR is unset or ../shared is absent")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, errors.New("no node")
	}
	var in bytes.Buffer
	for _, id := range ids {
		b, _ := json.Marshal(map[string]string{"id": id, "query": texts[id]})
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command("node", filepath.Join(s, "tools", "kql-oracle", "parse.js"), "--tables", sixTables, "--sentinel")
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("oracle: %v: %s", err, stderr.String())
	}
	res := map[string]oracleVerdict{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var o oracleOut
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return nil, err
		}
		var cols []string
		for _, c := range o.ResultCols {
			cols = append(cols, c.Name+":"+c.Type)
		}
		res[o.ID] = oracleVerdict{ID: o.ID, OK: o.SemanticOK, Columns: strings.Join(cols, ", "), Query: texts[o.ID]}
	}
	return res, sc.Err()
}

func readVerdicts(t testing.TB, file string) map[string]oracleVerdict {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]oracleVerdict{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 3 {
			t.Fatalf("%s: bad line %q", file, line)
		}
		out[f[0]] = oracleVerdict{ID: f[0], OK: f[1] == "1", Columns: f[2]}
	}
	return out
}

func writeVerdicts(t testing.TB, file, header string, ids []string, v map[string]oracleVerdict) {
	var b strings.Builder
	b.WriteString(header)
	for _, id := range ids {
		o := v[id]
		ok := "0"
		if o.OK {
			ok = "1"
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\n", id, ok, o.Columns)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadKnown reads id<TAB>reason lines.
func loadKnown(t testing.TB, file string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 2)
		if len(f) == 2 {
			out[f[0]] = f[1]
		}
	}
	return out
}

// schemaOf compiles q over the six tables; "" and the error when it fails.
func schemaOf(q string) (string, error) {
	sc, err := kql.Parse(q)
	if err != nil {
		return "", err
	}
	wl := &Table{Columns: []value.Column{{Name: "_DTItemId", Type: value.String}, {Name: "LastUpdatedTimeUTC", Type: value.DateTime},
		{Name: "SearchKey", Type: value.String}, {Name: "WatchlistItem", Type: value.Dynamic}}}
	cq, err := Compile(sc, sixCatalogOnce, Options{Watchlists: anyWatchlist{wl}.m(sc.Src)})
	if err != nil {
		return "", err
	}
	return colsString(cq.Columns()), nil
}

var sixCatalogOnce *memCatalog

// anyWatchlist gives every alias named in the text the fixed Sentinel watchlist columns.
type anyWatchlist struct{ t *Table }

func (a anyWatchlist) m(src string) map[string]*Table {
	out := map[string]*Table{}
	for _, q := range []string{"'", `"`} {
		for rest := src; ; {
			i := strings.Index(rest, "_GetWatchlist("+q)
			if i < 0 {
				break
			}
			rest = rest[i+len("_GetWatchlist(")+1:]
			if j := strings.Index(rest, q); j >= 0 {
				out[rest[:j]] = a.t
			}
		}
	}
	return out
}

type schemaCase struct {
	id, query string
}

// compareSchemas checks each oracle-clean case's compiled Columns() against
// the oracle's result_columns; every disagreement must be listed in known
// with its reason. It returns the agreement figures.
func compareSchemas(t *testing.T, cases []schemaCase, verdicts map[string]oracleVerdict, known map[string]string) (agree, total int) {
	sixCatalogOnce = sixCatalog(t)
	reasons := map[string]int{}
	for _, c := range cases {
		v, ok := verdicts[c.id]
		if !ok {
			t.Errorf("%s: no oracle verdict; rerun with -update-oracle", c.id)
			continue
		}
		if !v.OK {
			continue
		}
		total++
		got, err := schemaOf(c.query)
		if err != nil && kql.IsUnsupported(err) {
			got = "unsupported: " + err.Error()
		} else if err != nil {
			got = "error: " + err.Error()
		}
		if got == v.Columns {
			agree++
			if r, k := known[c.id]; k {
				t.Errorf("%s agrees with the oracle now: remove it from the known differences (%s)", c.id, r)
			}
			continue
		}
		if r, k := known[c.id]; k {
			reasons[r]++
			continue
		}
		t.Errorf("%s: result columns differ from the oracle's\n  query:  %.300s\n  oracle: %s\n  eval:   %s", c.id, c.query, v.Columns, got)
	}
	var rs []string
	for r, n := range reasons {
		rs = append(rs, fmt.Sprintf("%3d  %s", n, r))
	}
	sort.Strings(rs)
	t.Logf("agreement with the oracle's result columns: %d of %d oracle-clean queries; known differences:\n%s", agree, total, strings.Join(rs, "\n"))
	return agree, total
}

type corpusRec struct {
	ID    string `json:"id"`
	SHA1  string `json:"sha1"`
	Query string `json:"query"`
}

func loadCorpus(t *testing.T) []schemaCase {
	s := sharedDir(t)
	if s == "" {
		t.Skip("../shared is absent: no corpus")
	}
	f, err := os.Open(filepath.Join(s, "corpus", "kql", "queries.jsonl"))
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	defer f.Close()
	var out []schemaCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var r corpusRec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		id := r.ID
		if id == "" {
			id = r.SHA1
		}
		out = append(out, schemaCase{id: fmt.Sprintf("%d:%s", len(out)+1, id), query: r.Query})
	}
	return out
}

func verdictsFor(t *testing.T, cases []schemaCase, file, header string) map[string]oracleVerdict {
	var ids []string
	texts := map[string]string{}
	for _, c := range cases {
		ids = append(ids, c.id)
		texts[c.id] = c.query
	}
	live, err := runOracle(t, ids, texts)
	if err == nil {
		if *updateOracle {
			writeVerdicts(t, file, header, ids, live)
		}
		t.Logf("live oracle run: %d verdicts", len(live))
		return live
	}
	if *updateOracle {
		t.Fatalf("-update-oracle: %v", err)
	}
	t.Logf("using the committed verdicts in %s (%v)", file, err)
	return readVerdicts(t, file)
}

const verdictHeader = "# Verdicts of Microsoft's analyser (@kusto/language-service-next 12.4.1, parse.js --tables <the six> --sentinel):\n" +
	"# key, semantic_ok (1/0), result_columns as name:type. Regenerate: go test ./internal/kql/eval -run %s -update-oracle\n" +
	"# (needs node and KUSTO_LS_DIR; see ../shared/tools/kql-oracle/README.md).\n"

// TestOracleSchemaCorpus: for every corpus query the oracle analyses without
// semantic errors over the six tables, Columns() equals its result_columns.
func TestOracleSchemaCorpus(t *testing.T) {
	cases := loadCorpus(t)
	v := verdictsFor(t, cases, "testdata/oracle_schema_corpus.tsv", fmt.Sprintf(verdictHeader, "TestOracleSchemaCorpus"))
	compareSchemas(t, cases, v, loadKnown(t, "testdata/oracle_schema_known.tsv"))
}
