package source

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"breakglass/internal/scan"
)

// testConnString looks like an Event Hubs connection string; its key is
// what must never be printed.
const (
	testSharedKey  = "c2VjcmV0LWtleS1ub3QtZm9yLWxvZ3M9PQ+kfake/Zz0="
	testConnString = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=breakglass;SharedAccessKey=" + testSharedKey
	testTopic      = "insights-logs-signinlogs"
)

// signin returns a sign-in record of break-glass account bg1 with event id
// n, so that each n raises its own alert.
func signin(t testing.TB, n int) string {
	line := strings.TrimSpace(string(pt1h(t)[0]))
	id := fmt.Sprintf("22222222-0000-4000-8000-%012d", n)
	out := strings.Replace(line, "22222222-0000-4000-8000-000000000001", id, 1)
	if out == line && n != 1 {
		t.Fatal("the sign-in record has no id to vary")
	}
	return out
}

// envelope is one Event Hubs message: the diagnostic-settings shape.
func envelope(t testing.TB, ns ...int) []byte {
	recs := make([]string, len(ns))
	for i, n := range ns {
		recs[i] = signin(t, n)
	}
	return []byte(`{"records": [` + strings.Join(recs, ",") + `]}`)
}

// newCluster starts an in-process Kafka with SASL PLAIN, whose one user is
// Event Hubs' $ConnectionString with testConnString as the password.
func newCluster(t testing.TB, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, testTopic),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", EventHubsUser, testConnString),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// producer writes messages to the cluster (as the Event Hubs user).
func producer(t testing.TB, c *kfake.Cluster, tlsCfg *tls.Config) *kgo.Client {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(testTopic),
		kgo.SASL(plain.Auth{User: EventHubsUser, Pass: testConnString}.AsMechanism()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	p, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func produce(t testing.TB, p *kgo.Client, msgs ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: m}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
}

// fastGroup makes rebalances take milliseconds, not seconds.
var fastGroup = []kgo.Opt{
	kgo.HeartbeatInterval(50 * time.Millisecond),
	kgo.SessionTimeout(2 * time.Second),
	kgo.RebalanceTimeout(5 * time.Second),
	kgo.FetchMaxWait(100 * time.Millisecond),
}

func kafkaOpts(c *kfake.Cluster, log *slog.Logger) KafkaOptions {
	return KafkaOptions{
		Name: "hub", Brokers: c.ListenAddrs(), Topic: testTopic, Group: "breakglass",
		SASLUser: EventHubsUser, SASLPassword: testConnString, Start: KafkaStartEarliest,
		Logger: log, AliveInterval: 50 * time.Millisecond, Retry: 10 * time.Millisecond,
		extra: fastGroup,
	}
}

// running is a source started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func start(t testing.TB, o KafkaOptions, sink Sink) *running {
	t.Helper()
	k, err := NewKafka(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- k.Run(ctx, sink) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the source and waits for Run; wait only waits.
func (r *running) stop(t testing.TB) { t.Helper(); r.cancel(); r.wait(t) }

func (r *running) wait(t testing.TB) {
	t.Helper()
	r.once.Do(func() {
		select {
		case r.err = <-r.done:
		case <-time.After(30 * time.Second):
			r.err = errors.New("Run did not return")
		}
		if r.err != nil {
			t.Errorf("Run: %v", r.err)
		}
	})
}

func waitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKafkaAlerts(t *testing.T) {
	c := newCluster(t, 3)
	p := producer(t, c, nil)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sink := newTestSink()
	const n = 30
	for i := 1; i <= n; i += 2 {
		produce(t, p, envelope(t, i, i+1))
	}
	r := start(t, kafkaOpts(c, log), sink)
	waitLong(t, "every alert", func() bool { _, a := sink.counts(); return a == n })
	waitLong(t, "alive", func() bool { return sink.aliveCount("hub") > 0 })
	r.stop(t)
	if d := sink.duplicates(); len(d) > 0 {
		t.Errorf("alerts delivered twice without a crash: %v", d)
	}
	if ev := sink.eventList(); len(ev) > 0 {
		t.Errorf("health events on a healthy broker: %v", ev)
	}
	// A second run of the same group reads nothing again: every offset
	// was committed.
	before := sink.ingests()
	produce(t, p, envelope(t, 1000))
	r = start(t, kafkaOpts(c, log), sink)
	waitLong(t, "the new alert", func() bool { _, a := sink.counts(); return a == n+1 })
	time.Sleep(300 * time.Millisecond)
	r.stop(t)
	if got := sink.ingests() - before; got != 1 {
		t.Errorf("second run ingested %d messages, want only the new one", got)
	}
	assertNoSecret(t, logs.String(), sink.eventList())
}

func assertNoSecret(t *testing.T, logs string, events []string) {
	t.Helper()
	for _, s := range []string{testConnString, testSharedKey} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the secret %q", s[:12])
		}
		for _, e := range events {
			if strings.Contains(e, s) {
				t.Errorf("health event contains the secret: %q", e)
			}
		}
	}
}

