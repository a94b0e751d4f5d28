package daemon

// Configuration reload (SIGHUP). A Supervisor keeps what must outlive a
// configuration, the store and the listening sockets (server.listen and
// every http source's listen address), and runs the daemon on top of them
// as a generation: New builds it, Run runs it. A reload validates the new
// file fully by building the next generation with the same code as a start
// (config.Load, CheckConfig, secrets, channels, sources) while the current
// one keeps running; only once that succeeded does it stop the current one
// (intake stops with its checkpoints saved, in-flight HTTP pushes finish,
// the dispatcher drains completely) and start the next on the same store
// and sockets. So a reload keeps every guarantee of a restart: alerts are
// stored before anything is acknowledged, the outbox is durable and claimed
// by one dispatcher at a time (never two sending one delivery: the next
// starts only after the last send of the previous ended), file sources
// resume from their checkpoints. And it keeps more than a restart: the
// sockets stay open, so connections that arrive during the handover wait in
// the socket's backlog for the next generation instead of being refused,
// and /readyz never goes away.
//
// A new configuration that does not load, does not validate or cannot be
// built changes nothing: the running one stays in force, each problem is
// logged at error level (file:line: key: message), the gauge
// breakglass_config_reload_success drops to 0, and bg.source (source
// "config") is raised, so that someone learns their edit did not apply;
// the next successful reload or start resolves it. Keys that cannot change
// in a running process (server.listen; store.driver, path, dsn, dsn_file)
// refuse the whole reload, naming them: applying the rest would leave the
// daemon running a configuration that is in no file.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"breakglass/internal/config"
)

// ConfigSource is the internal source a failed reload raises bg.source
// for, with key configKey.
const ConfigSource = "config"

const configKey = "the new configuration"

// reloadSources are the internal sources of a supervised daemon: a daemon
// built for a reload must not resolve the condition of the reload that
// failed before it (New resolves those of sources it does not know); the
// supervisor resolves it once the daemon runs.
func (d *Daemon) reloadSources() []string {
	if d.o.shared == nil {
		return nil
	}
	return []string{ConfigSource}
}

// configApplied resolves a failed reload's bg.source: the daemon d now
// runs the file as it is.
func (d *Daemon) configApplied(ctx context.Context) {
	d.pipeline.Health().Recovered(ctx, ConfigSource, configKey)
}

// shared is what a Supervisor keeps across generations; a Daemon built
// with Options.shared uses it instead of opening its own.
type shared struct {
	st   daemonStore
	main *socket

	mu      sync.Mutex
	sockets map[string]*socket // http sources, by configured listen address
	// What the daemon New is building asks for: its main listener (not
	// yet active) and its http sources' addresses.
	pending      *vlistener
	pendingAddrs []string

	rmu        sync.Mutex
	reloadOK   bool
	reloadedAt time.Time
}

// openStore is the store of the daemon: the supervisor's, or its own.
func (d *Daemon) openStore(ctx context.Context) (daemonStore, error) {
	if sh := d.o.shared; sh != nil {
		return sh.st, nil
	}
	return openBackend(ctx, d.cfg) // storeopen.go
}

// closeStore closes the store unless the supervisor owns it.
func (d *Daemon) closeStore() error {
	if d.o.shared != nil {
		return nil
	}
	return d.st.Close()
}

// listen is server.listen: the supervisor's socket, or the daemon's own.
func (d *Daemon) listen(addr string) (net.Listener, error) {
	sh := d.o.shared
	if sh == nil {
		return net.Listen("tcp", addr)
	}
	vl := sh.main.listener()
	sh.mu.Lock()
	sh.pending = vl
	sh.mu.Unlock()
	return vl, nil
}

