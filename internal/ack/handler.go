package ack

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Limits on what a request may carry.
const (
	// MaxFormBody bounds the POST of the acknowledge form (a name, a note).
	MaxFormBody = 16 << 10
	// MaxWebhookBody bounds a PagerDuty or Opsgenie webhook body; theirs
	// are a few kilobytes.
	MaxWebhookBody = 1 << 20
	// maxName and maxNote bound what is recorded, in runes.
	maxName = 100
	maxNote = 500
	// LinkBy is recorded when the form is sent without a name.
	LinkBy = "ack link"
)

// Store is what acknowledging needs from the store.
type Store interface {
	Alert(ctx context.Context, id string) (alert.Alert, error)
	ChangeAlertState(ctx context.Context, c store.StateChange) (bool, error)
	StateChanges(ctx context.Context, id string) ([]store.StateChange, error)
	// Alerts finds the other firing alerts of the same account, which one
	// link does not acknowledge (see othersFiring).
	Alerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error)
}

// Options configure the handlers. Each way of acknowledging is off unless
// its credential is set.
type Options struct {
	Store Store
	// Signer checks links; nil turns them off.
	Signer *Signer
	// PagerDutySecret verifies X-PagerDuty-Signature; "" turns the
	// PagerDuty webhook off.
	PagerDutySecret string
	// OpsgenieToken must come in X-Breakglass-Token or Authorization:
	// Bearer; "" turns the Opsgenie webhook off.
	OpsgenieToken string
	Logger        *slog.Logger
	Now           func() time.Time
	// Acked is called after an alert was acknowledged (not for a repeat).
	Acked func(alertID string)
	// TestID reports whether an alert id is a drill's (breakglass notify
	// test), which is never stored: its link then says the drill reached
	// this page instead of "unknown alert".
	TestID func(alertID string) bool
}

// Paths the handlers are mounted at.
const (
	PathLink      = "/ack/{id}"
	PathPagerDuty = "/hooks/pagerduty"
	PathOpsgenie  = "/hooks/opsgenie"
)

// Handler serves acknowledgements.
type Handler struct{ o Options }

// New returns the handler; Register mounts it.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o}
}

// Register mounts the handlers on mux: GET and POST PathLink, POST
// PathPagerDuty and PathOpsgenie. A way that is off answers 404 saying
// which setting turns it on.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathLink, h.linkGet)
	mux.HandleFunc("POST "+PathLink, h.linkPost)
	mux.HandleFunc("POST "+PathPagerDuty, h.pagerduty)
	mux.HandleFunc("POST "+PathOpsgenie, h.opsgenie)
}

// result is what an acknowledgement attempt came to.
type result struct {
	status int
	a      alert.Alert
	prior  *store.StateChange // who acknowledged before, when already acked
	msg    string
	// changed: this attempt moved the alert to acknowledged.
	changed bool
}

// acknowledge records c (To acknowledged) unless the alert is not firing.
// Acknowledging an acknowledged alert is a no-op that says who did it; a
// resolved one is left resolved.
func (h *Handler) acknowledge(ctx context.Context, c store.StateChange) result {
	log := h.o.Logger.With("alert", c.AlertID, "via", c.Via)
	a, err := h.o.Store.Alert(ctx, c.AlertID)
	if errors.Is(err, store.ErrNotFound) && h.o.TestID != nil && h.o.TestID(c.AlertID) {
		// A drill's incident acknowledged in PagerDuty or Opsgenie: the
		// callback works; there is nothing to record.
		return result{status: http.StatusOK, msg: "This is a test notification (breakglass notify test): the acknowledgement reached breakglass; there is nothing to record."}
	}
	if errors.Is(err, store.ErrNotFound) {
		return result{status: http.StatusNotFound, msg: fmt.Sprintf("No alert %s is stored here. It may belong to another breakglass daemon, or the store was replaced.", c.AlertID)}
	}
	if err != nil {
		log.Error("acknowledge: reading the alert", "error", err)
		return result{status: http.StatusServiceUnavailable, msg: "The store could not be read, so nothing was recorded. Try again, or run: breakglass alerts ack " + c.AlertID + " --by NAME"}
	}
	c.To = alert.StateAcknowledged
	if a.State == alert.StateResolved {
		return result{status: http.StatusOK, a: a, msg: "This alert is already resolved; there is nothing to acknowledge."}
	}
	changed, err := h.o.Store.ChangeAlertState(ctx, c)
	switch {
	case errors.Is(err, store.ErrStateTransition):
		return result{status: http.StatusOK, a: a, msg: "This alert was resolved meanwhile; there is nothing to acknowledge."}
	case err != nil:
		log.Error("acknowledge: recording it", "error", err)
		return result{status: http.StatusServiceUnavailable, a: a, msg: "The acknowledgement could not be recorded, so escalation goes on. Try again, or run: breakglass alerts ack " + c.AlertID + " --by NAME"}
	}
	a.State = alert.StateAcknowledged
	if !changed {
		r := result{status: http.StatusOK, a: a, msg: "Already acknowledged."}
		if p := h.lastAck(ctx, c.AlertID); p != nil {
			r.prior = p
			r.msg = "Already acknowledged by " + describeAck(*p) + "."
		}
		return r
	}
	log.Info("alert acknowledged", "by", c.By, "at", c.At.UTC())
	if h.o.Acked != nil {
		h.o.Acked(c.AlertID)
	}
	return result{status: http.StatusOK, a: a, changed: true, msg: "Acknowledged by " + c.By + " at " + c.At.UTC().Format(pageTime) + ". Escalation to the next group has stopped."}
}

