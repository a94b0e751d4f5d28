package daemon

import (
	"net/http"
	"strings"
	"time"

	"breakglass/internal/ack"
	"breakglass/internal/config"
)

// ackSigner is the signer of notify.ack's links, or nil when they are off.
// Config has validated the secret, base URL and lifetime, so an error here
// is a bug, reported as a configuration error rather than ignored.
func ackSigner(cfg *config.Config, now func() time.Time) (*ack.Signer, error) {
	a := cfg.Notify.Ack
	if !a.Links() {
		return nil, nil
	}
	s, err := ack.NewSigner([]byte(a.Secret.Reveal()), a.BaseURL, a.TTL, now)
	if err != nil {
		return nil, configErrorf("%s: notify.ack: %v", cfg.Path, err)
	}
	return s, nil
}

// ackURLOf is the renderer's AckURL: every channel's message carries the
// signed link, or, with links off, nil (messages then tell people to run
// breakglass alerts ack).
func ackURLOf(cfg *config.Config) (func(alertID string) string, error) {
	s, err := ackSigner(cfg, time.Now)
	if s == nil || err != nil {
		return nil, err
	}
	return s.URL, nil
}

// mountAck serves the acknowledge links and the PagerDuty and Opsgenie
// webhooks on the daemon's endpoint (server.listen). Each is mounted
// always and answers 404 naming its setting while off, so a mistyped URL
// and a missing secret are told apart.
func (d *Daemon) mountAck(mux *http.ServeMux) error {
	o := ack.Options{Store: d.st, Logger: d.log.With("part", "ack"), Now: d.o.Now, TestID: isTestID}
	if a := d.cfg.Notify.Ack; a != nil {
		s, err := ackSigner(d.cfg, d.o.Now)
		if err != nil {
			return err
		}
		o.Signer = s
		o.PagerDutySecret = a.PagerDutySecret.Reveal()
		o.OpsgenieToken = a.OpsgenieToken.Reveal()
		d.log.Info("acknowledgements", "links", s != nil, "base_url", a.BaseURL,
			"pagerduty_webhook", o.PagerDutySecret != "", "opsgenie_webhook", o.OpsgenieToken != "")
	}
	ack.New(o).Register(mux)
	return nil
}

// testIDPrefix starts the alert id of every drill (TestNotification), which
// is never stored.
const testIDPrefix = "test-"

func isTestID(id string) bool { return strings.HasPrefix(id, testIDPrefix) }
