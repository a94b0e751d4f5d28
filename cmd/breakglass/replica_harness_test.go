package main

// The harness of the replica tests (issue 14, "several replicas"): a
// throwaway PostgreSQL, an in-process kfake cluster with SASL PLAIN, any
// number of `serve` binaries sharing both, and a webhook receiver that
// records every POST with the replica that sent it (each replica's channel
// URL ends in its own path; the channel's name, hence the target, is the
// same on all of them).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"breakglass/internal/simulate"
	"breakglass/internal/source"
	"breakglass/internal/store/postgres/pgtest"
)

const (
	replicaTopic     = "insights-logs-signinlogs"
	replicaKafkaUser = "breakglass"
	replicaKafkaPass = "replica-test-kafka-password-not-shown"
	replicaPGPass    = "replica-test-pg-password-not-shown"
	// replicaSession is the kafka sources' session_timeout: how long a
	// killed replica's partitions wait before they move.
	replicaSession = "1500ms"
)

// post is one POST the receiver saw.
type post struct {
	at      time.Time
	replica int // from the URL path /rN
	key     string
	alertID string
	rule    string
	status  string
	attempt int
}

// hookReceiver records every webhook POST; it dedupes on Idempotency-Key
// only when asked (posts keeps them all).
type hookReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []post
	bad   []string
	// delay, when set, is how long to hold a POST before answering it:
	// a slow receiver widens the window between a replica's send and its
	// recording of the delivery, where a kill legitimately causes a resend.
	delay func() time.Duration
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		var body struct {
			AlertID string `json:"alert_id"`
			Rule    string `json:"rule"`
			Status  string `json:"status"`
			Attempt int    `json:"attempt"`
		}
		b, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		n, perr := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/r"))
		key := req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.delay != nil {
			d := r.delay()
			r.mu.Unlock()
			time.Sleep(d)
			r.mu.Lock()
		}
		if err != nil || json.Unmarshal(b, &body) != nil || body.AlertID == "" || key == "" || perr != nil {
			r.bad = append(r.bad, fmt.Sprintf("%s key %q: %.200s", req.URL.Path, key, b))
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		r.posts = append(r.posts, post{at: at, replica: n, key: key, alertID: body.AlertID, rule: body.Rule, status: body.Status, attempt: body.Attempt})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) snapshot() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts)
}

// firing is the set of alert ids with at least one firing POST.
func (r *hookReceiver) firing() map[string]bool {
	out := map[string]bool{}
	for _, p := range r.snapshot() {
		if p.status == "firing" {
			out[p.alertID] = true
		}
	}
	return out
}

// replicaProc is one `serve` process of the rig; restarting it runs the
// same config (same server.listen, hence the same dispatcher lease owner).
type replicaProc struct {
	// dsn, when set, replaces the rig's DSN for this replica (a proxy).
	dsn    string
	idx    int
	listen string
	cfg    string
	cmd    *exec.Cmd
	done   chan struct{}
	logs   *syncLog
	all    strings.Builder // logs of earlier runs
	starts int
}

// event is a kill, stop or start of a replica, for the timeline.
type event struct {
	at      time.Time
	replica int
	what    string // "kill", "term", "start"
}

// replicaRig is the shared PostgreSQL and Kafka, the receiver and the
// replicas.
type replicaRig struct {
	t      *testing.T
	dir    string
	dsn    string
	kc     *kfake.Cluster
	prod   *kgo.Client
	rcv    *hookReceiver
	reps   []*replicaProc
	t0     time.Time
	mu     sync.Mutex
	events []event
}

