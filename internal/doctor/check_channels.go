package doctor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/notify"
)

func init() { register(50, "channels", true, checkChannels) }

// prober is a channel configuration with a dry run (notify's probe_*.go):
// reach the endpoint, send nothing.
type prober interface {
	Probe(ctx context.Context) error
}

// checkChannels dry-runs every channel of every group; with Send it then
// sends a test notification through each group, as `notify test` does.
func checkChannels(ctx context.Context, e *Env) []Result {
	cfg := e.Cfg
	var out []Result
	for gi, g := range cfg.Notify.Groups {
		for i, ch := range g.Channels {
			key := fmt.Sprintf("notify.groups[%d].channels[%d]", gi, i)
			r := Result{Check: "channels", Item: fmt.Sprintf("%s (%s) dry run", g.Target(i), ch.Type)}
			p, ok := ch.Settings.(prober)
			if !ok {
				r.Status, r.Detail = Warn, fmt.Sprintf("type %s has no dry run: nothing proves it reaches anyone", ch.Type)
				r.Fix = fmt.Sprintf("run `breakglass doctor -c %s --send` (or `breakglass notify test --group %s`) to send a test", cfg.Path, g.Name)
				out = append(out, r)
				continue
			}
			e.progress("dry run of %s", g.Target(i))
			timeout := ch.Timeout
			if timeout <= 0 {
				timeout = e.Opts.Timeout
			}
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := p.Probe(pctx)
			cancel()
			switch {
			case err != nil:
				r.Status, r.Detail, r.Fix = Fail, err.Error(), probeFix(err, ch, key)
			case ch.Type == config.ChannelConsole:
				r.Status, r.Detail = OK, "writes to serve's own output (the journal under systemd): nothing to reach"
			default:
				r.Status, r.Detail = OK, "reachable, nothing sent"
			}
			out = append(out, r)
		}
	}
	if !e.Opts.Send {
		return out
	}
	log := slog.New(slog.DiscardHandler)
	for _, g := range cfg.Notify.Groups {
		e.progress("sending a test notification to group %s", g.Name)
		n := daemon.TestNotification(g.Name, e.Opts.Severity, e.Opts.Now())
		results, err := daemon.SendTest(ctx, cfg, g.Name, n, e.Opts.Console, log)
		if err != nil {
			out = append(out, Result{Check: "channels", Item: fmt.Sprintf("group %s test send", g.Name), Status: Fail,
				Detail: err.Error(), Fix: "correct the channels the error names"})
			continue
		}
		for _, tr := range results {
			r := Result{Check: "channels", Item: fmt.Sprintf("%s (%s) test send", tr.Target, tr.Type)}
			if tr.Err != nil {
				r.Status, r.Detail = Fail, tr.Err.Error()
				r.Fix = fmt.Sprintf("fix the channel, then `breakglass notify test -c %s --group %s`", cfg.Path, g.Name)
			} else {
				r.Status, r.Detail = OK, fmt.Sprintf("test notification %s accepted: check that it arrived", n.ID)
			}
			out = append(out, r)
		}
	}
	return out
}

// probeFix says what to do for the stage a dry run failed at.
func probeFix(err error, ch config.ChannelConfig, key string) string {
	var pe *notify.ProbeError
	if !errors.As(err, &pe) {
		return "correct " + key
	}
	host, port, _ := net.SplitHostPort(pe.Addr)
	hostKey, tlsHint := key+".url", ""
	if ch.Type == "email" {
		hostKey = key + ".host and .port"
		tlsHint = " (email: tls starttls is port 587, implicit port 465)"
	}
	switch pe.Stage {
	case notify.ProbeDNS:
		return fmt.Sprintf("%s does not resolve from this machine: correct %s, or fix DNS here (`getent hosts %s`)", host, hostKey, host)
	case notify.ProbeConnect:
		return fmt.Sprintf("nothing accepts connections at %s: check %s%s, that the server runs, and that a firewall or proxy lets this machine reach it (`nc -vz %s %s`)",
			pe.Addr, hostKey, tlsHint, host, port)
	case notify.ProbeTLS:
		return fmt.Sprintf("TLS with %s failed: check that the port speaks TLS as configured%s and that its certificate is valid for %s "+
			"(`openssl s_client -connect %s`); a private CA goes in ca_file", pe.Addr, tlsHint, host, pe.Addr)
	case notify.ProbeProtocol:
		return fmt.Sprintf("the server at %s refused the session: check %s.username and .password, and that this is the right server", pe.Addr, key)
	case notify.ProbeLocal:
		return fmt.Sprintf("correct %s: the program must exist and be executable by the user that runs serve (`ls -l %s`)", key, pe.Addr)
	}
	return "correct " + key
}
