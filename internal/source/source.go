// Package source turns the places Entra logs arrive at into input for the
// detection pipeline: files that grow, rotate and get truncated (the file
// source) and HTTP pushes from Azure Functions, Logic Apps, Event Grid or a
// user's own pipeline (the http source). Sources know nothing about
// detection: they hand bytes to a Sink and remember how far they got.
package source

import (
	"context"
	"io"

	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// Sink is where sources deliver input. Ingest scans r, one unit of input
// (the new bytes of a file, one HTTP body), and returns only after every
// alert it raised is durably stored (with its notifications queued). The
// returned Stats count records and skips; Stats.Consumed says how far r was
// read completely, so a file follower resumes exactly there. Ingest is
// called concurrently: by several sources, and by the http source once per
// request.
type Sink interface {
	Ingest(ctx context.Context, source, name string, r io.Reader) (scan.Stats, error)
}

// Checkpoints persists how far each input of a source has been read.
type Checkpoints interface {
	Checkpoint(ctx context.Context, source, key string) (store.Checkpoint, bool, error)
	SetCheckpoint(ctx context.Context, c store.Checkpoint) error
}

// Source is one configured source.
type Source interface {
	// Name is the source's name from the config, unique in the daemon.
	Name() string
	// Run delivers input to the sink until ctx ends. It returns nil on a
	// clean shutdown. Errors with single inputs are logged and counted, not
	// returned: a source keeps going.
	Run(ctx context.Context, sink Sink) error
}

// Activity is told whenever a source receives input, so the daemon can
// watch for silence (bg.silence). Implementations must be safe for
// concurrent use.
type Activity interface {
	Received(source string, records int64)
}