func newReplicaRig(t *testing.T, partitions int32) *replicaRig {
	t.Helper()
	srv := pgtest.StartT(t)
	dsn, err := srv.Schema(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, replicaTopic),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", replicaKafkaUser, replicaKafkaPass),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.DefaultProduceTopic(replicaTopic),
		kgo.SASL(plain.Auth{User: replicaKafkaUser, Pass: replicaKafkaPass}.AsMechanism()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	g := &replicaRig{t: t, dir: t.TempDir(), dsn: dsn, kc: kc, prod: prod, rcv: newHookReceiver(t), t0: time.Now()}
	t.Cleanup(g.cleanup)
	return g
}

// add configures replica n (not started).
func (g *replicaRig) add() *replicaProc {
	t := g.t
	idx := len(g.reps)
	r := &replicaProc{idx: idx, listen: freeAddr(t), cfg: filepath.Join(g.dir, fmt.Sprintf("r%d.yaml", idx))}
	var acc strings.Builder
	for _, a := range simulate.DemoAccounts() {
		fmt.Fprintf(&acc, "  - id: %s\n    upn: %s\n", a.ID, a.UPN)
	}
	cfg := fmt.Sprintf(`accounts:
%sstore:
  driver: postgres
  dsn: ${E2E_PG_DSN}
evidence:
  heads_file: %s
server:
  listen: %s
sources:
  - type: kafka
    name: hub
    bootstrap: %s
    topic: %s
    start: earliest
    session_timeout: %s
    sasl:
      user: %s
      password: ${E2E_KAFKA_PASSWORD}
notify:
  groups:
    - name: oncall
      channels:
        - name: hook
          type: webhook
          url: %s/r%d
          schema: breakglass
          timeout: 2s
log:
  level: info
`, acc.String(), filepath.Join(g.dir, fmt.Sprintf("heads-%d", idx)), r.listen, strings.Join(g.kc.ListenAddrs(), ","),
		replicaTopic, replicaSession, replicaKafkaUser, g.rcv.srv.URL, idx)
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.reps = append(g.reps, r)
	return r
}

func (g *replicaRig) note(r *replicaProc, what string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, event{at: time.Now(), replica: r.idx, what: what})
}

func (g *replicaRig) timeline() []event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events)
}

// start runs the replica's binary; ready waits for its /readyz.
func (g *replicaRig) start(r *replicaProc) {
	t := g.t
	t.Helper()
	if r.logs != nil {
		r.all.WriteString(r.logs.String())
	}
	cmd := exec.Command(binary, "serve", "--config", r.cfg)
	cmd.Dir = g.dir
	dsn := g.dsn
	if r.dsn != "" {
		dsn = r.dsn
	}
	cmd.Env = append(os.Environ(), "E2E_PG_DSN="+dsn+" password="+replicaPGPass, "E2E_KAFKA_PASSWORD="+replicaKafkaPass)
	r.logs = &syncLog{}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	r.starts++
	go func() { cmd.Wait(); close(r.done) }()
	g.note(r, "start")
}

