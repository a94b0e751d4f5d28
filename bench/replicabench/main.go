// Command replicabench measures `breakglass serve` reading an Event Hubs
// topic (an in-process kfake cluster, SASL PLAIN, 6 partitions): three
// replicas in one consumer group on one PostgreSQL (a throwaway cluster,
// internal/store/postgres/pgtest) side by side with a single replica on
// SQLite, fed the same way. Per setup it prints
//
//   - drain: records/s through kfake → replicas → store, for a backlog of
//     --records records (diagnostic-settings messages of --per-message
//     records, most naming nobody) read from the start, timed from the
//     replicas being ready until the group has committed every offset;
//   - latency: record-to-webhook p50 and p99 while --rate records/s are
//     produced for --duration, from producing a message that ends in a
//     break-glass sign-in to its alert's POST reaching the loopback
//     webhook.
//
// It is not part of the product; `make bench` runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"breakglass/internal/simulate"
	"breakglass/internal/store/postgres/pgtest"
)

const (
	topic      = "insights-logs-signinlogs"
	partitions = 6
	kafkaUser  = "breakglass"
	kafkaPass  = "replicabench-password"
	group      = "breakglass"
)

func main() {
	binary := flag.String("binary", "bin/breakglass", "breakglass binary")
	records := flag.Int("records", 200000, "records in the drain backlog")
	perMsg := flag.Int("per-message", 100, "records per Event Hubs message")
	rate := flag.Int("rate", 10000, "records per second in the latency run")
	duration := flag.Duration("duration", 10*time.Second, "length of the latency run")
	markEvery := flag.Int("mark-every", 10, "one break-glass sign-in (a latency sample) every this many messages")
	flag.Parse()
	if *records <= 0 || *perMsg <= 0 || *rate <= 0 || *duration <= 0 || *markEvery <= 0 {
		fmt.Fprintln(os.Stderr, "usage: replicabench [--binary bin/breakglass] [--records 200000] [--per-message 100] [--rate 10000] [--duration 10s]")
		os.Exit(2)
	}
	bin, err := filepath.Abs(*binary) // the replicas run in their own directory
	if err != nil {
		fmt.Fprintln(os.Stderr, "replicabench:", err)
		os.Exit(2)
	}
	if err := run(bin, *records, *perMsg, *rate, *duration, *markEvery); err != nil {
		fmt.Fprintln(os.Stderr, "replicabench:", err)
		os.Exit(1)
	}
}

type setup struct {
	name     string
	replicas int
	postgres bool
}

type result struct {
	drained  int64
	drain    time.Duration
	samples  int
	lost     int
	p50, p99 time.Duration
	max      time.Duration
	produced float64 // records/s actually produced in the latency run
}

func run(binary string, records, perMsg, rate int, duration time.Duration, markEvery int) error {
	benign, err := benignRecords(records)
	if err != nil {
		return err
	}
	var pg *pgtest.Server
	setups := []setup{{"3 replicas, PostgreSQL", 3, true}, {"1 replica, SQLite", 1, false}}
	fmt.Printf("\n%-24s %10s %12s %8s %9s %9s %9s %8s\n", "setup", "records", "drain rec/s", "at rec/s", "p50", "p99", "max", "samples")
	for i, s := range setups {
		if s.postgres && pg == nil {
			if pg, err = pgtest.Start(); errors.Is(err, pgtest.ErrUnavailable) {
				fmt.Printf("%-24s skipped: %v\n", s.name, err)
				continue
			} else if err != nil {
				return fmt.Errorf("PostgreSQL: %w", err)
			}
			defer pg.Stop()
		}
		r, err := measure(binary, s, pg, i, benign, perMsg, rate, duration, markEvery)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("%-24s %10d %12.0f %8.0f %9s %9s %9s %5d/%d\n", s.name, r.drained, float64(r.drained)/r.drain.Seconds(), r.produced,
			round(r.p50), round(r.p99), round(r.max), r.samples-r.lost, r.samples)
		if r.lost > 0 {
			return fmt.Errorf("%s: %d of %d break-glass sign-ins never reached the webhook", s.name, r.lost, r.samples)
		}
	}
	fmt.Printf("\ndrain: %d records in messages of %d; latency: %d records/s for %v, a break-glass sign-in every %d messages; %d CPUs\n",
		records, perMsg, rate, duration, markEvery, runtime.NumCPU())
	return nil
}