// A crash after the alerts are stored and before the offsets are
// committed reads those messages again; dedupe (the alert id) keeps each
// alert single.
func TestKafkaCrashBeforeCommit(t *testing.T) {
	c := newCluster(t, 1)
	p := producer(t, c, nil)
	sink := newTestSink()
	const n = 20
	for i := 1; i <= n; i++ {
		produce(t, p, envelope(t, i))
	}
	o := kafkaOpts(c, testLogger(t))
	o.beforeCommit = func() error { return errors.New("crash") } // the first poll's commit never happens
	r := start(t, o, sink)
	r.wait(t)
	first := sink.ingests()
	if first == 0 {
		t.Fatal("nothing was ingested before the crash")
	}
	t.Logf("%d messages stored before the crash", first)

	// Records keep arriving while the consumer is down and restarts.
	o.beforeCommit = nil
	for i := n + 1; i <= n+10; i++ {
		produce(t, p, envelope(t, i))
	}
	r = start(t, o, sink)
	for i := n + 11; i <= n+20; i++ {
		produce(t, p, envelope(t, i))
	}
	// Every message ingested before the crash is ingested again: nothing
	// of it had been committed.
	waitLong(t, "every message read after the restart", func() bool { return sink.ingests() >= first+n+20 })
	r.stop(t)
	if got := len(sink.duplicates()); got != first {
		t.Errorf("%d alerts re-read after the crash, want the %d stored but uncommitted", got, first)
	}
	if ids := sink.alertIDs(); len(ids) != n+20 {
		t.Errorf("%d distinct alerts, want %d", len(ids), n+20)
	}
}

// While the store fails, nothing is committed and the message is retried;
// after a restart with a working store everything arrives.
func TestKafkaStoreDownCommitsNothing(t *testing.T) {
	c := newCluster(t, 1)
	p := producer(t, c, nil)
	sink := newTestSink()
	sink.setFail(errors.New("database is locked"))
	produce(t, p, envelope(t, 1), envelope(t, 2))
	var calls atomic.Int32
	o := kafkaOpts(c, testLogger(t))
	o.FailThreshold = 2
	r := start(t, o, &countingSink{testSink: sink, n: &calls})
	waitLong(t, "retries", func() bool { return calls.Load() >= 3 })
	waitLong(t, "the store failure reported", func() bool {
		for _, e := range sink.eventList() {
			if strings.HasPrefix(e, "failing hub store: ") {
				return true
			}
		}
		return false
	})
	r.stop(t)
	sink.setFail(nil)
	r = start(t, o, sink)
	waitLong(t, "both alerts", func() bool { _, a := sink.counts(); return a == 2 })
	r.stop(t)
}

type countingSink struct {
	*testSink
	n *atomic.Int32
}

func (s *countingSink) Ingest(ctx context.Context, source, name string, r io.Reader) (scan.Stats, error) {
	s.n.Add(1)
	return s.testSink.Ingest(ctx, source, name, r)
}

