// Package daemon assembles `breakglass serve` from a validated
// configuration: store, pipeline, sources, notification dispatcher, health
// and metrics endpoints, silence and retention loops. It is the one place
// the daemon is wired, so the command stays thin and end-to-end tests can
// run the very same daemon in-process (New, then Run) as well as through
// the binary. Modelled on how prometheus/alertmanager assemble themselves.
package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"breakglass/internal/canary"
	"breakglass/internal/config"
	"breakglass/internal/drill"
	"breakglass/internal/drill/schedule"
	"breakglass/internal/entra"
	"breakglass/internal/evidence"
	"breakglass/internal/graph"
	"breakglass/internal/incident"
	"breakglass/internal/logging"
	"breakglass/internal/membership"
	"breakglass/internal/notify"
	"breakglass/internal/posture"
	"breakglass/internal/preserve"
	"breakglass/internal/source"
	"breakglass/internal/version"
	"breakglass/internal/watch"
)

// Timings of the daemon's own loops. They are not user settings.
const (
	// DefaultShutdownGrace bounds how long a stopping daemon waits for
	// in-flight work.
	DefaultShutdownGrace = 10 * time.Second
	// DefaultPruneInterval is how often retention runs (also once at start).
	DefaultPruneInterval = time.Hour
	// silenceInterval is how often bg.silence is checked.
	silenceInterval = time.Second
	// writableTTL is how long a readiness check of the store is reused, so a
	// probe every second does not write every second.
	writableTTL = 5 * time.Second
	// sendMargin is added to the longest channel timeout for the
	// dispatcher's SendTimeout, which must never cut a channel short.
	sendMargin = 5 * time.Second
)

// Options are what the configuration does not say: where output goes, and
// hooks for tests.
type Options struct {
	// Stdout receives console notifications (default os.Stdout).
	Stdout io.Writer
	// Stderr receives the logs (default os.Stderr) unless Logger is set.
	Stderr io.Writer
	Logger *slog.Logger
	// shared is the store and sockets of a Supervisor (reload.go).
	shared *shared
	// Graph replaces the Graph client built from the graph: section.
	Graph graph.Lister
	// ShutdownGrace and PruneInterval default to the constants above.
	ShutdownGrace time.Duration
	PruneInterval time.Duration
	Now           func() time.Time
	// Auditor replaces the live posture audit (collect through Graph, then
	// posture.Run) that serve schedules when Graph is configured.
	Auditor Auditor
	// AuditInterval and AuditDelay replace audit.interval and the delay
	// before the first scheduled audit (DefaultAuditDelay).
	AuditInterval time.Duration
	AuditDelay    time.Duration
	// AuditTimeout bounds one scheduled audit (default: AuditInterval, as
	// a run must end before the next is due).
	AuditTimeout time.Duration
	// GroupRefresh replaces membership.DefaultRefresh.
	GroupRefresh time.Duration
	// HeartbeatInterval replaces notify.heartbeat.interval.
	HeartbeatInterval time.Duration
	// EscalateInterval replaces how often the escalator looks for due
	// steps (escalateInterval).
	EscalateInterval time.Duration
	// PreserveInterval replaces preserve.DefaultInterval (preserve.go).
	PreserveInterval time.Duration
	// DrillCheckInterval replaces DefaultDrillCheckInterval (drillschedule.go).
	DrillCheckInterval time.Duration
	// TenantGraph replaces the Graph client of tenants[] by tenant id
	// (tenants.go).
	TenantGraph map[string]graph.Lister
	// CanaryPoll and CanaryDelay replace canary.DefaultPoll (how often the
	// canary looks at the clock and the outbox) and canary.DefaultFirstDelay.
	CanaryPoll, CanaryDelay time.Duration
	// LeaseTTL replaces server.lease_ttl; KeepLeases stops like a crash,
	// leaving the scheduler lease to expire (leader.go).
	LeaseTTL   time.Duration
	KeepLeases bool
}

// ConfigError marks an error caused by the configuration (the command exits
// 2 for it). Config validates everything it can; this covers what only
// building the runtime can find (a credential file that cannot be read).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{fmt.Errorf(format, args...)}
}