// sourceListener gives the http source listening on addr the
// supervisor's socket (nil: it listens itself).
func (d *Daemon) sourceListener(addr string) func(context.Context, string) (net.Listener, error) {
	sh := d.o.shared
	if sh == nil {
		return nil
	}
	sh.mu.Lock()
	sh.pendingAddrs = append(sh.pendingAddrs, addr)
	sh.mu.Unlock()
	return func(_ context.Context, addr string) (net.Listener, error) {
		sock, err := sh.socket(addr)
		if err != nil {
			return nil, err
		}
		vl := sock.listener()
		sock.activate(vl)
		return vl, nil
	}
}

// waitHandover waits for the dispatcher to have returned when a successor
// will take over the outbox: it releases this owner's leases as it starts,
// so a send still in flight here could be sent twice.
func (d *Daemon) waitHandover(dispDone <-chan error) {
	if d.o.shared == nil {
		return
	}
	d.log.Warn("waiting for notifications in flight before the new configuration takes over")
	<-dispDone
}

// registerReload adds the reload gauges to a generation's registry.
func (d *Daemon) registerReload(reg *prometheus.Registry) {
	sh := d.o.shared
	if sh == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "breakglass_config_reload_success",
		Help: "1 when the last configuration reload (SIGHUP) succeeded or none was tried, 0 when it failed and the previous configuration is still running.",
	}, func() float64 {
		sh.rmu.Lock()
		defer sh.rmu.Unlock()
		if sh.reloadOK {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "breakglass_config_reload_success_timestamp_seconds",
		Help: "When the running configuration was applied: the start, or the last successful reload.",
	}, func() float64 {
		sh.rmu.Lock()
		defer sh.rmu.Unlock()
		return float64(sh.reloadedAt.UnixNano()) / 1e9
	}))
}

// socket returns the shared socket of an http source's address, listening
// on it first if nobody does yet.
func (sh *shared) socket(addr string) (*socket, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s, ok := sh.sockets[addr]; ok {
		return s, nil
	}
	s, err := newSocket(addr)
	if err != nil {
		return nil, err
	}
	sh.sockets[addr] = s
	return s, nil
}

// retain closes the sockets of addresses not in keep.
func (sh *shared) retain(keep []string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for addr, s := range sh.sockets {
		if !slices.Contains(keep, addr) {
			s.close()
			delete(sh.sockets, addr)
		}
	}
}

func (sh *shared) takePending() (*vlistener, []string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	vl, addrs := sh.pending, sh.pendingAddrs
	sh.pending, sh.pendingAddrs = nil, nil
	return vl, addrs
}

func (sh *shared) closeAll() error {
	sh.mu.Lock()
	for _, s := range sh.sockets {
		s.close()
	}
	sh.sockets = map[string]*socket{}
	sh.mu.Unlock()
	sh.main.close()
	return sh.st.Close()
}

// Supervisor runs serve: one Daemon at a time on a store and sockets that
// outlive it, replaced by a new one on Reload.
type Supervisor struct {
	o    Options
	load func() (*config.Config, error)
	sh   *shared

	mu       sync.Mutex // one reload at a time
	cur      *Daemon    // the running generation (guarded by mu)
	addrs    []string   // its http sources' addresses (guarded by mu)
	handover chan *handover
	done     chan struct{} // closed when Run returns
	main     *vlistener    // the first daemon's endpoint, activated by Run
}

type handover struct {
	next    *Daemon
	main    *vlistener
	addrs   []string
	started chan struct{}
}

