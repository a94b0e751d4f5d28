package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/entra"
	"breakglass/internal/scan"
	"breakglass/internal/simulate"
)

// harness drives a file source poll by poll, so tests decide exactly what
// the source sees between two polls.
type harness struct {
	t    *testing.T
	dir  string
	f    *File
	fl   *follower
	sink *testSink
	cp   *memCheckpoints
}

// newHarness follows pattern inside a new directory ("" follows the
// directory itself).
func newHarness(t *testing.T, pattern string) *harness {
	t.Helper()
	dir := t.TempDir()
	return newHarnessAt(t, dir, filepath.Join(dir, pattern), newMemCheckpoints(), newTestSink())
}

func newHarnessAt(t *testing.T, dir, path string, cp *memCheckpoints, sink *testSink) *harness {
	t.Helper()
	f, err := NewFile(FileOptions{Name: "files", Path: path, Poll: time.Millisecond, Logger: testLogger(t)}, cp)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, f: f, fl: f.newFollower(sink), sink: sink, cp: cp}
	t.Cleanup(h.fl.closeAll)
	return h
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

func (h *harness) poll(n int) {
	for range n {
		h.fl.poll(h.t.Context())
	}
}

// want checks records and distinct alerts delivered, and that no alert was
// delivered twice.
func (h *harness) want(records int64, alerts int) {
	h.t.Helper()
	r, a := h.sink.counts()
	if r != records || a != alerts {
		h.t.Fatalf("records, alerts = %d, %d; want %d, %d", r, a, records, alerts)
	}
	if d := h.sink.duplicates(); len(d) > 0 {
		h.t.Fatalf("alerts delivered more than once: %v", d)
	}
}

func TestNewFileValidates(t *testing.T) {
	cp := newMemCheckpoints()
	for name, tc := range map[string]struct {
		o  FileOptions
		cp Checkpoints
	}{
		"no name":        {FileOptions{Path: "/x"}, cp},
		"no path":        {FileOptions{Name: "f"}, cp},
		"bad glob":       {FileOptions{Name: "f", Path: "/x/[a"}, cp},
		"negative poll":  {FileOptions{Name: "f", Path: "/x", Poll: -time.Second}, cp},
		"no checkpoints": {FileOptions{Name: "f", Path: "/x"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewFile(tc.o, tc.cp); err == nil {
				t.Fatal("NewFile accepted invalid options")
			}
		})
	}
}

func TestFileAppend(t *testing.T) {
	lines := pt1h(t)
	h := newHarness(t, "*.json")
	p := h.path("PT1H.json")
	writeFile(t, p, join(lines[:3]))
	h.poll(1)
	h.want(3, 2)
	appendFile(t, p, join(lines[3:]))
	h.poll(1)
	h.want(7, pt1hAlerts)
	h.poll(3) // nothing new: nothing read again
	h.want(7, pt1hAlerts)
	if n := h.sink.callsFor(p); n != 2 {
		t.Errorf("%d ingests, want 2", n)
	}
	if got := h.sink.aliveCount("files"); got != 5 {
		t.Errorf("Alive called %d times, want once per poll (5)", got)
	}
	size := int64(len(join(lines)))
	if cp, ok := h.cp.forPath(t, "files", p); !ok || cp.Offset != size || cp.Size != size || cp.Updated.IsZero() {
		t.Errorf("checkpoint %+v, want offset and size %d", cp, size)
	}
}

func TestFileHalfWrittenLine(t *testing.T) {
	lines := pt1h(t)
	h := newHarness(t, "*.json")
	p := h.path("PT1H.json")
	// Line 5 raises an alert; it arrives in two writes with a poll between.
	half := len(lines[4]) / 2
	writeFile(t, p, append(join(lines[:4]), lines[4][:half]...))
	h.poll(1)
	h.want(4, 2)
	cp, _ := h.cp.forPath(t, "files", p)
	if want := int64(len(join(lines[:4]))); cp.Offset != want {
		t.Fatalf("checkpoint offset %d, want %d (the start of the half line)", cp.Offset, want)
	}
	h.poll(2) // the half line alone is not read again
	if n := h.sink.callsFor(p); n != 1 {
		t.Fatalf("%d ingests before the line was finished, want 1", n)
	}
	appendFile(t, p, lines[4][half:])
	h.poll(1)
	h.want(5, 3) // exactly one more record, one more alert
	appendFile(t, p, join(lines[5:]))
	h.poll(1)
	h.want(7, pt1hAlerts)
}

