package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"breakglass/internal/store"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/store/storetest"
)

func TestLatestSchemaVersion(t *testing.T) {
	// Bumped deliberately with each migration, so adding one without meaning
	// to (a stray file in migrations/) shows.
	if v := sqlite.LatestSchemaVersion(); v != 12 {
		t.Errorf("LatestSchemaVersion = %d, want 12", v)
	}
}

func tables(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return " " + strings.Join(names, " ") + " "
}

// TestUpgradeFromV1 opens a database as the breakglass before the outbox left
// it: its alerts must survive and be notifiable.
func TestUpgradeFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	if err := sqlite.CreateAtVersion(ctx, path, 1); err != nil {
		t.Fatal(err)
	}
	a := storetest.Alert("evt-old", "bg-signin", time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC))
	// Version 1 knew none of these.
	a.EventTimeUnknown, a.Unreadable, a.Labels, a.Annotations, a.State = false, nil, nil, nil, ""
	db := rawDB(t, path)
	// The v1 binary's statements, as it would have run them.
	if _, err := db.Exec(`INSERT INTO evidence (event_id, category, source, raw, sha256, stored)
		VALUES (?, ?, ?, ?, ?, ?)`, a.EventID, a.Category, a.Source, []byte{},
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "2025-01-01T00:00:00.000000000Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO alerts
		(id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
		 category, source, detected, operation, change_type, result, app, ip_address, location,
		 actor, correlation)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Rule, int(a.Severity), a.Title, a.AccountID, a.AccountUPN, a.Account, a.EventID,
		a.EventTime.UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), a.Category, a.Source,
		a.Detected.UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), a.Operation, a.ChangeType,
		a.Result, a.App, a.IPAddress, a.Location, a.Actor, a.Correlation); err != nil {
		t.Fatal(err)
	}
	if have := tables(t, db); strings.Contains(have, " outbox ") || strings.Contains(have, " checkpoints ") {
		t.Fatalf("version 1 database already has the version 2 tables:%s", have)
	}
	db.Close()

	s := open(t, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != sqlite.LatestSchemaVersion() {
		t.Fatalf("SchemaVersion after upgrade = %d, %v; want %d", v, err, sqlite.LatestSchemaVersion())
	}
	got, err := s.Alert(ctx, a.ID)
	if err != nil {
		t.Fatalf("alert stored by version 1: %v", err)
	}
	if d := storetest.EqualAlerts(got, a); d != "" {
		t.Errorf("alert after upgrade: %s", d)
	}
	if _, err := s.Evidence(ctx, a.EventID); err != nil {
		t.Errorf("evidence stored by version 1: %v", err)
	}
	have := tables(t, rawDB(t, path))
	for _, name := range []string{"outbox", "outbox_pending", "checkpoints"} {
		if !strings.Contains(have, " "+name+" ") {
			t.Errorf("no %s after upgrade; have%s", name, have)
		}
	}

	// The old alert is not new, but was never notified: a target gets it
	// (once), and it can resolve.
	for range 2 {
		if ins, err := s.AddAlertNotify(ctx, a, store.Evidence{}, []string{"x"}); err != nil || ins {
			t.Errorf("AddAlertNotify of the version 1 alert = %v, %v; want false, nil", ins, err)
		}
	}
	if err := s.Enqueue(ctx, a.ID, store.StatusResolved, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil || len(ds) != 2 || ds[0].Status != store.StatusFiring || ds[1].Status != store.StatusResolved {
		t.Errorf("DueDeliveries = %+v, %v; want the firing and the resolution of %s", ds, err, a.ID)
	}

}

// TestUpgradeFromV2 opens a database with a version 2 outbox: pending
// deliveries stay pending and become claimable, delivered ones stay done.
func TestUpgradeFromV2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	if err := sqlite.CreateAtVersion(ctx, path, 2); err != nil {
		t.Fatal(err)
	}
	a := storetest.Alert("evt-old", "bg-signin", time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC))
	db := rawDB(t, path)
	const ts = "2025-01-01T00:00:00.000000000Z"
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO evidence (event_id, category, source, raw, sha256, stored) VALUES (?, '', '', x'', '', ?)`, []any{a.EventID, ts}},
		{`INSERT INTO alerts (id, rule, severity, title, account_id, account_upn, account_name, event_id, event_time,
			category, source, detected, operation, change_type, result, app, ip_address, location, actor, correlation)
			VALUES (?, 'r', 0, '', '', '', '', ?, ?, '', '', ?, '', '', '', '', '', '', '', '')`, []any{a.ID, a.EventID, ts, ts}},
		{`INSERT INTO outbox (alert_id, status, target, next_attempt, created) VALUES (?, 'firing', 'pending', ?, ?)`, []any{a.ID, ts, ts}},
		{`INSERT INTO outbox (alert_id, status, target, next_attempt, created, delivered) VALUES (?, 'firing', 'done', ?, ?, ?)`, []any{a.ID, ts, ts, ts}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t, path)
	if n, err := s.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("OutboxDepth after upgrade = %d, %v; want 1", n, err)
	}
	ds, err := s.ClaimDeliveries(ctx, "me", time.Now(), time.Minute, 0)
	if err != nil || len(ds) != 1 || ds[0].Target != "pending" || ds[0].LeaseOwner != "me" {
		t.Errorf("ClaimDeliveries after upgrade = %+v, %v", ds, err)
	}
	if ins, err := s.AddAlertNotify(ctx, a, store.Evidence{}, []string{"done", "pending"}); err != nil || ins {
		t.Errorf("AddAlertNotify = %v, %v", ins, err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("OutboxDepth after re-notify = %d, %v; want 1", n, err)
	}
	if got, err := s.Alert(ctx, a.ID); err != nil || got.State != "firing" || got.Labels != nil {
		t.Errorf("version 2 alert after upgrade = %+v, %v", got, err)
	}
}

// TestNotifyAtomic makes the outbox insert fail and checks the alert went
// with it: an alert stored without its notification would never be sent.
func TestNotifyAtomic(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	s := open(t, path)
	db := rawDB(t, path)
	if _, err := db.Exec(`CREATE TRIGGER outbox_fails BEFORE INSERT ON outbox
		BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END`); err != nil {
		t.Fatal(err)
	}
	a := storetest.Alert("evt-1", "r", time.Now())
	if _, err := s.AddAlertNotify(ctx, a, storetest.Evidence(a, []byte("raw")), []string{"x"}); err == nil ||
		!strings.Contains(err.Error(), "outbox unavailable") {
		t.Fatalf("AddAlertNotify with a failing outbox: err = %v", err)
	}
	if _, err := s.Alert(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alert stored although its delivery was not: %v", err)
	}
	if _, err := s.Evidence(ctx, a.EventID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("evidence stored although the delivery was not: %v", err)
	}

	if _, err := db.Exec(`DROP TRIGGER outbox_fails`); err != nil {
		t.Fatal(err)
	}
	if ins, err := s.AddAlertNotify(ctx, a, storetest.Evidence(a, []byte("raw")), []string{"x"}); err != nil || !ins {
		t.Fatalf("AddAlertNotify after the failure = %v, %v", ins, err)
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("OutboxDepth = %d, %v; want 1", n, err)
	}
}

func TestAddAlertsTargets(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	items := batch(3, "r")
	items[0].Targets = []string{"x", "y"}
	items[2].Targets = []string{"x"}
	dup := items[0]
	dup.Targets = []string{"z"} // a repeat is not new, but z has not been told
	ins, err := s.AddAlerts(ctx, append(items, dup))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ins) != "[true true true false]" {
		t.Errorf("inserted = %v", ins)
	}
	ds, err := s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.AlertID+">"+d.Target)
	}
	want := []string{items[0].Alert.ID + ">x", items[0].Alert.ID + ">y", items[2].Alert.ID + ">x", items[0].Alert.ID + ">z"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
}

func TestLastErrorTruncated(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	a := storetest.Alert("evt-1", "r", time.Now())
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DueDeliveries = %v, %v", ds, err)
	}
	// One byte of ASCII first, so the 1024-byte cut lands inside a
	// two-byte character.
	long := "x" + strings.Repeat("é", 3000)
	if err := s.RetryDelivery(ctx, ds[0].ID, 1, time.Now(), long); err != nil {
		t.Fatal(err)
	}
	ds, err = s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DueDeliveries = %v, %v", ds, err)
	}
	e := ds[0].LastError
	if len(e) > 1024 || len(e) < 1020 || !utf8.ValidString(e) || !strings.HasPrefix(long, e) {
		t.Errorf("LastError of %d bytes (valid UTF-8: %v), want a valid prefix of at most 1024", len(e), utf8.ValidString(e))
	}
}

func TestOutboxInvalidInput(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "bg.db"))
	a := storetest.Alert("e", "r", time.Now())
	if _, err := s.AddAlertNotify(ctx, a, store.Evidence{}, []string{"x", ""}); err == nil {
		t.Error("AddAlertNotify with an empty target succeeded")
	}
	if _, err := s.Alert(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alert stored by a rejected AddAlertNotify: %v", err)
	}
	if _, err := s.AddAlert(ctx, a, store.Evidence{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, a.ID, store.StatusResolved, []string{""}); err == nil {
		t.Error("Enqueue with an empty target succeeded")
	}
	if err := s.Enqueue(ctx, a.ID, "", []string{"x"}); err == nil {
		t.Error("Enqueue with an empty status succeeded")
	}
	if _, err := s.AddAlertNotify(ctx, storetest.Alert("e2", "r", time.Now()), store.Evidence{}, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.DueDeliveries(ctx, time.Now(), 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DueDeliveries = %v, %v", ds, err)
	}
	if err := s.RetryDelivery(ctx, ds[0].ID, -1, time.Now(), ""); err == nil {
		t.Error("RetryDelivery with negative attempts succeeded")
	}
	if err := s.RetryDelivery(ctx, ds[0].ID, 1, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ""); err == nil {
		t.Error("RetryDelivery to year 10000 succeeded")
	}
	for _, c := range []store.Checkpoint{
		{Key: "k", Offset: 1, Size: 1},
		{Source: "s", Key: "k", Offset: -1, Size: 1},
		{Source: "s", Key: "k", Offset: 1, Size: -1},
	} {
		if err := s.SetCheckpoint(ctx, c); err == nil {
			t.Errorf("SetCheckpoint(%+v) succeeded", c)
		}
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 1 {
		t.Errorf("OutboxDepth = %d, %v; want 1", n, err)
	}
}

// TestDueUsesPendingIndex guards the reason for the partial index: delivered
// rows are kept forever, and polling must not scan them.
func TestDueUsesPendingIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bg.db")
	open(t, path)
	db := rawDB(t, path)
	for _, tc := range []struct {
		name string
		q    string
		args []any
	}{
		{"due", sqlite.DueSQL, []any{"2025-01-01T00:00:00.000000000Z", 100}},
		{"depth", sqlite.DepthSQL, nil},
	} {
		p := plan(t, db, tc.q, tc.args...)
		t.Logf("%s: %s", tc.name, p)
		if !strings.Contains(p, "outbox_pending") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want outbox_pending without a sort", tc.name, p)
		}
	}
}