// NewSupervisor opens the store and server.listen and builds the first
// daemon of cfg, as New does. load reads the configuration again for
// Reload, exactly as serve read cfg.
func NewSupervisor(cfg *config.Config, o Options, load func() (*config.Config, error)) (_ *Supervisor, err error) {
	// As New: a configuration serve refuses creates no store.
	if err := checkConfig(cfg, configGroups(cfg), o.Graph != nil); err != nil {
		return nil, err
	}
	st, err := openBackend(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	main, err := newSocket(cfg.Server.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("server.listen: %w", err)
	}
	sh := &shared{st: st, main: main, sockets: map[string]*socket{}, reloadOK: true, reloadedAt: time.Now()}
	o.shared = sh
	d, err := New(cfg, o)
	if err != nil {
		sh.closeAll()
		return nil, err
	}
	s := &Supervisor{o: o, load: load, sh: sh, cur: d, handover: make(chan *handover), done: make(chan struct{})}
	s.main, s.addrs = sh.takePending()
	d.configApplied(context.Background()) // a start with a good file ends a failed reload's episode
	return s, nil
}

// Addr is the address of server.listen.
func (s *Supervisor) Addr() net.Addr { return s.sh.main.raw.Addr() }

// Current is the running daemon.
func (s *Supervisor) Current() *Daemon {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Run runs the current daemon, and each one a Reload hands over to, until
// ctx ends or a source fails; then it closes the store and the sockets.
func (s *Supervisor) Run(ctx context.Context) error {
	defer close(s.done)
	defer s.sh.closeAll()
	s.mu.Lock()
	d, main := s.cur, s.main
	s.mu.Unlock()
	for {
		genCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(genCtx) }()
		// The endpoint goes to the new daemon once its sources run, so
		// /readyz is not briefly unready: connections wait until then.
		select {
		case <-d.Ready():
		case err := <-done:
			stop()
			return err
		}
		s.sh.main.activate(main)
		select {
		case err := <-done:
			stop()
			return err
		case h := <-s.handover:
			d.log.Info("configuration reload: stopping intake and handing over to the new configuration")
			// New connections wait for the next daemon; the endpoint's
			// own requests finish and its idle kept-alive connections
			// close, so no request is answered by a daemon whose sources
			// are stopping (clients send idempotent ones again).
			s.sh.main.activate(nil)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = d.srv.Shutdown(sctx)
			cancel()
			stop()
			if err := <-done; err != nil {
				d.log.Error("configuration reload: the previous configuration stopped with an error", "error", err)
			}
			s.sh.retain(h.addrs)
			d, main = h.next, h.main
			close(h.started)
		}
	}
}

// Reload reads the configuration again and, when it loads, validates and
// builds, replaces the running daemon with one running it. Otherwise it
// changes nothing, reports why (see the package comment in this file) and
// returns the reason.
func (s *Supervisor) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur
	old.log.Info("configuration reload requested", "config", old.cfg.Path)
	h, err := s.prepare(old)
	if err != nil {
		s.failed(ctx, old, err)
		return err
	}
	next := h.next
	select {
	case s.handover <- h:
	case <-s.done:
		next.Close()
		return errors.New("configuration reload: serve is stopping")
	}
	<-h.started
	s.cur, s.addrs = next, h.addrs
	s.sh.rmu.Lock()
	s.sh.reloadOK, s.sh.reloadedAt = true, time.Now()
	s.sh.rmu.Unlock()
	next.configApplied(ctx)
	next.log.Info("configuration reloaded", "config", next.cfg.Path)
	return nil
}

// prepare builds the next daemon while old runs.
func (s *Supervisor) prepare(old *Daemon) (*handover, error) {
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	if err := restartOnly(old.cfg, cfg); err != nil {
		return nil, err
	}
	next, err := New(cfg, s.o)
	main, addrs := s.sh.takePending()
	if err != nil {
		return nil, err
	}
	// Listen on new http source addresses now, so a port in use refuses
	// the reload instead of stopping the daemon once it runs.
	for _, addr := range addrs {
		if _, err := s.sh.socket(addr); err != nil {
			next.Close()
			s.sh.retain(s.addrs)
			return nil, &ConfigError{fmt.Errorf("%s: sources: listen %s: %w", cfg.Path, addr, err)}
		}
	}
	return &handover{next: next, main: main, addrs: addrs, started: make(chan struct{})}, nil
}

