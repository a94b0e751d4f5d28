package source

// The kafka source reads a topic through a consumer group: Azure Event Hubs
// through its Kafka endpoint (type eventhubs), which is how Microsoft streams
// Entra logs out with diagnostic settings, or any Kafka cluster (type kafka).
//
// franz-go is pinned in go.mod at v1.22.3, which has the consumer-group fix
// for Event Hubs. v1.21.0 could not join a consumer group on Event Hubs at
// all: Event Hubs answers OffsetFetch and Metadata below v10, so no topic
// IDs come back, and the client then marked every partition
// UNKNOWN_TOPIC_OR_PARTITION (franz-go issue 1312, fixed in v1.21.1). Do
// not move below v1.21.1; test a newer version against Event Hubs first.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"breakglass/internal/logs"
	"breakglass/internal/scan"
)

// Defaults for the kafka and eventhubs sources; config takes them from here.
const (
	// DefaultKafkaGroup is the consumer group: replicas of breakglass that
	// share it share the partitions.
	DefaultKafkaGroup = "breakglass"
	// KafkaStartLatest and KafkaStartEarliest are where a group that has
	// committed nothing yet starts reading.
	KafkaStartLatest   = "latest"
	KafkaStartEarliest = "earliest"
	DefaultKafkaStart  = KafkaStartLatest
	// EventHubsUser is the SASL PLAIN user name Event Hubs expects; the
	// password is the connection string.
	EventHubsUser = "$ConnectionString"
	// DefaultKafkaRetry is the first wait before a message whose alerts
	// could not be stored is ingested again; it doubles up to
	// maxKafkaRetry.
	DefaultKafkaRetry = time.Second
	// DefaultKafkaSessionTimeout is how long the group waits for a member
	// that stopped heartbeating before its partitions move: Microsoft's
	// recommended session.timeout.ms for Event Hubs. franz-go's own 45 s
	// would leave a dead replica's partitions unread longer.
	DefaultKafkaSessionTimeout = 30 * time.Second
	// rebalanceFloor is the shortest rebalance timeout (see kafkaOpts).
	rebalanceFloor = 5 * time.Second
)

const (
	maxKafkaRetry    = 30 * time.Second
	kafkaPingTimeout = 10 * time.Second
	kafkaPollRecords = 500
	// Keys for Sink.Failing.
	kafkaKeyBroker = "broker"
	kafkaKeyFetch  = "fetch"
	kafkaKeyCommit = "commit"
	kafkaKeyStore  = "store"
)

// KafkaOptions configure a kafka or eventhubs source.
type KafkaOptions struct {
	Name    string
	Brokers []string // host:port, at least one
	Topic   string
	Group   string      // default DefaultKafkaGroup
	TLS     *tls.Config // nil: plaintext
	// SASLUser and SASLPassword enable SASL PLAIN when the password is set.
	// The password (an Event Hubs connection string) is never logged, nor
	// is anything that contains it.
	SASLUser     string
	SASLPassword string
	Start        string // KafkaStartLatest (default) or KafkaStartEarliest
	// MaxInput bounds one message after decompression; default
	// DefaultMaxBody.
	MaxInput int64
	Logger   *slog.Logger
	// AliveInterval is how often the broker is pinged (and the source
	// reported alive when it answers); default DefaultAliveInterval.
	AliveInterval time.Duration
	// FailThreshold is how many failed pings or fetches in a row raise the
	// source-health alert; default DefaultFailThreshold.
	FailThreshold int
	// Retry is the first wait before a message is ingested again after the
	// store failed; default DefaultKafkaRetry.
	Retry time.Duration
	// SessionTimeout is how long the group waits for this member's
	// heartbeat before it hands its partitions to the others; default
	// DefaultKafkaSessionTimeout. Heartbeats go every third of it, at most
	// every 3 s.
	SessionTimeout time.Duration

	// extra are client options tests add (shorter group timeouts).
	extra []kgo.Opt
	// beforeCommit, when set, runs after a poll's records are stored and
	// before their offsets are committed; an error stops Run without
	// committing, as a crash would (tests).
	beforeCommit func() error
}

