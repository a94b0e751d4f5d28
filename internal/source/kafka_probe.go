package source

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Probe connects to the brokers as Run would (TCP, TLS, SASL) and asks for
// the topic's metadata, without joining the consumer group (which would
// make a running daemon's group rebalance) and without reading or
// committing anything. It fails when no broker can be reached or signed
// in to, and when the topic does not exist. Errors are redacted of the
// password as every error of the source is.
func (k *Kafka) Probe(ctx context.Context) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.o.Brokers...),
		kgo.ClientID("breakglass-doctor"),
		// One answer is the verdict: a refused password or an unreachable
		// broker says so now, not after the caller's deadline.
		kgo.RequestRetries(0),
		kgo.WithLogger(&kgoLogger{log: k.log, red: k.red}),
	}
	if k.o.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(k.o.TLS.Clone()))
	}
	if k.o.SASLPassword != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: k.o.SASLUser, Pass: k.o.SASLPassword}.AsMechanism()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return k.red.err(err)
	}
	defer cl.Close()
	return k.red.err(k.ping(ctx, cl))
}

// ErrNoTopic is wrapped by Probe's (and the source's) error when the
// brokers answer but do not have the topic.
var ErrNoTopic = errNoTopic
