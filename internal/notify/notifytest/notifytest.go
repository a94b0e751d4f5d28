// Package notifytest provides loopback receivers for every notification
// channel type, for end-to-end tests and benchmarks of the notify path: an
// HTTP receiver that speaks each provider's success answer (Twilio, ntfy,
// Pushover, Teams, Slack, PagerDuty, Opsgenie, webhooks, an SMS gateway),
// a real SMTP server (emersion/go-smtp) with STARTTLS and AUTH PLAIN, and a
// spool directory for the exec channel.
//
// Every receiver records what arrived, when, and under which idempotency
// key (the key the provider would deduplicate on, where the API has one),
// so a test can check at-least-once delivery (every alert arrived) and
// exactly-once processing by a receiver that dedupes on the key. Receivers
// can fail the next N requests, answer 429 with Retry-After, or hold
// requests until released, to put a sender in the middle of a delivery.
package notifytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kind is the provider an HTTP receiver imitates: it decides the success
// answer and where the idempotency key is read.
type Kind string

// Kinds of HTTP receivers.
const (
	// Webhook: breakglass's own body (schema: breakglass); key is the
	// Idempotency-Key header: the body's id (the notification's) on this
	// channel, "<id>.<group/channel>".
	Webhook Kind = "webhook"
	// CommonSchema: the Azure Monitor Common Alert Schema; key is
	// data.essentials.alertId (stable per alert) plus the status, as an
	// Azure-built receiver dedupes: one Fired and one Resolved per alert.
	CommonSchema Kind = "webhook-common"
	// PagerDuty: Events API v2; key is dedup_key plus event_action.
	PagerDuty Kind = "pagerduty"
	// Opsgenie: Alert API v2; key is alias (create) or the alias in the
	// close path.
	Opsgenie Kind = "opsgenie"
	// Twilio: Messages and Calls; no idempotency key.
	Twilio Kind = "twilio"
	// Gateway: an HTTP SMS gateway whose body template puts .ID (the
	// notification's on this channel) in "id"; key is that id plus "to".
	Gateway Kind = "gateway"
	// Ntfy: POST /<topic>; no key.
	Ntfy Kind = "ntfy"
	// Pushover: POST /1/messages.json; no key.
	Pushover Kind = "pushover"
	// Teams: a Workflows webhook; no key.
	Teams Kind = "teams"
	// Slack: an incoming webhook; no key.
	Slack Kind = "slack"
)

// Keyed reports whether the provider's API carries an idempotency key, so
// a deduping receiver can process each notification once.
func (k Kind) Keyed() bool {
	switch k {
	case Webhook, CommonSchema, PagerDuty, Opsgenie, Gateway:
		return true
	}
	return false
}

// MaxBody bounds what a receiver reads of one request.
const MaxBody = 1 << 20

// Request is one request as a receiver saw it.
type Request struct {
	At     time.Time // arrival, before anything was answered
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Text is what a test searches for an alert's id or another token:
	// the body, plus the decoded values of a form body.
	Text string
	// Key is the idempotency key the provider dedupes on ("" when the
	// API has none), Status the HTTP status answered (0: held and then
	// abandoned by the client).
	Key    string
	Status int
	// Processed: the receiver acted on the request (a success answer, or
	// held until the sender went away: a provider that accepted the
	// message and whose answer was lost). Failed answers are not
	// processed: a deduping receiver has not seen the key.
	Processed bool
}

// Receiver is a loopback HTTP server imitating one provider.
type Receiver struct {
	Kind Kind
	URL  string // base URL, to put in a channel's url override
	srv  *httptest.Server

	mu         sync.Mutex
	reqs       []Request
	failN      int
	failStatus int
	retryAfter string
	hold       chan struct{} // non-nil while holding; closed by Release
	held       int           // requests waiting in hold now
	seq        int
}

// NewReceiver starts a receiver of kind on loopback. Close it when done.
func NewReceiver(kind Kind) *Receiver {
	r := &Receiver{Kind: kind}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

// Close stops the server, ending held requests first.
func (r *Receiver) Close() {
	r.Release()
	r.srv.CloseClientConnections()
	r.srv.Close()
}

// FailNext answers the next n requests with status (and a Retry-After
// header with retryAfter when it is not empty), without processing them.
func (r *Receiver) FailNext(n, status int, retryAfter string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failN, r.failStatus, r.retryAfter = n, status, retryAfter
}

// Hold makes requests from now on wait, recorded and processed, until
// Release or until their sender goes away.
func (r *Receiver) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold == nil {
		r.hold = make(chan struct{})
	}
}

// Release answers the held requests and stops holding.
func (r *Receiver) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold != nil {
		close(r.hold)
		r.hold = nil
	}
}

