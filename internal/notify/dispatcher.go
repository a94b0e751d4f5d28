package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Outbox is what the Dispatcher needs from the store: claiming deliveries
// under a lease, recording their outcome, loading the alert they carry, and
// storing the bg.notify alert that reports a dead letter.
type Outbox interface {
	// ClaimDeliveries returns due, undelivered, not dead-lettered
	// deliveries whose lease is free or expired, oldest first, and leases
	// them to owner until now+lease, atomically.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error)
	// ReleaseDelivery gives owner's lease back without recording an
	// attempt (shutting down), so the delivery can be claimed at once.
	ReleaseDelivery(ctx context.Context, id int64, owner string) error
	// CompleteDelivery and RetryDelivery record an outcome and release the
	// lease.
	CompleteDelivery(ctx context.Context, id int64, at time.Time) error
	RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	// DeadLetter takes a delivery out of the queue for good, keeping it
	// visible with the reason.
	DeadLetter(ctx context.Context, id int64, at time.Time, reason string) error
	Alert(ctx context.Context, id string) (alert.Alert, error)
	AddAlertNotify(ctx context.Context, a alert.Alert, ev store.Evidence, targets []string) (bool, error)
}

// leaseReleaser is implemented by stores that can free every lease of one
// owner (store.Outbox.ReleaseLeases).
type leaseReleaser interface {
	ReleaseLeases(ctx context.Context, owner string) (int, error)
}

// Observe results.
const (
	ResultSuccess   = "success"
	ResultRetry     = "retry"
	ResultPermanent = "permanent"
	// ResultDeadLetter: the delivery was given up (its target is gone, or
	// it kept failing past GiveUpAfter) and a bg.notify alert raised.
	ResultDeadLetter = "dead_letter"
)

// ObserveLimit results.
const (
	// ResultRateLimited: a delivery was held back by a recipient's rate
	// limit, to be coalesced into the next message allowed (n is 1).
	ResultRateLimited = "rate_limited"
	// ResultCoalesced: one message carried n deliveries (n >= 2).
	ResultCoalesced = "coalesced"
)

// Defaults of Options. The config package owns the user-facing defaults and
// takes these, so that the daemon and a Dispatcher built without a config
// agree.
const (
	DefaultPoll          = time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 5 * time.Minute
	DefaultGiveUpAfter   = 24 * time.Hour
	DefaultPerTarget     = 2
	DefaultSendTimeout   = 30 * time.Second
	DefaultShutdownGrace = 5 * time.Second
	DefaultLeaseMargin   = 30 * time.Second
)

// Options configure a Dispatcher. Zero values take the defaults above.
type Options struct {
	// Poll is how often the outbox is checked without a Wake; it bounds
	// the latency of retries and of deliveries enqueued by another process.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the delay between attempts; see
	// Dispatcher.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// GiveUpAfter is how long after a delivery was queued (its Created)
	// a failing delivery is dead-lettered instead of retried.
	GiveUpAfter time.Duration
	// PerTarget caps the sends in flight to one target. Every target has
	// its own queue and workers, so a target that hangs holds only its own.
	PerTarget int
	// SendTimeout bounds one Notify call to a channel that does not bound
	// its own. A channel that does (Bounded: Webhook) gets its own timeout
	// plus a margin instead, so SendTimeout never cuts it short.
	SendTimeout time.Duration
	// LeaseMargin is added to the longest send timeout to form the lease
	// taken on claimed deliveries: time for the claim itself, queueing and
	// recording the outcome. A send starts only while its timeout plus
	// half the margin is left of the lease; otherwise the delivery is left
	// to be claimed again. It must therefore be far longer than a claim
	// takes.
	LeaseMargin time.Duration
	// ShutdownGrace is how long Run lets in-flight sends finish after its
	// context ends. Sends still running then are cancelled and their
	// deliveries stay due, to be sent again on the next start.
	ShutdownGrace time.Duration
	// Owner names this dispatcher in leases; default a random id, unique
	// per Dispatcher. A daemon passes a name that is stable across its
	// restarts (host and store), so that Run can free the leases a crashed
	// previous run left behind instead of waiting for them to expire.
	Owner string
	// Now is the clock for due times, leases and timestamps (default
	// time.Now).
	Now    func() time.Time
	Logger *slog.Logger // default slog.Default()
	// Observe, if set, is called after every send attempt with the target,
	// ResultSuccess, ResultRetry or ResultPermanent, and how long Notify
	// took, and once per dead letter with ResultDeadLetter and zero; it is
	// called concurrently.
	Observe func(target, result string, d time.Duration)

	// RateLimits are the limits per recipient kind (LimitSMS, LimitVoice,
	// LimitEmail) of channels that implement Limited. nil means
	// DefaultRateLimits; in a non-nil map a missing kind or an Off limit
	// is not limited. A delivery over a limit is never dropped: it waits
	// (not counted as an attempt) and is coalesced into the next message
	// the limit allows.
	RateLimits map[string]RateLimit
	// LimitStore keeps the limiter's recent sends across restarts (the
	// store's Conditions); nil keeps them in memory only.
	LimitStore LimitStore
	// ObserveLimit, if set, is called with ResultRateLimited when a limit
	// holds a delivery back and with ResultCoalesced and the count when one
	// message carries several; it is called concurrently.
	ObserveLimit func(target, result string, n int)
}