// A second consumer joins the group mid-stream and leaves again: nothing
// is lost.
func TestKafkaRebalance(t *testing.T) {
	c := newCluster(t, 4)
	p := producer(t, c, nil)
	sink := newTestSink()
	a := start(t, kafkaOpts(c, testLogger(t).With("replica", "a")), sink)
	waitLong(t, "a alive", func() bool { return sink.aliveCount("hub") > 0 })

	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			i := int(next.Add(1))
			produce(t, p, envelope(t, i))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitLong(t, "a consuming", func() bool { _, n := sink.counts(); return n >= 20 })
	var bIngests atomic.Int32
	b := start(t, kafkaOpts(c, testLogger(t).With("replica", "b")), &countingSink{testSink: sink, n: &bIngests})
	waitLong(t, "more alerts with b in the group", func() bool { _, n := sink.counts(); return n >= 150 })
	b.stop(t)
	if bIngests.Load() == 0 {
		t.Error("the second consumer was given no partition")
	}
	waitLong(t, "more alerts after b left", func() bool { _, n := sink.counts(); return n >= 250 })
	close(stop)
	wg.Wait()
	total := int(next.Load())
	waitLong(t, "every alert", func() bool { _, n := sink.counts(); return n == total })
	a.stop(t)
	t.Logf("%d messages, %d read by the second consumer, %d re-read across the rebalances", total, bIngests.Load(), len(sink.duplicates()))
}

func TestKafkaWrongPassword(t *testing.T) {
	c := newCluster(t, 1)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sink := newTestSink()
	o := kafkaOpts(c, log)
	o.SASLPassword = strings.Replace(testConnString, "SharedAccessKey=", "SharedAccessKey=wrong", 1)
	r := start(t, o, sink)
	waitLong(t, "the broker failure reported", func() bool {
		for _, e := range sink.eventList() {
			if strings.HasPrefix(e, "failing hub broker: ") {
				return true
			}
		}
		return false
	})
	r.stop(t)
	if n := sink.aliveCount("hub"); n != 0 {
		t.Errorf("reported alive %d times with refused credentials", n)
	}
	t.Logf("events: %q", sink.eventList())
	assertNoSecret(t, logs.String(), sink.eventList())
	if strings.Contains(logs.String(), o.SASLPassword) || strings.Contains(logs.String(), "wrong"+testSharedKey) {
		t.Error("the logs contain the (wrong) password")
	}
}

func TestKafkaUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	sink := newTestSink()
	o := KafkaOptions{Name: "hub", Brokers: []string{addr}, Topic: testTopic, Logger: testLogger(t),
		AliveInterval: 50 * time.Millisecond, extra: fastGroup}
	r := start(t, o, sink)
	waitLong(t, "the broker failure reported", func() bool {
		for _, e := range sink.eventList() {
			if strings.HasPrefix(e, "failing hub broker: ") {
				return true
			}
		}
		return false
	})
	r.stop(t)
}

// Event Hubs speaks only TLS: the eventhubs shape (TLS, SASL PLAIN with
// $ConnectionString) against a TLS listener.
func TestKafkaTLS(t *testing.T) {
	serverCfg, pool := testTLS(t)
	c := newCluster(t, 2, kfake.TLS(serverCfg))
	clientCfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	p := producer(t, c, clientCfg)
	produce(t, p, envelope(t, 1, 2), envelope(t, 3))
	sink := newTestSink()
	o := kafkaOpts(c, testLogger(t))
	o.TLS = clientCfg
	r := start(t, o, sink)
	waitLong(t, "every alert", func() bool { _, a := sink.counts(); return a == 3 })
	r.stop(t)

	// Without TLS the client cannot talk to it: bg.source, not silence.
	sink = newTestSink()
	o.TLS = nil
	r = start(t, o, sink)
	waitLong(t, "the broker failure reported", func() bool { return len(sink.eventList()) > 0 })
	r.stop(t)
}

func testTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

func TestRedactor(t *testing.T) {
	r := newRedactor(testConnString)
	for _, in := range []string{
		"SASL_AUTHENTICATION_FAILED: bad password " + testConnString,
		"key " + testSharedKey + " rejected",
		"plain " + testConnString + " and " + testSharedKey,
	} {
		out := r.string(in)
		if strings.Contains(out, testSharedKey) || !strings.Contains(out, "<redacted>") {
			t.Errorf("redact(%q) = %q", in, out)
		}
	}
	base := errors.New("connection refused")
	if got := r.err(base); got != base {
		t.Errorf("an error without the secret was replaced: %v", got)
	}
	if got := newRedactor("").string("anything"); got != "anything" {
		t.Errorf("empty secret changed text: %q", got)
	}
}