// CheckConfig applies the rules serve adds to the config package's own
// validation: a group entry needs graph: (its members are read through
// Graph), and an exception must name a known posture check (else it
// accepts nothing, silently). Every problem is reported at once, at its
// file:line. New applies the same rules, and `config check` calls this, so
// that a file config check accepts is never refused by serve.
func CheckConfig(cfg *config.Config) error {
	return checkConfig(cfg, configGroups(cfg), false)
}

func checkConfig(cfg *config.Config, groups []groupEntry, haveGraph bool) error {
	var errs []error
	if err := checkGroups(cfg, groups, haveGraph); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.CheckExceptionIDs(posture.IDs()); err != nil {
		errs = append(errs, err)
	}
	if err := checkRules(cfg); err != nil { // rules.go
		errs = append(errs, err)
	}
	if err := checkTenantGroups(cfg); err != nil { // tenants.go
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{errors.Join(errs...)}
}

// Daemon is one assembled daemon. New builds it and binds its listeners;
// Run serves until its context ends.
type Daemon struct {
	cfg      *config.Config
	o        Options
	log      *slog.Logger
	st       daemonStore
	pipeline *watch.Pipeline
	disp     *notify.Dispatcher
	metrics  *watch.Metrics
	sources  []source.Source
	targets  []string
	ln       net.Listener
	srv      *http.Server
	running  atomic.Int32
	ready    chan struct{}

	graph    graph.Lister
	members  *membership.Watcher // nil without group entries
	accounts atomic.Pointer[[]entra.Account]
	auditor  Auditor // nil without Graph

	pres   *preserve.Preserver     // preserve.go
	keeper *preserve.ContextKeeper // preserve.go

	hb         *heartbeat          // nil without notify.heartbeat (heartbeat.go)
	esc        *escalator          // nil when no route escalates (escalate.go)
	incidents  *incident.Builder   // incident.go
	heads      *evidence.Publisher // publishes the evidence log's head (evidence.go)
	posture    postureCache        // the stored posture reports, read briefly cached (posture_store.go)
	canary     *canary.Canary      // nil without canary: (canary.go)
	stuckAfter time.Duration       // outbox bound of the heartbeat
	drills     *schedule.Scheduler // drill due dates and reminders (drillschedule.go)
	drillEval  drill.Evaluator     // drill bounds and routes, for drills serve finishes (drill.go)
	drillRoute func(map[string]string) []string
	kql        kqlState    // KQL alert rules (rules.go)
	lead       *leadership // the scheduler lease (leader.go)
	ten        *tenancy    // nil without tenants: (tenants.go)

	wmu       sync.Mutex
	wChecked  time.Time
	wErr      error
	closeOnce sync.Once
}

// New assembles the daemon described by cfg: it opens the store (refusing a
// corrupted or empty database), builds every channel and source, and
// listens on server.listen, so that a port clash fails here. Call Run next,
// or Close to release what New acquired.
func New(cfg *config.Config, o Options) (_ *Daemon, err error) {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = logging.New(o.Stderr, logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format})
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.PruneInterval <= 0 {
		o.PruneInterval = DefaultPruneInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AuditInterval <= 0 {
		o.AuditInterval = auditInterval(cfg)
	}
	if o.AuditDelay <= 0 {
		o.AuditDelay = DefaultAuditDelay
	}
	if o.AuditTimeout <= 0 {
		o.AuditTimeout = o.AuditInterval
	}
	d := &Daemon{cfg: cfg, o: o, log: o.Logger, ready: make(chan struct{}), graph: o.Graph, ten: newTenancy(cfg)}
	ctx := context.Background()
	groups := configGroups(cfg)
	if err := checkConfig(cfg, groups, o.Graph != nil); err != nil {
		return nil, err
	}

	d.st, err = d.openStore(ctx) // reload.go
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	defer func() {
		if err != nil {
			d.closeStore()
		}
	}()

	notifiers, sendTimeout, err := buildNotifiers(cfg, o.Stdout, d.log, d.evidenceHead)
	if err != nil {
		return nil, err
	}
	// The daemon's own endpoint. Listen before starting anything so a port
	// clash fails fast, and because holding server.listen is what proves no
	// other live daemon uses this dispatcher owner (see leaseOwner).
	d.ln, err = d.listen(cfg.Server.Listen) // reload.go
	if err != nil {
		return nil, fmt.Errorf("server.listen: %w", err)
	}
	defer func() {
		if err != nil {
			d.ln.Close()
		}
	}()
	if err := d.listenTLS(); err != nil { // auth.go
		return nil, err
	}
	owner := leaseOwner(cfg, d.ln)
	d.targets = cfg.Notify.Targets()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.registerReload(reg) // reload.go
	var names []string
	for _, s := range allSources(cfg) { // tenants.go
		names = append(names, s.Name)
	}
	// Internal sources: their bg.source episodes must survive
	// ResolveRemoved while they are configured.
	var internal []string
	if len(groups) > 0 {
		internal = append(internal, membership.Source)
	}
	if o.Auditor != nil || cfg.Graph.Configured() {
		internal = append(internal, watch.PostureSource)
	}
	internal = append(internal, incident.HealthSource) // incident.go
	internal = append(internal, evidenceSource)        // evidence.go
	internal = append(internal, preserveSources(cfg, o)...)
	internal = append(internal, schedule.Source)        // drillschedule.go
	internal = append(internal, tenantInternal(cfg)...) // tenants.go
	internal = append(internal, d.reloadSources()...)   // reload.go
	var pipeline *watch.Pipeline
	d.metrics = watch.NewMetrics(reg, d.st.OutboxDepth, names, func(s string) (time.Time, bool) {
		return pipeline.Silence().LastLife(s)
	})
	d.metrics.SetTargets(d.targets)
	for _, s := range internal {
		d.metrics.AddSource(s)
	}
	if ua := "breakglass/" + version.Version; notify.UserAgent != ua {
		notify.UserAgent = ua // once: a reload's daemon must not write what the running one reads
	}
	watch.RegisterGauge(reg, "breakglass_watched_accounts", "Break-glass user accounts watched now: those configured by id or UPN plus the members of configured groups as last read.",
		func(context.Context) (int, error) { return len(d.currentAccounts()), nil })
	watch.RegisterGauge(reg, "breakglass_dead_letters", "Deliveries given up (target gone, or failing past notify.give_up_after); each raised bg.notify.", d.st.DeadLetterCount)
	dopts := notify.Options{
		Logger: d.log, Observe: d.metrics.Notified, SendTimeout: sendTimeout, Now: o.Now,
		GiveUpAfter: cfg.Notify.GiveUpAfter, Owner: owner,
	}
	d.rateLimits(&dopts, reg) // ratelimit.go
	d.disp = notify.NewDispatcher(d.st, notifiers, dopts)
	routeFn, err := RouteFunc(cfg) // route.go
	if err != nil {
		return nil, err
	}
	if err := d.setupDrillSchedule(reg, routeFn); err != nil { // drillschedule.go
		return nil, err
	}
	if err := d.setupKQL(); err != nil { // rules.go
		return nil, err
	}
	pipeline = watch.New(watch.Options{
		Accounts: entra.NewAccountSet(configUsers(cfg)), Rules: append(canaryRules(cfg), d.kqlFilterRules()...), Store: d.st, Conditions: conditionsOf(d.st),
		Route: routeFn, MuteFor: d.kqlMuteFor(cfg.Notify.MuteFor), Tenant: tenantOf(cfg), Annotate: d.drillAnnotate(), // drill.go; rules.go
		TenantOf: d.ten.tenantOfFunc(), Attribute: d.ten.attributeFunc(), // tenants.go
		Wake: func() { d.disp.Wake(); d.wakeIncidents() }, Metrics: d.metrics, Logger: d.log, Now: o.Now,
		Observers: append(d.drillObservers(), d.kqlObservers()...), // drillschedule.go; rules.go
	})
	d.pipeline = pipeline
	d.setupKQLScheduler() // rules.go
	d.setupIncidents()
	d.setupCanary(ctx, reg) // canary.go
	for _, sc := range allSources(cfg) {
		if err := pipeline.Silence().Watch(ctx, sc.Name, sc.MaxSilence); err != nil {
			return nil, err
		}
	}
	users := configUsers(cfg)
	d.accounts.Store(&users)
	if err := d.setupGroups(ctx, groups); err != nil {
		return nil, err
	}
	if err := d.setupAudit(); err != nil {
		return nil, err
	}
	if err := d.setupTenants(ctx); err != nil { // tenants.go
		return nil, err
	}
	if err := d.setupPreserve(); err != nil { // preserve.go
		return nil, err
	}
	if d.auditor == nil {
		if err := pipeline.Posture().ResolveAll(ctx); err != nil {
			d.log.Warn("resolving posture drifts", "error", err)
		}
	}
	if err := pipeline.ResolveRemoved(ctx, append(slices.Clone(names), internal...)); err != nil {
		d.log.Warn("resolving alerts of removed sources", "error", err)
	}
	if open, err := pipeline.Health().Open(ctx); err == nil {
		for src, n := range open {
			d.metrics.SetSourceFailing(src, n)
		}
	}

	if d.sources, err = d.buildSources(); err != nil {
		return nil, err
	}
	if err := d.setupLeader(ctx, reg, owner); err != nil { // leader.go
		return nil, err
	}
	d.setupHeartbeat(sendTimeout)
	if err := d.setupEscalation(); err != nil {
		return nil, err
	}
	if err := d.setupEvidence(ctx); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err := d.mountAck(mux); err != nil {
		return nil, err
	}
	h, err := d.mountAuth(mux) // auth.go
	if err != nil {
		return nil, err
	}
	d.srv = newHTTPServer(h)
	return d, nil
}

// Addr is the address of the health and metrics endpoint.
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// Ready is closed once every source has started.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Pipeline is the daemon's pipeline (for tests that feed it directly).
func (d *Daemon) Pipeline() *watch.Pipeline { return d.pipeline }

// Sources are the daemon's sources, in configuration order.
func (d *Daemon) Sources() []source.Source { return d.sources }

// Close releases what New acquired without running; Run closes by itself.
func (d *Daemon) Close() error {
	var err error
	d.closeOnce.Do(func() {
		if d.ln != nil {
			d.ln.Close()
		}
		d.pipeline.Close()
		err = d.closeStore()
	})
	return err
}

// Run serves until ctx ends or a source fails, then stops intake, drains
// in-flight work for up to ShutdownGrace and closes the store. It returns
// nil on a clean shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.Close()
	log := d.log
	go func() {
		if err := d.srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server", "error", err)
		}
	}()
	log.Info("breakglass serving", "version", version.Version, "listen", d.ln.Addr().String(),
		"store", d.cfg.Store.Describe(), "sources", len(d.sources), "accounts", len(d.currentAccounts()), "groups", len(d.cfg.Groups()), "targets", len(d.targets))
	if d.auditor != nil {
		log.Info("posture audit scheduled", "first_in", d.o.AuditDelay, "every", d.o.AuditInterval)
	}
	if len(d.sources) == 0 {
		log.Warn("no sources configured: nothing will be watched")
	}

	// Notification runs until intake has stopped, then drains.
	dispCtx, stopDisp := context.WithCancel(context.WithoutCancel(ctx))
	dispDone := make(chan error, 1)
	go func() { dispDone <- d.disp.Run(dispCtx) }()
	loopCtx, stopLoops := context.WithCancel(ctx)
	var loops sync.WaitGroup
	loops.Add(3)
	go func() { defer loops.Done(); d.pipeline.Silence().Run(loopCtx, silenceInterval) }()
	go func() { defer loops.Done(); d.scheduled(loopCtx, d.pruneLoop) }() // leader.go
	go func() { defer loops.Done(); d.logLoop(loopCtx) }()
	loops.Go(func() { d.runLeadership(loopCtx) })
	if d.members != nil {
		// Read the groups before the sources start, so the first records
		// are matched against the current members (bounded: during a Graph
		// outage the last known members are already applied).
		rctx, cancel := context.WithTimeout(loopCtx, groupStartTimeout)
		d.members.Refresh(rctx)
		cancel()
		loops.Go(func() { d.scheduledGroups(loopCtx) })
	}
	if d.auditor != nil {
		loops.Go(func() { d.scheduled(loopCtx, d.auditLoop) })
	}
	d.runTenants(loopCtx, &loops) // tenants.go: each tenant's groups and audit
	if d.hb != nil {
		loops.Go(func() { d.hb.run(loopCtx) })
	}
	if d.esc != nil {
		loops.Go(func() { d.scheduled(loopCtx, func(ctx context.Context) { d.esc.run(ctx, d.escalateEvery()) }) })
	}
	loops.Go(func() { d.incidents.Run(loopCtx, incidentPoll) })
	loops.Go(func() { d.heads.Run(loopCtx) })   // publishes the head at shutdown too
	loops.Go(func() { d.runPreserve(loopCtx) }) // preserve.go
	loops.Go(func() { d.drillLoop(loopCtx) })   // drill.go
	loops.Go(func() { d.scheduled(loopCtx, d.runDrillSchedule) })
	loops.Go(func() { d.scheduled(loopCtx, d.runKQL) }) // rules.go
	if d.canary != nil {
		loops.Go(func() { d.scheduled(loopCtx, d.runCanary) })
	}

	srcCtx, stopSources := context.WithCancel(ctx)
	var wg sync.WaitGroup
	failed := make(chan error, len(d.sources))
	for _, src := range d.sources {
		wg.Add(1)
		d.running.Add(1)
		go func() {
			defer wg.Done()
			defer d.running.Add(-1)
			if err := src.Run(srcCtx, d.sourceSink()); err != nil { // preserve.go
				failed <- fmt.Errorf("source %s: %w", src.Name(), err)
			}
		}()
	}
	close(d.ready)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: stopping intake")
	case runErr = <-failed:
		log.Error("a source failed; shutting down", "error", runErr)
	}
	stopSources()
	stopLoops()
	if !waitTimeout(&wg, d.o.ShutdownGrace) {
		log.Warn("sources did not stop in time")
	}
	loops.Wait()
	stopDisp()
	select {
	case <-dispDone:
	case <-time.After(d.o.ShutdownGrace):
		log.Warn("notifications still in flight at shutdown; they stay queued and are sent on the next start")
		d.waitHandover(dispDone) // reload.go
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(sctx)
	logging.Flush(sctx, log)
	log.Info("stopped")
	return runErr
}