// Bounded is implemented by channels that bound each send themselves
// (Webhook: its Timeout). The dispatcher gives such a send that long plus a
// margin instead of Options.SendTimeout.
type Bounded interface {
	SendTimeout() time.Duration
}

const (
	batchSize = 64
	// maxBatch bounds how far one claim grows while full batches keep
	// coming.
	maxBatch = 4096
	// maxQueue bounds the deliveries queued in memory per target. Claimed
	// rows beyond it are parked (up to maxParked more): they stay leased,
	// so the claim moves on to other targets' rows, and join the queue as
	// it drains, so a burst to one healthy target is sent at its own pace
	// rather than a queue's worth per lease. Rows beyond maxParked, and
	// parked rows of a target that hangs, come back when their lease
	// expires: a hung target with a huge backlog costs bounded memory and
	// never keeps the claim from reaching other targets' rows.
	maxQueue  = 256
	maxParked = 4096
	// sendMargin is added to a Bounded channel's own timeout.
	sendMargin = 2 * time.Second
	// storeTimeout bounds bookkeeping writes, which run even while shutting
	// down: recording the outcome of a send must not be cut short.
	storeTimeout = 10 * time.Second
	// maxStoreBackoff caps the wait between claims while the store fails.
	maxStoreBackoff = 30 * time.Second
	// abandonAfter is how long Run waits, after cancelling sends at the end
	// of ShutdownGrace, for them to record their outcome before returning.
	abandonAfter = time.Second
	maxLastError = 1024
)

// Dispatcher drains the outbox: it claims due deliveries under a lease,
// sends them to their targets' Notifiers and records each outcome in the
// store, so an alert is never lost and is delivered at least once, and two
// dispatchers on one store never send one delivery at the same time.
//
// Targets are looked up by name (store.Delivery.Target) when a delivery is
// sent, not when it was queued, and SetTargets replaces them at runtime.
// Every target has its own queue and at most PerTarget sends in flight, so
// one slow or dead target never delays another.
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
// the computed delay, capped at MaxBackoff. A Permanent error or an alert
// missing from the store is retried after MaxBackoff.
//
// Nothing is retried forever in silence: a delivery whose target is no
// longer configured, or that still fails GiveUpAfter after it was queued,
// is dead-lettered (store.DeadLetter, Observe ResultDeadLetter) and a
// bg.notify alert saying which alert could not reach which target, and why,
// is raised to every other target. A bg.notify alert that is itself
// undeliverable is dead-lettered without raising another.
//
// Channels that implement Limited (sms, voice, email) are rate limited per
// recipient (Options.RateLimits, a sliding window per phone number or
// address). One worker takes such a target's whole queue at once, so the
// limit decides which deliveries share a message: while every recipient has
// room each goes alone; the last message a window allows carries all that
// wait (Notification.Coalesced); with no room, each waits for the time the
// limit allows (RetryDelivery with its attempts unchanged and the reason
// as LastError), never dead-lettered for it, and is coalesced then.
type Dispatcher struct {
	ob      Outbox
	o       Options
	log     *slog.Logger
	limit   *logLimiter
	rl      *rateLimiter
	wake    chan struct{}
	running atomic.Bool

	mu         sync.Mutex
	wg         sync.WaitGroup
	sendCtx    context.Context
	stopping   bool
	targets    map[string]Notifier
	queues     map[string]*queue
	held       map[int64]*item     // queued or in flight, by delivery id
	delivered  map[int64]time.Time // sent, but CompleteDelivery failed
	notBefore  map[int64]time.Time // failed, but RetryDelivery failed
	unrecorded map[int64]retryArgs // the RetryDelivery that failed
}

// retryArgs is a RetryDelivery call to make again.
type retryArgs struct {
	del      store.Delivery
	attempts int
	next     time.Time
	lastErr  string
}

// queue is one target's deliveries waiting to be sent.
type queue struct {
	items   []*item
	parked  []*item // claimed beyond maxQueue; see maxQueue
	workers int
}

// refill moves parked items into the queue while it has room.
func (q *queue) refill() {
	n := min(maxQueue-len(q.items), len(q.parked))
	if n <= 0 {
		return
	}
	q.items = append(q.items, q.parked[:n]...)
	clear(q.parked[:n])
	q.parked = q.parked[n:]
}

// item is one claimed delivery held by this dispatcher.
type item struct {
	del        store.Delivery
	leaseUntil time.Time
	inFlight   bool
	// reclaimed: claimed again while in flight (its outcome was recorded,
	// releasing the lease, before this dispatcher let go of it). The lease
	// is given back once the send is over, so it is not stranded.
	reclaimed bool
}