func TestNewKafkaErrors(t *testing.T) {
	ok := KafkaOptions{Name: "k", Brokers: []string{"127.0.0.1:9092"}, Topic: "t"}
	for _, tc := range []struct {
		name string
		edit func(*KafkaOptions)
		want string
	}{
		{"no name", func(o *KafkaOptions) { o.Name = "" }, "name is required"},
		{"no brokers", func(o *KafkaOptions) { o.Brokers = nil }, "bootstrap is required"},
		{"no topic", func(o *KafkaOptions) { o.Topic = "" }, "topic is required"},
		{"bad start", func(o *KafkaOptions) { o.Start = "middle" }, "start must be"},
		{"password without user", func(o *KafkaOptions) { o.SASLPassword = "x" }, "needs a user"},
		{"negative", func(o *KafkaOptions) { o.Retry = -1 }, "negative"},
	} {
		o := ok
		tc.edit(&o)
		_, err := NewKafka(o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	k, err := NewKafka(KafkaOptions{Name: "k", Brokers: []string{"b:1"}, Topic: "t", SASLUser: "u", SASLPassword: testConnString})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
		if strings.Contains(s, testSharedKey) {
			t.Errorf("printing the source reveals the password: %s", s)
		}
	}
}

// A topic that does not exist (a mistyped event hub name) is a failure,
// not a quiet tenant.
func TestKafkaMissingTopic(t *testing.T) {
	c := newCluster(t, 1)
	sink := newTestSink()
	o := kafkaOpts(c, testLogger(t))
	o.Topic = "insights-logs-signinlog" // one letter short
	r := start(t, o, sink)
	waitLong(t, "the missing topic reported", func() bool {
		for _, e := range sink.eventList() {
			if strings.HasPrefix(e, "failing hub broker: topic insights-logs-signinlog: no such topic") {
				return true
			}
		}
		return false
	})
	r.stop(t)
	if n := sink.aliveCount("hub"); n != 0 {
		t.Errorf("reported alive %d times without the topic", n)
	}
}

// BenchmarkKafkaSource: records per second from a kfake topic through the
// source into the scanner (testSink: no store), 10 records a message.
func BenchmarkKafkaSource(b *testing.B) {
	c := newCluster(b, 4)
	p := producer(b, c, nil)
	const perMsg = 10
	msgs := 2000
	ctx := context.Background()
	for i := 0; i < msgs; i++ {
		ns := make([]int, perMsg)
		for j := range ns {
			ns[j] = i*perMsg + j + 1
		}
		p.Produce(ctx, &kgo.Record{Value: envelope(b, ns...)}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink := newTestSink()
		o := kafkaOpts(c, slog.New(slog.DiscardHandler))
		o.Group = fmt.Sprintf("bench-%d", i)
		t0 := time.Now()
		r := start(b, o, sink)
		waitLong(b, "every record", func() bool { n, _ := sink.counts(); return n == int64(msgs*perMsg) })
		el := time.Since(t0)
		r.stop(b)
		b.ReportMetric(float64(msgs*perMsg)/el.Seconds(), "records/s")
	}
}

// FuzzKafkaMessage: whatever a message holds, ingesting it ends (its
// content is never mistaken for a store failure and retried forever) and
// nothing panics.
func FuzzKafkaMessage(f *testing.F) {
	f.Add(envelope(f, 1, 2))
	f.Add([]byte(`{"records":[{"properties":{"userId":"` + bg1 + `"`))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00, 0x00})
	f.Add([]byte("\xff\xfe{\x00"))
	f.Add(readTestdata(f, "PT1H.json.gz"))
	sink := newTestSink()
	k, err := NewKafka(KafkaOptions{Name: "hub", Brokers: []string{"127.0.0.1:1"}, Topic: testTopic,
		Logger: slog.New(slog.DiscardHandler), MaxInput: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if !k.ingestRecord(ctx, sink, &kgo.Record{Topic: testTopic, Value: value}) {
			t.Fatalf("a message was not taken as done: %q", value)
		}
	})
}

func TestClearEpochs(t *testing.T) {
	in := map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().At(42).WithEpoch(7), 1: kgo.NewOffset().AtStart().WithEpoch(3)}}
	out, err := clearEpochs(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range out["t"] {
		if eo := o.EpochOffset(); eo.Epoch != -1 {
			t.Errorf("partition %d: epoch %d, want -1", p, eo.Epoch)
		}
	}
	if eo := out["t"][0].EpochOffset(); eo.Offset != 42 {
		t.Errorf("offset changed to %d", eo.Offset)
	}
}