// Held is how many requests are waiting in Hold now.
func (r *Receiver) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// Requests returns a copy of every request so far, in arrival order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		http.Error(w, "body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	rec := Request{At: at, Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body}
	rec.Text, rec.Key = r.decode(req, body)

	r.mu.Lock()
	r.seq++
	seq := r.seq
	if r.failN > 0 {
		r.failN--
		rec.Status = r.failStatus
		r.reqs = append(r.reqs, rec)
		status, ra := r.failStatus, r.retryAfter
		r.mu.Unlock()
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "notifytest: failing on purpose", status)
		return
	}
	i := len(r.reqs)
	rec.Processed = true
	r.reqs = append(r.reqs, rec)
	hold := r.hold
	if hold != nil {
		r.held++
	}
	r.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
		}
		r.mu.Lock()
		r.held--
		r.mu.Unlock()
		if req.Context().Err() != nil {
			return // the sender went away: Status stays 0
		}
	}
	status, ctype, answer := r.answer(req, seq)
	r.mu.Lock()
	r.reqs[i].Status = status
	r.mu.Unlock()
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// decode extracts the searchable text and the idempotency key.
func (r *Receiver) decode(req *http.Request, body []byte) (text, key string) {
	text = string(body)
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil {
			var b strings.Builder
			b.WriteString(text)
			for _, vs := range v {
				for _, s := range vs {
					b.WriteByte('\n')
					b.WriteString(s)
				}
			}
			text = b.String()
		}
	}
	switch r.Kind {
	case Webhook:
		key = req.Header.Get("Idempotency-Key")
	case CommonSchema:
		var p struct {
			Data struct {
				Essentials struct {
					AlertID          string `json:"alertId"`
					MonitorCondition string `json:"monitorCondition"`
				} `json:"essentials"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &p) == nil && p.Data.Essentials.AlertID != "" {
			key = p.Data.Essentials.AlertID + " " + p.Data.Essentials.MonitorCondition
		}
	case PagerDuty:
		var p struct {
			DedupKey    string `json:"dedup_key"`
			EventAction string `json:"event_action"`
		}
		if json.Unmarshal(body, &p) == nil && p.DedupKey != "" {
			key = p.DedupKey + " " + p.EventAction
		}
	case Opsgenie:
		if alias, ok := strings.CutPrefix(req.URL.Path, "/v2/alerts/"); ok && strings.HasSuffix(alias, "/close") {
			key = strings.TrimSuffix(alias, "/close") + " close"
			break
		}
		var p struct {
			Alias string `json:"alias"`
		}
		if json.Unmarshal(body, &p) == nil && p.Alias != "" {
			key = p.Alias + " create"
		}
	case Gateway:
		var p struct {
			ID string `json:"id"`
			To string `json:"to"`
		}
		if json.Unmarshal(body, &p) == nil && p.ID != "" {
			key = p.ID + " " + p.To
		}
	}
	return text, key
}

// answer is the provider's documented success answer.
func (r *Receiver) answer(req *http.Request, seq int) (int, string, string) {
	switch r.Kind {
	case Twilio:
		prefix := "SM"
		if strings.HasSuffix(req.URL.Path, "/Calls.json") {
			prefix = "CA"
		}
		return http.StatusCreated, "application/json", fmt.Sprintf(`{"sid":"%s%032x","status":"queued"}`, prefix, seq)
	case Ntfy:
		return http.StatusOK, "application/json", fmt.Sprintf(`{"id":"nt%010d","event":"message"}`, seq)
	case Pushover:
		return http.StatusOK, "application/json", fmt.Sprintf(`{"status":1,"request":"po-%d"}`, seq)
	case Teams:
		return http.StatusAccepted, "", ""
	case Slack:
		return http.StatusOK, "text/plain", "ok"
	case PagerDuty:
		return http.StatusAccepted, "application/json", `{"status":"success","message":"Event processed"}`
	case Opsgenie:
		return http.StatusAccepted, "application/json", fmt.Sprintf(`{"result":"Request will be processed","took":0.01,"requestId":"og-%d"}`, seq)
	case Gateway:
		return http.StatusOK, "application/json", `"ok"`
	}
	return http.StatusNoContent, "", ""
}

// Tally is what a receiver saw of one alert.
type Tally struct {
	Arrivals  int // requests naming the alert, failed ones included
	Processed int // requests processed (see Request.Processed)
	// Keys counts processed requests per idempotency key: a deduping
	// receiver acts once per key, so len(Keys) is what it acted on and
	// the sum minus len(Keys) the duplicates it dropped.
	Keys  map[string]int
	First time.Time // first processed arrival
}

// Duplicates is how many processed requests a deduping receiver dropped.
func (t Tally) Duplicates() int {
	n := 0
	for _, c := range t.Keys {
		n += c - 1
	}
	return n
}

// Count tallies requests per alert: match names the alert a request is
// about ("" for none).
func Count(reqs []Request, match func(Request) string) map[string]*Tally {
	out := map[string]*Tally{}
	for _, q := range reqs {
		id := match(q)
		if id == "" {
			continue
		}
		t := out[id]
		if t == nil {
			t = &Tally{Keys: map[string]int{}}
			out[id] = t
		}
		t.Arrivals++
		if !q.Processed {
			continue
		}
		t.Processed++
		t.Keys[q.Key]++
		if t.First.IsZero() || q.At.Before(t.First) {
			t.First = q.At
		}
	}
	return out
}

// Containing returns a match function for Count that names the alert whose
// any token occurs in a request's text: tokens maps a token (an alert id,
// a record id, a location only one alert has) to its alert id.
func Containing(tokens map[string]string) func(Request) string {
	return func(q Request) string {
		for tok, id := range tokens {
			if strings.Contains(q.Text, tok) {
				return id
			}
		}
		return ""
	}
}