// Kafka is a kafka or eventhubs source.
type Kafka struct {
	o   KafkaOptions
	log *slog.Logger
	red *redactor

	mu   sync.Mutex // guards fail: the poll loop and the pinger share it
	fail *failures
}

// NewKafka validates o and returns the source.
func NewKafka(o KafkaOptions) (*Kafka, error) {
	switch {
	case o.Name == "":
		return nil, errors.New("kafka source: name is required")
	case len(o.Brokers) == 0:
		return nil, fmt.Errorf("kafka source %q: bootstrap is required", o.Name)
	case o.Topic == "":
		return nil, fmt.Errorf("kafka source %q: topic is required", o.Name)
	case o.MaxInput < 0 || o.AliveInterval < 0 || o.Retry < 0 || o.SessionTimeout < 0:
		return nil, fmt.Errorf("kafka source %q: limits must not be negative", o.Name)
	case o.SASLPassword != "" && o.SASLUser == "":
		return nil, fmt.Errorf("kafka source %q: a SASL password needs a user", o.Name)
	}
	switch o.Start {
	case "":
		o.Start = DefaultKafkaStart
	case KafkaStartLatest, KafkaStartEarliest:
	default:
		return nil, fmt.Errorf("kafka source %q: start must be %s or %s", o.Name, KafkaStartLatest, KafkaStartEarliest)
	}
	if o.Group == "" {
		o.Group = DefaultKafkaGroup
	}
	if o.MaxInput == 0 {
		o.MaxInput = DefaultMaxBody
	}
	if o.AliveInterval == 0 {
		o.AliveInterval = DefaultAliveInterval
	}
	if o.Retry == 0 {
		o.Retry = DefaultKafkaRetry
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = DefaultKafkaSessionTimeout
	}
	k := &Kafka{o: o, log: o.Logger, red: newRedactor(o.SASLPassword)}
	if k.log == nil {
		k.log = slog.Default()
	}
	k.log = k.log.With("source", o.Name)
	k.fail = newFailures(o.Name, o.FailThreshold)
	return k, nil
}

// Name returns the source's name.
func (k *Kafka) Name() string { return k.o.Name }

// String describes the source without its password, so that printing it
// (%v of the struct) reveals nothing.
func (k *Kafka) String() string {
	return fmt.Sprintf("kafka source %q (%s, topic %s)", k.o.Name, strings.Join(k.o.Brokers, ","), k.o.Topic)
}

// GoString covers %#v, which would otherwise print the options.
func (k *Kafka) GoString() string { return k.String() }

func (k *Kafka) clientOpts() []kgo.Opt {
	start := kgo.NewOffset().AtEnd()
	if k.o.Start == KafkaStartEarliest {
		start = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.o.Brokers...),
		kgo.ConsumerGroup(k.o.Group),
		kgo.ConsumeTopics(k.o.Topic),
		// Only offsets of stored records are committed, by us, after
		// Ingest returns (commit); a revoke or a close commits nothing.
		kgo.DisableAutoCommit(),
		// A rebalance waits while a poll's records are being stored and
		// committed, so a partition moves with its offsets committed and
		// the next owner re-reads nothing (or, after a failed commit, what
		// dedupe absorbs).
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeStartOffset(start),
		// A committed offset that is out of range (the data expired
		// before it was read) restarts at the oldest retained record, not
		// the newest: re-reading is harmless, skipping is not.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Event Hubs: clear the leader epoch of every fetched offset.
		// Event Hubs returns epochs that do not match what its
		// OffsetForLeaderEpoch answers, and the client's data-loss
		// detection then resets or errors the partition. Without an epoch
		// the client trusts the offset.
		kgo.AdjustFetchOffsetsFn(clearEpochs),
		kgo.FetchMaxPartitionBytes(int32(min(k.o.MaxInput, 1<<30))),
		// Event Hubs closes connections idle for 240 s; Microsoft's
		// recommended client settings refresh metadata every 180 s so
		// that the client never relies on a connection it already lost.
		kgo.MetadataMaxAge(3 * time.Minute),
		kgo.ClientID("breakglass"),
		kgo.SessionTimeout(k.o.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, k.o.SessionTimeout/3)),
		// A member that dies during a rebalance holds every partition of
		// the group until the rebalance timeout (franz-go's default is
		// 60 s): a minute in which no replica reads anything. Bound it by
		// the session timeout, with a floor that leaves a live member time
		// to commit what it stored and rejoin.
		kgo.RebalanceTimeout(max(k.o.SessionTimeout, rebalanceFloor)),
		kgo.WithLogger(&kgoLogger{log: k.log, red: k.red}),
	}
	if k.o.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(k.o.TLS.Clone()))
	}
	if k.o.SASLPassword != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: k.o.SASLUser, Pass: k.o.SASLPassword}.AsMechanism()))
	}
	return append(opts, k.o.extra...)
}