// TestFileWrittenInPieces polls after every piece of a file written a few
// bytes at a time: every record is read exactly once.
func TestFileWrittenInPieces(t *testing.T) {
	for _, piece := range []int{13, 97, 1000} {
		t.Run("", func(t *testing.T) {
			data := join(pt1h(t))
			h := newHarness(t, "*.json")
			p := h.path("PT1H.json")
			writeFile(t, p, nil)
			for i := 0; i < len(data); i += piece {
				appendFile(t, p, data[i:min(i+piece, len(data))])
				h.poll(1)
			}
			h.want(7, pt1hAlerts)
		})
	}
}

// TestFileEnvelopeInPieces follows Event Hubs payloads, one envelope per
// line, written in pieces: a poll in the middle of an envelope must not
// lose the rest of it. Records of a cut envelope are read again, so this
// checks every alert arrives, not that each arrives once.
func TestFileEnvelopeInPieces(t *testing.T) {
	lines := pt1h(t)
	var data []byte
	for _, pair := range [][2]int{{0, 3}, {3, 5}, {5, 7}} {
		var recs [][]byte
		for _, l := range lines[pair[0]:pair[1]] {
			recs = append(recs, bytes.TrimSpace(l))
		}
		data = append(data, `{"records": [`...)
		data = append(data, bytes.Join(recs, []byte(", "))...)
		data = append(data, "]}\n"...)
	}
	h := newHarness(t, "*.json")
	p := h.path("eh.json")
	writeFile(t, p, nil)
	for i := 0; i < len(data); i += 211 {
		appendFile(t, p, data[i:min(i+211, len(data))])
		h.poll(1)
	}
	r, a := h.sink.counts()
	if r < 7 || a != pt1hAlerts {
		t.Fatalf("records, alerts = %d, %d; want at least 7, and %d", r, a, pt1hAlerts)
	}
	if cp, _ := h.cp.forPath(t, "files", p); cp.Offset != int64(len(data)) {
		t.Fatalf("checkpoint offset %d, want %d", cp.Offset, len(data))
	}
}

func TestFileNewFile(t *testing.T) {
	lines := pt1h(t)
	h := newHarness(t, "*.json")
	writeFile(t, h.path("a.json"), join(lines[:2]))
	writeFile(t, h.path("ignored.txt"), join(lines[2:]))
	h.poll(1)
	h.want(2, 2)
	writeFile(t, h.path("b.json"), join(lines[2:]))
	h.poll(1)
	h.want(7, pt1hAlerts)
	if got := h.sink.recordsFor(h.path("b.json")); got != 5 {
		t.Errorf("b.json gave %d records, want 5", got)
	}
}

func TestFileRenameRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string // the rotated name app.log.1 matches only the directory
	}{
		{"rotated out of the glob", "*.log"},
		{"rotated within the directory", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := pt1h(t)
			h := newHarness(t, tc.pattern)
			p := h.path("app.log")
			writeFile(t, p, join(lines[:3]))
			h.poll(1)
			h.want(3, 2)
			// The writer adds a line, then logrotate renames and creates:
			// the line must be read from the old inode.
			appendFile(t, p, lines[3])
			if err := os.Rename(p, h.path("app.log.1")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, join(lines[4:6]))
			h.poll(1)
			h.want(6, 3)
			// A writer that has not reopened yet still writes to the old file.
			appendFile(t, h.path("app.log.1"), lines[6])
			h.poll(2)
			h.want(7, pt1hAlerts)
		})
	}
}

func TestFileCopyTruncate(t *testing.T) {
	lines := pt1h(t)
	for _, tc := range []struct {
		name        string
		pollBetween bool     // a poll sees the empty file before new lines come
		then        [][]byte // written after the truncation
	}{
		{"truncated then written", true, lines[4:]},
		{"truncated and written between polls", false, lines[4:]},
		// Longer than what was read before: the size does not show it.
		{"truncated and grown past the offset between polls", false,
			[][]byte{lines[4], lines[5], lines[6], lines[2], lines[3], lines[2], lines[3]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "*.log")
			p := h.path("app.log")
			writeFile(t, p, join(lines[:4]))
			h.poll(1)
			h.want(4, 2)
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			if tc.pollBetween {
				h.poll(1)
				if cp, _ := h.cp.forPath(t, "files", p); cp.Offset != 0 {
					t.Fatalf("checkpoint offset %d after truncation, want 0", cp.Offset)
				}
			}
			appendFile(t, p, join(tc.then))
			h.poll(1)
			h.want(4+int64(len(tc.then)), pt1hAlerts)
		})
	}
}