// lastAck is the most recent move to acknowledged, or nil.
func (h *Handler) lastAck(ctx context.Context, id string) *store.StateChange {
	cs, err := h.o.Store.StateChanges(ctx, id)
	if err != nil {
		return nil
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].To == alert.StateAcknowledged {
			return &cs[i]
		}
	}
	return nil
}

// annMuted is the annotation of a muted alert (watch.AnnMuted; ack does
// not import watch): muted alerts were notified to nobody and do not
// escalate.
const annMuted = "muted"

// maxOthers bounds the other alerts counted.
const maxOthers = 1000

// othersFiring counts the alerts of a's account, other than a, that are
// firing and not muted: they escalate whatever happens to a. A coalesced
// message carries one link, its most severe alert's, and whoever follows
// it must not think the whole burst is taken. A store error counts none
// (the page still acknowledges), logged.
func (h *Handler) othersFiring(ctx context.Context, a alert.Alert) int {
	return len(h.othersFiringList(ctx, a))
}

// othersFiringList is those alerts (at most maxOthers+1).
func (h *Handler) othersFiringList(ctx context.Context, a alert.Alert) []alert.Alert {
	f := store.AlertFilter{State: alert.StateFiring, AccountID: a.AccountID, Limit: maxOthers + 1}
	if a.AccountID == "" {
		if a.AccountUPN == "" {
			return nil
		}
		f.AccountID, f.Labels = "", map[string]string{alert.LabelAccount: a.AccountUPN}
	}
	as, err := h.o.Store.Alerts(ctx, f)
	if err != nil {
		h.o.Logger.Warn("acknowledge page: counting the account's other firing alerts", "alert", a.ID, "error", err)
		return nil
	}
	var out []alert.Alert
	for _, o := range as {
		if o.ID != a.ID && o.Annotations[annMuted] == "" {
			out = append(out, o)
		}
	}
	return out
}

// othersText says how many other alerts of the account are firing.
func othersText(n int, after bool) string {
	if n == 0 {
		return ""
	}
	what := strconv.Itoa(n) + " other alerts for this account are"
	if n == 1 {
		what = "1 other alert for this account is"
	}
	if n > maxOthers {
		what = "More than " + strconv.Itoa(maxOthers) + " other alerts for this account are"
	}
	if !after {
		return what + " firing too (a coalesced message carries one link for all of them): tick the box below to acknowledge them with this one."
	}
	return what + " still firing and still escalate: open this link again and tick \"also acknowledge\", or on the breakglass host run breakglass alerts list --state firing, then breakglass alerts ack ID --by NAME."
}

func describeAck(c store.StateChange) string {
	s := c.By
	if s == "" {
		s = "someone"
	}
	if c.Via != "" {
		s += " (" + c.Via + ")"
	}
	return s + " at " + c.At.UTC().Format(pageTime)
}

const pageTime = "2006-01-02 15:04:05 UTC"

// clean makes text someone typed or a remote service sent fit to record
// and print: valid UTF-8, no control characters, spaces collapsed, at most
// n runes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}

// --- links ---

