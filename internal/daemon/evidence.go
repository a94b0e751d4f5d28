package daemon

import (
	"context"
	"time"

	"breakglass/internal/evidence"
)

// evidenceSource names the evidence-head publisher in bg.source alerts: a
// head that cannot be published, or a log that lost its published head,
// is a failure of the monitor itself and must reach people.
const evidenceSource = "evidence"

// evidenceTimeout bounds raising or clearing the publisher's alert.
const evidenceTimeout = 5 * time.Second

// setupEvidence builds the head publisher (evidence.heads_file, signed with
// evidence.signing_key when set). An unreadable key refuses the start: the
// operator asked for signed heads. A log that no longer holds the last
// published head is raised as bg.source, and the daemon runs on.
func (d *Daemon) setupEvidence(ctx context.Context) error {
	ec := d.cfg.Evidence
	p := &evidence.Publisher{Log: d.st, File: ec.HeadsFile, Logger: d.log, Now: d.o.Now}
	if ec.SigningKey != "" {
		k, err := evidence.LoadPrivateKey(ec.SigningKey)
		if err != nil {
			return configErrorf("evidence.signing_key: %v (make one with: breakglass evidence keygen --out FILE)", err)
		}
		p.Key = k
	}
	health := d.pipeline.Health()
	p.Failing = func(err error) {
		c, cancel := context.WithTimeout(context.Background(), evidenceTimeout)
		defer cancel()
		health.Failing(c, evidenceSource, "heads", err)
	}
	p.Recovered = func() {
		c, cancel := context.WithTimeout(context.Background(), evidenceTimeout)
		defer cancel()
		health.Recovered(c, evidenceSource, "heads")
	}
	if err := p.Start(ctx); err != nil {
		d.log.Error("evidence log", "error", err)
		health.Failing(ctx, evidenceSource, "log", err)
	} else {
		health.Recovered(ctx, evidenceSource, "log")
	}
	d.heads = p
	return nil
}

// evidenceHead is the evidence log's head for messages ("SEQ:HASH"), read
// from the store when a message is rendered, so every page carries a copy
// of the head outside the store. A store that cannot say gives "": the
// page goes out without the line rather than late.
func (d *Daemon) evidenceHead() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, ok, err := d.st.LogHead(ctx)
	if err != nil || !ok {
		return ""
	}
	return evidence.HeadRef{Seq: e.Seq, Hash: e.Hash}.String()
}
