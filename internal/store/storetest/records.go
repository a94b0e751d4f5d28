package storetest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"breakglass/internal/store"
)

// RecordsOpener opens the store at path as a store.Records.
type RecordsOpener func(t *testing.T, path string) store.Records

// Records is the conformance suite for store.Records: windows are half-open
// (from, to] on ingestion time, a record is kept once per table, the order
// is by ingestion, pruning is "at or before", and it all survives reopening.
func Records(t *testing.T, open RecordsOpener) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("Windows", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "records")
		s := open(t, path)
		for i := range 10 {
			r := store.KQLRecord{Table: "SigninLogs", Ingested: base.Add(time.Duration(i) * time.Minute), Source: fmt.Sprintf("f:%d", i), Raw: fmt.Appendf(nil, `{"n":%d}`, i)}
			if ok, err := s.AppendRecord(ctx, r); err != nil || !ok {
				t.Fatalf("AppendRecord %d = %v, %v", i, ok, err)
			}
		}
		if _, err := s.AppendRecord(ctx, store.KQLRecord{Table: "AuditLogs", Ingested: base.Add(time.Minute), Raw: []byte(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
		// The same bytes again, later: kept once, at the first time.
		if ok, err := s.AppendRecord(ctx, store.KQLRecord{Table: "SigninLogs", Ingested: base.Add(time.Hour), Raw: []byte(`{"n":3}`)}); err != nil || ok {
			t.Fatalf("replayed record: AppendRecord = %v, %v; want false, nil", ok, err)
		}
		got := scanAll(t, s, "SigninLogs", base.Add(2*time.Minute), base.Add(5*time.Minute))
		if want := []string{`{"n":3}`, `{"n":4}`, `{"n":5}`}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("window (2m, 5m] = %v, want %v", got, want)
		}
		// Consecutive windows tile: every record exactly once.
		var all []string
		for w := -1; w < 10; w += 3 {
			all = append(all, scanAll(t, s, "SigninLogs", base.Add(time.Duration(w)*time.Minute), base.Add(time.Duration(w+3)*time.Minute))...)
		}
		if len(all) != 10 {
			t.Errorf("tiled windows saw %d records, want 10: %v", len(all), all)
		}
		if got := scanAll(t, s, "AuditLogs", base, base.Add(time.Hour)); len(got) != 1 {
			t.Errorf("AuditLogs = %v, want the one record", got)
		}
		n, err := s.PruneRecords(ctx, base.Add(4*time.Minute))
		if err != nil || n != 6 {
			t.Fatalf("PruneRecords = %d, %v; want 6 (the 5 SigninLogs at or before 4m and the AuditLogs one)", n, err)
		}
		s2 := open(t, path)
		got = scanAll(t, s2, "SigninLogs", base.Add(-time.Hour), base.Add(time.Hour))
		if want := []string{`{"n":5}`, `{"n":6}`, `{"n":7}`, `{"n":8}`, `{"n":9}`}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after prune and reopen = %v, want %v", got, want)
		}
	})
	t.Run("FieldsRoundTrip", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "records"))
		raw := []byte("{\"x\":\"\x00\xff binary\"}")
		at := base.Add(123456789 * time.Nanosecond)
		if _, err := s.AppendRecord(ctx, store.KQLRecord{Table: "T", Ingested: at, Source: "src:7", Raw: raw}); err != nil {
			t.Fatal(err)
		}
		var got []store.KQLRecord
		err := s.ScanRecords(ctx, "T", at.Add(-time.Nanosecond), at, func(r store.KQLRecord) error {
			got = append(got, r)
			return nil
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("ScanRecords = %v, %v", got, err)
		}
		r := got[0]
		if r.Table != "T" || !r.Ingested.Equal(at) || r.Ingested.Location() != time.UTC || r.Source != "src:7" || !bytes.Equal(r.Raw, raw) {
			t.Errorf("round trip = %+v", r)
		}
		stop := fmt.Errorf("stop")
		if err := s.ScanRecords(ctx, "T", base.Add(-time.Hour), base.Add(time.Hour), func(store.KQLRecord) error { return stop }); err != stop {
			t.Errorf("fn's error = %v, want it returned", err)
		}
	})
}

func scanAll(t *testing.T, s store.Records, table string, from, to time.Time) []string {
	t.Helper()
	var out []string
	if err := s.ScanRecords(context.Background(), table, from, to, func(r store.KQLRecord) error {
		out = append(out, string(r.Raw))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
