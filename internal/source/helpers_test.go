package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

const (
	bg1 = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	bg2 = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
)

// testAccounts are the accounts of internal/scan's tests, which the records
// in internal/logs/testdata concern.
func testAccounts() []entra.Account {
	return []entra.Account{
		{ID: bg1, UPN: "bg-admin1@contoso.onmicrosoft.com", Name: "Break glass 1"},
		{ID: strings.ToUpper(bg2), UPN: "BG-Admin2@contoso.onmicrosoft.com"},
		{UPN: "emergency@contoso.onmicrosoft.com", Name: "UPN only"},
	}
}

// pt1h returns the lines of PT1H.json, newline included. Lines 1, 2 and 5
// raise one alert each; line 6 is of an unmonitored category.
func pt1h(t testing.TB) [][]byte {
	t.Helper()
	b := readTestdata(t, "PT1H.json")
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) != 7 {
		t.Fatalf("PT1H.json has %d lines, want 7", len(lines))
	}
	return lines
}

const pt1hAlerts = 3

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "logs", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func join(lines [][]byte) []byte { return bytes.Join(lines, nil) }

// testSink is the real scanner behind the Sink interface, keeping alerts in
// memory. Like the daemon's sink it serialises scans: a Scanner scans one
// input at a time.
type testSink struct {
	sc *scan.Scanner

	mu      sync.Mutex
	records int64            // from successful ingests only
	alerts  map[string]int   // alert ID → times delivered
	calls   map[string]int   // input name → successful ingests
	byName  map[string]int64 // input name → records
	fail    error            // returned by Ingest when set
	after   func(calls int)  // called after each successful ingest
	total   int              // successful ingests
	alive   map[string]int   // source → Alive calls
	events  []string         // "failing <source> <key>: <err>", "recovered <source> <key>", in order
}

func newTestSink() *testSink {
	return &testSink{
		sc:     scan.New(scan.Options{Accounts: entra.NewAccountSet(testAccounts()), Workers: 2}),
		alerts: map[string]int{},
		calls:  map[string]int{},
		byName: map[string]int64{},
		alive:  map[string]int{},
	}
}

func (s *testSink) Alive(ctx context.Context, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alive[source]++
}

func (s *testSink) Failing(ctx context.Context, source, key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, "failing "+source+" "+key+": "+err.Error())
}

func (s *testSink) Recovered(ctx context.Context, source, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, "recovered "+source+" "+key)
}

func (s *testSink) aliveCount(source string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alive[source]
}

func (s *testSink) eventList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

func (s *testSink) Ingest(ctx context.Context, source, name string, r io.Reader) (scan.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return scan.Stats{}, s.fail
	}
	var st scan.Stats
	var ids []string
	err := s.sc.Scan(ctx, name, r, &st, func(f scan.Finding) error {
		ids = append(ids, f.Alert.ID)
		return nil
	})
	if err != nil {
		return st, err
	}
	s.records += st.TotalRecords()
	s.byName[name] += st.TotalRecords()
	s.calls[name]++
	for _, id := range ids {
		s.alerts[id]++
	}
	s.total++
	if s.after != nil {
		s.after(s.total)
	}
	return st, nil
}

func (s *testSink) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// counts returns records and distinct alerts delivered so far.
func (s *testSink) counts() (records int64, alerts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records, len(s.alerts)
}

func (s *testSink) callsFor(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

func (s *testSink) ingests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *testSink) recordsFor(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byName[name]
}

// duplicates lists alerts delivered more than once.
func (s *testSink) duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d []string
	for id, n := range s.alerts {
		if n > 1 {
			d = append(d, id)
		}
	}
	slices.Sort(d)
	return d
}

func (s *testSink) alertIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.alerts))
	for id := range s.alerts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// memCheckpoints keeps checkpoints in memory.
type memCheckpoints struct {
	mu   sync.Mutex
	m    map[string]store.Checkpoint
	fail error
}

func newMemCheckpoints() *memCheckpoints {
	return &memCheckpoints{m: map[string]store.Checkpoint{}}
}

func (c *memCheckpoints) Checkpoint(ctx context.Context, source, key string) (store.Checkpoint, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return store.Checkpoint{}, false, c.fail
	}
	cp, ok := c.m[source+"\x00"+key]
	return cp, ok, nil
}

func (c *memCheckpoints) SetCheckpoint(ctx context.Context, cp store.Checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	if cp.Source == "" || cp.Key == "" {
		return errors.New("checkpoint without source or key")
	}
	c.m[cp.Source+"\x00"+cp.Key] = cp
	return nil
}

func (c *memCheckpoints) Checkpoints(ctx context.Context, source string) ([]store.Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return nil, c.fail
	}
	var out []store.Checkpoint
	for _, cp := range c.m {
		if cp.Source == source {
			out = append(out, cp)
		}
	}
	slices.SortFunc(out, func(a, b store.Checkpoint) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (c *memCheckpoints) DeleteCheckpoint(ctx context.Context, source, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	delete(c.m, source+"\x00"+key)
	return nil
}

// keys lists a source's checkpoint keys.
func (c *memCheckpoints) keys(source string) []string {
	cps, _ := c.Checkpoints(context.Background(), source)
	var ks []string
	for _, cp := range cps {
		ks = append(ks, cp.Key)
	}
	return ks
}

// forPath returns the checkpoint of the file now at path.
func (c *memCheckpoints) forPath(t testing.TB, source, path string) (store.Checkpoint, bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.m[source+"\x00"+checkpointKey(path, identity(fi))]
	return cp, ok
}

// waitFor polls cond until it holds, failing the test after a bounded
// time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// syncBuffer is a log destination tests can read while sources write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}
