package watch

import "context"

// TODO(merge): the daemon helper implements these (silence from Alive,
// bg.source from Failing/Recovered); these no-op stubs only keep the
// build green until its branch is merged, and are replaced then.

// Alive implements source.Sink.
func (p *Pipeline) Alive(ctx context.Context, source string) {}

// Failing implements source.Sink.
func (p *Pipeline) Failing(ctx context.Context, source, key string, err error) {}

// Recovered implements source.Sink.
func (p *Pipeline) Recovered(ctx context.Context, source, key string) {}
