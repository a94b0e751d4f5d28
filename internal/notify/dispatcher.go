package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Outbox is what the Dispatcher needs from the store: store.Outbox's
// delivery half plus store.Store.Alert.
type Outbox interface {
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error)
	CompleteDelivery(ctx context.Context, id int64, at time.Time) error
	RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	Alert(ctx context.Context, id string) (alert.Alert, error)
}

// Observe results.
const (
	ResultSuccess   = "success"
	ResultRetry     = "retry"
	ResultPermanent = "permanent"
)

// Options configure a Dispatcher. Zero values take the defaults.
type Options struct {
	// Poll is how often the outbox is checked without a Wake; it bounds
	// the latency of retries and of deliveries enqueued by another process.
	// Default 1s.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the delay between attempts; see
	// Dispatcher. Defaults 1s and 5m.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Concurrency caps sends in flight (default 8); one target never has
	// more than 2, so a slow receiver cannot starve the others.
	Concurrency int
	// SendTimeout bounds one Notify call in case a channel does not bound
	// its own (Webhook does); default 30s.
	SendTimeout time.Duration
	// ShutdownGrace is how long Run lets in-flight sends finish after its
	// context ends (default 5s). Sends still running then are cancelled and
	// their deliveries stay due, to be sent again on the next start.
	ShutdownGrace time.Duration
	// Now is the clock for due times and timestamps (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger // default slog.Default()
	// Observe, if set, is called after every send attempt with the target,
	// ResultSuccess, ResultRetry or ResultPermanent, and how long Notify
	// took; it is called concurrently. A delivery for a target that is not
	// configured counts as ResultPermanent with zero duration.
	Observe func(target, result string, d time.Duration)
}

const (
	maxPerTarget = 2
	batchSize    = 64
	// maxBatch bounds how far a fetch grows when a full batch holds nothing
	// it may start (every row belongs to a busy target), so deliveries for
	// other targets further down the queue are still reached.
	maxBatch = 4096
	// storeTimeout bounds bookkeeping writes, which run even while shutting
	// down: recording the outcome of a send must not be cut short.
	storeTimeout = 10 * time.Second
	// abandonAfter is how long Run waits, after cancelling sends at the end
	// of ShutdownGrace, for them to record their outcome before returning.
	abandonAfter = time.Second
	maxLastError = 1024
)

// Dispatcher drains the outbox: it sends due deliveries to their targets'
// Notifiers and records each outcome in the store, so an alert is never lost
// and is delivered at least once.
//
// After the n-th consecutive failure of a delivery the next attempt is
// scheduled after
//
//	c     = min(MaxBackoff, MinBackoff·2ⁿ)
//	delay = c/2 + uniform[0, c/2]        ("equal jitter")
//
// so with the defaults roughly 1–2s, 2–4s, 4–8s, … up to 2.5–5m. Equal
// rather than full jitter: full jitter can pick a delay near zero and hammer
// a receiver that is already failing, while equal jitter keeps at least half
// the exponential delay and still spreads out retries of many deliveries
// that failed together. A receiver's Retry-After (see RetryAfter) replaces
// the computed delay, capped at MaxBackoff.
//
// Nothing is ever dropped: a Permanent error, a target missing from the
// configuration or an alert missing from the store is logged at error level
// and retried after MaxBackoff, every time, until someone fixes the cause.
type Dispatcher struct {
	ob      Outbox
	targets map[string]Notifier
	o       Options
	log     *slog.Logger
	wake    chan struct{}
	running atomic.Bool

	mu        sync.Mutex
	wg        sync.WaitGroup
	seq       uint64              // fetches started
	inflight  map[int64]struct{}  // deliveries being sent
	perTarget map[string]int      // sends in flight per target
	total     int                 // sends in flight
	finished  map[int64]uint64    // delivery → seq when its send finished
	delivered map[int64]time.Time // sent, but CompleteDelivery failed
	notBefore map[int64]time.Time // failed, but RetryDelivery failed
}

// NewDispatcher returns a dispatcher sending deliveries to targets, keyed by
// store.Delivery.Target.
func NewDispatcher(ob Outbox, targets map[string]Notifier, o Options) *Dispatcher {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observe == nil {
		o.Observe = func(string, string, time.Duration) {}
	}
	return &Dispatcher{
		ob:        ob,
		targets:   maps.Clone(targets),
		o:         o,
		log:       o.Logger,
		wake:      make(chan struct{}, 1),
		inflight:  map[int64]struct{}{},
		perTarget: map[string]int{},
		finished:  map[int64]uint64{},
		delivered: map[int64]time.Time{},
		notBefore: map[int64]time.Time{},
	}
}

