package source

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"breakglass/internal/store"
)

// TestFileSymlinks: a link in the followed directory to a file outside it
// is not read unless FollowSymlinks is set; links to files inside are.
func TestFileSymlinks(t *testing.T) {
	lines := pt1h(t)
	outside := filepath.Join(t.TempDir(), "passwd.json")
	writeFile(t, outside, join(lines[:2])) // two alerting records, outside the path
	for _, tc := range []struct {
		name    string
		pattern string // "" follows the directory
		follow  bool
		want    int64 // records read
	}{
		{"directory, link out", "", false, 3},
		{"glob, link out", "*.json", false, 3},
		{"glob through a linked directory", "*/*.json", false, 0},
		{"directory, follow_symlinks", "", true, 5},
		{"glob, follow_symlinks", "*.json", true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.pattern == "*/*.json" {
				// A subdirectory that is a link out of the path.
				if err := os.Symlink(filepath.Dir(outside), filepath.Join(dir, "sub")); err != nil {
					t.Fatal(err)
				}
			} else {
				inside := filepath.Join(dir, "real.json")
				writeFile(t, inside, join(lines[2:5]))
				if err := os.Symlink(outside, filepath.Join(dir, "evil.json")); err != nil {
					t.Fatal(err)
				}
				// A link to a file inside the path is read (here: the same
				// file again, whose records dedupe).
				if err := os.Symlink(inside, filepath.Join(dir, "alias.json")); err != nil {
					t.Fatal(err)
				}
			}
			sink, cp := newTestSink(), newMemCheckpoints()
			f, err := NewFile(FileOptions{Name: "files", Path: filepath.Join(dir, tc.pattern), Poll: time.Millisecond,
				Logger: testLogger(t), FollowSymlinks: tc.follow}, cp)
			if err != nil {
				t.Fatal(err)
			}
			fl := f.newFollower(sink)
			defer fl.closeAll()
			for range 3 {
				fl.poll(t.Context())
			}
			got := sink.recordsFor(filepath.Join(dir, "real.json")) + sink.recordsFor(filepath.Join(dir, "evil.json")) +
				sink.recordsFor(filepath.Join(dir, "sub", "passwd.json"))
			if got != tc.want {
				t.Errorf("records read from real and linked-out files: %d, want %d", got, tc.want)
			}
			if tc.pattern != "*/*.json" && sink.recordsFor(filepath.Join(dir, "alias.json")) != 3 {
				t.Errorf("a link inside the path was not read")
			}
		})
	}
}

// TestFileRelativePath: a path given relative to the working directory
// (as examples/demo.yaml gives examples/logs/) is read, directory and glob
// alike, while a link out of it is still refused. The containment check
// once compared the relative path with the absolute path the kernel
// opened, and so refused every file: `make demo` read nothing.
func TestFileRelativePath(t *testing.T) {
	lines := pt1h(t)
	outside := filepath.Join(t.TempDir(), "passwd.json")
	writeFile(t, outside, join(lines[:2]))
	root := t.TempDir()
	t.Chdir(root)
	dir := filepath.Join("examples", "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "real.json"), join(lines[2:5]))
	if err := os.Symlink(outside, filepath.Join(dir, "evil.json")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, dir + string(filepath.Separator), filepath.Join(dir, "*.json")} {
		t.Run(path, func(t *testing.T) {
			sink, cp := newTestSink(), newMemCheckpoints()
			f, err := NewFile(FileOptions{Name: "files", Path: path, Poll: time.Millisecond, Logger: testLogger(t)}, cp)
			if err != nil {
				t.Fatal(err)
			}
			fl := f.newFollower(sink)
			defer fl.closeAll()
			for range 3 {
				fl.poll(t.Context())
			}
			var got int64
			for _, p := range []string{filepath.Join(dir, "real.json"), filepath.Join(root, dir, "real.json")} {
				got += sink.recordsFor(p)
			}
			if got != 3 {
				t.Errorf("records read from %s under a relative path: %d, want 3", filepath.Join(dir, "real.json"), got)
			}
			var evil int64
			for _, p := range []string{filepath.Join(dir, "evil.json"), filepath.Join(root, dir, "evil.json")} {
				evil += sink.recordsFor(p)
			}
			if evil != 0 {
				t.Errorf("a link out of a relative path was read: %d records", evil)
			}
		})
	}
}

// TestFileLinkedDirectory: a configured path that is a symbolic link to a
// directory (/var/log/entra -> /mnt/entra) is read, with or without a
// trailing separator, relative or absolute; its own files are inside it,
// and a link out of it is still refused. Without the separator it once
// read nothing at all, silently.
func TestFileLinkedDirectory(t *testing.T) {
	lines := pt1h(t)
	outside := filepath.Join(t.TempDir(), "passwd.json")
	writeFile(t, outside, join(lines[:2]))
	root := t.TempDir()
	t.Chdir(root)
	target := filepath.Join(root, "mnt", "entra")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(target, "real.json"), join(lines[2:5]))
	if err := os.Symlink(outside, filepath.Join(target, "evil.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(root, "entra")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"entra", "entra/", filepath.Join(root, "entra"), "./entra"} {
		t.Run(path, func(t *testing.T) {
			sink, cp := newTestSink(), newMemCheckpoints()
			f, err := NewFile(FileOptions{Name: "files", Path: path, Poll: time.Millisecond, Logger: testLogger(t)}, cp)
			if err != nil {
				t.Fatal(err)
			}
			fl := f.newFollower(sink)
			defer fl.closeAll()
			for range 3 {
				fl.poll(t.Context())
			}
			real := filepath.Join(path, "real.json")
			if got := sink.recordsFor(real); got != 3 {
				t.Errorf("records read from %s: %d, want 3", real, got)
			}
			if got := sink.recordsFor(filepath.Join(path, "evil.json")); got != 0 {
				t.Errorf("a link out of the linked directory was read: %d records", got)
			}
		})
	}
}

// TestFileMatchesNothingSaysSo: a path that lists but matches no file
// (here a glob for *.json over gzip exports) is logged once at warn level,
// not on every poll, and again after files came and went.
func TestFileMatchesNothingSaysSo(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "PT1H.json.gz"), []byte("x"))
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	sink, cp := newTestSink(), newMemCheckpoints()
	f, err := NewFile(FileOptions{Name: "files", Path: filepath.Join(dir, "*.json"), Poll: time.Millisecond, Logger: log}, cp)
	if err != nil {
		t.Fatal(err)
	}
	fl := f.newFollower(sink)
	defer fl.closeAll()
	const msg = "the path matches no file"
	for range 3 {
		fl.poll(t.Context())
	}
	if n := strings.Count(buf.String(), msg); n != 1 {
		t.Fatalf("%d warnings for a path matching nothing over 3 polls, want 1:\n%s", n, buf.String())
	}
	writeFile(t, filepath.Join(dir, "a.json"), join(pt1h(t)[:1]))
	fl.poll(t.Context())
	if err := os.Remove(filepath.Join(dir, "a.json")); err != nil {
		t.Fatal(err)
	}
	fl.poll(t.Context())
	fl.poll(t.Context())
	if n := strings.Count(buf.String(), msg); n != 2 {
		t.Errorf("%d warnings after files came and went, want 2:\n%s", n, buf.String())
	}
}

