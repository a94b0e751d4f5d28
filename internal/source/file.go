package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"breakglass/internal/logs"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// File source defaults. Each has its one owner here; config refers to them.
const (
	// DefaultPoll is how often a file source looks for new data when
	// FileOptions.Poll is zero.
	DefaultPoll = 250 * time.Millisecond
	// DefaultRetention is how long the checkpoint of a file that no
	// longer exists (deleted, or its path now names another file) is
	// kept. A file that comes back within it resumes where it stopped.
	DefaultRetention = 7 * 24 * time.Hour
)

// pruneInterval is how often checkpoints are looked at for pruning.
const pruneInterval = time.Hour

const (
	// defaultChunk bounds one Ingest of a file, so that a large backlog is
	// checkpointed as it goes instead of only at its end.
	defaultChunk = 64 << 20
	// stablePolls is how many polls a whole-document file (gzip, JSON array,
	// CSV) must keep its size and mtime before it is read: such files are
	// written once and cannot be read in pieces.
	stablePolls = 2
	// maxPending is how long a whole-document file that keeps changing
	// waits before it is read anyway: alerts in it must not wait forever.
	maxPending = 40
	// idlePolls is how long a file that stopped changing keeps its
	// descriptor; holding it lets a rotation be finished from the old inode,
	// closing it keeps a directory of archives from exhausting descriptors.
	idlePolls = 240
	// orphanPolls is how long a rotated-away or deleted file is still read
	// after it stopped growing, for a writer that has not reopened yet.
	orphanPolls = 40
	// maxHeld bounds the descriptors kept open between polls.
	maxHeld = 256
	// sniffBytes is how much of a file's start decides how it is read.
	sniffBytes = 4096
	// saveTimeout bounds writing a checkpoint, also while shutting down.
	saveTimeout = 5 * time.Second
)

// FileOptions configure a file source.
type FileOptions struct {
	Name string
	// Path is a glob (filepath.Match syntax) or a directory, meaning every
	// regular file below it. Names starting with a dot are skipped in both
	// cases (unless the glob's last element itself starts with a dot):
	// they are the temporary files of rsync, editors and uploaders.
	Path   string
	Poll   time.Duration // default DefaultPoll
	Logger *slog.Logger  // default slog.Default()
	Now    func() time.Time
	// FollowSymlinks lets symbolic links in the path lead to files outside
	// it. Off, a link is read only when its target lies inside the
	// configured directory (or the glob's fixed leading directory): a link
	// to /etc/passwd dropped into a log directory is not read.
	FollowSymlinks bool
	// Retention is how long checkpoints of files that no longer exist are
	// kept; default DefaultRetention.
	Retention time.Duration
	// FailThreshold is how many consecutive polls a file (or the listing
	// of the path) must fail before Sink.Failing; default
	// DefaultFailThreshold.
	FailThreshold int
}

// File follows the files matching a path: it reads what is appended to
// them, picks up new ones, survives rotation by rename and by copy-truncate,
// and resumes after a restart where the previous run stopped.
//
// Files whose first line is a JSON object (NDJSON, Event Hubs payloads
// one per line) are followed by offset: each poll ingests what was
// appended, and a record still being written is left for the next poll
// (scan.Stats.Consumed). Files that only make sense whole (gzip, a JSON
// array, a CSV export, a pretty-printed object such as a saved Graph page)
// are read from the start once their size and mtime have held for two
// polls (or after maxPending polls of waiting), and again whenever they
// change.
//
// A checkpoint's Key is path + "#" + device:inode, its Offset how far the
// file was read completely, and its Size how far it had been examined: a
// restart reads the file only if its size differs, so an incomplete last
// line is not read again and again.
//
// Delivery is at least once: a chunk is checkpointed after Ingest returns,
// so a crash between the two reads that chunk again on restart, and the
// store's dedupe drops the repeated alerts. Data is never skipped in favour
// of avoiding a repeat; where the source cannot tell whether bytes were read
// (a file renamed while its descriptor was closed, a final line without its
// newline) it reads them again.
//
// Known limits: a followed file that changes from one-line records to a
// pretty-printed envelope part-way loses what follows a poll that caught
// the envelope half-written. A copy-truncated file that regrows past the old
// offset between two polls is noticed only while the source runs (by the
// bytes before the offset), not across a restart. A whole-document file
// rewritten to exactly its old size and mtime is not read again.
type File struct {
	o   FileOptions
	cp  Checkpoints
	log *slog.Logger
	now func() time.Time

	chunk      int64             // defaultChunk; smaller in tests
	beforeOpen func(path string) // test hook: runs just before a path is opened
}