// TestFileRestart stops a source in the middle of a backlog and starts
// another on the same checkpoints: together they ingest every record
// exactly once.
func TestFileRestart(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.json")
	var buf bytes.Buffer
	gen := func(seed int64, n int) {
		buf.Reset()
		o := simulate.Options{Seed: seed, Count: n, Shape: simulate.ShapeStorage, BGShare: 0.05, Accounts: testAccounts()}
		if _, err := simulate.Generate(t.Context(), &buf, o, nil); err != nil {
			t.Fatal(err)
		}
		appendFile(t, p, buf.Bytes())
	}
	gen(1, 2000)
	cp := newMemCheckpoints()
	sink := newTestSink()

	run := func(stopAfter int) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		sink.mu.Lock()
		sink.after = func(n int) {
			if stopAfter > 0 && n >= stopAfter {
				cancel() // the ingest itself succeeded: it must be checkpointed
			}
		}
		sink.mu.Unlock()
		f, err := NewFile(FileOptions{Name: "files", Path: filepath.Join(dir, "*.json"), Poll: 5 * time.Millisecond, Logger: testLogger(t)}, cp)
		if err != nil {
			t.Fatal(err)
		}
		f.chunk = 64 << 10
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, sink) }()
		if stopAfter == 0 {
			size := fileSize(t, p)
			waitFor(t, "the whole file to be read", func() bool {
				c, ok := cp.forPath(t, "files", p)
				return ok && c.Offset == size
			})
			cancel()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
	run(3)
	first, _ := sink.counts()
	if first == 0 || first >= 2000 {
		t.Fatalf("first run read %d records; the test wants it stopped in the middle", first)
	}
	gen(2, 1000) // written while no source ran
	run(0)

	total := countRecords(t, p)
	if total != 3000 {
		t.Fatalf("scanner counts %d records in the file, want 3000", total)
	}
	records, alerts := sink.counts()
	if records != total {
		t.Fatalf("two runs ingested %d records, want %d", records, total)
	}
	if d := sink.duplicates(); len(d) > 0 {
		t.Fatalf("%d alerts delivered twice", len(d))
	}
	if want := countAlerts(t, p); alerts != want || alerts == 0 {
		t.Fatalf("%d alerts, want %d", alerts, want)
	}
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func scanWhole(t testing.TB, p string) (scan.Stats, map[string]bool) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st scan.Stats
	ids := map[string]bool{}
	sc := scan.New(scan.Options{Accounts: entra.NewAccountSet(testAccounts())})
	if err := sc.Scan(t.Context(), p, f, &st, func(fd scan.Finding) error { ids[fd.Alert.ID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return st, ids
}

func countRecords(t testing.TB, p string) int64 { st, _ := scanWhole(t, p); return st.TotalRecords() }
func countAlerts(t testing.TB, p string) int    { _, ids := scanWhole(t, p); return len(ids) }

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFileWholeDocuments covers files read once they stop changing: gzip
// (by name or by magic), a JSON array and a CSV export.
func TestFileWholeDocuments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		data    func(t testing.TB) []byte
		records int64
		alerts  int
	}{
		{"gzip", "PT1H.json.gz", func(t testing.TB) []byte { return readTestdata(t, "PT1H.json.gz") }, 7, 3},
		{"gzip without .gz", "PT1H.log", func(t testing.TB) []byte { return gzipped(t, join(pt1h(t))) }, 7, 3},
		{"json array", "la.json", func(t testing.TB) []byte { return readTestdata(t, "la-signinlogs.json") }, 2, 1},
		{"graph page", "page.json", func(t testing.TB) []byte { return readTestdata(t, "graph-audit-page.json") }, 5, 5},
		{"csv", "audit.csv", func(t testing.TB) []byte { return readTestdata(t, "la-auditlogs.csv") }, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			p := h.path(tc.file)
			data := tc.data(t)
			writeFile(t, p, data)
			h.poll(stablePolls) // seen, then stable for one poll: not yet
			if n := h.sink.callsFor(p); n != 0 {
				t.Fatalf("read after %d polls; want it stable for %d polls first", stablePolls, stablePolls)
			}
			h.poll(1)
			h.want(tc.records, tc.alerts)
			h.poll(5)
			if n := h.sink.callsFor(p); n != 1 {
				t.Fatalf("%d ingests, want exactly 1", n)
			}
			if cp, _ := h.cp.forPath(t, "files", p); cp.Offset != int64(len(data)) {
				t.Fatalf("checkpoint offset %d, want the size %d", cp.Offset, len(data))
			}
			// A restart does not read it again.
			h2 := newHarnessAt(t, h.dir, h.f.o.Path, h.cp, h.sink)
			h2.poll(stablePolls + 3)
			if n := h.sink.callsFor(p); n != 1 {
				t.Fatalf("%d ingests after restart, want still 1", n)
			}
		})
	}
}