// NewDispatcher returns a dispatcher sending deliveries to targets, keyed by
// store.Delivery.Target.
func NewDispatcher(ob Outbox, targets map[string]Notifier, o Options) *Dispatcher {
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = DefaultGiveUpAfter
	}
	if o.PerTarget <= 0 {
		o.PerTarget = DefaultPerTarget
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	if o.LeaseMargin <= 0 {
		o.LeaseMargin = DefaultLeaseMargin
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Owner = "dispatcher-" + hex.EncodeToString(b[:])
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
	if o.ObserveLimit == nil {
		o.ObserveLimit = func(string, string, int) {}
	}
	if o.RateLimits == nil {
		o.RateLimits = DefaultRateLimits()
	}
	limit := newLogLimiter(o.Logger, time.Minute)
	return &Dispatcher{
		ob:         ob,
		o:          o,
		log:        o.Logger,
		limit:      limit,
		rl:         newRateLimiter(o.RateLimits, o.LimitStore, limit),
		wake:       make(chan struct{}, 1),
		sendCtx:    context.Background(),
		targets:    maps.Clone(targets),
		queues:     map[string]*queue{},
		held:       map[int64]*item{},
		delivered:  map[int64]time.Time{},
		notBefore:  map[int64]time.Time{},
		unrecorded: map[int64]retryArgs{},
	}
}

// SetTargets replaces the targets, for example after a configuration
// reload: deliveries already queued go where the new set says when they are
// sent, and those whose target is gone are dead-lettered.
func (d *Dispatcher) SetTargets(targets map[string]Notifier) {
	d.mu.Lock()
	d.targets = maps.Clone(targets)
	d.mu.Unlock()
	d.Wake()
}

// Owner is the id this dispatcher claims leases under.
func (d *Dispatcher) Owner() string { return d.o.Owner }

// Wake tells Run that deliveries are waiting, so it claims now instead of
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
	d.mu.Lock()
	d.sendCtx = sendCtx
	d.stopping = false
	d.mu.Unlock()

	// Leases under our own name are from a previous run of this daemon
	// that died without giving them back (SIGKILL, power loss): nothing
	// of ours is in flight yet, so they can be claimed again at once.
	if r, ok := d.ob.(leaseReleaser); ok {
		if n, err := r.ReleaseLeases(ctx, d.o.Owner); err != nil {
			d.log.Warn("could not release leases left by a previous run; they will be sent once they expire", "owner", d.o.Owner, "error", err)
		} else if n > 0 {
			d.log.Info("released leases left by a previous run", "owner", d.o.Owner, "deliveries", n)
		}
	}

	timer := time.NewTimer(d.o.Poll)
	defer timer.Stop()
	limit := batchSize
	failures := 0
	var (
		recordFailures int
		recordNext     time.Time
	)
	for ctx.Err() == nil {
		// Outcomes the store failed to record are recorded again, backing
		// off on their own: the rows stay leased to us meanwhile, so
		// nobody resends them, and new deliveries are still claimed.
		if !time.Now().Before(recordNext) {
			if err := d.recordPending(ctx); err != nil && ctx.Err() == nil {
				recordFailures++
				wait := d.storeBackoff(recordFailures)
				recordNext = time.Now().Add(wait)
				d.limit.log(slog.LevelError, "notify: recording outcomes failed; backing off", "record",
					"error", err, "consecutive_failures", recordFailures, "next_in", wait)
			} else {
				recordFailures = 0
			}
		}
		n, err := d.claim(ctx, limit)
		d.limit.flush()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// The store is failing: back off, and let no Wake cut the
			// wait short, or every stored alert would trigger a claim.
			// What was claimed already goes out meanwhile.
			d.mu.Lock()
			d.startWaitingLocked()
			d.mu.Unlock()
			failures++
			wait := d.storeBackoff(failures)
			d.limit.log(slog.LevelError, "notify: claiming deliveries failed; backing off", "claim",
				"error", err, "consecutive_failures", failures, "next_in", wait)
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
			continue
		}
		failures = 0
		if n == limit {
			// A full batch: more are probably due. Claimed rows are
			// leased, so the next claim reaches the rows behind them.
			limit = min(2*limit, maxBatch)
			continue
		}
		limit = batchSize
		timer.Reset(d.o.Poll)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
	}
	d.shutdown(cancelSends)
	d.limit.flushAll()
	return nil
}

// recordPending records again the outcomes the store failed to record:
// deliveries sent (CompleteDelivery) and attempts failed (RetryDelivery).
func (d *Dispatcher) recordPending(ctx context.Context) error {
	d.mu.Lock()
	delivered := maps.Clone(d.delivered)
	unrecorded := maps.Clone(d.unrecorded)
	d.mu.Unlock()
	for id, at := range delivered {
		err := d.record(ctx, func(ctx context.Context) error { return d.ob.CompleteDelivery(ctx, id, at) })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("recording delivery %d: %w", id, err)
		}
		d.mu.Lock()
		delete(d.delivered, id)
		d.mu.Unlock()
	}
	for id, r := range unrecorded {
		err := d.record(ctx, func(ctx context.Context) error {
			return d.ob.RetryDelivery(ctx, id, r.attempts, r.next, r.lastErr)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("recording failed attempt of delivery %d: %w", id, err)
		}
		d.mu.Lock()
		delete(d.unrecorded, id)
		delete(d.notBefore, id)
		d.mu.Unlock()
	}
	return nil
}

