package main

import (
	"log/slog"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/version"
)

// newGraphClient builds the read-only Graph client from the graph: section.
func newGraphClient(cfg *config.Config, log *slog.Logger) (*graph.Client, error) {
	g := cfg.Graph
	if !g.Configured() {
		return nil, usageErrorf("%s: no graph: section; add graph.auth and the credential settings", cfg.Path)
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
		return nil, usageErrorf("graph: %v", err)
	}
	return graph.New(graph.Options{BaseURL: base, Tokens: tokens, UserAgent: "breakglass/" + version.Version, Logger: log})
}
