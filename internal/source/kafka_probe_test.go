package source

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

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