// storeBackoff is the wait after the n-th consecutive failed claim: Poll
// doubling, capped.
func (d *Dispatcher) storeBackoff(n int) time.Duration {
	w := d.o.Poll
	for i := 1; i < n && w < maxStoreBackoff; i++ {
		w *= 2
	}
	return min(w, max(maxStoreBackoff, d.o.Poll))
}

// sendTimeout is how long one send to n may take.
func (d *Dispatcher) sendTimeout(n Notifier) time.Duration {
	if b, ok := n.(Bounded); ok {
		if t := b.SendTimeout(); t > 0 {
			return t + sendMargin
		}
	}
	return d.o.SendTimeout
}

// lease is the lease taken on claimed rows: the longest send any current
// target may need, plus the margin. Call with d.mu held.
func (d *Dispatcher) leaseLocked() time.Duration {
	l := d.o.SendTimeout
	for _, n := range d.targets {
		l = max(l, d.sendTimeout(n))
	}
	return l + d.o.LeaseMargin
}

// claim leases one batch and queues each row on its target's queue. It
// reports how many rows the store returned.
func (d *Dispatcher) claim(ctx context.Context, limit int) (int, error) {
	d.mu.Lock()
	lease := d.leaseLocked()
	d.mu.Unlock()
	now := d.o.Now()
	dels, err := d.ob.ClaimDeliveries(ctx, d.o.Owner, now, lease, limit)
	if err != nil {
		return 0, err
	}
	until := now.Add(lease)
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, nb := range d.notBefore {
		if !now.Before(nb.Add(lease)) {
			delete(d.notBefore, id) // long past; the row was re-read since
		}
	}
	// While claims come back full, more rows are probably due: a
	// rate-limited target's worker waits for the claims that follow, so
	// the one message its limit allows carries the whole burst rather
	// than the first batch of it (the rest would wait a window more).
	full := len(dels) == limit && limit < maxBatch
	maxWorkers := map[string]int{}
	for _, del := range dels {
		lu := until
		if !del.LeaseUntil.IsZero() && del.LeaseUntil.Before(lu) {
			lu = del.LeaseUntil
		}
		if it, ok := d.held[del.ID]; ok {
			// Claimed again after its lease expired while it waited:
			// the new lease is ours, keep its place in the queue.
			if it.inFlight {
				it.reclaimed = true
			} else {
				it.del, it.leaseUntil = del, lu
			}
			continue
		}
		if nb, ok := d.notBefore[del.ID]; ok {
			if now.Before(nb) {
				// Failed, the store could not record it: do not resend
				// before the retry time even though the row says due.
				continue
			}
			delete(d.notBefore, del.ID)
		}
		q := d.queues[del.Target]
		if q == nil {
			q = &queue{}
			d.queues[del.Target] = q
		}
		it := &item{del: del, leaseUntil: lu}
		// Behind parked rows while there are any, so the oldest go first.
		if len(q.items) >= maxQueue || len(q.parked) > 0 {
			if len(q.parked) < maxParked {
				d.held[del.ID] = it
				q.parked = append(q.parked, it)
			}
			continue // stays leased: queued as the queue drains, or back after the lease
		}
		d.held[del.ID] = it
		q.items = append(q.items, it)
		workers, seen := maxWorkers[del.Target]
		if !seen {
			// A rate-limited target has one worker, which takes its whole
			// queue: two would each coalesce half of a burst, and the
			// second half would wait for the next window.
			workers = d.o.PerTarget
			if n, ok := d.targets[del.Target]; ok && d.limitedTarget(n) {
				workers = 1
				if full {
					workers = 0 // started once the claims are done, below
				}
			}
			maxWorkers[del.Target] = workers
		}
		if q.workers < workers && !d.stopping {
			q.workers++
			target := del.Target
			d.wg.Go(func() { d.work(target) })
		}
	}
	if !full {
		d.startWaitingLocked()
	}
	return len(dels), nil
}

// startWaitingLocked starts the workers of the rate-limited targets that
// waited for the claims after theirs (see claim). Call with d.mu held.
func (d *Dispatcher) startWaitingLocked() {
	if d.stopping {
		return
	}
	for target, q := range d.queues {
		if q.workers == 0 && len(q.items) > 0 {
			q.workers++
			d.wg.Go(func() { d.work(target) })
		}
	}
}

