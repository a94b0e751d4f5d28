package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"breakglass/internal/config"
	"breakglass/internal/entra"
	"breakglass/internal/graph"
	"breakglass/internal/notify"
	"breakglass/internal/source"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/version"
	"breakglass/internal/watch"
)

// shutdownGrace bounds how long a stopping daemon waits for in-flight work.
const shutdownGrace = 10 * time.Second

func newServeCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "serve --config F",
		Short: "Run the always-on watcher: sources, detection, store and notifications",
		Long: `serve runs breakglass as a daemon. It reads Entra logs from the configured
sources (files it follows, HTTP pushes), raises an alert within seconds for any
use of, or change to, a break-glass account, stores it with its evidence, and
delivers it to every notification group through a durable outbox: an alert
that was stored is delivered even if the process dies before sending it.

It serves /healthz, /readyz and Prometheus /metrics on server.listen
(default 127.0.0.1:8080). SIGINT or SIGTERM stop intake, drain in-flight work
for up to 10 seconds, and exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (or $BREAKGLASS_CONFIG)")
	return cmd
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the daemon until ctx ends.
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)
	st, err := sqlite.Open(ctx, cfg.Store.Path)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()

	groups := cfg.Notify.Groups
	if len(groups) == 0 {
		// Alerts nobody sees are no alerts: without a configured group,
		// they go to the console.
		groups = []config.GroupConfig{{Name: "default", Channels: []config.ChannelConfig{{Type: config.ChannelConsole}}}}
		log.Warn("no notify groups configured; alerts go to the console only")
	}
	notifyCfg := config.NotifyConfig{Groups: groups}
	notifiers := map[string]notify.Notifier{}
	for _, g := range groups {
		for i, ch := range g.Channels {
			target := g.Target(i)
			switch ch.Type {
			case config.ChannelConsole:
				notifiers[target] = notify.NewConsole(stdout)
			case config.ChannelWebhook:
				headers := map[string]string{}
				for k, v := range ch.Headers {
					headers[k] = v.Reveal()
				}
				wh, err := notify.NewWebhook(target, ch.URL.Reveal(), headers, &http.Client{Timeout: ch.Timeout})
				if err != nil {
					return usageErrorf("notify group %s channel %d: %v", g.Name, i+1, err)
				}
				notifiers[target] = wh
			}
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var names []string
	for _, s := range cfg.Sources {
		names = append(names, s.Name)
	}
	var pipeline *watch.Pipeline
	metrics := watch.NewMetrics(reg, st.OutboxDepth, names, func(s string) (time.Time, bool) {
		return pipeline.Silence().LastRecord(s)
	})
	notify.UserAgent = "breakglass/" + version.Version
	disp := notify.NewDispatcher(st, notifiers,
		notify.Options{Logger: log, Observe: metrics.Notified, Owner: dispatcherOwner(cfg.Store.Path)})
	pipeline = watch.New(watch.Options{
		Accounts: entra.NewAccountSet(cfg.Accounts), Store: st, Targets: notifyCfg.Targets(),
		Wake: disp.Wake, Metrics: metrics, Logger: log,
	})

	var sources []source.Source
	var graphClient graph.Lister
	for _, sc := range cfg.Sources {
		var src source.Source
		switch sc.Type {
		case config.SourceTypeFile:
			src, err = source.NewFile(source.FileOptions{Name: sc.Name, Path: sc.Path, Poll: sc.Poll, Logger: log}, st)
		case config.SourceTypeHTTP:
			src, err = source.NewHTTP(source.HTTPOptions{Name: sc.Name, Listen: sc.Listen, Token: sc.Token.Reveal(), MaxBody: sc.MaxBody, Logger: log})
		case config.SourceTypeGraph:
			if graphClient == nil {
				c, cerr := newGraphClient(cfg, log)
				if cerr != nil {
					return cerr
				}
				graphClient = c
			}
			src, err = source.NewGraph(source.GraphOptions{Name: sc.Name, Accounts: cfg.Accounts, Poll: sc.Poll, Overlap: sc.Overlap, Logger: log}, graphClient, st)
		default:
			err = fmt.Errorf("source type %q is not supported by this build", sc.Type)
		}
		if err != nil {
			return usageErrorf("source %s: %v", sc.Name, err)
		}
		sources = append(sources, src)
		pipeline.Silence().Watch(sc.Name, sc.MaxSilence)
	}
	if len(sources) == 0 {
		log.Warn("no sources configured: nothing will be watched")
	}

	// The daemon's own endpoint. Listen before starting anything so a port
	// clash fails fast.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	var running atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		cctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := st.OutboxDepth(cctx); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		if n := int(running.Load()); n < len(sources) {
			http.Error(w, fmt.Sprintf("%d of %d sources running", n, len(sources)), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server", "error", err)
		}
	}()
	log.Info("breakglass serving", "version", version.Version, "listen", ln.Addr().String(),
		"store", cfg.Store.Path, "sources", len(sources), "accounts", len(cfg.Accounts), "channels", len(notifiers))

	// Notification runs until intake has stopped, then drains.
	dispCtx, stopDisp := context.WithCancel(context.WithoutCancel(ctx))
	dispDone := make(chan error, 1)
	go func() { dispDone <- disp.Run(dispCtx) }()
	silenceCtx, stopSilence := context.WithCancel(ctx)
	go pipeline.Silence().Run(silenceCtx, time.Second)

	srcCtx, stopSources := context.WithCancel(ctx)
	var wg sync.WaitGroup
	failed := make(chan error, len(sources))
	for _, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			running.Add(1)
			defer running.Add(-1)
			if err := src.Run(srcCtx, pipeline); err != nil {
				failed <- fmt.Errorf("source %s: %w", src.Name(), err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: stopping intake")
	case runErr = <-failed:
		log.Error("a source failed; shutting down", "error", runErr)
	}
	stopSources()
	stopSilence()
	if !waitTimeout(&wg, shutdownGrace) {
		log.Warn("sources did not stop in time")
	}
	stopDisp()
	select {
	case <-dispDone:
	case <-time.After(shutdownGrace):
		log.Warn("notifications still in flight at shutdown; they stay queued and are sent on the next start")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	log.Info("stopped")
	return runErr
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// dispatcherOwner names this daemon in delivery leases: stable across
// restarts of the same daemon (host and store), so a restart after a crash
// sends what the dead run had claimed at once instead of when its leases
// expire.
func dispatcherOwner(storePath string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(storePath); err == nil {
		storePath = abs
	}
	return host + ":" + storePath
}
