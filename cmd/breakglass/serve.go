package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"breakglass/internal/daemon"
)

func newServeCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "serve --config F",
		Short: "Run the always-on watcher: sources, detection, store and notifications",
		Long: `serve runs breakglass as a daemon. It reads Entra logs from the configured
sources (files it follows, HTTP pushes, Microsoft Graph polls), raises an
alert within seconds for any use of, or change to, a break-glass account,
stores it with its evidence, and delivers it to every notification target
through a durable outbox: an alert that was stored is delivered even if the
process dies before sending it. A source that goes silent (max_silence) or
keeps failing raises an alert of its own.

Group entries in accounts: are read through Graph at start and every 5
minutes (a graph: section is required); a group that cannot be read keeps its
last known members watched and raises bg.source. With graph: configured, the
posture audit runs a minute after start and every audit.interval (6h): a check
that passed and now fails raises bg.posture, resolved when it passes again.

It serves /healthz, /readyz (store writable, all sources running) and
Prometheus /metrics on server.listen (default 127.0.0.1:8080), HTTPS only
when server.tls_cert and server.tls_key are set, with sign-in (/login) and
the JSON API (/api/v1/) for the users and tokens made by breakglass users
and breakglass tokens. SIGINT or
SIGTERM stop intake, drain in-flight work for up to 10 seconds, and exit 0.

Exit status: 0 after a clean shutdown, 1 when the store cannot be opened or a
source fails, 2 for usage or configuration errors.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, err := daemon.New(cfg, daemon.Options{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()})
			if err != nil {
				return asUsage(err)
			}
			return asUsage(d.Run(ctx))
		},
	}
	addConfigFlag(cmd, &cfgPath)
	return cmd
}

// asUsage turns the daemon's configuration errors into usage errors (exit 2).
func asUsage(err error) error {
	var ce *daemon.ConfigError
	if errors.As(err, &ce) {
		return usageError{err}
	}
	return err
}