func (g *replicaRig) ready(r *replicaProc, timeout time.Duration) {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + r.listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-r.done:
			g.t.Fatalf("replica %d exited before it was ready: %v\n%s", r.idx, r.cmd.ProcessState, r.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	g.t.Fatalf("replica %d not ready in %v; logs:\n%s", r.idx, timeout, r.logs.String())
}

// kill SIGKILLs the replica: no shutdown, no lease release, no commit.
func (g *replicaRig) kill(r *replicaProc) {
	g.note(r, "kill")
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// term stops the replica cleanly and checks it exits 0.
func (g *replicaRig) term(r *replicaProc) {
	g.t.Helper()
	g.note(r, "term")
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		g.t.Errorf("replica %d did not stop within 30 s of SIGTERM", r.idx)
		r.cmd.Process.Kill()
		<-r.done
	}
	if !r.cmd.ProcessState.Success() {
		g.t.Errorf("replica %d after SIGTERM: %v\n%s", r.idx, r.cmd.ProcessState, r.logs.String())
	}
}

func (g *replicaRig) running(r *replicaProc) bool {
	if r.cmd == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func (g *replicaRig) cleanup() {
	for _, r := range g.reps {
		if g.running(r) {
			r.cmd.Process.Kill()
			<-r.done
		}
	}
	for _, r := range g.reps {
		logs := r.all.String()
		if r.logs != nil {
			logs += r.logs.String()
		}
		for _, secret := range []string{replicaKafkaPass, replicaPGPass} {
			if strings.Contains(logs, secret) {
				g.t.Errorf("replica %d's logs show a password", r.idx)
			}
		}
		if g.t.Failed() {
			g.t.Logf("replica %d logs (last 4000 bytes):\n%s", r.idx, tail(logs, 4000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// workload is the produced stream: Event Hubs messages (diagnostic
// settings' {"records":[...]}) with break-glass activity among many benign
// records, and the alerts a single scan of the same records raises.
type workload struct {
	msgs     [][]byte
	records  int64
	bg       int64
	expected map[string]string // alert id → rule
}

func newWorkload(t *testing.T, seed int64, count int, bgShare float64) *workload {
	t.Helper()
	var buf bytes.Buffer
	st, err := simulate.Generate(context.Background(), &buf, simulate.Options{Seed: seed, Count: count, Shape: simulate.ShapeEventHub, BGShare: bgShare}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &workload{records: st.Records, bg: st.BGEvents, expected: map[string]string{}}
	// Diagnostic settings batch many records per message; split the
	// payloads into messages of at most msgRecords records, so that a run
	// has hundreds of messages and commits, in the same shape.
	const msgRecords = 10
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var p struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(line, &p); err != nil || len(p.Records) == 0 {
			t.Fatalf("simulate wrote a line that is not an Event Hubs payload: %v %.100s", err, line)
		}
		for len(p.Records) > 0 {
			n := min(msgRecords, len(p.Records))
			b, _ := json.Marshal(map[string][]json.RawMessage{"records": p.Records[:n]})
			w.msgs = append(w.msgs, b)
			p.Records = p.Records[n:]
		}
	}
	if len(w.msgs) < 10 {
		t.Fatalf("the workload has %d messages", len(w.msgs))
	}
	// The oracle: one scan of the same records, no store.
	dir := t.TempDir()
	in := filepath.Join(dir, "stream.json")
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var acc strings.Builder
	for _, a := range simulate.DemoAccounts() {
		fmt.Fprintf(&acc, "  - id: %s\n    upn: %s\n", a.ID, a.UPN)
	}
	cfg := filepath.Join(dir, "scan.yaml")
	if err := os.WriteFile(cfg, []byte("accounts:\n"+acc.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, "scan", "-c", cfg, "--no-store", "--format", "json", in)
	if r.code != 0 {
		t.Fatalf("scan oracle exit %d: %s", r.code, r.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var a struct{ ID, Rule string }
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.ID == "" {
			t.Fatalf("scan oracle line %q: %v", line, err)
		}
		w.expected[a.ID] = a.Rule
	}
	if len(w.expected) < 20 {
		t.Fatalf("the workload raises only %d alerts", len(w.expected))
	}
	return w
}

// produce writes msgs at about rate messages a second.
func (g *replicaRig) produce(ctx context.Context, msgs [][]byte, rate float64) error {
	gap := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for i, m := range msgs {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		next = next.Add(gap)
		if err := g.prod.ProduceSync(ctx, &kgo.Record{Value: m}).FirstErr(); err != nil {
			return fmt.Errorf("producing message %d: %w", i, err)
		}
	}
	return nil
}

// waitDelivered waits until every expected alert has had a firing POST.
func (g *replicaRig) waitDelivered(w *workload, timeout time.Duration) (missing []string) {
	deadline := time.Now().Add(timeout)
	for {
		got := g.rcv.firing()
		missing = missing[:0]
		for id := range w.expected {
			if !got[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			sort.Strings(missing)
			return missing
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dupVerdict is the account of one idempotency key's POSTs.
type dupVerdict struct {
	key, alertID, rule string
	raw                int
	explained          []string // one per repeat, why it is legitimate
	unexplained        []string // repeats no kill accounts for
}

// killSlack: a POST whose handler ran up to this long after its sender was
// killed was still written by it before the kill (in flight on loopback).
const killSlack = 500 * time.Millisecond

// verdicts groups the POSTs by idempotency key and classifies every repeat:
// legitimate when the replica that sent the copy before it was SIGKILLed
// after sending it (or up to killSlack before it arrived) and before the
// repeat: it died between send and recording the delivery, so the delivery
// was still due. Otherwise it is a steady-state duplicate.
func (g *replicaRig) verdicts(posts []post, events []event) []dupVerdict {
	byKey := map[string][]post{}
	var keys []string
	for _, p := range posts {
		if byKey[p.key] == nil {
			keys = append(keys, p.key)
		}
		byKey[p.key] = append(byKey[p.key], p)
	}
	sort.Strings(keys)
	var out []dupVerdict
	for _, k := range keys {
		ps := byKey[k]
		v := dupVerdict{key: k, alertID: ps[0].alertID, rule: ps[0].rule, raw: len(ps)}
		for i := 1; i < len(ps); i++ {
			why := ""
			for _, e := range events {
				if e.what != "kill" || e.at.After(ps[i].at) {
					continue
				}
				// The copy before this one: had its sender lived to
				// record the delivery, there would be no repeat.
				prev := ps[i-1]
				if prev.replica == e.replica && !prev.at.After(e.at.Add(killSlack)) {
					why = fmt.Sprintf("copy %d sent by r%d at +%.2fs, r%d SIGKILLed at +%.2fs, repeat by r%d at +%.2fs",
						i, prev.replica, prev.at.Sub(g.t0).Seconds(), e.replica, e.at.Sub(g.t0).Seconds(), ps[i].replica, ps[i].at.Sub(g.t0).Seconds())
				}
			}
			if why != "" {
				v.explained = append(v.explained, why)
			} else {
				v.unexplained = append(v.unexplained, fmt.Sprintf("copy %d by r%d at +%.2fs (attempt %d), first by r%d at +%.2fs, no kill of a sender in between",
					i, ps[i].replica, ps[i].at.Sub(g.t0).Seconds(), ps[i].attempt, ps[0].replica, ps[0].at.Sub(g.t0).Seconds()))
			}
		}
		out = append(out, v)
	}
	return out
}

// report checks what the receiver saw against the workload: every expected
// alert delivered, each key once after dedupe, no unexplained repeat; and
// logs the raw delivery count per alert.
func (g *replicaRig) report(w *workload) {
	t := g.t
	t.Helper()
	posts := g.rcv.snapshot()
	events := g.timeline()
	vs := g.verdicts(posts, events)
	deduped := map[string]int{} // alert id → distinct firing keys
	var table strings.Builder
	fmt.Fprintf(&table, "%-32s %-12s %-9s %3s  %s\n", "alert", "rule", "status", "raw", "repeats")
	hist := map[int]int{}
	var steady, legit int
	for _, v := range vs {
		status := "firing"
		if strings.HasSuffix(v.key, "-resolved") {
			status = "resolved"
		} else {
			deduped[v.alertID]++
		}
		hist[v.raw]++
		legit += len(v.explained)
		steady += len(v.unexplained)
		notes := append(slices.Clone(v.explained), v.unexplained...)
		fmt.Fprintf(&table, "%-32s %-12s %-9s %3d  %s\n", v.alertID, v.rule, status, v.raw, strings.Join(notes, "; "))
		for _, u := range v.unexplained {
			t.Errorf("steady-state duplicate of %s (%s): %s", v.key, v.rule, u)
		}
	}
	t.Logf("raw deliveries per notification (Idempotency-Key):\n%s", table.String())
	var hs []string
	for n, c := range hist {
		hs = append(hs, fmt.Sprintf("%d notification(s) delivered %d time(s)", c, n))
	}
	sort.Strings(hs)
	t.Logf("%d POSTs, %d distinct keys: %s; %d repeats explained by a kill, %d steady-state",
		len(posts), len(vs), strings.Join(hs, ", "), legit, steady)
	var missing, extra []string
	for id, rule := range w.expected {
		if deduped[id] == 0 {
			missing = append(missing, id+" "+rule)
		}
	}
	for _, v := range vs {
		if _, ok := w.expected[v.alertID]; !ok && !strings.HasSuffix(v.key, "-resolved") {
			extra = append(extra, v.alertID+" "+v.rule)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d expected alerts never delivered: %v", len(missing), len(w.expected), missing)
	}
	if len(extra) > 0 {
		t.Errorf("alerts delivered that one scan of the records does not raise (a replica's own failure, or a false alarm): %v", extra)
	}
	g.rcv.mu.Lock()
	bad := slices.Clone(g.rcv.bad)
	g.rcv.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("the receiver refused %d POSTs: %v", len(bad), bad)
	}
	var kills []string
	for _, e := range events {
		if e.what != "start" {
			kills = append(kills, fmt.Sprintf("%s r%d +%.2fs", e.what, e.replica, e.at.Sub(g.t0).Seconds()))
		}
	}
	t.Logf("timeline: %s", strings.Join(kills, ", "))
}

// uncommitted is, per partition of the topic, how many messages lie between
// the consumer group's committed offset and the end of the partition.
func (g *replicaRig) uncommitted(ctx context.Context, partitions int32) (map[int32]int64, error) {
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = source.DefaultKafkaGroup
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic = replicaTopic
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = replicaTopic
	for p := range partitions {
		ft.Partitions = append(ft.Partitions, p)
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p, -1, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	of.Topics = append(of.Topics, ft)
	lo.Topics = append(lo.Topics, lt)
	committed := map[int32]int64{}
	fresp, err := of.RequestWith(ctx, g.prod)
	if err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	if err := kerr.ErrorForCode(fresp.ErrorCode); err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	for _, t := range fresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("offset fetch partition %d: %w", p.Partition, err)
			}
			committed[p.Partition] = p.Offset
		}
	}
	lresp, err := lo.RequestWith(ctx, g.prod)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := map[int32]int64{}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets partition %d: %w", p.Partition, err)
			}
			c, ok := committed[p.Partition]
			if !ok || c < 0 {
				c = 0
			}
			out[p.Partition] = p.Offset - c
		}
	}
	return out, nil
}

// pgProxy forwards a Unix socket to the test PostgreSQL's, so that one
// replica's store can be cut off (cut) and given back (restore) while the
// server and the other replicas carry on.
type pgProxy struct {
	t      *testing.T
	dir    string // the proxy's socket directory: host= in a DSN
	target string // the server's socket
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newPGProxy(t *testing.T, dsn string) *pgProxy {
	t.Helper()
	var host string
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "host="); ok {
			host = v
		}
	}
	all, _ := filepath.Glob(filepath.Join(host, ".s.PGSQL.*"))
	var socks []string
	for _, s := range all {
		if !strings.HasSuffix(s, ".lock") {
			socks = append(socks, s)
		}
	}
	if host == "" || len(socks) != 1 {
		t.Skipf("the test PostgreSQL is not on a Unix socket of its own (%q): cannot cut one replica off", dsn)
	}
	dir, err := os.MkdirTemp("", "bgpx-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &pgProxy{t: t, dir: dir, target: socks[0]}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

// dsn is dsn with its connections through the proxy.
func (p *pgProxy) dsn(dsn string) string {
	return dsn + " host=" + p.dir + " port=" + strings.TrimPrefix(filepath.Ext(p.target), ".")
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	sock := filepath.Join(p.dir, filepath.Base(p.target))
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		p.t.Fatal(err)
	}
	os.Chmod(sock, 0o777)
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				p.mu.Unlock()
				c.Close()
				s.Close()
				return
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

// cut refuses new connections and breaks the open ones.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// readyz is the replica's /readyz status and body.
func (r *replicaProc) readyz() (int, string) {
	resp, err := http.Get("http://" + r.listen + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(b))
}