// work sends one target's queue until it is empty. The one worker of a
// rate-limited target (Limited) takes its whole queue at once, so the
// limit can decide which deliveries share a message.
func (d *Dispatcher) work(target string) {
	for {
		d.mu.Lock()
		q := d.queues[target]
		if !d.stopping {
			q.refill()
		}
		if d.stopping || len(q.items) == 0 {
			q.workers--
			if q.workers == 0 && len(q.items) == 0 {
				delete(d.queues, target)
			}
			d.mu.Unlock()
			return
		}
		n, ok := d.targets[target]
		limited := ok && d.limitedTarget(n)
		take := 1
		if limited {
			// Parked rows too: they are in memory already, and left out
			// they would miss the message and wait for the next window.
			q.items = append(q.items, q.parked...)
			clear(q.parked)
			q.parked = q.parked[:0]
			take = len(q.items)
		}
		batch := slices.Clone(q.items[:take])
		clear(q.items[:take])
		q.items = q.items[take:]
		for _, it := range batch {
			it.inFlight = true
		}
		sendCtx := d.sendCtx
		d.mu.Unlock()

		if !limited {
			d.process(sendCtx, batch[0], n, ok)
		} else {
			d.processLimited(sendCtx, batch, n)
		}

		for _, it := range batch {
			d.mu.Lock()
			delete(d.held, it.del.ID)
			reclaimed := it.reclaimed
			d.mu.Unlock()
			if reclaimed {
				d.release(context.WithoutCancel(sendCtx), it.del)
				d.Wake()
			}
		}
	}
}

// limitedTarget reports whether n's recipients have a rate limit that is
// not off: only then are its sends serialised and coalesced.
func (d *Dispatcher) limitedTarget(n Notifier) bool {
	lim, ok := n.(Limited)
	return ok && d.rl.window(lim.Recipients(Notification{Status: store.StatusFiring})) > 0
}

// settled records an earlier send the store missed and reports whether
// del was such a send (then it must not be sent again).
func (d *Dispatcher) settled(recCtx context.Context, del store.Delivery) bool {
	d.mu.Lock()
	at, wasDelivered := d.delivered[del.ID]
	d.mu.Unlock()
	if !wasDelivered {
		return false
	}
	if err := d.record(recCtx, func(ctx context.Context) error { return d.ob.CompleteDelivery(ctx, del.ID, at) }); err != nil {
		d.limit.log(slog.LevelError, "notify: recording a delivery failed again", "complete", append(d.attrs(del, del.Attempts), "error", err)...)
		return true
	}
	d.mu.Lock()
	delete(d.delivered, del.ID)
	d.mu.Unlock()
	return true
}

// process settles one claimed delivery: records an earlier send the store
// missed, dead-letters it when its target is gone, or sends it.
func (d *Dispatcher) process(sendCtx context.Context, it *item, n Notifier, ok bool) {
	del := it.del
	// Recording the outcome must survive the cancellation of sends.
	recCtx := context.WithoutCancel(sendCtx)
	if d.settled(recCtx, del) {
		return
	}
	if !ok {
		d.deadLetter(recCtx, del, nil, fmt.Sprintf("target %q is no longer configured", del.Target))
		return
	}
	timeout := d.sendTimeout(n)
	if !d.leaseAllows(it, timeout) {
		return
	}
	d.send(sendCtx, it, n, timeout)
}

// leaseAllows reports whether it's lease leaves room for a send of timeout
// plus half the margin to record the outcome. Otherwise the lease could run
// out mid-send and another dispatcher send it too: the delivery is left
// alone, to be claimed again once the lease expires.
func (d *Dispatcher) leaseAllows(it *item, timeout time.Duration) bool {
	if !d.o.Now().Add(timeout + d.o.LeaseMargin/2).After(it.leaseUntil) {
		return true
	}
	d.log.Debug("notify: lease too short for a send; left to be claimed again", d.attrs(it.del, it.del.Attempts+1)...)
	return false
}

// loaded is a claimed delivery with its alert, ready to send.
type loaded struct {
	it *item
	a  alert.Alert
	// keys are the rate-limited recipients it reaches (Limited); grace
	// extends its give-up time by the longest of their periods, so the
	// wait a limit imposed never counts against notify.give_up_after.
	keys  []string
	grace time.Duration
}

// load loads the alert of a claimed delivery. When it cannot, the outcome
// is recorded (retried later, or released when shutting down) and ok is
// false.
func (d *Dispatcher) load(sendCtx context.Context, it *item) (alert.Alert, bool) {
	del := it.del
	recCtx := context.WithoutCancel(sendCtx)
	attempt := del.Attempts + 1
	a, err := d.ob.Alert(sendCtx, del.AlertID)
	if err == nil {
		return a, true
	}
	if sendCtx.Err() != nil {
		d.release(recCtx, del) // shutting down; the delivery stays due
		return a, false
	}
	if errors.Is(err, store.ErrNotFound) {
		next := d.o.Now().Add(d.o.MaxBackoff)
		d.limit.log(slog.LevelError, "notify: delivery refers to a missing alert, retrying later", "missing:"+del.AlertID,
			append(d.attrs(del, attempt), "next", next, "error", err)...)
		d.fail(recCtx, del, nil, attempt, next, "alert not found", 0)
		return a, false
	}
	next := d.o.Now().Add(d.backoff(attempt))
	d.limit.log(slog.LevelWarn, "notify: loading alert failed, retrying later", "load",
		append(d.attrs(del, attempt), "next", next, "error", err)...)
	d.fail(recCtx, del, nil, attempt, next, "load alert: "+err.Error(), 0)
	return a, false
}

