package migrate_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/evidence"
	"breakglass/internal/incident"
	"breakglass/internal/store"
	"breakglass/internal/store/migrate"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openPG(t *testing.T) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.SchemaDSN(t, t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// notCopied are the SQLite tables a copy leaves out on purpose: SQLite's
// own key counters (carried as store.Table.Next), the migration record
// and the runtime heartbeat. Every other table must be copied.
var notCopied = []string{"sqlite_sequence", "schema_migrations", "heartbeat"}

// sqliteTables lists the tables of the file straight from its schema,
// not through Dump, so a table Dump forgot still shows here.
func sqliteTables(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + n + `"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// rowsOf reads every table of a dump as canonical text lines, sorted, so
// two backends compare equal exactly when they hold the same values
// (booleans read as 0 and 1, as SQLite keeps them).
func rowsOf(t *testing.T, src migrate.Source) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := src.Dump(context.Background(), func(d store.Dump) error {
		for _, tb := range d.Tables() {
			var lines []string
			if err := d.Rows(context.Background(), tb.Name, func(row []any) error {
				var b strings.Builder
				for i, v := range row {
					switch x := v.(type) {
					case bool:
						v = int64(0)
						if x {
							v = int64(1)
						}
					case []byte:
						v = fmt.Sprintf("bytes(%x)", x)
					case string:
						// PostgreSQL keeps lease times (timestamptz, the
						// server's clock) to the microsecond.
						if tb.Name == "leases" && (tb.Columns[i] == "acquired" || tb.Columns[i] == "until") && len(x) == len("2006-01-02T15:04:05.000000000Z") {
							v = x[:len(x)-4] + "Z"
						}
					}
					fmt.Fprintf(&b, "%s=%#v|", tb.Columns[i], v)
				}
				lines = append(lines, b.String())
				return nil
			}); err != nil {
				return err
			}
			slices.Sort(lines)
			out[tb.Name] = lines
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopySQLiteToPostgres moves a filled installation and proves the
// target holds the same rows in every table, that the evidence chain
// verifies there (with an incident pruned), and that the target behaves
// as the source would have: pending deliveries are sent, delivered and
// pruned ones are not sent again, keys continue after the source's, label
// filters work.
func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pg := openPG(t)
	var progress bytes.Buffer
	res, err := migrate.Copy(ctx, f.st, pg, migrate.Options{Progress: &progress, Every: 2})
	if err != nil {
		t.Fatal(err)
	}

	// Every table of the SQLite schema holds rows in the fixture and was
	// copied whole: a table a migration adds fails here until the fixture
	// fills it and the copy carries it.
	copied := map[string]int64{}
	for _, tc := range res.Tables {
		copied[tc.Table] = tc.Rows
	}
	for name, n := range sqliteTables(t, f.path) {
		if slices.Contains(notCopied, name) {
			if _, ok := copied[name]; ok {
				t.Errorf("%s was copied; it is the source's own bookkeeping", name)
			}
			continue
		}
		if n == 0 {
			t.Errorf("table %s has no rows in the fixture: fill it through its real write path, so the copy is proven to move it", name)
		}
		if copied[name] != n {
			t.Errorf("table %s: %d rows copied, the source holds %d", name, copied[name], n)
		}
	}
	if !slices.Equal(res.Derived, []string{"alert_labels"}) {
		t.Errorf("derived = %v", res.Derived)
	}
	if !strings.Contains(progress.String(), "evidence_log") {
		t.Errorf("progress names no table:\n%s", progress.String())
	}

	// Table by table, value by value.
	want, got := rowsOf(t, f.st), rowsOf(t, pg)
	for name, rows := range want {
		if !slices.Equal(rows, got[name]) {
			t.Errorf("table %s differs after the copy:\nsource %q\ntarget %q", name, rows, got[name])
		}
	}

	// The chain verifies on the target, the pruned incident included, and
	// is the source's.
	chain, err := migrate.Verify(ctx, f.st, pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if chain.Entries == 0 || chain.Pruned == 0 {
		t.Errorf("chain = %+v: want entries and pruned entries", chain)
	}
	if m, err := incident.CheckStoreLog(ctx, pg, ""); err != nil || m != nil {
		t.Errorf("incidents against their log on the target: %v %v", m, err)
	}
	if inc, err := pg.Incident(ctx, f.pruned); err != nil || inc.Pruned == nil {
		t.Errorf("pruned incident on the target: %+v %v", inc, err)
	}

	// Deliveries: after the old leases run out, exactly the pending ones
	// are claimed; the delivered ones never again.
	later := time.Now().Add(3 * time.Hour)
	claimed, err := pg.ClaimDeliveries(ctx, "replica-b", later, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range claimed {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	wantIDs := slices.Sorted(slices.Values(f.pending))
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("claimed %v on the target, want the pending %v", ids, wantIDs)
	}
	// A pruned delivery's key still holds: enqueuing it again sends nothing.
	if err := pg.Enqueue(ctx, f.alerts[0].ID, store.StatusFiring, []string{"oncall/mail"}); err != nil {
		t.Fatal(err)
	}
	if n, err := pg.OutboxDepth(ctx); err != nil || n != len(f.pending) {
		t.Errorf("outbox depth = %d, %v; want %d (a pruned delivery was enqueued again?)", n, err, len(f.pending))
	}
	// Label filters read alert_labels, which the copy rebuilt from the
	// labels as stored: they find what they find on the source.
	for _, labels := range []map[string]string{{"use": "use2"}, {"tenant": "contoso"}, {"odd": hostile}, {"odd": "nul\x00 bad\ufffd\ufffd end"}, {"use": "nope"}} {
		w, err := f.st.Alerts(ctx, store.AlertFilter{Labels: labels})
		if err != nil || (labels["use"] == "use2" && len(w) != 3) {
			t.Fatalf("label filter %q on the source: %d alerts, %v", labels, len(w), err)
		}
		g, err := pg.Alerts(ctx, store.AlertFilter{Labels: labels})
		if err != nil || fmt.Sprint(alertIDs(g)) != fmt.Sprint(alertIDs(w)) {
			t.Errorf("label filter %q: target %v, %v; source %v", labels, alertIDs(g), err, alertIDs(w))
		}
	}
	// Keys continue after the source's, also past rows it deleted.
	third := use(t, pg, "use3", t0.Add(72*time.Hour))
	dl, err := pg.AlertDeliveries(ctx, third[0].ID)
	if err != nil || len(dl) == 0 {
		t.Fatal(dl, err)
	}
	maxID := int64(0)
	for _, id := range append(append([]int64{}, f.pending...), f.delivered...) {
		maxID = max(maxID, id)
	}
	if dl[0].ID <= maxID {
		t.Errorf("new delivery id %d reuses the source's (up to %d)", dl[0].ID, maxID)
	}
	if added, err := pg.AppendRecord(ctx, store.KQLRecord{Table: "SigninLogs", Ingested: t0, Source: "x", Raw: []byte(`{"n":0}`)}); err != nil || !added {
		t.Errorf("a record pruned on the source is new on the target: %v %v", added, err)
	}
	a, err := pg.Alert(ctx, f.alerts[1].ID)
	if err != nil || a.Title != f.alerts[1].Title || a.IPAddress != f.alerts[1].IPAddress {
		t.Errorf("hostile text on the target: %q %q %v", a.Title, a.IPAddress, err)
	}
	if a, _ := pg.Alert(ctx, f.alerts[3].ID); a.State != alert.StateAcknowledged {
		t.Errorf("acknowledged alert reads %q on the target", a.State)
	}
	// The chain goes on from the copied head.
	if _, err := pg.AppendLog(ctx, store.LogEntry{Kind: store.LogNotify, Ref: "after-move", At: time.Now(), Content: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if r, err := evidence.Verify(ctx, pg, nil); err != nil || !r.OK() || r.Entries != chain.Entries+1 {
		t.Errorf("verify after an append on the target: %+v %v", r, err)
	}
	// Leases: one still held by the old owner; the released one's next
	// term continues the source's epochs (a fencing token never goes back).
	if held, err := pg.AcquireLease(ctx, "audit", "replica-b", time.Minute); err != nil || held {
		t.Errorf("a lease held on the source was free on the target: %v %v", held, err)
	}
	if held, err := pg.AcquireLease(ctx, "graph", "replica-b", time.Minute); err != nil || !held {
		t.Errorf("a released lease: %v %v", held, err)
	}
	if l, err := pg.Lease(ctx, "graph"); err != nil || l.Epoch != 2 {
		t.Errorf("lease after the move: %+v %v, want epoch 2", l, err)
	}
	if u, err := pg.User(ctx, "alice"); err != nil || u.PasswordHash == "" {
		t.Errorf("user on the target: %+v %v", u, err)
	}
}

// TestCopyRefusesNonEmpty: a target with data is never merged into.
func TestCopyRefusesNonEmpty(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pg := openPG(t)
	if _, err := migrate.Copy(ctx, f.st, pg, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	before := rowsOf(t, pg)
	_, err := migrate.Copy(ctx, f.st, pg, migrate.Options{})
	if !errors.Is(err, store.ErrNotEmpty) || !strings.Contains(err.Error(), "alerts") {
		t.Fatalf("second copy: %v, want ErrNotEmpty naming the tables", err)
	}
	if after := rowsOf(t, pg); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Error("the refused copy changed the target")
	}
}

// failingSource fails in the middle of one table.
type failingSource struct {
	migrate.Source
	table string
	after int
	write func() // when set, called instead of failing (a concurrent writer)
	// mutate, when set, changes the row instead of failing (a copy that
	// garbles a value).
	mutate func(row []any)
}

func (s failingSource) Dump(ctx context.Context, fn func(store.Dump) error) error {
	return s.Source.Dump(ctx, func(d store.Dump) error { return fn(failingDump{d, s}) })
}

type failingDump struct {
	store.Dump
	s failingSource
}

var errInjected = errors.New("injected failure")

func (d failingDump) Rows(ctx context.Context, table string, fn func([]any) error) error {
	n := 0
	return d.Dump.Rows(ctx, table, func(row []any) error {
		if table == d.s.table {
			if n++; n == d.s.after+1 {
				switch {
				case d.s.mutate != nil:
					row = slices.Clone(row)
					d.s.mutate(row)
				case d.s.write != nil:
					d.s.write()
				default:
					return errInjected
				}
			}
		}
		return fn(row)
	})
}

// TestCopyAllOrNothing: a copy that fails midway, or whose source is
// written meanwhile, leaves the target empty, and a later copy succeeds.
func TestCopyAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pg := openPG(t)
	empty := func(when string) {
		t.Helper()
		for name, rows := range rowsOf(t, pg) {
			if len(rows) > 0 {
				t.Errorf("%s: table %s holds %d rows", when, name, len(rows))
			}
		}
	}
	_, err := migrate.Copy(ctx, failingSource{Source: f.st, table: "evidence_log", after: 3}, pg, migrate.Options{})
	if !errors.Is(err, errInjected) {
		t.Fatalf("copy = %v, want the injected failure", err)
	}
	empty("after a failed copy")

	// A serve still running: another connection writes mid-copy.
	other, err := sqlite.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	write := func() {
		if err := other.SetSourceAlive(ctx, "signins", time.Now()); err != nil {
			t.Error(err)
		}
	}
	_, err = migrate.Copy(ctx, failingSource{Source: f.st, table: "alerts", after: 1, write: write}, pg, migrate.Options{})
	if !errors.Is(err, store.ErrChanged) {
		t.Fatalf("copy while the source is written = %v, want ErrChanged", err)
	}
	empty("after a copy of a changing source")

	// A value garbled on the way (an entry's ref): the chain check before
	// the commit catches it.
	garble := func(row []any) { row[3] = "garbled" }
	_, err = migrate.Copy(ctx, failingSource{Source: f.st, table: "evidence_log", after: 2, mutate: garble}, pg, migrate.Options{})
	if !errors.Is(err, migrate.ErrChainDiffers) {
		t.Fatalf("copy that garbles an entry = %v, want ErrChainDiffers", err)
	}
	empty("after a garbled copy")
	// A published head the source's log does not hold.
	_, err = migrate.Copy(ctx, f.st, pg, migrate.Options{Heads: []evidence.HeadRef{{Seq: 2, Hash: strings.Repeat("0", 64)}}})
	if err == nil {
		t.Fatal("copy against a foreign head succeeded")
	}
	empty("after a copy against a foreign head")

	res, err := migrate.Copy(ctx, f.st, pg, migrate.Options{})
	if err != nil {
		t.Fatalf("copy after the failures: %v", err)
	}
	if res.Evidence.Entries == 0 || res.Evidence.Head == "" {
		t.Errorf("copy result has no evidence check: %+v", res.Evidence)
	}
	if _, err := migrate.Verify(ctx, f.st, pg, nil); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyCatchesDifference: a target whose log ends elsewhere than the
// source's, or that does not verify, fails Verify.
func TestVerifyCatchesDifference(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pg := openPG(t)
	if _, err := migrate.Copy(ctx, f.st, pg, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AppendLog(ctx, store.LogEntry{Kind: store.LogNotify, Ref: "only-in-source", At: time.Now(), Content: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Verify(ctx, f.st, pg, nil); !errors.Is(err, migrate.ErrChainDiffers) {
		t.Errorf("verify with a longer source = %v, want ErrChainDiffers", err)
	}
	head, _, _ := f.st.LogHead(ctx)
	// A published head the target does not hold.
	if _, err := migrate.Verify(ctx, pg, pg, []evidence.HeadRef{{Seq: head.Seq, Hash: head.Hash}}); err == nil {
		t.Error("verify against a head the target lacks passed")
	}
}

func alertIDs(as []alert.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// TestRoundTrip: SQLite to PostgreSQL and back to a new SQLite file gives
// the same rows in every table, the same key counters and a chain that
// verifies: the way back, should an installation need it.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pg := openPG(t)
	if _, err := migrate.Copy(ctx, f.st, pg, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	backPath := filepath.Join(t.TempDir(), "back.db")
	back, err := sqlite.Open(ctx, backPath)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if _, err := migrate.Copy(ctx, pg, back, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	want, got := rowsOf(t, f.st), rowsOf(t, back)
	if len(want) != len(got) {
		t.Errorf("tables: %d on the source, %d after the round trip", len(want), len(got))
	}
	for name, rows := range want {
		if !slices.Equal(rows, got[name]) {
			t.Errorf("table %s differs after the round trip:\nsource %q\nback   %q", name, rows, got[name])
		}
	}
	seq := func(path string) map[string]int64 {
		out := map[string]int64{}
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(`SELECT name, seq FROM sqlite_sequence`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			var v int64
			if err := rows.Scan(&n, &v); err != nil {
				t.Fatal(err)
			}
			out[n] = v
		}
		return out
	}
	if w, g := seq(f.path), seq(backPath); fmt.Sprint(w) != fmt.Sprint(g) {
		t.Errorf("key counters: source %v, after the round trip %v", w, g)
	}
	if _, err := migrate.Verify(ctx, f.st, back, nil); err != nil {
		t.Error(err)
	}
	if m, err := incident.CheckStoreLog(ctx, back, ""); err != nil || m != nil {
		t.Errorf("incidents after the round trip: %v %v", m, err)
	}
	// And the SQLite loader refuses data too.
	if _, err := migrate.Copy(ctx, pg, back, migrate.Options{}); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("copy into a filled SQLite store = %v, want ErrNotEmpty", err)
	}
}

// TestCopyPostgresSourceChanged: a PostgreSQL source that a replica still
// writes to while it is copied is refused, and the target stays empty.
func TestCopyPostgresSourceChanged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pg := openPG(t)
	if _, err := migrate.Copy(ctx, f.st, pg, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	back, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "back.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	pg2, err := postgres.Open(ctx, pgtest.SchemaDSN(t, t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer pg2.Close()
	write := func() {
		if _, err := pg2.AddAlert(ctx, alert.Alert{ID: "late", Rule: "bg.signin", EventID: "late-ev", EventTime: t0, Detected: t0},
			store.Evidence{EventID: "late-ev", Raw: []byte("{}")}); err != nil {
			t.Error(err)
		}
	}
	_, err = migrate.Copy(ctx, failingSource{Source: pg, table: "alerts", after: 1, write: write}, back, migrate.Options{})
	if !errors.Is(err, store.ErrChanged) {
		t.Fatalf("copy of a PostgreSQL store written meanwhile = %v, want ErrChanged", err)
	}
	for name, rows := range rowsOf(t, back) {
		if len(rows) > 0 {
			t.Errorf("the refused copy left %d rows in %s", len(rows), name)
		}
	}
}

// TestCopyLargeTables: tables larger than one insert batch, whose
// references point into the table before (outbox into alerts), arrive
// whole and in order.
func TestCopyLargeTables(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "big.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 3000
	var items []store.AlertWithEvidence
	for i := range n {
		id := fmt.Sprintf("ev-%d", i)
		a := alert.Alert{ID: id, Rule: "bg.signin", Title: "sign-in", AccountID: bgID, EventID: id, EventTime: t0, Detected: t0,
			Labels: map[string]string{"n": fmt.Sprint(i % 7)}}
		items = append(items, store.AlertWithEvidence{Alert: a, Evidence: store.Evidence{EventID: id, Raw: []byte(`{"n":` + fmt.Sprint(i) + `}`)}})
	}
	if _, err := st.AddAlertsNotify(ctx, items, []string{"oncall/mail", "oncall/sms"}); err != nil {
		t.Fatal(err)
	}
	pg := openPG(t)
	start := time.Now()
	res, err := migrate.Copy(ctx, st, pg, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied %d rows in %v", res.Rows, time.Since(start))
	if depth, err := pg.OutboxDepth(ctx); err != nil || depth != 2*n {
		t.Errorf("outbox depth on the target = %d, %v; want %d", depth, err, 2*n)
	}
	if got, err := pg.Alerts(ctx, store.AlertFilter{Labels: map[string]string{"n": "3"}}); err != nil || len(got) != (n+3)/7 {
		t.Errorf("label filter: %d alerts, %v; want %d", len(got), err, (n+3)/7)
	}
}

// TestCopyRefusesBrokenSource: a source whose evidence log was edited is
// not moved (a copy would launder it into a fresh database), and the
// target stays empty.
func TestCopyRefusesBrokenSource(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	db, err := sql.Open("sqlite", "file:"+f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER evidence_log_no_update`, `UPDATE evidence_log SET ref = 'edited' WHERE seq = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	pg := openPG(t)
	_, err = migrate.Copy(ctx, f.st, pg, migrate.Options{})
	if err == nil || !strings.Contains(err.Error(), "source's evidence log is broken") || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("copy of an edited source = %v", err)
	}
	for name, rows := range rowsOf(t, pg) {
		if len(rows) > 0 {
			t.Errorf("the refused copy left %d rows in %s", len(rows), name)
		}
	}
}
