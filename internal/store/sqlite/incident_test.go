package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
	"breakglass/internal/store/storetest"
)

// TestEvidenceLogTwoProcesses appends from two processes on one file at
// once (this test binary, run again as a helper): the log stays one chain.
func TestEvidenceLogTwoProcesses(t *testing.T) {
	if os.Getenv("BG_TEST_APPEND_PATH") != "" {
		t.Skip("helper process")
	}
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path) // create and migrate before the helpers race
	const each = 60
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for w := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppend$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BG_TEST_APPEND_PATH="+path, "BG_TEST_APPEND_N="+strconv.Itoa(each),
			"BG_TEST_APPEND_WORKER="+strconv.Itoa(w))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	// And this process too, meanwhile.
	for i := range each {
		if _, err := s.AppendLog(context.Background(), store.LogEntry{Kind: store.LogNotify, Ref: fmt.Sprintf("parent-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	var all []store.LogEntry
	for after := int64(0); ; {
		es, err := s.LogEntries(context.Background(), after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		all = append(all, es...)
		after = es[len(es)-1].Seq
	}
	if len(all) != 3*each {
		t.Fatalf("%d entries, want %d", len(all), 3*each)
	}
	prev, refs := "", map[string]bool{}
	for i, e := range all {
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != e.ComputeHash() {
			t.Fatalf("entry %d (Seq %d): Prev %q want %q, Hash ok %v: the chain forked", i+1, e.Seq, e.Prev, prev, e.Hash == e.ComputeHash())
		}
		if refs[e.Ref] {
			t.Fatalf("entry %s twice", e.Ref)
		}
		refs[e.Ref] = true
		prev = e.Hash
	}
	for _, prefix := range []string{"parent-", "w0-", "w1-"} {
		n := 0
		for r := range refs {
			if strings.HasPrefix(r, prefix) {
				n++
			}
		}
		if n != each {
			t.Errorf("%d entries from %s, want %d", n, prefix, each)
		}
	}
}

// TestHelperAppend is the helper process of TestEvidenceLogTwoProcesses.
func TestHelperAppend(t *testing.T) {
	path := os.Getenv("BG_TEST_APPEND_PATH")
	if path == "" {
		t.Skip("only run by TestEvidenceLogTwoProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("BG_TEST_APPEND_N"))
	w := os.Getenv("BG_TEST_APPEND_WORKER")
	s := open(t, path)
	for i := range n {
		if _, err := s.AppendLog(context.Background(), store.LogEntry{Kind: store.LogNotify, Ref: fmt.Sprintf("w%s-%d", w, i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEvidenceLogAppendOnly: the schema refuses updates and deletes of log
// entries, and when someone removes that protection and edits the file,
// LogEntries returns exactly what is stored, so verification sees it.
func TestEvidenceLogAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	for i := range 3 {
		if _, err := s.AppendLog(ctx, store.LogEntry{Kind: store.LogRecord, Ref: fmt.Sprint(i), Content: []byte("original")}); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	for _, q := range []string{
		`UPDATE evidence_log SET content = 'edited' WHERE seq = 2`,
		`DELETE FROM evidence_log WHERE seq = 3`,
	} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	for _, q := range []string{
		`DROP TRIGGER evidence_log_no_update`,
		`UPDATE evidence_log SET content = 'edited', at = 'garbage' WHERE seq = 2`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	es, err := s.LogEntries(ctx, 0, 0)
	if err != nil {
		t.Fatalf("LogEntries of an edited log: %v (verification must get the entries to judge them)", err)
	}
	if len(es) != 3 || string(es[1].Content) != "edited" {
		t.Fatalf("LogEntries = %d entries, entry 2 content %q; want what is stored", len(es), es[1].Content)
	}
	if es[1].ContentSHA256 == store.ContentHash(es[1].Content) || es[1].Hash == es[1].ComputeHash() {
		t.Error("the edited entry still checks out: the stored digests were rewritten on read")
	}
	if string(es[0].Content) != "original" || es[0].Hash != es[0].ComputeHash() {
		t.Error("an untouched entry changed")
	}
}

// TestPruneKeepsIncidents: Prune removes delivered outbox rows only; the
// incidents, their alerts and the evidence log stay (incidents.retention).
func TestPruneKeepsIncidents(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	a := storetest.Alert("evt-1", "bg.signin", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := s.AddAlertNotify(ctx, a, storetest.Evidence(a, []byte("raw")), []string{"g/c"}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := s.AttachAlert(ctx, a, "k", store.IncidentAccount, time.Hour, a.EventTime)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendLog(ctx, store.LogEntry{Incident: inc.ID, Kind: store.LogAlert, Ref: a.ID, At: a.EventTime}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.AlertDeliveries(ctx, a.ID)
	if err != nil || len(ds) != 1 {
		t.Fatal(ds, err)
	}
	if err := s.CompleteDelivery(ctx, ds[0].ID, a.EventTime); err != nil {
		t.Fatal(err)
	}
	st, err := s.Prune(ctx, time.Now())
	if err != nil || st.Deliveries != 1 {
		t.Fatalf("Prune = %+v, %v; want the delivery pruned", st, err)
	}
	if got, err := s.Incident(ctx, inc.ID); err != nil || len(got.Alerts) != 1 {
		t.Errorf("incident after Prune: %+v, %v", got, err)
	}
	if es, err := s.IncidentLog(ctx, inc.ID); err != nil || len(es) != 1 {
		t.Errorf("evidence log after Prune: %d entries, %v", len(es), err)
	}
}
