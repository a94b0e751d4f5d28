package evidence

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"breakglass/internal/store"
)

// DefaultPublishInterval is how often, at most, the daemon publishes a head
// that moved: often enough that little can be cut off unseen, rarely enough
// that the heads file and log stay small.
const DefaultPublishInterval = time.Minute

// Log is what a Publisher reads.
type Log interface {
	HeadReader
	LogPager
}

// Publisher publishes the evidence log's head whenever it moves, at most
// once per Interval and once more when it stops: to the daemon log and, as
// a line, to the heads file, signed when Key is set. The heads file lives
// outside the store, so someone who deletes the newest entries of the store
// leaves a published head behind that Verify then misses.
type Publisher struct {
	Log      Log
	File     string             // heads file; "" publishes to the log only
	Key      ed25519.PrivateKey // nil: unsigned heads
	Logger   *slog.Logger
	Interval time.Duration // default DefaultPublishInterval
	Now      func() time.Time
	// Failing is called when a head cannot be read or published (the daemon
	// raises bg.source for it), Recovered when it can again.
	Failing   func(error)
	Recovered func()

	last    HeadRef
	lastAt  time.Time
	failing bool
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Publisher) interval() time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	return DefaultPublishInterval
}

// Start reads the last head already in the heads file, so a restart does
// not publish the same head twice, and checks that the log still holds it:
// an error then means the log lost entries or was rewritten since, which
// the caller must raise.
func (p *Publisher) Start(ctx context.Context) error {
	if p.File == "" {
		return nil
	}
	heads, err := LoadHeads(p.File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the published heads: %w", err)
	}
	if len(heads) == 0 {
		return nil
	}
	p.last = heads[len(heads)-1].Ref()
	// The newest published head and the highest one: after a detected
	// truncation serve publishes lower heads again, and a restart must
	// not take that for a healthy log (evidence verify checks them all).
	top := heads[0]
	for _, h := range heads {
		if h.Seq > top.Seq {
			top = h
		}
	}
	for _, h := range []SignedHead{top, heads[len(heads)-1]} {
		page, err := p.Log.LogEntries(ctx, h.Seq-1, 1)
		if err != nil {
			return fmt.Errorf("reading the evidence log: %w", err)
		}
		if len(page) == 0 || page[0].Seq != h.Seq {
			return fmt.Errorf("the evidence log no longer holds entry %d, published as a head in %s: its newest entries were deleted; run breakglass evidence verify", h.Seq, p.File)
		}
		if page[0].Hash != h.Hash {
			return fmt.Errorf("entry %d of the evidence log is not the head published for it in %s: the log was rewritten; run breakglass evidence verify", h.Seq, p.File)
		}
	}
	return nil
}

// Publish publishes the head if it moved since the last publication and,
// unless force, Interval has passed since then. It reports what it
// published.
func (p *Publisher) Publish(ctx context.Context, force bool) (SignedHead, bool, error) {
	now := p.now()
	if !force && !p.lastAt.IsZero() && now.Sub(p.lastAt) < p.interval() {
		return SignedHead{}, false, nil
	}
	h, ok, err := Head(ctx, p.Log, p.Key, now)
	if err != nil {
		err = fmt.Errorf("reading the evidence log head: %w", err)
		if ctx.Err() != nil {
			// Cancelled (shutting down): the log did not fail, and Run
			// publishes once more on its way out.
			return SignedHead{}, false, err
		}
		return SignedHead{}, false, p.fail(err)
	}
	if !ok || h.Ref() == p.last {
		p.recover()
		return SignedHead{}, false, nil
	}
	if p.File != "" {
		if err := AppendHead(p.File, h); err != nil {
			return SignedHead{}, false, p.fail(fmt.Errorf("publishing the evidence log head: %w", err))
		}
	}
	p.last, p.lastAt = h.Ref(), now
	p.recover()
	if p.Logger != nil {
		args := []any{"seq", h.Seq, "hash", h.Hash, "head", h.Ref().String()}
		if h.Signed() {
			args = append(args, "key", h.Key, "sig", h.Sig)
		}
		p.Logger.Info("evidence head", args...)
	}
	return h, true, nil
}

func (p *Publisher) fail(err error) error {
	if p.Logger != nil {
		p.Logger.Error("evidence head not published", "error", err)
	}
	if !p.failing && p.Failing != nil {
		p.Failing(err)
	}
	p.failing = true
	return err
}

func (p *Publisher) recover() {
	if p.failing && p.Recovered != nil {
		p.Recovered()
	}
	p.failing = false
}

// Run publishes on every tick of Interval/4 (so a moved head is published
// within about Interval of moving) until ctx ends, then once more with a
// context of its own, so the head at shutdown is published too.
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTicker(max(p.interval()/4, time.Second))
	defer t.Stop()
	p.Publish(ctx, true)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			p.Publish(fctx, true)
			cancel()
			return
		case <-t.C:
			p.Publish(ctx, false)
		}
	}
}

// compile-time check that the store's log satisfies Log.
var _ Log = store.EvidenceLog(nil)
