package daemon

import (
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"breakglass/internal/ack"
	"breakglass/internal/auth"
	"breakglass/internal/oidc"
)

// listenTLS makes server.listen speak HTTPS when server.tls_cert and
// server.tls_key are set (config has checked that they load).
func (d *Daemon) listenTLS() error {
	tc, err := d.cfg.Server.LoadTLS()
	if err != nil {
		return configErrorf("%s: server.tls_cert, server.tls_key: %v", d.cfg.Path, err)
	}
	if tc != nil {
		d.ln = tls.NewListener(d.ln, tc)
	}
	return nil
}

// mountAuth mounts sign-in, sign-out and the JSON API's routes on mux, and
// returns the handler the server serves: mux behind auth's middleware,
// which sets the security headers of every response and finds who a
// request is from. Routes mounted elsewhere (ack links, webhooks, health,
// metrics) keep their own credentials.
func (d *Daemon) mountAuth(mux *http.ServeMux) (http.Handler, error) {
	log := d.log.With("part", "auth")
	o := auth.Options{Store: d.st, Logger: log, Now: d.o.Now, TLS: d.cfg.Server.TLS(), Home: "/"}
	if d.cfg.Server.OIDC != nil {
		o.ProviderLogin = oidc.PathLogin
	}
	svc, err := auth.New(o)
	if err != nil {
		return nil, err
	}
	svc.Register(mux)
	acker := ack.New(ack.Options{Store: d.st, Logger: d.log.With("part", "ack"), Now: d.o.Now, TestID: isTestID})
	if err := d.mountDashboard(mux, svc, acker); err != nil { // dashboard.go
		return nil, err
	}
	// Sessions are refused once they end; this removes the rows of those
	// nobody came back to.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := d.o.Now()
	if n, err := d.st.DeleteExpiredSessions(ctx, now, now.Add(-auth.DefaultIdleTimeout)); err != nil {
		log.Warn("removing ended sessions", "error", err)
	} else if n > 0 {
		log.Info("removed ended sessions", "count", n)
	}
	users, err := d.st.Users(ctx)
	if err != nil {
		log.Warn("reading users", "error", err)
	} else if len(users) == 0 {
		log.Info("no dashboard users yet: create the first admin with breakglass users add NAME --role admin")
	}
	return svc.Middleware(mux), nil
}
