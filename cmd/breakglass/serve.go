package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"breakglass/internal/config"
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

SIGHUP reloads the configuration file: it is loaded and checked as at
start while the daemon keeps running, then the daemon hands over to it on
the same store and sockets (nothing in flight is dropped; pushes during
the handover wait). A file that does not load or validate changes nothing:
each problem is logged at error level, breakglass_config_reload_success
drops to 0 and bg.source (source config) is raised until a reload works.
Changing server.listen or store.* needs a restart; such a reload is
refused as a whole.

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
			// Caught from here on: SIGHUP's default action would end serve.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			load := func() (*config.Config, error) { return loadConfig(cfgPath) }
			sup, err := daemon.NewSupervisor(cfg, daemon.Options{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}, load)
			if err != nil {
				return asUsage(err)
			}
			go reloadOnHUP(ctx, hup, sup)
			return asUsage(sup.Run(ctx))
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

// reloadOnHUP reloads the configuration on each SIGHUP until ctx ends. A
// reload that fails has reported itself (log, metric, bg.source).
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, sup *daemon.Supervisor) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = sup.Reload(ctx)
		}
	}
}
