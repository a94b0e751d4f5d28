package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/graph"
	"breakglass/internal/notify"
	"breakglass/internal/source"
	"breakglass/internal/version"
	"time"
)

// buildNotifiers makes one Notifier per target ("group/name") through the
// channel registry, and the dispatcher's SendTimeout: longer than every
// channel's own timeout, so a configured timeout is what bounds a send.
// Config has decoded, validated and defaulted each channel's settings.
//
// head, when not nil, gives the evidence log's head for every message
// (notify.RenderOptions.EvidenceHead).
func buildNotifiers(cfg *config.Config, stdout io.Writer, log *slog.Logger, head func() string) (map[string]notify.Notifier, time.Duration, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	notifiers := map[string]notify.Notifier{}
	longest := notify.DefaultWebhookTimeout
	// One renderer for every channel: a page reads the same everywhere, in
	// the configured time zone and templates (validated by config), with
	// the signed acknowledge link when notify.ack has a secret (ack.go).
	ackURL, err := ackURLOf(cfg)
	if err != nil {
		return nil, 0, err
	}
	opts := cfg.Notify.RenderOptions(ackURL)
	opts.EvidenceHead = head
	renderer, err := notify.NewRenderer(opts)
	if err != nil {
		return nil, 0, configErrorf("%s: notify.templates: %v", cfg.Path, err)
	}
	var errs []error
	for gi, g := range cfg.Notify.Groups {
		for i, ch := range g.Channels {
			target := g.Target(i)
			where := fmt.Sprintf("%s: notify.groups[%d].channels[%d] (target %s)", cfg.Path, gi, i, target)
			if _, ok := notify.LookupChannel(ch.Type); !ok || ch.Settings == nil {
				errs = append(errs, fmt.Errorf("%s: channel type %q is not supported by this build (known: %s)",
					where, ch.Type, strings.Join(notify.ChannelTypes(), ", ")))
				continue
			}
			n, err := ch.Settings.Build(notify.BuildEnv{
				Target:  target,
				Timeout: ch.Timeout,
				HTTP:    &http.Client{},
				Stdout:  stdout,
				Logger:  log.With("target", target),
				Now:     time.Now,
				Render:  renderer.Render,
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			longest = max(longest, ch.Timeout)
			notifiers[target] = n
		}
	}
	if len(errs) > 0 {
		return nil, 0, &ConfigError{errors.Join(errs...)}
	}
	return notifiers, longest + sendMargin, nil
}

// buildSources makes the configured sources. Defaults are config's: every
// value here is already the effective one.
func (d *Daemon) buildSources() ([]source.Source, error) {
	cfg := d.cfg
	var sources []source.Source
	for _, ts := range cfg.AllSources() { // a tenant's too (tenants.go)
		sc := ts.SourceConfig
		var src source.Source
		var err error
		switch sc.Type {
		case config.SourceTypeFile:
			src, err = source.NewFile(source.FileOptions{Name: sc.Name, Path: sc.Path, Poll: sc.Poll, Logger: d.log, Now: d.o.Now,
				FollowSymlinks: sc.FollowSymlinks, Retention: cfg.Store.Retention}, d.st)
		case config.SourceTypeHTTP:
			src, err = source.NewHTTP(source.HTTPOptions{Name: sc.Name, Listen: sc.Listen, Token: sc.Token.Reveal(), MaxBody: sc.MaxBody, Logger: d.log,
				Listener: d.sourceListener(sc.Listen)}) // reload.go
		case config.SourceTypeGraph:
			graphClient, accountsNow, cerr := d.sourceGraph(ts.Tenant) // tenants.go
			if cerr != nil {
				return nil, cerr
			}
			src, err = source.NewGraph(source.GraphOptions{Name: sc.Name, AccountsNow: accountsNow, Poll: sc.Poll, Overlap: sc.Overlap, Logger: d.log, Now: d.o.Now}, graphClient, d.st)
		case config.SourceTypeEventHubs, config.SourceTypeKafka:
			src, err = d.buildKafka(sc) // kafka.go
		default:
			err = configErrorf("source type %q is not supported by this build", sc.Type)
		}
		if err != nil {
			return nil, configErrorf("source %s: %v", sc.Name, err)
		}
		sources = append(sources, src)
	}
	return sources, nil
}

// graphClient is the one Graph client of the daemon (sources, group
// members, the posture audit), built on first use.
func (d *Daemon) graphClient() (graph.Lister, error) {
	if d.graph == nil {
		c, err := NewGraphClient(d.cfg, d.log)
		if err != nil {
			return nil, err
		}
		d.graph = c
	}
	return d.graph, nil
}

// NewGraphClient builds the read-only Graph client from the graph: section
// (serve's graph source and collect).
func NewGraphClient(cfg *config.Config, log *slog.Logger) (*graph.Client, error) {
	tokens, base, err := GraphTokens(cfg) // doctor.go
	if err != nil {
		return nil, err
	}
	return graph.New(graph.Options{BaseURL: base, Tokens: tokens, UserAgent: "breakglass/" + version.Version, Logger: log})
}

// pruneLoop applies store.retention at start and every PruneInterval:
// delivered notifications older than the retention go. Alerts and their
// raw records are never pruned; incidents past incidents.retention are
// (prune_incidents.go).
func (d *Daemon) pruneLoop(ctx context.Context) {
	t := time.NewTicker(d.o.PruneInterval)
	defer t.Stop()
	for {
		d.prune(ctx)
		d.pruneIncidents(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Daemon) prune(ctx context.Context) {
	p, ok := pruner(d.st)
	if !ok {
		return
	}
	before := d.o.Now().Add(-d.cfg.Store.Retention)
	n, err := p(ctx, before)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("pruning the store", "error", err)
		}
		return
	}
	if n > 0 {
		d.log.Info("pruned delivered notifications", "rows", n, "before", before.UTC(), "retention", d.cfg.Store.Retention)
	}
}