// clearEpochs sets the epoch of every fetched offset to -1 (see clientOpts).
func clearEpochs(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for _, ps := range offsets {
		for p, o := range ps {
			ps[p] = o.WithEpoch(-1)
		}
	}
	return offsets, nil
}

// Run consumes until ctx ends and returns nil then. A broker that cannot be
// reached, or that refuses the credentials, is reported through
// sink.Failing and retried; only options the client rejects are returned.
//
// A replica whose store keeps failing must not hold its partitions
// hostage while other replicas could store their alerts: once storing a
// message has failed for SessionTimeout (as long as the group waits for a
// dead member), the source leaves the group without committing that
// message, so the partitions move to the other members, and keeps
// ingesting the message until the store takes it; then it joins again.
func (k *Kafka) Run(ctx context.Context, sink Sink) error {
	if sink == nil {
		return fmt.Errorf("kafka source %q: no sink", k.o.Name)
	}
	k.log.Info("kafka source consuming", "bootstrap", strings.Join(k.o.Brokers, ","), "topic", k.o.Topic, "group", k.o.Group, "start", k.o.Start)
	for {
		stuck, err := k.session(ctx, sink)
		if err != nil || stuck == nil {
			return err
		}
		k.log.Error("kafka source: the store has failed for longer than session_timeout; left the consumer group so that other replicas read its partitions, and joins again once the store takes the message",
			"input", recordName(stuck), "session_timeout", k.o.SessionTimeout)
		if stored, _ := k.ingestRecordUntil(ctx, sink, stuck, 0); !stored {
			return nil // ctx ended
		}
		k.log.Info("kafka source: the store works again; joining the consumer group", "input", recordName(stuck))
	}
}

// session is one membership of the consumer group: it consumes until ctx
// ends (nil, nil) or a message could not be stored for SessionTimeout
// (that message, nil), and leaves the group either way.
func (k *Kafka) session(ctx context.Context, sink Sink) (*kgo.Record, error) {
	cl, err := kgo.NewClient(k.clientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", k.o.Name, k.red.err(err))
	}
	crashed := false
	defer func() {
		if crashed {
			cl.Close() // a crash leaves nothing committed beyond what was
			return
		}
		cl.CloseAllowingRebalance()
	}()

	pingDone := make(chan struct{})
	pctx, stopPing := context.WithCancel(ctx)
	go func() { defer close(pingDone); k.pingLoop(pctx, cl, sink) }()
	defer func() { stopPing(); <-pingDone }()

	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, kafkaPollRecords)
		if fs.IsClientClosed() || ctx.Err() != nil {
			cl.AllowRebalance()
			break
		}
		k.fetchErrors(ctx, sink, fs)
		stored, stuck := k.ingestPoll(ctx, sink, fs)
		if k.o.beforeCommit != nil {
			if err := k.o.beforeCommit(); err != nil {
				crashed = true
				cl.AllowRebalance()
				return nil, nil
			}
		}
		// What was stored is committed, stuck or not: the next owner
		// starts after it.
		k.commit(ctx, cl, sink, stored)
		cl.AllowRebalance()
		if stuck != nil {
			return stuck, nil
		}
	}
	return nil, nil
}

