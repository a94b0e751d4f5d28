package main

import (
	"log/slog"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/graph"
)

// newGraphClient builds the read-only Graph client from the graph: section.
func newGraphClient(cfg *config.Config, log *slog.Logger) (*graph.Client, error) {
	c, err := daemon.NewGraphClient(cfg, log)
	return c, asUsage(err)
}