func TestFileCorruptGzip(t *testing.T) {
	h := newHarness(t, "*.gz")
	p := h.path("cut.json.gz")
	gz := gzipped(t, join(pt1h(t)))
	writeFile(t, p, gz[:len(gz)-20]) // the trailer and some data missing
	h.poll(stablePolls + 5)
	if n := h.sink.callsFor(p); n != 0 {
		t.Fatalf("%d successful ingests of a corrupt gzip", n)
	}
	if cp, ok := h.cp.forPath(t, "files", p); !ok || cp.Offset != int64(len(gz)-20) {
		t.Fatalf("checkpoint %+v: a corrupt gzip must be marked done, not retried forever", cp)
	}
}

// TestFileProblemsDoNotStop puts things in the source's way: a dangling
// symlink, a FIFO (opening it would block), a directory matching the glob,
// a file that vanishes between listing and opening, a failing sink and a
// file deleted while followed. The good file keeps being followed.
func TestFileProblemsDoNotStop(t *testing.T) {
	lines := pt1h(t)
	h := newHarness(t, "*.json")
	good := h.path("good.json")
	writeFile(t, good, lines[0])
	if err := os.Symlink(h.path("nowhere"), h.path("dangling.json")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(h.path("fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.path("dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	vanish := h.path("vanish.json")
	writeFile(t, vanish, lines[1])
	h.fl.beforeOpen = func(p string) {
		if p == vanish {
			os.Remove(p)
		}
	}
	h.poll(2)
	h.want(1, 1)

	// The sink fails (store down): the input is read again later.
	h.sink.setFail(errors.New("store unavailable"))
	appendFile(t, good, lines[1])
	h.poll(2)
	h.want(1, 1)
	h.sink.setFail(nil)
	h.poll(1)
	h.want(2, 2)

	// Deleted with a line not yet read: it is read from the open file.
	appendFile(t, good, lines[2])
	if err := os.Remove(good); err != nil {
		t.Fatal(err)
	}
	other := h.path("other.json")
	writeFile(t, other, join(lines[3:]))
	h.poll(2)
	h.want(7, pt1hAlerts)
}

func TestFileDirectory(t *testing.T) {
	lines := pt1h(t)
	h := newHarness(t, "")
	writeFile(t, h.path("y=2024/m=06/d=20/h=07/PT1H.json"), join(lines[:3]))
	writeFile(t, h.path("top.ndjson"), join(lines[3:5]))
	writeFile(t, h.path("sub/deeper/last.log"), join(lines[5:]))
	writeFile(t, h.path(".hidden.json"), join(lines))
	writeFile(t, h.path(".git/objects/x.json"), join(lines))
	writeFile(t, h.path("sub/.partial.json.tmp"), join(lines))
	h.poll(1)
	h.want(7, pt1hAlerts)
	writeFile(t, h.path("sub/new.json"), lines[0])
	h.poll(1)
	if got := h.sink.recordsFor(h.path("sub/new.json")); got != 1 {
		t.Fatalf("new file in a subdirectory gave %d records, want 1", got)
	}
}

// TestFileRunCancel checks Run returns nil promptly on cancel, even with a
// long poll interval, and follows appends while running.
func TestFileRunCancel(t *testing.T) {
	lines := pt1h(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	writeFile(t, p, join(lines[:2]))
	sink := newTestSink()
	for _, poll := range []time.Duration{5 * time.Millisecond, time.Hour} {
		ctx, cancel := context.WithCancel(t.Context())
		f, err := NewFile(FileOptions{Name: "files", Path: filepath.Join(dir, "*.json"), Poll: poll, Logger: testLogger(t)}, newMemCheckpoints())
		if err != nil {
			t.Fatal(err)
		}
		before, _ := sink.counts()
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, sink) }()
		waitFor(t, "the first poll", func() bool { r, _ := sink.counts(); return r > before })
		if poll < time.Second {
			appendFile(t, p, join(lines[2:]))
			waitFor(t, "the appended lines", func() bool { return sink.recordsFor(p) == 7 })
		}
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run returned %v, want nil", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Run took %v to return", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Run with poll %v did not return after cancel", poll)
		}
	}
}

// TestFileLongLineAcrossChunks reads a line longer than a chunk.
func TestFileLongLineAcrossChunks(t *testing.T) {
	lines := pt1h(t)
	var recs [][]byte
	for _, l := range lines {
		recs = append(recs, bytes.TrimSpace(l))
	}
	envelope := append(append([]byte(`{"records": [`), bytes.Join(recs, []byte(", "))...), "]}\n"...)
	h := newHarness(t, "*.json")
	h.f.chunk = 1000 // far shorter than the envelope line
	p := h.path("eh.json")
	writeFile(t, p, append(append(lines[0], envelope...), lines[1]...))
	h.poll(1)
	// Lines 1 and 2 are also in the envelope, so their alerts come twice.
	if r, a := h.sink.counts(); r != 9 || a != pt1hAlerts {
		t.Fatalf("records, alerts = %d, %d; want 9, %d", r, a, pt1hAlerts)
	}
	if cp, _ := h.cp.forPath(t, "files", p); cp.Offset != fileSize(t, p) {
		t.Fatalf("checkpoint offset %d, want %d", cp.Offset, fileSize(t, p))
	}
}

// TestFilePrettyRecordsAcrossChunks follows a file of one-line records
// followed by pretty-printed ones, which span lines, with chunks cut inside
// them.
func TestFilePrettyRecordsAcrossChunks(t *testing.T) {
	lines := pt1h(t)
	data := bytes.Clone(lines[0])
	for _, l := range lines[1:] {
		var out bytes.Buffer
		if err := json.Indent(&out, bytes.TrimSpace(l), "", "  "); err != nil {
			t.Fatal(err)
		}
		data = append(append(data, out.Bytes()...), '\n')
	}
	h := newHarness(t, "*.json")
	h.f.chunk = 1000
	p := h.path("pretty.json")
	writeFile(t, p, data)
	h.poll(1)
	if r, a := h.sink.counts(); r < 7 || a != pt1hAlerts {
		t.Fatalf("records, alerts = %d, %d; want at least 7, and %d", r, a, pt1hAlerts)
	}
	if cp, _ := h.cp.forPath(t, "files", p); cp.Offset != fileSize(t, p) {
		t.Fatalf("checkpoint offset %d, want %d", cp.Offset, fileSize(t, p))
	}
}

// TestFileWholeDocumentStillGrowing reads a document that keeps changing
// after maxPending polls, and again once it is complete.
func TestFileWholeDocumentStillGrowing(t *testing.T) {
	page := readTestdata(t, "graph-audit-page.json")
	h := newHarness(t, "*.json")
	p := h.path("page.json")
	cut := len(page) / 2
	writeFile(t, p, page[:cut])
	for i := 0; i < maxPending+1; i++ {
		appendFile(t, p, page[cut+i:cut+i+1]) // one byte per poll
		h.poll(1)
	}
	if n := h.sink.callsFor(p); n != 1 {
		t.Fatalf("%d ingests of a document that never stopped changing, want 1", n)
	}
	appendFile(t, p, page[cut+maxPending+1:])
	h.poll(stablePolls + 1)
	if _, a := h.sink.counts(); a != 5 {
		t.Fatalf("%d alerts, want 5", a)
	}
}

func TestFileCheckpointStoreDown(t *testing.T) {
	lines := pt1h(t)
	h := newHarness(t, "*.json")
	p := h.path("a.json")
	writeFile(t, p, join(lines))
	h.cp.mu.Lock()
	h.cp.fail = errors.New("database is locked")
	h.cp.mu.Unlock()
	h.poll(3) // cannot load a checkpoint: nothing is read, nothing stops
	h.want(0, 0)
	h.cp.mu.Lock()
	h.cp.fail = nil
	h.cp.mu.Unlock()
	h.poll(1)
	h.want(7, pt1hAlerts)
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       mode
	}{
		{"x.json", `{"a":1}`, modeStream},
		{"x.json", "\xef\xbb\xbf\n  {", modeStream},
		{"x.json", "[\n{", modeWhole},
		{"x.json", "{\n  \"value\": [", modeWhole},
		{"x.json", "\xef\xbb\xbf{\r\n    \"value\":  [", modeWhole},
		{"x.json", "{\"value\": [{}]}\n{", modeStream},
		{"x.csv", "TenantId,TimeGenerated\n", modeWhole},
		{"x.log", "some banner\n{}", modeStream},
		{"x.json", "{", modeUnknown},
		{"x.json", "  \n", modeUnknown},
		{"x.gz", "{", modeWhole},
		{"x.bin", "\x1f\x8b\x08", modeWhole},
	} {
		p := filepath.Join(t.TempDir(), tc.name)
		writeFile(t, p, []byte(tc.data))
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := sniff(f, int64(len(tc.data)), p); got != tc.want {
			t.Errorf("sniff(%q, %q) = %d, want %d", tc.name, tc.data, got, tc.want)
		}
		f.Close()
	}
}