func recordName(r *kgo.Record) string {
	return "kafka:" + r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10)
}

// fetchErrors reports errors the poll carried. Errors without a partition
// come from the group (joining, syncing) or the connection.
func (k *Kafka) fetchErrors(ctx context.Context, sink Sink, fs kgo.Fetches) {
	var fetchErr error
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		err := k.red.err(fe.Err)
		if fe.Topic != "" {
			err = fmt.Errorf("topic %s partition %d: %w", fe.Topic, fe.Partition, err)
		}
		k.log.Warn("kafka source: fetch failed", "err", err)
		fetchErr = err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if fetchErr != nil {
		k.fail.fail(ctx, sink, kafkaKeyFetch, fetchErr)
	} else if !fs.Empty() {
		k.fail.ok(ctx, sink, kafkaKeyFetch)
	}
}

// ingestPoll ingests every record of a poll, partitions in parallel and
// each partition in order, and returns per partition the offset after the
// last record whose alerts are stored. A record is ingested again until
// that works or ctx ends: a record is never skipped because the store was
// down. When a record could not be stored for SessionTimeout, its
// partition stops there and the first such record is returned as stuck.
func (k *Kafka) ingestPoll(ctx context.Context, sink Sink, fs kgo.Fetches) (map[string]map[int32]kgo.EpochOffset, *kgo.Record) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored = map[string]map[int32]kgo.EpochOffset{}
		stuck  *kgo.Record
	)
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(-1)
			for _, r := range p.Records {
				ok, gaveUp := k.ingestRecordUntil(ctx, sink, r, k.o.SessionTimeout)
				if gaveUp {
					mu.Lock()
					if stuck == nil {
						stuck = r
					}
					mu.Unlock()
				}
				if !ok {
					break
				}
				next = r.Offset + 1
			}
			if next < 0 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if stored[p.Topic] == nil {
				stored[p.Topic] = map[int32]kgo.EpochOffset{}
			}
			// Epoch -1: Event Hubs' epochs are not to be trusted (see
			// clientOpts), and a committed epoch comes back on the next
			// fetch of the offset.
			stored[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}()
	})
	wg.Wait()
	return stored, stuck
}

// ingestRecord ingests one message and reports whether its alerts are
// stored (or it has nothing that could be stored). It returns false only
// when ctx ended first.
func (k *Kafka) ingestRecord(ctx context.Context, sink Sink, r *kgo.Record) bool {
	ok, _ := k.ingestRecordUntil(ctx, sink, r, 0)
	return ok
}

// ingestRecordUntil is ingestRecord that gives up (false, true) once the
// store has failed for giveUp (0: never).
func (k *Kafka) ingestRecordUntil(ctx context.Context, sink Sink, r *kgo.Record, giveUp time.Duration) (stored, gaveUp bool) {
	name := recordName(r)
	if len(bytes.TrimSpace(r.Value)) == 0 {
		return true, false // an empty message holds no record
	}
	wait := k.o.Retry
	var firstFail time.Time
	for {
		// A message is complete: a record cut off at its end that names
		// an account must alert, not only be counted.
		ictx := scan.WithMaxInput(scan.WithFinal(ctx), k.o.MaxInput)
		st, err := sink.Ingest(ictx, k.o.Name, name, bytes.NewReader(r.Value))
		if err == nil || (st.Skipped[logs.ReasonReadError] > 0 && ctx.Err() == nil) {
			if err != nil {
				// The message is in memory: a read error is its
				// content (corrupt gzip), and reading it again would
				// not help. What could be read was scanned.
				k.log.Warn("kafka source: unreadable message; what could be read was scanned", "input", name, "err", k.red.err(err))
			} else if st.TotalRecords() == 0 && st.TotalSkipped() > 0 {
				k.log.Warn("kafka source: no record could be decoded from a message", "input", name, "skipped", st.Skipped)
			}
			k.mu.Lock()
			k.fail.ok(ctx, sink, kafkaKeyStore)
			k.mu.Unlock()
			return true, false
		}
		if ctx.Err() != nil {
			return false, false
		}
		now := time.Now()
		if firstFail.IsZero() {
			firstFail = now
		}
		err = k.red.err(err)
		k.log.Error("kafka source: the alerts of a message could not be stored; trying again", "input", name, "retry_in", wait, "err", err)
		k.mu.Lock()
		k.fail.fail(ctx, sink, kafkaKeyStore, fmt.Errorf("storing the alerts of %s: %w", name, err))
		k.mu.Unlock()
		sleep := wait
		if giveUp > 0 {
			left := giveUp - now.Sub(firstFail)
			if left <= 0 {
				return false, true
			}
			sleep = min(sleep, left) // give up on time, not a backoff later
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, false
		case <-t.C:
		}
		wait = min(2*wait, maxKafkaRetry)
	}
}