// TestFileAliveAndFailing: every listed poll is alive, also when nothing
// matches; a missing directory is not, and becomes Failing after the
// threshold, once, then Recovered once it exists. A file whose ingest keeps
// failing is Failing under its own path, and Recovered when it works.
func TestFileAliveAndFailing(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "logs")
	sink, cp := newTestSink(), newMemCheckpoints()
	f, err := NewFile(FileOptions{Name: "files", Path: filepath.Join(dir, "*.json"), Poll: time.Millisecond, Logger: testLogger(t)}, cp)
	if err != nil {
		t.Fatal(err)
	}
	fl := f.newFollower(sink)
	defer fl.closeAll()
	pattern := filepath.Join(dir, "*.json")
	for i := 1; i <= 4; i++ {
		fl.poll(t.Context())
		if n := sink.aliveCount("files"); n != 0 {
			t.Fatalf("poll %d: alive %d with the directory missing", i, n)
		}
	}
	ev := sink.eventList()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "failing files "+pattern+": list: ") {
		t.Fatalf("events %q, want one Failing for the path", ev)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fl.poll(t.Context()) // nothing matches: a quiet, healthy source
	if n := sink.aliveCount("files"); n != 1 {
		t.Fatalf("alive %d after the directory appeared, want 1", n)
	}
	if ev := sink.eventList(); len(ev) != 2 || ev[1] != "recovered files "+pattern {
		t.Fatalf("events %q, want a recovery", ev)
	}

	p := filepath.Join(dir, "PT1H.json")
	writeFile(t, p, join(pt1h(t)))
	sink.setFail(errors.New("disk I/O error"))
	for range DefaultFailThreshold + 2 {
		fl.poll(t.Context())
	}
	ev = sink.eventList()
	if len(ev) != 3 || !strings.HasPrefix(ev[2], "failing files "+p+": ingest: disk I/O error") {
		t.Fatalf("events %q, want one Failing for the file", ev)
	}
	sink.setFail(nil)
	fl.poll(t.Context())
	fl.poll(t.Context())
	if ev := sink.eventList(); len(ev) != 4 || ev[3] != "recovered files "+p {
		t.Fatalf("events %q, want the file's recovery", ev)
	}
	if r, _ := sink.counts(); r != 7 {
		t.Errorf("records %d after recovery, want 7", r)
	}
}

