package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"breakglass/internal/notify"
	"breakglass/internal/store"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/postgres/pgtest"
	"breakglass/internal/store/storetest"
)

// TestMigrateOnce opens many stores on one empty schema at once, as
// replicas starting together do: every Open succeeds and each migration
// is applied exactly once. Without the advisory lock two would race to
// create the same tables and one would fail.
func TestMigrateOnce(t *testing.T) {
	dsn := pgtest.SchemaDSN(t, t.Name())
	const n = 8
	var (
		wg    sync.WaitGroup
		errs  = make([]error, n)
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			s, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	s := open(t, dsn)
	rows, err := postgres.DB(s).Query(`SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v, c int
		if err := rows.Scan(&v, &c); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d×%d", v, c))
	}
	var want []string
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(f.Name(), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: %v", f.Name(), err)
		}
		want = append(want, fmt.Sprintf("%d×1", v))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != postgres.LatestSchemaVersion() || v < 6 {
		t.Errorf("SchemaVersion = %d, %v, want %d (at least 6, SQLite's count)", v, err, postgres.LatestSchemaVersion())
	}
}

// TestUpgrade: a database left at an older version by an older breakglass
// is brought up to date at Open, keeping what it holds.
func TestUpgrade(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.SchemaDSN(t, t.Name())
	if err := postgres.CreateAtVersion(ctx, dsn, 3); err != nil {
		t.Fatal(err)
	}
	s := open(t, dsn)
	if v, err := s.SchemaVersion(ctx); err != nil || v != postgres.LatestSchemaVersion() {
		t.Fatalf("SchemaVersion after upgrade = %d, %v", v, err)
	}
	a := storetest.Alert("e1", "r", time.Now())
	if _, err := s.AddAlert(ctx, a, store.Evidence{Raw: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.SchemaDSN(t, t.Name())
	s := open(t, dsn)
	if _, err := postgres.DB(s).Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := postgres.Open(ctx, dsn)
	var tooNew *postgres.SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != 999 {
		t.Fatalf("Open of a newer schema: %v, want SchemaTooNewError for 999", err)
	}
	if !strings.Contains(err.Error(), "upgrade breakglass") {
		t.Errorf("error does not say what to do: %v", err)
	}
}

// TestEvidenceLogAppendOnly: the database itself refuses to change or
// remove evidence log entries, as SQLite's triggers do, and the chain is
// the one store.LogEntry.ComputeHash defines.
func TestEvidenceLogAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	var prev string
	for i := range 3 {
		e, err := s.AppendLog(ctx, store.LogEntry{Incident: "inc-1", Kind: store.LogRecord, Ref: fmt.Sprint("r", i),
			Content: []byte(fmt.Sprint("content\x00", i))})
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != e.ComputeHash() {
			t.Fatalf("entry %d: seq %d prev %q hash %q, want seq %d prev %q hash %q", i, e.Seq, e.Prev, e.Hash, i+1, prev, e.ComputeHash())
		}
		prev = e.Hash
	}
	for _, q := range []string{
		`UPDATE evidence_log SET content = 'forged' WHERE seq = 2`,
		`UPDATE evidence_log SET hash = hash`,
		`DELETE FROM evidence_log WHERE seq = 3`,
		`DELETE FROM evidence_log`,
		`TRUNCATE evidence_log`,
	} {
		_, err := postgres.DB(s).Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", q, err)
		}
	}
	es, err := s.LogEntries(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || string(es[1].Content) != "content\x001" {
		t.Fatalf("log after the refused changes: %d entries, entry 2 %q", len(es), es[1].Content)
	}
	for _, e := range es {
		if e.Hash != e.ComputeHash() {
			t.Errorf("entry %d: stored hash does not verify", e.Seq)
		}
	}
}

// TestOddText: fields PostgreSQL text cannot hold (NUL, invalid UTF-8, the
// escape mark itself) are stored and read back exactly, filter by equality,
// and do not cost the alert.
func TestOddText(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.SchemaDSN(t, t.Name()))
	a := storetest.Alert("evt\x00nul", "rule\x00", time.Now())
	a.Operation = "op \xff bad utf-8"
	a.Title = "title \x00 with nul"
	a.AccountID = "\uffffmark"
	// Labels are JSON, which keeps NUL but (on both backends) replaces
	// invalid UTF-8 with U+FFFD, so they carry only NULs here.
	a.Labels = map[string]string{"k\x00": "v\x00", "plain": "\x00"}
	if ins, err := s.AddAlertNotify(ctx, a, store.Evidence{Source: "src\x00", Raw: []byte("\x00\xff")}, []string{"t\x00"}); err != nil || !ins {
		t.Fatalf("AddAlertNotify = %v, %v", ins, err)
	}
	got, err := s.Alert(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := storetest.EqualAlerts(got, a); d != "" {
		t.Errorf("round trip: %s", d)
	}
	for _, f := range []store.AlertFilter{
		// (An escaped account id matches only in its own case.)
		{Rule: a.Rule}, {AccountID: a.AccountID}, {Labels: map[string]string{"k\x00": "v\x00"}},
		{Labels: map[string]string{"plain": "\x00"}},
	} {
		if as, err := s.Alerts(ctx, f); err != nil || len(as) != 1 {
			t.Errorf("Alerts(%+v) = %d alerts, %v, want the one", f, len(as), err)
		}
	}
	ds, err := s.DueDeliveries(ctx, time.Now().Add(time.Minute), 10)
	if err != nil || len(ds) != 1 || ds[0].Target != "t\x00" || ds[0].AlertID != a.ID {
		t.Fatalf("DueDeliveries = %+v, %v", ds, err)
	}
	if err := s.RetryDelivery(ctx, ds[0].ID, 1, time.Now(), "server said \x00\xff"); err != nil {
		t.Errorf("RetryDelivery with an odd error text: %v", err)
	}
	ev, err := s.Evidence(ctx, a.EventID)
	if err != nil || ev.Source != "src\x00" || string(ev.Raw) != "\x00\xff" {
		t.Errorf("Evidence = %+v, %v", ev, err)
	}
}

// TestSecretsNotInErrors: the DSN's password never shows in Open's error,
// whether the DSN does not parse or the server cannot be reached.
func TestSecretsNotInErrors(t *testing.T) {
	const pw = "s3cret-Pa55word"
	dir := t.TempDir()
	for _, dsn := range []string{
		"postgres://bg:" + pw + "@[::1:bad/db",
		"postgres://bg:" + pw + "@localhost:notaport/db",
		"host=" + dir + " user=bg password=" + pw + " dbname=x connect_timeout=2",
		"postgres://bg:" + pw + "@/db?host=" + dir + "&connect_timeout=2",
		"host=" + dir + " password='" + pw + "' sslmode=bogus",
	} {
		_, err := postgres.Open(context.Background(), dsn)
		if err == nil {
			t.Errorf("Open succeeded without a server")
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error shows the password: %v", err)
		}
		t.Logf("%v", err)
	}
}

// TestReadOnly: a database that takes no writes (a standby, or
// default_transaction_read_only) is refused at Open as store.ErrReadOnly,
// saying what to do.
func TestReadOnly(t *testing.T) {
	dsn := pgtest.SchemaDSN(t, t.Name())
	open(t, dsn).Close() // migrated, so Open fails on the heartbeat
	_, err := postgres.Open(context.Background(), dsn+" default_transaction_read_only=on")
	if !errors.Is(err, store.ErrReadOnly) || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("Open of a read-only database: %v, want ErrReadOnly naming the primary", err)
	}
}

// TestTwoDispatchers runs the real dispatcher on two stores sharing one
// database, as two replicas would, both polling and woken as alerts
// arrive, so their claims race for the same rows: each delivery is sent
// exactly once. Leases are long against a send, so a duplicate can only
// come from two claims returning one row. (Leases expiring under a slow
// dispatcher are the notify package's own test.)
func TestTwoDispatchers(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dsn := pgtest.SchemaDSN(t, t.Name())
	stores := []*postgres.Store{open(t, dsn), open(t, dsn)}
	const n = 200
	var (
		mu    sync.Mutex
		calls = map[string]int{}
		by    = map[string]int{}
		sent  atomic.Int64
	)
	notifier := func(who, target string) notify.Notifier {
		return notifierFunc(func(ctx context.Context, nt notify.Notification) error {
			select {
			case <-time.After(time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			calls[target+"/"+nt.ID]++
			by[who]++
			mu.Unlock()
			sent.Add(1)
			return nil
		})
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	ds := make([]*notify.Dispatcher, 2)
	for i, who := range []string{"replica-1", "replica-2"} {
		ds[i] = notify.NewDispatcher(stores[i], map[string]notify.Notifier{"a": notifier(who, "a"), "b": notifier(who, "b")},
			notify.Options{Poll: 5 * time.Millisecond, SendTimeout: 5 * time.Second,
				LeaseMargin: 5 * time.Second, Owner: who, Logger: logger})
		wg.Go(func() { ds[i].Run(runCtx) })
	}
	defer func() { cancel(); wg.Wait() }()
	for i := range n {
		a := storetest.Alert(fmt.Sprint("evt-", i), "bg.signin", time.Now())
		if _, err := stores[i%2].AddAlertNotify(ctx, a, store.Evidence{}, []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
		ds[i%2].Wake()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := stores[0].OutboxDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox depth still %d", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	var dup []string
	for id, c := range calls {
		if c != 1 {
			dup = append(dup, fmt.Sprintf("%s×%d", id, c))
		}
	}
	if len(dup) > 0 {
		t.Errorf("sent more than once: %v", dup)
	}
	if int(sent.Load()) != 2*n || len(calls) != 2*n {
		t.Errorf("%d sends of %d deliveries, want %d", sent.Load(), len(calls), 2*n)
	}
	t.Logf("sends by replica: %v", by)
}

type notifierFunc func(ctx context.Context, n notify.Notification) error

func (f notifierFunc) Notify(ctx context.Context, n notify.Notification) error { return f(ctx, n) }

// TestSessionDefaults: connections carry breakglass's session settings
// unless the DSN sets its own.
func TestSessionDefaults(t *testing.T) {
	dsn := pgtest.SchemaDSN(t, t.Name())
	for _, tc := range []struct{ dsn, app, idle string }{
		{dsn, "breakglass", "1min"},
		{dsn + " application_name=mine idle_in_transaction_session_timeout=5000", "mine", "5s"},
	} {
		s := open(t, tc.dsn)
		var app, idle string
		if err := postgres.DB(s).QueryRow(`SELECT current_setting('application_name'), current_setting('idle_in_transaction_session_timeout')`).Scan(&app, &idle); err != nil {
			t.Fatal(err)
		}
		if app != tc.app || idle != tc.idle {
			t.Errorf("application_name %q, idle_in_transaction_session_timeout %q, want %q, %q", app, idle, tc.app, tc.idle)
		}
	}
}

// TestPlaintextRefused: a DSN that lets the connection to a remote server
// fall back to plaintext is refused before any connection is tried; Unix
// sockets and loopback may go without TLS. (Only the DSN is checked: no
// test connects to a remote host.)
func TestPlaintextRefused(t *testing.T) {
	for dsn, refused := range map[string]bool{
		"host=db.example user=bg dbname=bg":                      true, // prefer, the default
		"host=db.example user=bg dbname=bg sslmode=prefer":       true,
		"host=db.example user=bg dbname=bg sslmode=disable":      true,
		"postgres://bg@db.example:5432/bg?sslmode=allow":         true,
		"postgres://bg@db.example,db2.example/bg?sslmode=prefer": true,
		"host=db.example user=bg dbname=bg sslmode=require":      false,
		"postgres://bg@db.example/bg?sslmode=verify-full":        false,
		"host=/run/postgresql user=bg dbname=bg sslmode=disable": false,
		"host=127.0.0.1 user=bg dbname=bg sslmode=disable":       false,
		"postgres://bg@localhost:5432/bg":                        false,
		"postgres://bg@[::1]:5432/bg?sslmode=disable":            false,
	} {
		err := postgres.CheckDSN(dsn)
		if got := errors.Is(err, postgres.ErrPlaintext); got != refused {
			t.Errorf("%s: %v, want refused as plaintext: %v", dsn, err, refused)
		}
		if !refused {
			continue
		}
		if !strings.Contains(err.Error(), "sslmode=verify-full") {
			t.Errorf("%s: %v does not say what to set", dsn, err)
		}
		// Open refuses it before it connects.
		if _, err := postgres.Open(context.Background(), dsn); !errors.Is(err, postgres.ErrPlaintext) {
			t.Errorf("Open(%s) = %v, want ErrPlaintext", dsn, err)
		}
	}
}