// leaseOwner names this daemon in delivery leases: the same after a restart
// on this host with this store and server.listen, different for any other
// daemon (another host, or another listen address on this one). A restarted
// daemon can then take back the leases its killed predecessor held, instead
// of waiting for them to expire, and no live daemon can share the name: it
// would hold the same listen address.
func leaseOwner(cfg *config.Config, ln net.Listener) string {
	host, _ := os.Hostname()
	path, err := filepath.Abs(cfg.Store.Path)
	if err != nil {
		path = cfg.Store.Path
	}
	h := sha256.Sum256([]byte(host + "\x00" + path + "\x00" + cfg.Server.Listen))
	return "breakglass-" + hex.EncodeToString(h[:8])
}

// logLoop lets the log rate limiter report held-back lines of a flood that
// has stopped.
func (d *Daemon) logLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			logging.Sweep(ctx, d.log)
		}
	}
}

// readyz is ready when the store takes writes (checked with a real write,
// reused for a few seconds) and every source is running. A store that is
// open but read-only, full or corrupted is not ready: alerts could not be
// kept.
func (d *Daemon) readyz(w http.ResponseWriter, r *http.Request) {
	if err := d.writable(r.Context()); err != nil {
		http.Error(w, "store not writable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if n := int(d.running.Load()); n < len(d.sources) {
		http.Error(w, fmt.Sprintf("%d of %d sources running", n, len(d.sources)), http.StatusServiceUnavailable)
		return
	}
	if err := d.leaseTrouble(); err != nil { // leader.go
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
	d.writeLeases(w)
}

func (d *Daemon) writable(ctx context.Context) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	now := time.Now()
	if !d.wChecked.IsZero() && now.Sub(d.wChecked) < writableTTL {
		return d.wErr
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d.wErr = writableOf(d.st)(cctx)
	d.wChecked = now
	return d.wErr
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

// tenantOf is the tenant label of every alert: tenant_id, else the Graph
// tenant.
func tenantOf(cfg *config.Config) string {
	if cfg.TenantID != "" {
		return cfg.TenantID
	}
	return cfg.Graph.TenantID
}