// TestFilePrunesCheckpoints: checkpoints of files that no longer exist,
// or whose path names another file now, go after Retention; those of
// existing files, of recent updates and of other sources stay.
func TestFilePrunesCheckpoints(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	sink, cp := newTestSink(), newMemCheckpoints()
	f, err := NewFile(FileOptions{Name: "files", Path: dir, Poll: time.Millisecond, Logger: testLogger(t), Retention: 48 * time.Hour,
		Now: func() time.Time { return clock }}, cp)
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "live.json")
	writeFile(t, live, join(pt1h(t)))
	old := clock.Add(-72 * time.Hour)
	put := func(source, key string, updated time.Time) {
		if err := cp.SetCheckpoint(t.Context(), store.Checkpoint{Source: source, Key: key, Offset: 10, Size: 10, Updated: updated}); err != nil {
			t.Fatal(err)
		}
	}
	fi, _ := os.Stat(live)
	put("files", filepath.Join(dir, "gone.json")+"#1:2", old)                     // deleted long ago: pruned
	put("files", filepath.Join(dir, "recent.json")+"#1:3", clock.Add(-time.Hour)) // deleted lately: kept
	put("files", live+"#9999:9999", old)                                          // the path names another file now: pruned
	put("files", live+"#"+identity(fi).String(), old)                             // the file itself, unchanged for long: kept
	put("other", filepath.Join(dir, "gone.json")+"#1:2", old)                     // another source's: kept
	fl := f.newFollower(sink)
	defer fl.closeAll()
	fl.poll(t.Context())
	want := []string{live + "#" + identity(fi).String(), filepath.Join(dir, "recent.json") + "#1:3"}
	slices.Sort(want)
	if got := cp.keys("files"); !slices.Equal(got, want) {
		t.Errorf("checkpoints after pruning %q, want %q", got, want)
	}
	if got := cp.keys("other"); len(got) != 1 {
		t.Errorf("another source's checkpoints were touched: %q", got)
	}
	// Pruning runs again only after pruneInterval.
	put("files", filepath.Join(dir, "gone2.json")+"#1:4", old)
	clock = clock.Add(time.Minute)
	fl.poll(t.Context())
	if !slices.Contains(cp.keys("files"), filepath.Join(dir, "gone2.json")+"#1:4") {
		t.Error("pruned again before pruneInterval")
	}
	clock = clock.Add(pruneInterval)
	fl.poll(t.Context())
	if slices.Contains(cp.keys("files"), filepath.Join(dir, "gone2.json")+"#1:4") {
		t.Error("not pruned after pruneInterval")
	}
}

// TestFileSymlinkSwappedAfterListing: a file that the listing saw inside
// the path but that is a link out of it by the time it is opened (a link
// swapped in between) is not read.
func TestFileSymlinkSwappedAfterListing(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.json")
	writeFile(t, outside, join(pt1h(t)[:2]))
	dir := t.TempDir()
	p := filepath.Join(dir, "PT1H.json")
	sink, cp := newTestSink(), newMemCheckpoints()
	f, err := NewFile(FileOptions{Name: "files", Path: dir, Poll: time.Millisecond, Logger: testLogger(t)}, cp)
	if err != nil {
		t.Fatal(err)
	}
	fl := f.newFollower(sink)
	defer fl.closeAll()
	writeFile(t, p, []byte("\n"))
	fl.poll(t.Context()) // lists the directory: base is known
	// The race: the path becomes a link out after it was listed and
	// stat'ed; its identity is the target's.
	os.Remove(p)
	if err := os.Symlink(outside, p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	in := &input{path: p, id: identity(fi), key: checkpointKey(p, identity(fi)), size: -1, savedOff: -1, savedSize: -1, obsSize: -1}
	if fl.open(in) {
		fl.close(in)
		t.Fatal("opened a file outside the path through a swapped-in link")
	}
}

// TestFileMissingPathFails: a configured directory or file that does not
// exist is a broken source (Failing, never Alive), not a quiet one.
func TestFileMissingPathFails(t *testing.T) {
	for _, name := range []string{"missing-dir", "missing.json"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), name)
			sink := newTestSink()
			f, err := NewFile(FileOptions{Name: "files", Path: p, Poll: time.Millisecond, Logger: testLogger(t)}, newMemCheckpoints())
			if err != nil {
				t.Fatal(err)
			}
			fl := f.newFollower(sink)
			defer fl.closeAll()
			for range DefaultFailThreshold {
				fl.poll(t.Context())
			}
			if ev := sink.eventList(); len(ev) != 1 || !strings.Contains(ev[0], "no such file") || sink.aliveCount("files") != 0 {
				t.Fatalf("events %q, alive %d; want one Failing and no Alive", ev, sink.aliveCount("files"))
			}
			if name == "missing-dir" {
				os.Mkdir(p, 0o755)
			} else {
				writeFile(t, p, join(pt1h(t)))
			}
			fl.poll(t.Context())
			if sink.aliveCount("files") != 1 || len(sink.eventList()) != 2 {
				t.Fatalf("after the path appeared: alive %d, events %q", sink.aliveCount("files"), sink.eventList())
			}
		})
	}
}
