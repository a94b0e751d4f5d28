package daemon

import (
	"log/slog"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/source"
)

// What `breakglass doctor` (internal/doctor) builds exactly as serve does,
// so that its verdict is about the daemon's own configuration.

// GraphTokens is the Graph credential serve uses and the base URL it is
// for (the graph: section; config has validated it).
func GraphTokens(cfg *config.Config) (graph.TokenSource, string, error) {
	g := cfg.Graph
	if !g.Configured() {
		return nil, "", configErrorf("%s: no graph: section; add graph.auth and the credential settings", cfg.Path)
	}
	base := g.BaseURL
	if base == "" {
		base = graph.Clouds()[g.Cloud].GraphBaseURL
	}
	tokens, err := graph.NewTokenSource(graph.CredentialOptions{
		Auth: g.Auth, TenantID: g.TenantID, ClientID: g.ClientID, ClientSecret: g.ClientSecret.Reveal(),
		CertificatePath: g.CertificatePath, CertificatePassword: g.CertificatePassword.Reveal(),
		TokenEnv: g.TokenEnv, Cloud: g.Cloud, AuthorityHost: g.AuthorityHost,
	}, base)
	if err != nil {
		return nil, "", configErrorf("%s: graph: %v", cfg.Path, err)
	}
	return tokens, base, nil
}

// KafkaSource builds an eventhubs or kafka source as serve does, for its
// Probe.
func KafkaSource(sc config.SourceConfig, log *slog.Logger) (*source.Kafka, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src, err := (&Daemon{log: log}).buildKafka(sc)
	if err != nil {
		return nil, err
	}
	return src.(*source.Kafka), nil
}
