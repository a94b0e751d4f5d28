package source

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// TestKafkaProbe: doctor's probe of a kafka source signs in and finds the
// topic; a wrong password and a missing topic fail, saying so, without
// the connection string; and the probe never joins the consumer group.
func TestKafkaProbe(t *testing.T) {
	c := newCluster(t, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name  string
		edit  func(*KafkaOptions)
		want  string // "" ok; else a substring of the error
		isErr error
	}{
		{"ok", func(*KafkaOptions) {}, "", nil},
		{"missing topic", func(o *KafkaOptions) { o.Topic = "insights-logs-auditlogs" }, "check topic", errNoTopic},
		{"wrong password", func(o *KafkaOptions) { o.SASLPassword = testConnString + "x" }, "cannot reach or sign in", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := kafkaOpts(c, log)
			tc.edit(&o)
			k, err := NewKafka(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = k.Probe(ctx)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Probe: %v, want %q", err, tc.want)
			}
			if tc.isErr != nil && !errors.Is(err, tc.isErr) {
				t.Errorf("Probe: %v, want errors.Is %v", err, tc.isErr)
			}
			if strings.Contains(err.Error(), testSharedKey) {
				t.Errorf("the connection string leaked: %v", err)
			}
		})
	}
	// No group was joined: the cluster knows no groups.
	o := kafkaOpts(c, log)
	adm, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...),
		kgo.SASL(plain.Auth{User: o.SASLUser, Pass: o.SASLPassword}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, adm)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 0 {
		t.Errorf("the probe joined a consumer group: %+v", resp.Groups)
	}
}

// TestKafkaProbeTLS: the probe speaks TLS as the source does (the Event
// Hubs shape), and a certificate it does not trust fails it.
func TestKafkaProbeTLS(t *testing.T) {
	serverCfg, pool := testTLS(t)
	c := newCluster(t, 1, kfake.TLS(serverCfg))
	o := kafkaOpts(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	o.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	probe := func(o KafkaOptions) error {
		k, err := NewKafka(o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return k.Probe(ctx)
	}
	if err := probe(o); err != nil {
		t.Fatalf("TLS probe: %v", err)
	}
	o.TLS = &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12} // system roots only
	if err := probe(o); err == nil {
		t.Error("a broker with an untrusted certificate passed the probe")
	}
}