// Wake tells Run that deliveries are waiting, so it fetches now instead of
// at the next Poll: this is what makes delivery take milliseconds rather
// than up to Poll. It never blocks; wakes while Run is busy coalesce.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then lets in-flight sends finish for up to
// ShutdownGrace and returns nil. Only one Run may be active at a time.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("notify: dispatcher already running")
	}
	defer d.running.Store(false)

	// Sends outlive ctx by up to ShutdownGrace, so they get their own.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	timer := time.NewTimer(d.o.Poll)
	defer timer.Stop()
	limit := batchSize
	for ctx.Err() == nil {
		p := d.pass(ctx, sendCtx, limit)
		again := false
		switch {
		case p.err != nil, p.saturated:
			// Wait: for the store to recover, or for a send to finish
			// (each finished send wakes us).
		case p.fetched < limit:
			limit = batchSize
		case p.progress:
			again = true // a full batch: more are probably due
		case limit < maxBatch:
			limit *= 2
			again = true
		}
		if again {
			continue
		}
		timer.Reset(d.o.Poll)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
	}
	d.shutdown(cancelSends)
	return nil
}

func (d *Dispatcher) shutdown(cancelSends context.CancelFunc) {
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	grace := time.NewTimer(d.o.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	}
	d.mu.Lock()
	n := d.total
	d.mu.Unlock()
	d.log.Warn("notify: shutdown grace expired, cancelling sends; they stay queued", "in_flight", n, "grace", d.o.ShutdownGrace)
	cancelSends()
	abandon := time.NewTimer(abandonAfter)
	defer abandon.Stop()
	select {
	case <-done:
	case <-abandon.C:
		d.log.Error("notify: sends ignored cancellation; returning without them")
	}
}

type passResult struct {
	fetched   int
	progress  bool // something was started or settled
	saturated bool // Concurrency reached
	err       error
}

// pass fetches one batch of due deliveries and starts what it may.
func (d *Dispatcher) pass(ctx, sendCtx context.Context, limit int) passResult {
	d.mu.Lock()
	d.seq++
	seq := d.seq
	// Sends that finished before this fetch began were recorded before it,
	// so its rows for them are current.
	for id, s := range d.finished {
		if s < seq {
			delete(d.finished, id)
		}
	}
	d.mu.Unlock()

	now := d.o.Now()
	dels, err := d.ob.DueDeliveries(ctx, now, limit)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("notify: fetching due deliveries failed", "error", err)
		}
		return passResult{err: err}
	}
	r := passResult{fetched: len(dels)}
	for _, del := range dels {
		switch d.settle(ctx, del, seq, now) {
		case skip:
		case settled:
			r.progress = true
		case ready:
			switch d.start(sendCtx, del) {
			case started:
				r.progress = true
			case saturated:
				r.saturated = true
				return r
			}
		}
	}
	return r
}

type settleResult int

const (
	ready   settleResult = iota // send it
	skip                        // not now
	settled                     // handled without sending
)

// settle handles what needs no send: deliveries already in flight or whose
// row may be stale, outcomes the store failed to record, and unknown targets.
func (d *Dispatcher) settle(ctx context.Context, del store.Delivery, seq uint64, now time.Time) settleResult {
	d.mu.Lock()
	_, busy := d.inflight[del.ID]
	// A send that finished after this fetch began may have been recorded
	// after the row was read: the row is stale, and the next fetch (which
	// its completion triggered) will see the truth.
	if s, ok := d.finished[del.ID]; ok && s >= seq {
		busy = true
	}
	deliveredAt, wasDelivered := d.delivered[del.ID]
	nb, held := d.notBefore[del.ID]
	if held && !now.Before(nb) {
		delete(d.notBefore, del.ID)
		held = false
	}
	d.mu.Unlock()
	switch {
	case busy || held:
		return skip
	case wasDelivered:
		// Sent already; only the record is missing. Do not send it again.
		if err := d.ob.CompleteDelivery(ctx, del.ID, deliveredAt); err != nil {
			d.log.Error("notify: recording delivery failed again", d.attrs(del, del.Attempts)...)
			return skip
		}
		d.mu.Lock()
		delete(d.delivered, del.ID)
		d.mu.Unlock()
		return settled
	}
	if _, ok := d.targets[del.Target]; !ok {
		d.o.Observe(del.Target, ResultPermanent, 0)
		next := now.Add(d.o.MaxBackoff)
		d.log.Error("notify: delivery for unknown target, retrying later (is the target still configured?)",
			append(d.attrs(del, del.Attempts+1), "next", next)...)
		d.retry(ctx, del, del.Attempts+1, next, fmt.Sprintf("unknown target %q", del.Target))
		return settled
	}
	return ready
}

type startResult int

const (
	started startResult = iota
	targetBusy
	saturated
)

func (d *Dispatcher) start(sendCtx context.Context, del store.Delivery) startResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.total >= d.o.Concurrency {
		return saturated
	}
	if d.perTarget[del.Target] >= min(maxPerTarget, d.o.Concurrency) {
		return targetBusy
	}
	d.inflight[del.ID] = struct{}{}
	d.perTarget[del.Target]++
	d.total++
	d.wg.Go(func() { d.send(sendCtx, del) })
	return started
}