// The group's committed offsets are those after the last stored message,
// without a leader epoch (Event Hubs).
func TestKafkaCommitsWithoutEpoch(t *testing.T) {
	c := newCluster(t, 2)
	p := producer(t, c, nil)
	for i := 1; i <= 6; i++ {
		produce(t, p, envelope(t, i))
	}
	sink := newTestSink()
	r := start(t, kafkaOpts(c, testLogger(t)), sink)
	waitLong(t, "every alert", func() bool { _, a := sink.counts(); return a == 6 })
	r.stop(t)

	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = "breakglass"
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = testTopic, []int32{0, 1}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, tp := range resp.Topics {
		for _, pp := range tp.Partitions {
			if pp.LeaderEpoch != -1 {
				t.Errorf("partition %d committed with epoch %d, want -1", pp.Partition, pp.LeaderEpoch)
			}
			total += pp.Offset
		}
	}
	if total != 6 {
		t.Errorf("committed offsets add up to %d, want 6 (every message)", total)
	}
}

// TestKafkaStoreDownLeavesGroup: a member whose store keeps failing does not
// hold its partitions hostage. Two members share a one-partition topic; the
// owner's store fails; after SessionTimeout it leaves the group without
// committing the message, the other member reads the partition from the
// last commit and stores every alert, and once the first member's store
// works again it rejoins (and re-reads nothing the group committed).
func TestKafkaStoreDownLeavesGroup(t *testing.T) {
	c := newCluster(t, 1)
	p := producer(t, c, nil)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sick, healthy := newTestSink(), newTestSink()
	o := kafkaOpts(c, log)
	o.SessionTimeout = 500 * time.Millisecond
	start(t, o, sick)
	produce(t, p, envelope(t, 1))
	waitLong(t, "the first alert on the first member", func() bool { _, a := sick.counts(); return a == 1 })
	start(t, kafkaOpts(c, log), healthy) // joins; the sticky balancer leaves it nothing
	time.Sleep(500 * time.Millisecond)

	sick.setFail(errors.New("store unreachable"))
	failedAt := time.Now()
	for i := 2; i <= 11; i++ {
		produce(t, p, envelope(t, i))
	}
	waitLong(t, "the other member stores every alert", func() bool { _, a := healthy.counts(); return a == 10 })
	took := time.Since(failedAt)
	if _, a := sick.counts(); a != 1 {
		t.Errorf("the failing member stored %d alerts, want only the first", a)
	}
	if !strings.Contains(logs.String(), "left the consumer group") {
		t.Errorf("no log line says the member left the group:\n%s", logs.String())
	}
	t.Logf("the partition moved and its alerts were stored %v after the store failed", took.Round(time.Millisecond))
	failing := false
	for _, e := range sick.eventList() {
		failing = failing || strings.HasPrefix(e, "failing hub store")
	}
	if !failing {
		t.Errorf("the store failure was not reported: %v", sick.eventList())
	}

	sick.setFail(nil)
	waitLong(t, "the member rejoins once its store works", func() bool {
		return strings.Contains(logs.String(), "the store works again; joining the consumer group")
	})
	if d := healthy.duplicates(); len(d) > 0 {
		t.Errorf("alerts stored twice by the healthy member: %v", d)
	}
}

// TestKafkaRebalanceTimeout: a member that dies mid-rebalance holds the
// group's partitions for the rebalance timeout, so it follows the session
// timeout (with a floor) instead of franz-go's minute.
func TestKafkaRebalanceTimeout(t *testing.T) {
	for _, c := range []struct{ session, want time.Duration }{
		{0, DefaultKafkaSessionTimeout},
		{90 * time.Second, 90 * time.Second},
		{1500 * time.Millisecond, rebalanceFloor},
	} {
		k, err := NewKafka(KafkaOptions{Name: "k", Brokers: []string{"127.0.0.1:1"}, Topic: "t", Group: "g", SessionTimeout: c.session})
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(k.clientOpts()...)
		if err != nil {
			t.Fatal(err)
		}
		got := cl.OptValue(kgo.RebalanceTimeout)
		cl.Close()
		if got != c.want {
			t.Errorf("session %s: rebalance timeout %v, want %s", c.session, got, c.want)
		}
	}
}