// send delivers one delivery and records the outcome.
func (d *Dispatcher) send(sendCtx context.Context, it *item, n Notifier, timeout time.Duration) {
	a, ok := d.load(sendCtx, it)
	if !ok {
		return
	}
	if !d.leaseAllows(it, timeout) { // loading the alert took a while
		return
	}
	d.deliver(sendCtx, []loaded{{it: it, a: a}}, n, timeout, nil, time.Time{})
}

// processLimited sends the claimed deliveries of one rate-limited target
// (Limited), oldest first. While every recipient has room, each goes
// alone; the last message a limit allows carries everything waiting
// (coalesced); when there is no room, each waits for the time the limit
// allows, without counting an attempt, and is coalesced then. Nothing is
// ever dropped for a limit.
func (d *Dispatcher) processLimited(sendCtx context.Context, batch []*item, n Notifier) {
	recCtx := context.WithoutCancel(sendCtx)
	lim := n.(Limited) // work checked
	var todo []*item
	for _, it := range batch {
		if !d.settled(recCtx, it.del) {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return
	}
	timeout := d.sendTimeout(n)
	var waiting []loaded
	for _, it := range todo {
		if !d.leaseAllows(it, timeout) {
			continue
		}
		a, ok := d.load(sendCtx, it)
		if !ok {
			continue
		}
		keys := lim.Recipients(Notification{ID: NotificationID(a.ID, it.del.Status), Status: it.del.Status, Alert: a})
		if len(keys) == 0 || d.rl.window(keys) == 0 {
			// Not limited (limits off, or nobody reached): as usual.
			if d.leaseAllows(it, timeout) {
				d.deliver(sendCtx, []loaded{{it: it, a: a}}, n, timeout, nil, time.Time{})
			}
			continue
		}
		waiting = append(waiting, loaded{it: it, a: a, keys: keys, grace: d.rl.window(keys)})
	}
	var keys []string
	for _, l := range waiting {
		for _, k := range l.keys {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	// Sends that go alone run PerTarget at a time, as for any target, so
	// a burst within the limit is not sent one slow SMTP session after
	// the other; each has its own reservation of the limit.
	sem := make(chan struct{}, d.o.PerTarget)
	var wg sync.WaitGroup
	defer wg.Wait()
	for len(waiting) > 0 {
		if sendCtx.Err() != nil {
			for _, l := range waiting {
				d.release(recCtx, l.it.del)
			}
			return
		}
		now := d.o.Now()
		before, block, held := d.rl.take(recCtx, keys, now)
		if block != nil {
			for _, l := range waiting {
				d.hold(recCtx, l, block)
			}
			return
		}
		if before <= 1 || len(waiting) == 1 {
			// The last message this window allows carries all that wait.
			wg.Wait() // oldest first: the singles before it are out
			d.deliver(sendCtx, waiting, n, timeout, held, now)
			return
		}
		l := waiting[0]
		waiting = waiting[1:]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.deliver(sendCtx, []loaded{l}, n, timeout, held, now)
		})
	}
}

// hold reschedules a delivery that a rate limit holds back to the time the
// limit allows, without counting an attempt and without the give-up clock
// (a wait is not a failure). The reason is its LastError, so `alerts show`
// says why it waits and until when.
func (d *Dispatcher) hold(ctx context.Context, l loaded, b *limitBlock) {
	del := l.it.del
	reason := b.Reason()
	if del.LastError != "" {
		// An earlier failure stays visible in `alerts show` behind the wait.
		prev := del.LastError
		if i := strings.Index(prev, " (earlier attempt failed: "); IsRateLimitReason(prev) && i >= 0 {
			prev = strings.TrimSuffix(prev[i+len(" (earlier attempt failed: "):], ")")
		} else if IsRateLimitReason(prev) {
			prev = ""
		}
		if prev != "" {
			reason += " (earlier attempt failed: " + cut(prev, maxLastError/2) + ")"
		}
	}
	d.o.ObserveLimit(del.Target, ResultRateLimited, 1)
	d.limit.log(slog.LevelWarn, "notify: rate limit reached; the alert waits and goes with the next message allowed", "ratelimit:"+del.Target,
		append(d.attrs(del, del.Attempts), "next", b.next, "reason", reason)...)
	if err := d.record(ctx, func(ctx context.Context) error {
		return d.ob.RetryDelivery(ctx, del.ID, del.Attempts, b.next, reason)
	}); err != nil {
		d.mu.Lock()
		d.notBefore[del.ID] = b.next
		d.unrecorded[del.ID] = retryArgs{del, del.Attempts, b.next, reason}
		d.mu.Unlock()
		d.limit.log(slog.LevelError, "notify: recording a rate-limited wait failed", "retry-record",
			append(d.attrs(del, del.Attempts), "error", err)...)
		d.Wake()
	}
}

// coalesce builds the one notification that carries group (two or more),
// oldest first.
func (d *Dispatcher) coalesce(group []loaded, sent time.Time) Notification {
	carried := make([]Notification, len(group))
	attempt := 0
	for i, l := range group {
		carried[i] = Notification{ID: NotificationID(l.a.ID, l.it.del.Status), Status: l.it.del.Status, Alert: l.a,
			Attempt: l.it.del.Attempts + 1, Sent: sent}
		attempt = max(attempt, l.it.del.Attempts+1)
	}
	slices.SortStableFunc(carried, func(x, y Notification) int {
		return cmp.Or(alertTime(x.Alert).Compare(alertTime(y.Alert)), cmp.Compare(x.ID, y.ID))
	})
	return NewCoalesced(carried, attempt, sent)
}

// NewCoalesced is the notification that carries every one of carried
// (oldest first) in one message: its lead is the most severe, firing
// before resolved, the oldest among equals; its ID is derived from the
// carried IDs, so a retry of the same set is the same message.
func NewCoalesced(carried []Notification, attempt int, sent time.Time) Notification {
	lead := 0
	for i, c := range carried {
		if leads(c, carried[lead]) {
			lead = i
		}
	}
	ids := make([]string, len(carried))
	status := store.StatusResolved
	for i, c := range carried {
		ids[i] = c.ID
		if c.Status != store.StatusResolved {
			status = store.StatusFiring
		}
	}
	slices.Sort(ids)
	h := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return Notification{
		ID:        "coalesced-" + hex.EncodeToString(h[:10]),
		Status:    status,
		Alert:     carried[lead].Alert,
		Attempt:   attempt,
		Sent:      sent,
		Coalesced: carried,
	}
}

// leads reports whether x should lead a coalesced message before y.
func leads(x, y Notification) bool {
	xr, yr := x.Status == store.StatusResolved, y.Status == store.StatusResolved
	if xr != yr {
		return !xr
	}
	return x.Alert.Severity < y.Alert.Severity
}

// alertTime is when an alert's event happened, or was read.
func alertTime(a alert.Alert) time.Time {
	if !a.EventTime.IsZero() {
		return a.EventTime
	}
	return a.Detected
}

// deliver sends group as one notification (one delivery, or several
// coalesced) and records the outcome of each: all completed together, or
// all retried together. held is the rate-limit reservation made at
// reservedAt, given back when the send fails.
func (d *Dispatcher) deliver(sendCtx context.Context, group []loaded, n Notifier, timeout time.Duration, held []string, reservedAt time.Time) {
	recCtx := context.WithoutCancel(sendCtx)
	// Each must still have the lease for the send (sends before it in
	// the group's queue took time).
	var ok []loaded
	for _, l := range group {
		if d.leaseAllows(l.it, timeout) {
			ok = append(ok, l)
		}
	}
	group = ok
	if len(group) == 0 {
		d.rl.release(recCtx, held, reservedAt)
		return
	}
	var nt Notification
	if len(group) == 1 {
		l := group[0]
		nt = Notification{
			ID:      NotificationID(l.a.ID, l.it.del.Status),
			Status:  l.it.del.Status,
			Alert:   l.a,
			Attempt: l.it.del.Attempts + 1,
			Sent:    d.o.Now(),
		}
	} else {
		nt = d.coalesce(group, d.o.Now())
	}
	target := group[0].it.del.Target
	ctx, cancel := context.WithTimeout(sendCtx, timeout)
	began := time.Now()
	err := n.Notify(ctx, nt)
	took := time.Since(began)
	cancel()

	if err == nil {
		d.o.Observe(target, ResultSuccess, took)
		if len(group) > 1 {
			d.o.ObserveLimit(target, ResultCoalesced, len(group))
		}
		at := d.o.Now()
		for _, l := range group {
			del := l.it.del
			if rerr := d.record(recCtx, func(ctx context.Context) error { return d.ob.CompleteDelivery(ctx, del.ID, at) }); rerr != nil {
				d.mu.Lock()
				d.delivered[del.ID] = at
				d.mu.Unlock()
				d.limit.log(slog.LevelError, "notify: delivered but recording it failed; will record again without resending", "complete",
					append(d.attrs(del, del.Attempts+1), "error", rerr)...)
				d.Wake()
				continue
			}
			if len(group) > 1 {
				d.log.Info("notify: delivered, coalesced", append(d.attrs(del, del.Attempts+1), "took", took, "message", nt.ID, "carried", len(group))...)
			} else {
				d.log.Info("notify: delivered", append(d.attrs(del, del.Attempts+1), "took", took)...)
			}
		}
		d.limit.end("retry:"+target, "permanent:"+target)
		return
	}
	d.rl.release(recCtx, held, reservedAt)
	if sendCtx.Err() != nil {
		// Cancelled by shutdown: give the lease back without counting an
		// attempt, so the next start sends it at once.
		for _, l := range group {
			d.log.Warn("notify: send interrupted by shutdown; it stays queued", append(d.attrs(l.it.del, l.it.del.Attempts+1), "error", err)...)
			d.release(recCtx, l.it.del)
		}
		return
	}
	now := d.o.Now()
	var next time.Time
	level, msg, key := slog.LevelWarn, "notify: send failed, retrying", "retry:"+target
	if IsPermanent(err) {
		d.o.Observe(target, ResultPermanent, took)
		next = now.Add(d.o.MaxBackoff)
		level, msg, key = slog.LevelError, "notify: target rejected the alert; it is kept and retried, fix the target", "permanent:"+target
	} else {
		d.o.Observe(target, ResultRetry, took)
		// One delay for the whole group, so its deliveries stay together.
		delay := d.backoff(group[0].it.del.Attempts + 1)
		if ra, ok := RetryAfter(err); ok {
			delay = min(ra, d.o.MaxBackoff)
		}
		next = now.Add(delay)
	}
	for _, l := range group {
		del := l.it.del
		attrs := append(d.attrs(del, del.Attempts+1), "next", next, "error", err)
		if len(group) > 1 {
			attrs = append(attrs, "message", nt.ID, "carried", len(group))
		}
		d.limit.log(level, msg, key, attrs...)
		a := l.a
		d.fail(recCtx, del, &a, del.Attempts+1, next, err.Error(), l.grace)
	}
}

// fail records a failed attempt, or dead-letters the delivery once it has
// been failing for GiveUpAfter (plus grace, the longest rate-limit period
// it may have waited for) since it was queued. orig is the alert when it
// was loaded.
func (d *Dispatcher) fail(ctx context.Context, del store.Delivery, orig *alert.Alert, attempts int, next time.Time, lastErr string, grace time.Duration) {
	if len(lastErr) > maxLastError {
		lastErr = lastErr[:maxLastError]
	}
	now := d.o.Now()
	if !del.Created.IsZero() {
		giveUp := del.Created.Add(d.o.GiveUpAfter + grace)
		if !now.Before(giveUp) {
			d.deadLetter(ctx, del, orig, fmt.Sprintf("still failing after %d attempts over %s: %s",
				attempts, now.Sub(del.Created).Round(time.Second), lastErr))
			return
		}
		// The last retry falls on the give-up time, so a dead letter is
		// raised then rather than up to MaxBackoff later.
		if next.After(giveUp) {
			next = giveUp
		}
	}
	if err := d.record(ctx, func(ctx context.Context) error {
		return d.ob.RetryDelivery(ctx, del.ID, attempts, next, lastErr)
	}); err != nil {
		// Held in memory until next anyway, so a failing store does not
		// turn into a tight resend loop against the receiver.
		d.mu.Lock()
		d.notBefore[del.ID] = next
		d.unrecorded[del.ID] = retryArgs{del, attempts, next, lastErr}
		d.mu.Unlock()
		d.limit.log(slog.LevelError, "notify: recording failed attempt failed", "retry-record",
			append(d.attrs(del, attempts), "error", err)...)
		d.Wake()
	}
}

// release gives a claimed delivery's lease back without counting an
// attempt, so that it is due again at once rather than when the lease
// expires. A lease that is no longer ours is left alone (the store checks
// the owner).
func (d *Dispatcher) release(ctx context.Context, del store.Delivery) {
	err := d.record(ctx, func(ctx context.Context) error { return d.ob.ReleaseDelivery(ctx, del.ID, d.o.Owner) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		d.limit.log(slog.LevelWarn, "notify: releasing a lease failed; the delivery is due again when it expires", "release",
			append(d.attrs(del, del.Attempts), "error", err)...)
	}
}

// record runs one bookkeeping write with storeTimeout.
func (d *Dispatcher) record(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return f(ctx)
}

func (d *Dispatcher) shutdown(cancelSends context.CancelFunc) {
	// Stop starting sends and give back the leases of what waits, so the
	// next start (or another dispatcher) sends it at once.
	d.mu.Lock()
	d.stopping = true
	var waiting []store.Delivery
	for _, q := range d.queues {
		for _, it := range append(q.items, q.parked...) {
			waiting = append(waiting, it.del)
			delete(d.held, it.del.ID)
		}
		q.items, q.parked = nil, nil
	}
	d.mu.Unlock()
	recCtx := context.Background()
	for _, del := range waiting {
		d.release(recCtx, del)
	}
	if err := d.recordPending(recCtx); err != nil {
		d.log.Error("notify: outcomes still unrecorded at shutdown; those deliveries may be sent again", "error", err)
	}

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
	n := len(d.held)
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

// otherTargets lists the configured targets except except, sorted.
func (d *Dispatcher) otherTargets(except string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for t := range d.targets {
		if t != except {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
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
	delay := half + mrand.N(c-half+1)
	return max(delay, min(d.o.MinBackoff, c))
}

func (d *Dispatcher) attrs(del store.Delivery, attempt int) []any {
	return []any{"delivery", del.ID, "alert", del.AlertID, "status", del.Status, "target", del.Target, "attempt", attempt}
}