func (d *Dispatcher) release(del store.Delivery) {
	d.mu.Lock()
	delete(d.inflight, del.ID)
	d.finished[del.ID] = d.seq
	if d.perTarget[del.Target]--; d.perTarget[del.Target] <= 0 {
		delete(d.perTarget, del.Target)
	}
	d.total--
	d.mu.Unlock()
	d.Wake()
}

// send delivers one delivery and records the outcome.
func (d *Dispatcher) send(sendCtx context.Context, del store.Delivery) {
	defer d.release(del)
	// Recording the outcome must survive the cancellation of sends.
	recCtx := context.WithoutCancel(sendCtx)
	attempt := del.Attempts + 1

	a, err := d.ob.Alert(sendCtx, del.AlertID)
	if err != nil {
		if sendCtx.Err() != nil {
			return // shutting down; the delivery stays due
		}
		if errors.Is(err, store.ErrNotFound) {
			next := d.o.Now().Add(d.o.MaxBackoff)
			d.log.Error("notify: delivery refers to a missing alert, retrying later",
				append(d.attrs(del, attempt), "next", next, "error", err)...)
			d.retry(recCtx, del, attempt, next, "alert not found")
			return
		}
		next := d.o.Now().Add(d.backoff(attempt))
		d.log.Warn("notify: loading alert failed, retrying later", append(d.attrs(del, attempt), "next", next, "error", err)...)
		d.retry(recCtx, del, attempt, next, "load alert: "+err.Error())
		return
	}

	n := Notification{
		ID:      NotificationID(a.ID, del.Status),
		Status:  del.Status,
		Alert:   a,
		Attempt: attempt,
		Sent:    d.o.Now(),
	}
	ctx, cancel := context.WithTimeout(sendCtx, d.o.SendTimeout)
	began := time.Now()
	err = d.targets[del.Target].Notify(ctx, n)
	took := time.Since(began)
	cancel()

	if err == nil {
		d.o.Observe(del.Target, ResultSuccess, took)
		at := d.o.Now()
		if rerr := d.ob.CompleteDelivery(recCtx, del.ID, at); rerr != nil {
			d.mu.Lock()
			d.delivered[del.ID] = at
			d.mu.Unlock()
			d.log.Error("notify: delivered but recording it failed; will record again without resending",
				append(d.attrs(del, attempt), "error", rerr)...)
			return
		}
		d.log.Info("notify: delivered", append(d.attrs(del, attempt), "took", took)...)
		return
	}
	if sendCtx.Err() != nil {
		// Cancelled by shutdown: leave the row untouched so the next start
		// sends it at once instead of after a backoff.
		d.log.Warn("notify: send interrupted by shutdown; it stays queued", append(d.attrs(del, attempt), "error", err)...)
		return
	}
	now := d.o.Now()
	if IsPermanent(err) {
		d.o.Observe(del.Target, ResultPermanent, took)
		next := now.Add(d.o.MaxBackoff)
		d.log.Error("notify: target rejected the alert; it is kept and retried, fix the target",
			append(d.attrs(del, attempt), "next", next, "error", err)...)
		d.retry(recCtx, del, attempt, next, err.Error())
		return
	}
	d.o.Observe(del.Target, ResultRetry, took)
	delay := d.backoff(attempt)
	if ra, ok := RetryAfter(err); ok {
		delay = min(ra, d.o.MaxBackoff)
	}
	next := now.Add(delay)
	d.log.Warn("notify: send failed, retrying", append(d.attrs(del, attempt), "next", next, "error", err)...)
	d.retry(recCtx, del, attempt, next, err.Error())
}

// retry records a failed attempt. If the store cannot, the delivery is held
// in memory until next anyway, so a failing store does not turn into a
// tight resend loop against the receiver.
func (d *Dispatcher) retry(ctx context.Context, del store.Delivery, attempts int, next time.Time, lastErr string) {
	if len(lastErr) > maxLastError {
		lastErr = lastErr[:maxLastError]
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := d.ob.RetryDelivery(ctx, del.ID, attempts, next, lastErr); err != nil {
		d.mu.Lock()
		d.notBefore[del.ID] = next
		d.mu.Unlock()
		d.log.Error("notify: recording failed attempt failed", append(d.attrs(del, attempts), "error", err)...)
	}
}

// backoff is the delay after the attempt-th consecutive failure; see
// Dispatcher.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	c := d.o.MinBackoff
	for range attempt {
		if c >= d.o.MaxBackoff/2 {
			c = d.o.MaxBackoff
			break
		}
		c *= 2
	}
	half := c / 2
	delay := half + rand.N(c-half+1)
	return max(delay, min(d.o.MinBackoff, c))
}

func (d *Dispatcher) attrs(del store.Delivery, attempt int) []any {
	return []any{"delivery", del.ID, "alert", del.AlertID, "status", del.Status, "target", del.Target, "attempt", attempt}
}