// benignRecords are n diagnostic records that name no break-glass account.
func benignRecords(n int) ([]json.RawMessage, error) {
	var buf bytes.Buffer
	if _, err := simulate.Generate(context.Background(), &buf, simulate.Options{Seed: 1, Count: n, Shape: simulate.ShapeEventHub, BGShare: -1}, nil); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	dec := json.NewDecoder(&buf)
	for {
		var p struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		out = append(out, p.Records...)
	}
	return out, nil
}

// signIn is a break-glass sign-in in the diagnostic shape, with its own id.
func signIn(id string, at time.Time) json.RawMessage {
	a := simulate.DemoAccounts()[0]
	b, _ := json.Marshal(map[string]any{
		"time": at.UTC().Format(time.RFC3339Nano), "category": "SignInLogs", "operationName": "Sign-in activity",
		"properties": map[string]any{
			"id": id, "createdDateTime": at.UTC().Format(time.RFC3339Nano), "userId": a.ID, "userPrincipalName": a.UPN,
			"appDisplayName": "Azure Portal", "ipAddress": "203.0.113.7", "status": map[string]any{"errorCode": 0},
		},
	})
	return b
}

func message(recs []json.RawMessage) []byte {
	b, _ := json.Marshal(map[string][]json.RawMessage{"records": recs})
	return b
}

// receiver is the webhook: when each event id's first alert arrived.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]time.Time
}