// commit commits the offsets of stored records. On shutdown it still
// commits what was stored, with a short deadline of its own. A failed
// commit (a rebalance took the partition) is not data loss: the next owner
// reads those records again and dedupe absorbs them.
func (k *Kafka) commit(ctx context.Context, cl *kgo.Client, sink Sink, stored map[string]map[int32]kgo.EpochOffset) {
	if len(stored) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kafkaPingTimeout)
	defer cancel()
	var cerr error
	cl.CommitOffsetsSync(cctx, stored, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cerr = commitError(resp, err)
	})
	k.mu.Lock()
	defer k.mu.Unlock()
	if cerr != nil {
		cerr = k.red.err(cerr)
		k.log.Warn("kafka source: committing offsets failed; those records will be read again (dedupe keeps alerts single)", "err", cerr)
		k.fail.fail(ctx, sink, kafkaKeyCommit, cerr)
		return
	}
	k.fail.ok(ctx, sink, kafkaKeyCommit)
}

// pingLoop asks a broker for metadata every AliveInterval: it answers, the
// source is alive; it cannot be reached or refuses the credentials, the
// source is failing once that happens FailThreshold times in a row.
func (k *Kafka) pingLoop(ctx context.Context, cl *kgo.Client, sink Sink) {
	t := time.NewTicker(k.o.AliveInterval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, min(kafkaPingTimeout, 2*k.o.AliveInterval))
		err := k.ping(pctx, cl)
		cancel()
		if ctx.Err() != nil {
			return
		}
		k.mu.Lock()
		if err != nil {
			err = k.red.err(err)
			k.log.Warn("kafka source: broker not answering", "err", err)
			k.fail.fail(ctx, sink, kafkaKeyBroker, err)
		} else {
			k.fail.ok(ctx, sink, kafkaKeyBroker)
		}
		k.mu.Unlock()
		if err == nil {
			sink.Alive(ctx, k.o.Name)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errNoTopic: the brokers answer but do not have the topic (ErrNoTopic).
var errNoTopic = errors.New("no such topic")

// ping asks the brokers for the topic's metadata: it fails when no broker
// can be reached or signed in to, and when the topic does not exist (a
// mistyped event hub name would otherwise read nothing, silently).
func (k *Kafka) ping(ctx context.Context, cl *kgo.Client) error {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(k.o.Topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("cannot reach or sign in to %s (check bootstrap, tls and the SASL password or connection string): %w", strings.Join(k.o.Brokers, ","), err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != k.o.Topic {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("topic %s: %w on %s (check topic: the event hub's name)", k.o.Topic, errNoTopic, strings.Join(k.o.Brokers, ","))
			}
			return fmt.Errorf("topic %s: %w", k.o.Topic, err)
		}
		return nil
	}
	return fmt.Errorf("topic %s: %w on %s (check topic: the event hub's name)", k.o.Topic, errNoTopic, strings.Join(k.o.Brokers, ","))
}

// commitError is the first error of a commit: the request's, else the
// first partition's.
func commitError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("topic %s partition %d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// LoadCAFile reads a PEM bundle of CA certificates to trust instead of the
// system's (a private Kafka's CA). The error names the file, never its
// content.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