// NewFile validates o and returns a file source that keeps its progress in
// cp.
func NewFile(o FileOptions, cp Checkpoints) (*File, error) {
	switch {
	case o.Name == "":
		return nil, errors.New("file source: name is required")
	case o.Path == "":
		return nil, fmt.Errorf("file source %q: path is required", o.Name)
	case o.Poll < 0:
		return nil, fmt.Errorf("file source %q: poll must not be negative", o.Name)
	case o.Retention < 0:
		return nil, fmt.Errorf("file source %q: retention must not be negative", o.Name)
	case cp == nil:
		return nil, fmt.Errorf("file source %q: checkpoints are required", o.Name)
	}
	if _, err := filepath.Match(o.Path, ""); err != nil {
		return nil, fmt.Errorf("file source %q: path %q: %w", o.Name, o.Path, err)
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.FailThreshold <= 0 {
		o.FailThreshold = DefaultFailThreshold
	}
	f := &File{o: o, cp: cp, log: o.Logger, now: o.Now, chunk: defaultChunk}
	if f.log == nil {
		f.log = slog.Default()
	}
	f.log = f.log.With("source", o.Name)
	if f.now == nil {
		f.now = time.Now
	}
	return f, nil
}

// Name returns the source's name.
func (f *File) Name() string { return f.o.Name }

// Run follows the files until ctx ends, then returns nil. Problems with
// single files are logged and retried on the next poll. Run keeps its state
// for the duration of the call; calls must not overlap.
func (f *File) Run(ctx context.Context, sink Sink) error {
	if sink == nil {
		return fmt.Errorf("file source %q: no sink", f.o.Name)
	}
	fl := f.newFollower(sink)
	defer fl.closeAll()
	t := time.NewTicker(f.o.Poll)
	defer t.Stop()
	for {
		fl.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (f *File) newFollower(sink Sink) *follower {
	return &follower{File: f, sink: sink, files: map[string]*input{}, errs: map[string]string{}, failed: map[string]error{},
		fails: newFailures(f.o.Name, f.o.FailThreshold), links: map[string]bool{}}
}

// mode is how a file is read, decided from its first bytes.
type mode int

const (
	modeUnknown mode = iota
	// modeStream files are appended to (NDJSON, Event Hubs payloads one per
	// line, pretty-printed records) and are followed by offset.
	modeStream
	// modeWhole files (gzip, a JSON array, CSV) only make sense whole: a
	// gzip stream cannot be resumed in the middle, and an array or a CSV
	// body read from an offset has lost its opening bracket or header.
	modeWhole
)

// input is one file being followed.
type input struct {
	path string
	id   fileID
	key  string
	f    *os.File // nil while closed
	mode mode

	offset int64 // bytes read completely
	size   int64 // how far the file had been examined when offset was set; -1 before
	// savedOff and savedSize are what the checkpoint holds (-1: unknown).
	savedOff, savedSize int64

	// Whole-document stability.
	obsSize int64
	obsMod  time.Time
	stable  int
	pending int // polls spent waiting for stability

	idle int // polls without change

	// tail holds the bytes just before offset, to notice a file that was
	// truncated and has grown past offset again between two polls
	// (copy-truncate with a busy writer), which size alone cannot show.
	tail []byte
}

type follower struct {
	*File
	sink    Sink
	files   map[string]*input // by path
	orphans []*input          // rotated away or deleted, still open
	held    int               // open descriptors
	errs    map[string]string // last problem logged per path
	failed  map[string]error  // paths with a problem in this poll
	fails   *failures         // consecutive failures per path, for Sink.Failing
	links   map[string]bool   // symlinks out of the path, logged once
	empty   bool              // the last listing matched no file (logged once per episode)
	base    string            // the path's fixed directory, links resolved; "" when links are followed
	ctx     context.Context   // of the poll in progress
	pruned  time.Time         // last checkpoint pruning
}

func (fl *follower) poll(ctx context.Context) {
	clear(fl.failed)
	fl.ctx = ctx
	defer func() { fl.ctx = nil }()
	paths, ok := fl.list()
	seen := make(map[string]bool, len(paths))
	for _, p := range paths {
		if ctx.Err() != nil {
			return
		}
		seen[p] = true
		fl.visit(ctx, p)
	}
	if ok {
		for _, p := range slices.Sorted(maps.Keys(fl.files)) {
			if !seen[p] && ctx.Err() == nil {
				in := fl.files[p]
				delete(fl.files, p)
				fl.log.Debug("file gone from the path", "path", p)
				fl.retire(ctx, in)
			}
		}
		for p := range fl.errs {
			if !seen[p] && fl.failed[p] == nil {
				delete(fl.errs, p) // forget problems of paths that are gone
			}
		}
	}
	kept := fl.orphans[:0]
	for _, in := range fl.orphans {
		if ctx.Err() == nil {
			if fi, err := in.f.Stat(); err == nil {
				fl.advance(ctx, in, fi.Size(), fi.ModTime())
			}
		}
		if in.idle > orphanPolls || in.f == nil {
			fl.close(in)
			continue
		}
		kept = append(kept, in)
	}
	clear(fl.orphans[len(kept):])
	fl.orphans = kept
	if ctx.Err() != nil {
		return
	}
	fl.report(ctx, seen, ok)
	if ok {
		// A path that lists but matches nothing (a glob for *.json over
		// .json.gz exports, a directory the exporter never wrote to) is
		// healthy by the rules of liveness, and so would read nothing
		// without a word: say so once, until files appear.
		if len(paths) == 0 && !fl.empty {
			fl.log.Warn("file source: the path matches no file; nothing to read until one appears", "path", fl.o.Path)
		}
		fl.empty = len(paths) == 0
		// The path was listed: the source works, even if nothing was
		// new. Problems with single files are reported on their own.
		fl.sink.Alive(ctx, fl.o.Name)
		if now := fl.now(); now.Sub(fl.pruned) >= pruneInterval {
			fl.pruned = now
			fl.prune(ctx)
		}
	}
}

// report tells the sink about paths that kept failing and those that work
// again or are gone.
func (fl *follower) report(ctx context.Context, seen map[string]bool, listed bool) {
	for p, err := range fl.failed {
		fl.fails.fail(ctx, fl.sink, p, err)
	}
	for p := range fl.fails.state {
		if fl.failed[p] != nil {
			continue
		}
		switch {
		case seen[p] || p == fl.o.Path:
			fl.fails.ok(ctx, fl.sink, p)
		case listed:
			fl.fails.forget(ctx, fl.sink, p)
		}
	}
}

// prune deletes checkpoints of files that no longer exist (or whose path
// names another file now) and have not been updated for Retention.
// Checkpoints of files being read are never touched.
func (fl *follower) prune(ctx context.Context) {
	cps, err := fl.cp.Checkpoints(ctx, fl.o.Name)
	if err != nil {
		fl.log.Warn("listing checkpoints for pruning failed; retried later", "err", err)
		return
	}
	active := map[string]bool{}
	for _, in := range fl.files {
		active[in.key] = true
	}
	for _, in := range fl.orphans {
		active[in.key] = true
	}
	cutoff := fl.now().Add(-fl.o.Retention)
	for _, c := range cps {
		if active[c.Key] || !c.Updated.Before(cutoff) {
			continue
		}
		i := strings.LastIndexByte(c.Key, '#')
		if i < 0 {
			continue // not a file checkpoint
		}
		p, id := c.Key[:i], c.Key[i+1:]
		if fi, err := os.Stat(p); err == nil && identity(fi).String() == id {
			continue // the file is still there, merely unchanged
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue // cannot tell: keep it
		}
		if err := fl.cp.DeleteCheckpoint(ctx, fl.o.Name, c.Key); err != nil {
			fl.log.Warn("pruning a checkpoint failed; retried later", "key", c.Key, "err", err)
			return
		}
		fl.log.Info("pruned the checkpoint of a file that no longer exists", "path", p, "updated", c.Updated)
	}
}

// list returns the paths to look at, sorted. ok is false when the listing
// failed as a whole, so that missing paths must not be taken as deleted.
func (fl *follower) list() (paths []string, ok bool) {
	root := fl.o.Path
	if fi, err := os.Stat(root); err == nil && fi.IsDir() {
		base := fl.resolvedBase(root)
		fl.base = base
		// A configured directory that is itself a link (/var/log/entra ->
		// /mnt/entra) is walked through the link: WalkDir does not follow
		// a root link, so without the separator it listed the link alone,
		// as one non-regular "file", and read nothing without a word.
		if lfi, err := os.Lstat(root); err == nil && lfi.Mode()&fs.ModeSymlink != 0 && !os.IsPathSeparator(root[len(root)-1]) {
			root += string(filepath.Separator)
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return err
				}
				fl.fail(p, "list", err)
				return nil // WalkDir skips the unreadable directory
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && (d.Type()&fs.ModeSymlink == 0 || fl.linkInside(p, base)) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			fl.fail(root, "list", err)
			return nil, false
		}
		return paths, true
	}
	// The fixed part of the path must exist: a mistyped or unmounted
	// directory is a broken source, not a quiet one. So must a path
	// without wildcards: it names the one file or directory to read.
	if !strings.ContainsAny(root, `*?[\`) {
		if _, err := os.Stat(root); err != nil {
			fl.fail(root, "list", err)
			return nil, false
		}
	}
	dir := globBase(root)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = fmt.Errorf("%s is not a directory", dir)
		}
		fl.fail(root, "list", err)
		return nil, false
	}
	matches, err := filepath.Glob(root)
	if err != nil { // cannot happen: NewFile checked the pattern
		fl.fail(root, "list", err)
		return nil, false
	}
	dotOK := strings.HasPrefix(filepath.Base(root), ".")
	base := fl.resolvedBase(dir)
	fl.base = base
	for _, m := range matches {
		if !dotOK && strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		if !fl.o.FollowSymlinks {
			// A link may be the match itself or, when a wildcard
			// spans directories, one of the directories above it.
			fi, err := os.Lstat(m)
			if err != nil {
				continue // gone since the glob
			}
			if fi.Mode()&fs.ModeSymlink != 0 || filepath.Dir(m) != dir {
				if !fl.linkInside(m, base) {
					continue
				}
			}
		}
		paths = append(paths, m)
	}
	slices.Sort(paths)
	return paths, true
}

// globBase is the directory of pattern before its first wildcard: the
// part of the configured path that is fixed.
func globBase(pattern string) string {
	dir := filepath.Dir(pattern)
	for strings.ContainsAny(dir, `*?[\`) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// resolvedBase is dir with its own symbolic links resolved: a configured
// path that is itself a link (/data -> /mnt/data) is the path.
func (fl *follower) resolvedBase(dir string) string {
	if fl.o.FollowSymlinks {
		return ""
	}
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		r = filepath.Clean(dir)
	}
	// Absolute, because what a file resolves to (/proc/self/fd on Linux)
	// is: a relative path such as examples/logs would contain nothing.
	if abs, err := filepath.Abs(r); err == nil {
		r = abs
	}
	return r
}

// below reports whether target lies at or below base; both are made
// absolute first.
func below(base, target string) bool {
	if abs, err := filepath.Abs(target); err == nil {
		target = abs
	}
	rel, err := filepath.Rel(base, target)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// linkInside reports whether the file at p, which is or passes through a
// symbolic link, may be read: its target lies below base, or links are
// followed anywhere.
func (fl *follower) linkInside(p, base string) bool {
	if fl.o.FollowSymlinks {
		return true
	}
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false // dangling or unreadable: nothing to read
	}
	if below(base, target) {
		return true
	}
	if !fl.links[p] {
		fl.links[p] = true
		fl.log.Warn("symbolic link leads out of the followed path; not read (set follow_symlinks to read it)", "path", p, "target", target)
	}
	return false
}

// visit reads what is new in the file at path p.
func (fl *follower) visit(ctx context.Context, p string) {
	fi, err := os.Stat(p)
	if err != nil {
		fl.fail(p, "stat", err)
		return
	}
	if !fi.Mode().IsRegular() {
		return // directories matching a glob, FIFOs (opening one would block), devices
	}
	id := identity(fi)
	in := fl.files[p]
	if in != nil && in.id != id {
		// Rename-and-create rotation: finish the old inode before the new.
		fl.log.Info("file rotated", "path", p)
		delete(fl.files, p)
		fl.retire(ctx, in)
		in = nil
	}
	if in == nil {
		if in = fl.adopt(p, id); in == nil {
			if in, err = fl.load(ctx, p, id); err != nil {
				fl.fail(p, "checkpoint", err)
				return
			}
		}
		fl.files[p] = in
	}
	fl.advance(ctx, in, fi.Size(), fi.ModTime())
}

// adopt takes over the state of a file that was renamed to p (rotation
// within the watched set), so it is not read again from the start. Only a
// file whose descriptor is still open qualifies: the open descriptor proves
// the inode is the same file, where a closed one could have been deleted
// and its inode number reused.
func (fl *follower) adopt(p string, id fileID) *input {
	for q, in := range fl.files {
		if in.id != id || in.f == nil {
			continue
		}
		if fi, err := os.Stat(q); err == nil && identity(fi) == id {
			continue // a hard link: both paths are current
		}
		delete(fl.files, q)
		fl.log.Info("file renamed", "from", q, "to", p)
		in.rename(p)
		return in
	}
	for i, in := range fl.orphans {
		if in.id == id {
			fl.orphans = slices.Delete(fl.orphans, i, i+1)
			fl.log.Info("file renamed", "from", in.path, "to", p)
			in.rename(p)
			return in
		}
	}
	return nil
}

func (in *input) rename(p string) {
	in.path = p
	in.key = checkpointKey(p, in.id)
	in.savedOff, in.savedSize = -1, -1 // the new key has no checkpoint yet
	in.idle = 0
}

func checkpointKey(p string, id fileID) string {
	return p + "#" + id.String()
}

// load starts following p from its checkpoint, or from its start.
func (fl *follower) load(ctx context.Context, p string, id fileID) (*input, error) {
	in := &input{path: p, id: id, key: checkpointKey(p, id), size: -1, savedOff: -1, savedSize: -1, obsSize: -1}
	c, ok, err := fl.cp.Checkpoint(ctx, fl.o.Name, in.key)
	if err != nil {
		return nil, err
	}
	if ok {
		in.offset, in.size = c.Offset, c.Size
		in.savedOff, in.savedSize = c.Offset, c.Size
		fl.log.Debug("resuming file", "path", p, "offset", c.Offset)
	}
	return in, nil
}

// retire finishes a file that no longer has its path and keeps reading it
// for a while in case its writer has not reopened yet.
func (fl *follower) retire(ctx context.Context, in *input) {
	if in.f == nil {
		return
	}
	if fi, err := in.f.Stat(); err == nil {
		fl.advance(ctx, in, fi.Size(), fi.ModTime())
	}
	if in.f != nil {
		in.idle = 0
		fl.orphans = append(fl.orphans, in)
	}
}

// advance reads what is new in in, whose size and mtime are as given.
func (fl *follower) advance(ctx context.Context, in *input, size int64, mod time.Time) {
	if size == in.obsSize && mod.Equal(in.obsMod) {
		in.stable++
	} else {
		in.obsSize, in.obsMod, in.stable = size, mod, 0
	}
	if size < in.offset {
		fl.log.Info("file truncated, reading it from the start", "path", in.path, "size", size, "offset", in.offset)
		fl.restart(ctx, in)
	}
	if size == in.size || size == 0 {
		fl.rest(in)
		return
	}
	if in.f == nil && !fl.open(in) {
		return
	}
	if in.mode == modeStream && in.rewritten() {
		fl.log.Info("file truncated and rewritten, reading it from the start", "path", in.path, "size", size, "offset", in.offset)
		fl.restart(ctx, in)
	}
	if in.mode == modeUnknown {
		in.mode = sniff(in.f, size, in.path)
		if in.mode == modeUnknown {
			return
		}
	}
	in.idle = 0
	if in.mode == modeWhole {
		fl.readWhole(ctx, in, size)
	} else {
		fl.readStream(ctx, in, size)
	}
	if fl.held > maxHeld {
		fl.close(in)
	}
}

// restart reads in again from its start.
func (fl *follower) restart(ctx context.Context, in *input) {
	in.offset, in.size, in.mode, in.tail = 0, 0, modeUnknown, nil
	fl.save(ctx, in, in.size)
}

const tailBytes = 64

// rewritten reports whether the bytes before offset changed since they
// were read.
func (in *input) rewritten() bool {
	if len(in.tail) == 0 {
		return false
	}
	buf := make([]byte, len(in.tail))
	n, _ := in.f.ReadAt(buf, in.offset-int64(len(buf)))
	return n == len(buf) && !bytes.Equal(buf, in.tail)
}

// remember keeps the bytes before in's offset for rewritten.
func (in *input) remember() {
	k := min(in.offset, tailBytes)
	if k == 0 {
		in.tail = nil
		return
	}
	buf := make([]byte, k)
	if n, _ := in.f.ReadAt(buf, in.offset-k); int64(n) == k {
		in.tail = buf
	}
}

// rest counts a poll without change and lets go of the descriptor of a
// file that stays unchanged.
func (fl *follower) rest(in *input) {
	in.idle++
	if in.idle > idlePolls && in.f != nil && fl.files[in.path] == in {
		fl.close(in)
	}
}

func (fl *follower) open(in *input) bool {
	if fl.beforeOpen != nil {
		fl.beforeOpen(in.path)
	}
	f, err := os.Open(in.path)
	if err != nil {
		fl.fail(in.path, "open", err)
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		fl.fail(in.path, "stat", err)
		return false
	}
	if identity(fi) != in.id {
		f.Close() // replaced between stat and open: the next poll sees the new file
		return false
	}
	if !fl.o.FollowSymlinks && fl.base != "" && !fl.openedInside(f, in.path) {
		f.Close() // a link swapped in since the listing checked it
		return false
	}
	in.f = f
	fl.held++
	if in.tail == nil {
		in.remember() // resumed from a checkpoint: guard from here on
	}
	return true
}

// openedInside reports whether the file f, opened from p, lies below the
// path's base: what the kernel opened on Linux, else p resolved now.
func (fl *follower) openedInside(f *os.File, p string) bool {
	target, ok := openedPath(f)
	if !ok {
		var err error
		if target, err = filepath.EvalSymlinks(p); err != nil {
			return false
		}
	}
	if below(fl.base, target) {
		return true
	}
	if !fl.links[p] {
		fl.links[p] = true
		fl.log.Warn("file opened outside the followed path (a symbolic link changed); not read (set follow_symlinks to read it)", "path", p, "target", target)
	}
	return false
}

func (fl *follower) close(in *input) {
	if in.f != nil {
		in.f.Close()
		in.f = nil
		fl.held--
	}
}

func (fl *follower) closeAll() {
	for _, in := range fl.files {
		fl.close(in)
	}
	for _, in := range fl.orphans {
		fl.close(in)
	}
}

// sniff decides how a file is read from its first bytes; modeUnknown means
// too little has been written yet to tell.
func sniff(f *os.File, size int64, name string) mode {
	if strings.HasSuffix(strings.ToLower(name), ".gz") {
		return modeWhole
	}
	buf := make([]byte, min(size, sniffBytes))
	n, _ := f.ReadAt(buf, 0)
	b := buf[:n]
	if len(b) < 2 {
		return modeUnknown // could yet become a gzip header
	}
	if b[0] == 0x1f && b[1] == 0x8b {
		return modeWhole
	}
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	line, _, complete := bytes.Cut(b, []byte{'\n'})
	switch {
	case len(b) == 0 && size <= sniffBytes:
		return modeUnknown
	case len(b) == 0:
		return modeStream
	case b[0] == '{' && complete && len(bytes.TrimSpace(line)) == 1:
		// A pretty-printed object, most likely a Graph page: its envelope
		// spans lines, and an envelope cannot be resumed in the middle.
		return modeWhole
	case b[0] == '{':
		return modeStream
	case b[0] == '[':
		return modeWhole
	}
	if bytes.IndexByte(line, ',') >= 0 {
		return modeWhole // a CSV header
	}
	return modeStream // junk before records: the splitter skips it line by line
}

// readStream ingests in from its offset to size, a chunk at a time.
func (fl *follower) readStream(ctx context.Context, in *input, size int64) {
	if in.offset >= size {
		in.size = size
		fl.save(ctx, in, in.size)
		return
	}
	for ctx.Err() == nil {
		start := in.offset
		n := min(size-start, fl.chunk)
		if start+n < size {
			n = lineEnd(in.f, start, n, size)
		}
		st, rel, err := fl.ingestStream(ctx, in, n)
		if err == nil && start+n < size && st.Skipped[logs.ReasonTruncated] > 0 {
			// A multi-line record or envelope (a pretty-printed Graph
			// page) crosses the chunk's end, and an envelope cannot be
			// resumed in the middle: read the rest in one go. Records of
			// the first attempt are read twice; the store dedupes alerts.
			n = size - start
			_, rel, err = fl.ingestStream(ctx, in, n)
		}
		if err != nil {
			return // retried next poll: in.size still differs from size
		}
		in.offset = start + rel
		in.remember()
		end := start + n // examined: a restart must not take the rest as read
		if end >= size {
			in.size = size
		}
		fl.save(ctx, in, end)
		if end >= size {
			return
		}
	}
}

// lineEnd shortens a chunk of n bytes from start to end just after its last
// newline, so that chunks split no line; it lengthens the chunk when it
// holds none, up to the rest of the file (size).
func lineEnd(f io.ReaderAt, start, n, size int64) int64 {
	buf := make([]byte, 64<<10)
	for {
		for end := start + n; end > start; {
			lo := max(start, end-int64(len(buf)))
			m, _ := f.ReadAt(buf[:end-lo], lo)
			if i := bytes.LastIndexByte(buf[:m], '\n'); i >= 0 {
				return lo + int64(i) + 1 - start
			}
			if int64(m) < end-lo {
				return size - start // unreadable: let the ingest meet the error
			}
			end = lo
		}
		if start+n >= size {
			return size - start
		}
		n = min(size-start, 4*n)
	}
}

// ingestStream ingests n bytes of in from its offset and returns how many
// of them were read completely.
func (fl *follower) ingestStream(ctx context.Context, in *input, n int64) (scan.Stats, int64, error) {
	nl := &newlines{r: io.NewSectionReader(in.f, in.offset, n), last: -1}
	st, err := fl.sink.Ingest(ctx, fl.o.Name, in.path, nl)
	if err != nil {
		if ctx.Err() == nil {
			fl.fail(in.path, "ingest", err)
		}
		return st, 0, err
	}
	fl.ok(in.path)
	rel := min(st.Consumed, n)
	if st.Skipped[logs.ReasonTruncated] > 0 {
		// The input ended inside something. If that is an envelope line
		// still being written ({"records":[{…},{…), the splitter counts
		// its complete records as consumed, but resuming in the middle of
		// the envelope would lose the rest of it. Resume at the line's
		// start instead; its complete records are read again (and the
		// store dedupes their alerts).
		rel = min(rel, nl.last+1)
	}
	return st, max(rel, 0), nil
}

// readWhole ingests a whole-document file once it has stopped changing.
func (fl *follower) readWhole(ctx context.Context, in *input, size int64) {
	if in.stable < stablePolls && in.pending < maxPending {
		in.pending++
		return
	}
	in.pending = 0
	st, err := fl.sink.Ingest(ctx, fl.o.Name, in.path, io.NewSectionReader(in.f, 0, size))
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if st.Skipped[logs.ReasonReadError] == 0 || !isGzip(in.f) {
			fl.fail(in.path, "ingest", err) // the sink or the disk failed: retry
			return
		}
		// The file is broken (a corrupt or cut gzip stream); reading it
		// again gives the same. It is read again if it changes.
		fl.log.Warn("file is unreadable past some point; it is read again if it changes", "path", in.path, "err", err)
	} else {
		fl.ok(in.path)
	}
	in.offset, in.size = size, size
	fl.save(ctx, in, in.size)
}

func isGzip(f io.ReaderAt) bool {
	var magic [2]byte
	n, _ := f.ReadAt(magic[:], 0)
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// save checkpoints in's offset and how far the file was examined.
func (fl *follower) save(ctx context.Context, in *input, size int64) {
	if in.offset == in.savedOff && size == in.savedSize {
		return
	}
	// A checkpoint is written even while shutting down: it records input
	// that was ingested completely.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	c := store.Checkpoint{Source: fl.o.Name, Key: in.key, Offset: in.offset, Size: size, Updated: fl.now()}
	if err := fl.cp.SetCheckpoint(ctx, c); err != nil {
		fl.fail(in.path, "checkpoint", err)
		return
	}
	in.savedOff, in.savedSize = in.offset, size
}

// fail logs a problem with one path, at warning level the first time and
// at debug level while it repeats, so a stuck file does not flood the log.
func (fl *follower) fail(p, op string, err error) {
	msg := op + ": " + err.Error()
	fl.failed[p] = errors.New(msg)
	if fl.errs[p] == msg {
		fl.log.Debug("file problem persists", "path", p, "op", op, "err", err)
		return
	}
	fl.errs[p] = msg
	fl.log.Warn("file problem, retrying next poll", "path", p, "op", op, "err", err)
}

func (fl *follower) ok(p string) {
	if _, bad := fl.errs[p]; bad {
		delete(fl.errs, p)
		fl.log.Info("file readable again", "path", p)
	}
}

// newlines remembers where the last newline read was.
type newlines struct {
	r    io.Reader
	n    int64
	last int64
}

func (l *newlines) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
		l.last = l.n + int64(i)
	}
	l.n += int64(n)
	return n, err
}