func newReceiver() *receiver {
	r := &receiver{got: map[string]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		var p struct {
			Status string `json:"status"`
			Event  struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		_ = json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&p)
		r.mu.Lock()
		if _, ok := r.got[p.Event.ID]; !ok && p.Status == "firing" {
			r.got[p.Event.ID] = at
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return r
}

func (r *receiver) at(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.got[id]
	return t, ok
}

func measure(binary string, s setup, pg *pgtest.Server, n int, benign []json.RawMessage, perMsg, rate int, duration time.Duration, markEvery int) (result, error) {
	var res result
	dir, err := os.MkdirTemp("", "replicabench")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", kafkaUser, kafkaPass), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		return res, err
	}
	defer kc.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DefaultProduceTopic(topic),
		kgo.SASL(plain.Auth{User: kafkaUser, Pass: kafkaPass}.AsMechanism()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(16<<20), kgo.MaxBufferedRecords(100000))
	if err != nil {
		return res, err
	}
	defer prod.Close()
	rcv := newReceiver()
	defer rcv.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The backlog, produced before any replica starts.
	for i := 0; i < len(benign); i += perMsg {
		prod.Produce(ctx, &kgo.Record{Value: message(benign[i:min(i+perMsg, len(benign))])}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		return res, err
	}
	res.drained = int64(len(benign))

	storeCfg := fmt.Sprintf("store:\n  path: %s\n", filepath.Join(dir, "bg.db"))
	var env []string
	if s.postgres {
		dsn, err := pg.Schema(fmt.Sprintf("replicabench_%d_%d", os.Getpid(), n))
		if err != nil {
			return res, err
		}
		storeCfg = "store:\n  driver: postgres\n  dsn: ${BENCH_PG_DSN}\n"
		env = append(env, "BENCH_PG_DSN="+dsn)
	}
	env = append(env, "BENCH_KAFKA_PASSWORD="+kafkaPass)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			p.Wait()
		}
	}()
	var listens []string
	for i := range s.replicas {
		listen, err := freeAddr()
		if err != nil {
			return res, err
		}
		a := simulate.DemoAccounts()
		cfg := fmt.Sprintf(`accounts:
  - id: %s
    upn: %s
  - id: %s
    upn: %s
%sevidence:
  heads_file: %s
server:
  listen: %s
sources:
  - type: kafka
    name: hub
    bootstrap: %s
    topic: %s
    start: earliest
    session_timeout: 6s
    sasl:
      user: %s
      password: ${BENCH_KAFKA_PASSWORD}
notify:
  groups:
    - name: oncall
      channels:
        - name: hook
          type: webhook
          url: %s
          schema: breakglass
          timeout: 5s
log:
  level: warn
`, a[0].ID, a[0].UPN, a[1].ID, a[1].UPN, storeCfg, filepath.Join(dir, fmt.Sprintf("heads-%d", i)), listen,
			strings.Join(kc.ListenAddrs(), ","), topic, kafkaUser, rcv.srv.URL)
		path := filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return res, err
		}
		cmd := exec.Command(binary, "serve", "--config", path)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("r%d.log", i)))
		if err != nil {
			return res, err
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return res, err
		}
		procs = append(procs, cmd)
		listens = append(listens, listen)
	}
	for i, l := range listens {
		if err := waitReady(ctx, l); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("r%d.log", i)))
			return res, fmt.Errorf("replica %d: %w\n%s", i, err, b)
		}
	}
	t0 := time.Now()
	for {
		lag, err := lag(ctx, prod)
		if err != nil {
			return res, err
		}
		if lag == 0 {
			break
		}
		if time.Since(t0) > 5*time.Minute {
			return res, fmt.Errorf("%d messages still not committed after 5 min", lag)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.drain = time.Since(t0)

	// The latency run: rate records/s, paced per message, built first so
	// that building them does not slow the pace.
	msgsPerSec := float64(rate) / float64(perMsg)
	gap := time.Duration(float64(time.Second) / msgsPerSec)
	total := int(msgsPerSec * duration.Seconds())
	type msg struct {
		id    string
		value []byte
	}
	msgs := make([]msg, total)
	for i := range msgs {
		off := (i * perMsg) % max(1, len(benign)-perMsg)
		recs := slices.Clone(benign[off : off+perMsg])
		if i%markEvery == 0 {
			msgs[i].id = fmt.Sprintf("bench-%d-%06d", n, i)
			recs[len(recs)-1] = signIn(msgs[i].id, time.Now())
		}
		msgs[i].value = message(recs)
	}
	sent := map[string]time.Time{}
	var order []string
	start := time.Now()
	next := start
	var produced int64
	for _, m := range msgs {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(gap)
		at := time.Now()
		prod.Produce(ctx, &kgo.Record{Value: m.value}, nil)
		produced += int64(perMsg)
		if m.id != "" {
			sent[m.id] = at
			order = append(order, m.id)
		}
	}
	if err := prod.Flush(ctx); err != nil {
		return res, err
	}
	res.produced = float64(produced) / time.Since(start).Seconds()
	deadline := time.Now().Add(60 * time.Second)
	var lat []time.Duration
	for {
		lat, res.lost = lat[:0], 0
		for _, id := range order {
			if got, ok := rcv.at(id); ok {
				lat = append(lat, got.Sub(sent[id]))
			} else {
				res.lost++
			}
		}
		if res.lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.samples = len(order)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
		res.max = lat[len(lat)-1]
	}
	return res, nil
}

// lag is how many messages of the topic the group has not committed.
func lag(ctx context.Context, cl *kgo.Client) (int64, error) {
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = group
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic = topic
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for p := range int32(partitions) {
		ft.Partitions = append(ft.Partitions, p)
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p, -1, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	of.Topics = append(of.Topics, ft)
	lo.Topics = append(lo.Topics, lt)
	fresp, err := of.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(fresp.ErrorCode); err != nil {
		return 0, err
	}
	committed := map[int32]int64{}
	for _, t := range fresp.Topics {
		for _, p := range t.Partitions {
			committed[p.Partition] = max(p.Offset, 0)
		}
	}
	lresp, err := lo.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, err
			}
			n += p.Offset - committed[p.Partition]
		}
	}
	return n, nil
}

func waitReady(ctx context.Context, listen string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("not ready within 60 s")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func round(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