func (h *Handler) verifyLink(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if h.o.Signer == nil {
		h.page(w, http.StatusNotFound, pageData{Heading: "Acknowledge links are off", Message: "This daemon has no notify.ack.secret, so it issues and accepts no links.", ID: id})
		return "", false
	}
	_, err := h.o.Signer.Verify(id, r.URL.RawQuery)
	if err == nil {
		return id, true
	}
	d := pageData{ID: id, Message: capitalize(err.Error()) + "."}
	if !ValidID(id) {
		d.ID = ""
	}
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrExpired):
		status, d.Heading = http.StatusGone, "This link has expired"
	case errors.Is(err, ErrBadSignature):
		status, d.Heading = http.StatusForbidden, "This link is not valid"
	default:
		d.Heading = "This link is incomplete"
	}
	h.o.Logger.Warn("acknowledge link refused", "status", status, "reason", err, "remote", r.RemoteAddr)
	h.page(w, status, d)
	return "", false
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// linkGet shows the alert and the form. It never acknowledges: mail
// scanners (Safe Links) and chat previews open every link they see.
func (h *Handler) linkGet(w http.ResponseWriter, r *http.Request) {
	id, ok := h.verifyLink(w, r)
	if !ok {
		return
	}
	a, err := h.o.Store.Alert(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) && h.o.TestID != nil && h.o.TestID(id) {
		h.page(w, http.StatusOK, testPage(id))
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		h.page(w, http.StatusNotFound, pageData{Heading: "Unknown alert", ID: id, Message: "No alert " + id + " is stored here. It may belong to another breakglass daemon, or the store was replaced."})
		return
	}
	if err != nil {
		h.o.Logger.Error("acknowledge page: reading the alert", "alert", id, "error", err)
		h.page(w, http.StatusServiceUnavailable, pageData{Heading: "Cannot read the alert", ID: id, Message: "The store could not be read. Try again, or run: breakglass alerts ack " + id + " --by NAME"})
		return
	}
	d := pageData{Alert: &a, ID: id}
	switch a.State {
	case alert.StateAcknowledged:
		d.Heading = "Already acknowledged"
		if p := h.lastAck(r.Context(), id); p != nil {
			d.Message = "Acknowledged by " + describeAck(*p) + "."
		}
	case alert.StateResolved:
		d.Heading, d.Message = "Resolved", "This alert is resolved; there is nothing to acknowledge."
	default:
		d.Heading, d.Form = "Acknowledge this alert?", true
		d.OthersN = h.othersFiring(r.Context(), a)
		d.Others = othersText(d.OthersN, false)
	}
	h.page(w, http.StatusOK, d)
}

// linkPost acknowledges, recording the name typed (else LinkBy).
func (h *Handler) linkPost(w http.ResponseWriter, r *http.Request) {
	id, ok := h.verifyLink(w, r)
	if !ok {
		return
	}
	if h.o.TestID != nil && h.o.TestID(id) {
		if _, err := h.o.Store.Alert(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			h.page(w, http.StatusOK, testPage(id))
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, pageData{Heading: "The form could not be read", ID: id, Message: "Nothing was recorded. Go back and send it again."})
		return
	}
	by := clean(r.PostForm.Get("by"), maxName)
	if by == "" {
		by = LinkBy
	}
	res := h.acknowledge(r.Context(), store.StateChange{AlertID: id, By: by, Via: store.ViaLink,
		Note: clean(r.PostForm.Get("note"), maxNote), At: h.o.Now()})
	d := pageData{ID: id, Message: res.msg}
	if res.a.ID != "" {
		d.Alert = &res.a
	}
	switch {
	case res.status == http.StatusNotFound:
		d.Heading = "Unknown alert"
	case res.status != http.StatusOK:
		d.Heading = "Not recorded"
	case res.prior != nil:
		d.Heading = "Already acknowledged"
	case res.a.State == alert.StateAcknowledged:
		d.Heading = "Acknowledged"
		if r.PostForm.Get("all") == "1" {
			// The account's other firing alerts, with the same name and
			// note: the holder of a coalesced message's one link takes
			// the whole burst, as the message asked.
			n := 0
			note := "acknowledged with " + id
			if t := clean(r.PostForm.Get("note"), maxNote); t != "" {
				note = t + " (" + note + ")"
			}
			for _, o := range h.othersFiringList(r.Context(), res.a) {
				if or := h.acknowledge(r.Context(), store.StateChange{AlertID: o.ID, By: by, Via: store.ViaLink, Note: note, At: h.o.Now()}); or.changed {
					n++
				}
			}
			if n > 0 {
				d.Message += fmt.Sprintf(" Also acknowledged %d other firing alert(s) of this account.", n)
			}
		}
		d.Others = othersText(h.othersFiring(r.Context(), res.a), true)
	default:
		d.Heading = "Nothing to acknowledge"
	}
	h.page(w, res.status, d)
}

