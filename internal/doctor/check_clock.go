package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"breakglass/internal/graph"
	"breakglass/internal/notify"
)

func init() { register(60, "clock", true, checkClock) }

// checkClock compares this machine's clock with the Date header of a
// configured HTTPS endpoint: Graph's (its token endpoint's clock is
// Microsoft's), else a webhook channel's host. Only the host's root is
// asked (HEAD /), never a path that may hold a credential.
func checkClock(ctx context.Context, e *Env) []Result {
	ref := clockReference(e)
	if ref == "" {
		return []Result{{Check: "clock", Item: "skew", Status: Skip,
			Detail: "nothing configured to compare against (no graph: and no HTTP channel); check `timedatectl status` by hand"}}
	}
	e.progress("reading the clock of %s", ref)
	cctx, cancel := e.timeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodHead, ref, nil)
	if err != nil {
		return []Result{{Check: "clock", Item: "skew against " + ref, Status: Skip, Detail: err.Error()}}
	}
	before := e.Opts.Now()
	resp, err := e.Opts.HTTP.Do(req)
	after := e.Opts.Now()
	if err != nil {
		return []Result{{Check: "clock", Item: "skew against " + ref, Status: Warn,
			Detail: "could not read its clock: " + rootCause(err).Error(), Fix: "check `timedatectl status` by hand"}}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	theirs, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return []Result{{Check: "clock", Item: "skew against " + ref, Status: Warn,
			Detail: "its answer has no usable Date header", Fix: "check `timedatectl status` by hand"}}
	}
	mid := before.Add(after.Sub(before) / 2)
	skew := mid.Sub(theirs)
	// Date has one-second resolution: up to a second is no finding.
	abs := skew.Abs().Truncate(time.Second)
	r := Result{Check: "clock", Item: "skew against " + ref}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	if abs > e.Opts.MaxSkew {
		r.Status = Fail
		r.Detail = fmt.Sprintf("this machine's clock is %s %s %s (more than %s): token lifetimes, signed acknowledge links and the times in pages go wrong",
			abs, dir, ref, e.Opts.MaxSkew)
		r.Fix = "turn on time synchronisation: `timedatectl set-ntp true` (systemd-timesyncd or chrony), then check `timedatectl status` says synchronized"
		return []Result{r}
	}
	r.Status, r.Detail = OK, fmt.Sprintf("within %s of %s (off by %s)", e.Opts.MaxSkew, ref, abs)
	return []Result{r}
}

// clockReference is the root URL of the endpoint to compare with.
func clockReference(e *Env) string {
	root := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return ""
		}
		return u.Scheme + "://" + u.Host + "/"
	}
	if e.graph != nil {
		return root(e.graph.base)
	}
	if e.Cfg.Graph.Configured() {
		base := e.Cfg.Graph.BaseURL
		if base == "" {
			base = graph.Clouds()[e.Cfg.Graph.Cloud].GraphBaseURL
		}
		return root(base)
	}
	for _, g := range e.Cfg.Notify.Groups {
		for _, ch := range g.Channels {
			var raw string
			switch c := ch.Settings.(type) {
			case *notify.WebhookConfig:
				raw = c.URL.Reveal()
			case *notify.SlackConfig:
				raw = c.URL.Reveal()
			case *notify.TeamsConfig:
				raw = c.URL.Reveal()
			case *notify.PagerDutyConfig:
				raw = c.URL
			case *notify.OpsgenieConfig:
				raw = c.URL
			}
			if r := root(raw); r != "" {
				return r
			}
		}
	}
	return ""
}