// failed reports a reload that changed nothing: every problem at error
// level, the gauge, and bg.source for ConfigSource.
func (s *Supervisor) failed(ctx context.Context, old *Daemon, err error) {
	s.sh.rmu.Lock()
	s.sh.reloadOK = false
	s.sh.rmu.Unlock()
	problems := reloadProblems(err)
	for _, p := range problems {
		old.log.Error("configuration reload failed; the previous configuration is still running", "problem", p)
	}
	detail := fmt.Sprintf("%s was not applied (%d problem(s)), the previous configuration is still running: %s; fix the file and send SIGHUP again (breakglass config check -c %s shows every problem)",
		old.cfg.Path, len(problems), strings.Join(problems, "; "), old.cfg.Path)
	old.pipeline.Health().Failing(ctx, ConfigSource, configKey, errors.New(detail))
}

// reloadProblems splits a reload error into one line per problem.
func reloadProblems(err error) []string {
	var list config.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = e.Error()
		}
		return out
	}
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// RestartRequiredError names the keys a reload cannot change.
type RestartRequiredError struct {
	Path string
	Keys []string
}

func (e *RestartRequiredError) Error() string {
	return fmt.Sprintf("%s: %s changed, which a running serve cannot apply: restart serve to apply the new configuration (nothing of it was applied)",
		e.Path, strings.Join(e.Keys, ", "))
}

// restartOnly refuses a new configuration that changes what a generation
// does not own: the store and server.listen.
func restartOnly(old, cfg *config.Config) error {
	var keys []string
	if old.Server.Listen != cfg.Server.Listen {
		keys = append(keys, "server.listen")
	}
	o, n := old.Store, cfg.Store
	if o.Driver != n.Driver {
		keys = append(keys, "store.driver")
	}
	if o.Path != n.Path {
		keys = append(keys, "store.path")
	}
	if o.DSNFile != n.DSNFile {
		keys = append(keys, "store.dsn_file")
	}
	if o.ConnString().Reveal() != n.ConnString().Reveal() {
		keys = append(keys, "store.dsn")
	}
	if len(keys) == 0 {
		return nil
	}
	return &RestartRequiredError{Path: cfg.Path, Keys: keys}
}

// socket is one listening socket shared by the generations: a single
// accept loop hands each connection to the generation's listener that is
// active, and holds it while none is (during a handover).
type socket struct {
	raw net.Listener

	mu      sync.Mutex
	cur     *vlistener
	changed chan struct{} // closed and replaced when cur changes
	closed  chan struct{}
	once    sync.Once
}

func newSocket(addr string) (*socket, error) {
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &socket{raw: raw, changed: make(chan struct{}), closed: make(chan struct{})}
	go s.loop()
	return s, nil
}

// listener makes a listener for one generation; it gets connections once
// activated.
func (s *socket) listener() *vlistener {
	return &vlistener{addr: s.raw.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
}

func (s *socket) activate(vl *vlistener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = vl
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *socket) close() {
	s.once.Do(func() {
		close(s.closed)
		s.raw.Close()
	})
}

func (s *socket) loop() {
	var backoff time.Duration
	for {
		c, err := s.raw.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as
			// http.Server does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			slog.Warn("accept failed; retrying", "addr", s.raw.Addr().String(), "error", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.deliver(c)
	}
}

// deliver hands c to the active listener, waiting through handovers.
func (s *socket) deliver(c net.Conn) {
	for {
		s.mu.Lock()
		vl, changed := s.cur, s.changed
		s.mu.Unlock()
		var conns chan net.Conn
		var done chan struct{}
		if vl != nil {
			conns, done = vl.conns, vl.done
		}
		select {
		case conns <- c:
			return
		case <-done:
			// Stopped; wait for its successor.
			select {
			case <-changed:
			case <-s.closed:
				c.Close()
				return
			}
		case <-changed:
		case <-s.closed:
			c.Close()
			return
		}
	}
}

// vlistener is one generation's view of a socket: Close ends only it.
type vlistener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *vlistener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *vlistener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *vlistener) Addr() net.Addr { return l.addr }