func testPage(id string) pageData {
	return pageData{Heading: "Test link works", ID: id,
		Message: "This link came with a test notification (breakglass notify test): it reached the daemon and its signature holds, so real alerts' links will work too. There is nothing to acknowledge."}
}

type pageData struct {
	Heading, Message string
	// Others says how many other alerts of the account still fire;
	// OthersN is that number, for the form's "also acknowledge" box.
	Others  string
	OthersN int
	ID      string
	Alert   *alert.Alert
	Form    bool
}

func (d pageData) Account() string {
	if d.Alert == nil {
		return ""
	}
	a := d.Alert
	acct := a.AccountUPN
	if acct == "" {
		acct = a.AccountID
	}
	if a.Account != "" && acct != "" {
		return a.Account + " <" + acct + ">"
	}
	return acct
}

func (d pageData) When() string {
	if d.Alert == nil {
		return ""
	}
	t := d.Alert.EventTime
	if t.IsZero() || d.Alert.EventTimeUnknown {
		t = d.Alert.Detected
	}
	return t.UTC().Format(pageTime)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>breakglass: {{.Heading}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;line-height:1.4}
th{text-align:left;color:#555;font-weight:normal;padding-right:1em;vertical-align:top}
input[type=text]{width:100%;padding:.5em;font-size:1em;box-sizing:border-box}
button{margin-top:1em;padding:.7em 1.6em;font-size:1.1em;font-weight:bold;background:#0b5cad;color:#fff;border:0;border-radius:3px}
.msg{padding:.8em;background:#fff4e5;border-left:4px solid #c25e00}</style></head>
<body><h1>{{.Heading}}</h1>
{{with .Message}}<p class="msg">{{.}}</p>{{end}}
{{with .Others}}<p class="msg"><strong>{{.}}</strong></p>{{end}}
{{with .Alert}}<table>
<tr><th>Alert</th><td>{{.Title}}</td></tr>
<tr><th>Account</th><td>{{$.Account}}</td></tr>
<tr><th>Severity</th><td>{{.Severity}} · rule {{.Rule}}</td></tr>
<tr><th>When</th><td>{{$.When}}</td></tr>
{{with .IPAddress}}<tr><th>From</th><td>{{.}}{{with $.Alert.Location}} · {{.}}{{end}}</td></tr>{{end}}
<tr><th>State</th><td>{{if .State}}{{.State}}{{else}}firing{{end}}</td></tr>
</table>{{end}}
{{if .Form}}<form method="post">
<p><label for="by">Your name (recorded with the acknowledgement)</label><br>
<input type="text" id="by" name="by" maxlength="100" autocomplete="name" autofocus></p>
<p><label for="note">Note (optional)</label><br>
<input type="text" id="note" name="note" maxlength="500"></p>
{{if .OthersN}}<p><label><input type="checkbox" name="all" value="1" checked> Also acknowledge the {{.OthersN}} other firing alert(s) of this account</label></p>{{end}}
<button type="submit">Acknowledge</button>
<p>Acknowledging stops escalation to the next group. It does not end the alert: review what happened.</p>
</form>{{end}}
{{with .ID}}<p style="color:#555;font-size:.9em">Alert {{.}}. From a terminal: <code>breakglass alerts show {{.}}</code>, <code>breakglass alerts ack {{.}} --by NAME</code></p>{{end}}
</body></html>
`))

func (h *Handler) page(w http.ResponseWriter, status int, d pageData) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// The URL is a credential until it expires: not cached, not indexed,
	// not sent on as a Referer, not framed.
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Robots-Tag", "noindex, nofollow")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		h.o.Logger.Warn("acknowledge page: writing", "error", err)
	}
}

// --- shared by the webhooks ---

// reply answers a webhook in plain text: the sender's delivery log shows it.
func reply(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}

// readBody reads at most MaxWebhookBody bytes, answering 413 beyond.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := readLimited(w, r, MaxWebhookBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, "body over %d bytes: refused", MaxWebhookBody)
		} else {
			reply(w, http.StatusBadRequest, "body could not be read")
		}
		return nil, false
	}
	return b, true
}

// tokenEqual compares a presented credential in constant time.
func tokenEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// webhookAck acknowledges for a webhook and answers it. A repeat or a
// resolved alert is 200, so the sender does not retry what is already
// true.
func (h *Handler) webhookAck(w http.ResponseWriter, r *http.Request, c store.StateChange) {
	res := h.acknowledge(r.Context(), c)
	reply(w, res.status, "%s", res.msg)
}
