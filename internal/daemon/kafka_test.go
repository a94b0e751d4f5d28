package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

const (
	kafkaTopic   = "insights-logs-signinlogs"
	kafkaUser    = "breakglass"
	kafkaPass    = "kafka-daemon-test-password-0123456789"
	kafkaPassEnv = "BG_DAEMON_TEST_KAFKA_PASSWORD"
)

// TestKafkaSourceEndToEnd: diagnostic-settings messages on a kfake topic
// (SASL PLAIN) become alerts in the SQLite store and webhook deliveries.
// Messages read again (as after a crash between store and commit: here the
// same messages produced twice, and a restart of the daemon) are deduped
// by the store: each alert is delivered once.
func TestKafkaSourceEndToEnd(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, kafkaTopic),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", kafkaUser, kafkaPass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(kafkaTopic),
		kgo.SASL(plain.Auth{User: kafkaUser, Pass: kafkaPass}.AsMechanism()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	produce := func(from, to int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := from; i < to; i += 2 {
			msg := `{"records":[` + strings.TrimSpace(signIn(fmt.Sprintf("kafka-%03d", i))) + "," + strings.TrimSpace(signIn(fmt.Sprintf("kafka-%03d", i+1))) + `]}`
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(msg)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 20)
	produce(0, 20) // the same records again: a re-read

	e := newEnv(t)
	rcv := newReceiver(t)
	t.Setenv(kafkaPassEnv, kafkaPass)
	cfg := e.config(t, `sources:
  - type: kafka
    name: hub
    bootstrap: `+strings.Join(c.ListenAddrs(), ",")+`
    topic: `+kafkaTopic+`
    start: earliest
    sasl:
      user: `+kafkaUser+`
      password: ${`+kafkaPassEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/a
`)
	r := start(t, cfg, Options{})
	waitFor(t, 30*time.Second, "20 alerts delivered", func() bool { return len(rcv.snapshot()) == 20 }, r.logs.String)
	r.stop(t)
	logs := r.logs.String()

	// Restarted, the group resumes after its committed offsets: only the
	// new records alert.
	produce(20, 30)
	produce(10, 30)
	r = start(t, cfg, Options{})
	waitFor(t, 30*time.Second, "30 alerts delivered", func() bool { return len(rcv.snapshot()) == 30 }, r.logs.String)
	time.Sleep(500 * time.Millisecond)
	r.stop(t)
	logs += r.logs.String()
	for k, n := range rcv.snapshot() {
		if n != 1 || !strings.HasSuffix(k, " firing") {
			t.Errorf("%s delivered %d times, want once", k, n)
		}
	}
	if strings.Contains(logs, kafkaPass) {
		t.Error("the daemon's logs contain the SASL password")
	}
}

// TestKafkaSourceRefusedPassword: a broker that refuses the credentials
// raises bg.source through the configured channels, and the password is in
// no log line.
func TestKafkaSourceRefusedPassword(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafkaTopic),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", kafkaUser, kafkaPass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	old := kafkaAliveInterval
	kafkaAliveInterval = 50 * time.Millisecond
	defer func() { kafkaAliveInterval = old }()

	e := newEnv(t)
	rcv := newReceiver(t)
	wrong := "wrong-" + kafkaPass
	t.Setenv(kafkaPassEnv, wrong)
	cfg := e.config(t, `sources:
  - type: kafka
    name: hub
    bootstrap: `+strings.Join(c.ListenAddrs(), ",")+`
    topic: `+kafkaTopic+`
    sasl:
      user: `+kafkaUser+`
      password: ${`+kafkaPassEnv+`}
notify:
  groups:
    - name: oncall
      channels:
        - type: webhook
          url: `+rcv.srv.URL+`/a
`)
	r := start(t, cfg, Options{})
	waitFor(t, 30*time.Second, "bg.source delivered", func() bool { return rcv.rule("/a bg.source firing") == 1 }, r.logs.String)
	r.stop(t)
	if strings.Contains(r.logs.String(), wrong) {
		t.Error("the daemon's logs contain the SASL password")
	}
}
