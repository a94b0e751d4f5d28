// Package source turns the places Entra logs arrive at into input for the
// detection pipeline: files that grow, rotate and get truncated (the file
// source), HTTP pushes from Azure Functions, Logic Apps, Event Grid or a
// user's own pipeline (the http source), and Microsoft Graph's sign-in and
// audit log APIs (the graph source). Sources know nothing about detection:
// they hand bytes to a Sink, remember how far they got, and tell the Sink
// when they are alive and when a part of them keeps failing, so that a
// source that stops working is itself an alert.
package source

import (
	"context"
	"io"

	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// Sink is where sources deliver input. Ingest scans r, one unit of input
// (the new bytes of a file, one HTTP body, one Graph page), and returns only
// after every alert it raised is durably stored (with its notifications
// queued). The returned Stats count records and skips; Stats.Consumed says
// how far r was read completely, so a file follower resumes exactly there.
//
// All methods are called concurrently: by several sources, and by the http
// source once per request.
type Sink interface {
	Ingest(ctx context.Context, source, name string, r io.Reader) (scan.Stats, error)
	// Alive: the source read or polled successfully just now, with or
	// without records. A quiet tenant is healthy; a failing poll is not
	// life and is never reported here.
	Alive(ctx context.Context, source string)
	// Failing: one part of a source (key: a Graph query name such as
	// "signIns/interactive/<account>", a file path, "listen") keeps
	// failing; called once when it crosses the threshold and again only
	// if the error text changes. Recovered: that part works again (called
	// once). Errors are scrubbed of secrets before they get here.
	Failing(ctx context.Context, source, key string, err error)
	Recovered(ctx context.Context, source, key string)
}

// Checkpoints persists how far each input of a source has been read.
type Checkpoints interface {
	Checkpoint(ctx context.Context, source, key string) (store.Checkpoint, bool, error)
	SetCheckpoint(ctx context.Context, c store.Checkpoint) error
	// Checkpoints lists a source's checkpoints (for pruning).
	Checkpoints(ctx context.Context, source string) ([]store.Checkpoint, error)
	// DeleteCheckpoint removes one; deleting a missing one is not an error.
	DeleteCheckpoint(ctx context.Context, source, key string) error
}

// Source is one configured source.
type Source interface {
	// Name is the source's name from the config, unique in the daemon.
	Name() string
	// Run delivers input to the sink until ctx ends. It returns nil on a
	// clean shutdown. Errors with single inputs are logged, retried and,
	// when they persist, reported through Sink.Failing, not returned: a
	// source keeps going.
	Run(ctx context.Context, sink Sink) error
}

// DefaultFailThreshold is how many consecutive failures of one part of a
// source (a Graph query, a file) it takes before Sink.Failing is called:
// one failed poll is weather, three in a row is a problem someone must
// see.
const DefaultFailThreshold = 3

// failures tracks consecutive failures per key and tells a Sink about
// crossings of the threshold, once per transition. It is not safe for
// concurrent use; each source owns one.
type failures struct {
	source    string
	threshold int
	state     map[string]*failState
}

type failState struct {
	n        int
	reported string // error text last reported; "" when not reported
	hold     bool   // stay reported until release: a gap is not healed by one success
}

func newFailures(source string, threshold int) *failures {
	if threshold <= 0 {
		threshold = DefaultFailThreshold
	}
	return &failures{source: source, threshold: threshold, state: map[string]*failState{}}
}

// fail counts a failure of key and reports it once the threshold is
// reached, and again whenever the error text changes.
func (f *failures) fail(ctx context.Context, sink Sink, key string, err error) {
	f.report(ctx, sink, key, err, false)
}

// now reports err for key at once, whatever the count (a gap in the data is
// a failure on its first sighting), and keeps it reported until release.
func (f *failures) now(ctx context.Context, sink Sink, key string, err error) {
	f.report(ctx, sink, key, err, true)
}

func (f *failures) report(ctx context.Context, sink Sink, key string, err error, immediate bool) {
	st := f.state[key]
	if st == nil {
		st = &failState{}
		f.state[key] = st
	}
	st.n++
	if immediate {
		st.hold = true
	}
	if !immediate && st.n < f.threshold {
		return
	}
	msg := err.Error()
	if msg == "" {
		msg = "unknown error"
	}
	if st.reported == msg {
		return
	}
	st.reported = msg
	sink.Failing(ctx, f.source, key, err)
}

// ok records a success of key and reports recovery if it had been
// reported (and is not held).
func (f *failures) ok(ctx context.Context, sink Sink, key string) {
	st := f.state[key]
	if st == nil {
		return
	}
	st.n = 0
	if st.hold {
		return
	}
	if st.reported != "" {
		sink.Recovered(ctx, f.source, key)
	}
	delete(f.state, key)
}

// release ends a hold on key; the next ok reports recovery.
func (f *failures) release(key string) {
	if st := f.state[key]; st != nil {
		st.hold = false
	}
}

// forget drops key (its input is gone), reporting recovery if it was
// reported: a problem with a file that no longer exists is over.
func (f *failures) forget(ctx context.Context, sink Sink, key string) {
	st := f.state[key]
	if st == nil {
		return
	}
	if st.reported != "" {
		sink.Recovered(ctx, f.source, key)
	}
	delete(f.state, key)
}

// reported reports whether key is currently reported as failing.
func (f *failures) reported(key string) bool {
	st := f.state[key]
	return st != nil && st.reported != ""
}
