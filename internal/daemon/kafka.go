package daemon

import (
	"crypto/tls"

	"breakglass/internal/config"
	"breakglass/internal/source"
)

// kafkaAliveInterval is how often a kafka source pings its brokers; tests
// shorten it so that a refused password alerts in a second.
var kafkaAliveInterval = source.DefaultAliveInterval

// buildKafka makes an eventhubs or kafka source from its effective config
// (config owns the defaults: TLS, group, start, the Event Hubs user).
func (d *Daemon) buildKafka(sc config.SourceConfig) (source.Source, error) {
	o := source.KafkaOptions{
		Name: sc.Name, Brokers: sc.Brokers(), Topic: sc.Topic, Group: sc.ConsumerGroup,
		Start: sc.Start, Logger: d.log, AliveInterval: kafkaAliveInterval, SessionTimeout: sc.SessionTimeout,
	}
	if sc.TLS != nil && *sc.TLS {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if sc.CAFile != "" {
			pool, err := source.LoadCAFile(sc.CAFile)
			if err != nil {
				return nil, configErrorf("ca_file: %v", err)
			}
			o.TLS.RootCAs = pool
		}
	}
	if sc.SASL != nil {
		o.SASLUser, o.SASLPassword = sc.SASL.User, sc.SASL.Password.Reveal()
	}
	return source.NewKafka(o)
}
