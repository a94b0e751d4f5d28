package ack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"breakglass/internal/store"
)

func readLimited(w http.ResponseWriter, r *http.Request, n int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, n))
}

// --- PagerDuty V3 webhooks ---

// PagerDutyEvent is what breakglass reads of a PagerDuty V3 webhook
// payload: {"event": {"id", "event_type", "resource_type", "occurred_at",
// "agent": {"id", "summary", ...}, "data": {"id", "incident_key", ...}}}.
type PagerDutyEvent struct {
	ID         string    `json:"id"`
	Type       string    `json:"event_type"`
	Resource   string    `json:"resource_type"`
	OccurredAt time.Time `json:"-"`
	Agent      struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"agent"`
	Data struct {
		ID          string `json:"id"`
		IncidentKey string `json:"incident_key"`
		HTMLURL     string `json:"html_url"`
	} `json:"data"`
}

// PagerDutyAcknowledged is the event type that acknowledges.
const PagerDutyAcknowledged = "incident.acknowledged"

// DecodePagerDuty reads a webhook body. Fields of the wrong type are
// errors (the sender is not PagerDuty, or something changed); unknown
// fields are ignored, as PagerDuty adds them.
func DecodePagerDuty(body []byte) (PagerDutyEvent, error) {
	var env struct {
		Event *struct {
			PagerDutyEvent
			OccurredAt string `json:"occurred_at"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return PagerDutyEvent{}, fmt.Errorf("not a PagerDuty webhook payload: %w", jsonError(err))
	}
	if env.Event == nil {
		return PagerDutyEvent{}, errors.New(`not a PagerDuty V3 webhook payload: no "event" object`)
	}
	ev := env.Event.PagerDutyEvent
	if t, err := time.Parse(time.RFC3339Nano, env.Event.OccurredAt); err == nil {
		ev.OccurredAt = t.UTC()
	}
	return ev, nil
}

// VerifyPagerDuty checks an X-PagerDuty-Signature header ("v1=HEX", several
// separated by commas while a secret is rotated) against body: true when
// one v1 signature is the HMAC-SHA256 of body under secret. Each is
// compared in constant time.
func VerifyPagerDuty(body []byte, header, secret string) bool {
	if secret == "" {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := m.Sum(nil)
	ok := false
	for _, part := range strings.Split(header, ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !found {
			continue
		}
		got, err := hex.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	return ok
}

func (h *Handler) pagerduty(w http.ResponseWriter, r *http.Request) {
	if h.o.PagerDutySecret == "" {
		reply(w, http.StatusNotFound, "PagerDuty acknowledgements are off on this daemon: set notify.ack.pagerduty_secret to the webhook subscription's secret")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	sig := r.Header.Get("X-PagerDuty-Signature")
	if !VerifyPagerDuty(body, sig, h.o.PagerDutySecret) {
		why := "does not match notify.ack.pagerduty_secret"
		if sig == "" {
			why = "is missing"
		}
		h.o.Logger.Warn("PagerDuty webhook refused: signature "+why, "remote", r.RemoteAddr)
		reply(w, http.StatusUnauthorized, "X-PagerDuty-Signature %s: nothing recorded", why)
		return
	}
	ev, err := DecodePagerDuty(body)
	if err != nil {
		reply(w, http.StatusBadRequest, "%v", err)
		return
	}
	if ev.Type != PagerDutyAcknowledged {
		reply(w, http.StatusOK, "event %s ignored: only %s acknowledges", clean(ev.Type, 100), PagerDutyAcknowledged)
		return
	}
	id := ev.Data.IncidentKey
	if !ValidID(id) {
		reply(w, http.StatusNotFound, "incident %s has no breakglass alert id as its incident key: not a breakglass incident", clean(ev.Data.ID, 100))
		return
	}
	by := clean(ev.Agent.Summary, maxName)
	if by == "" {
		by = clean(ev.Agent.ID, maxName)
	}
	if by == "" {
		by = "PagerDuty"
	}
	note := "PagerDuty incident " + clean(ev.Data.ID, 100)
	if u := clean(ev.Data.HTMLURL, 300); u != "" {
		note += " " + u
	}
	h.webhookAck(w, r, store.StateChange{AlertID: id, By: by, Via: store.ViaPagerDuty, Note: note, At: h.when(ev.OccurredAt)})
}

// when is the time a webhook says the acknowledgement happened, unless it
// is unset or implausible (in the future, or over a week old: a replay);
// then now.
func (h *Handler) when(t time.Time) time.Time {
	now := h.o.Now()
	if t.IsZero() || t.After(now.Add(5*time.Minute)) || t.Before(now.Add(-7*24*time.Hour)) {
		return now
	}
	return t
}

// --- Opsgenie outgoing webhooks ---

// OpsgenieAction is what breakglass reads of an Opsgenie webhook
// integration's alert action data: {"action", "alert": {"alertId",
// "alias", "username", "tinyId", ...}, "source": {"name", "type"}}.
type OpsgenieAction struct {
	Action string `json:"action"`
	Alert  struct {
		AlertID  string `json:"alertId"`
		Alias    string `json:"alias"`
		Username string `json:"username"`
		TinyID   string `json:"tinyId"`
	} `json:"alert"`
	Source struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"source"`
}

// OpsgenieAcknowledge is the action that acknowledges.
const OpsgenieAcknowledge = "Acknowledge"

// DecodeOpsgenie reads a webhook body.
func DecodeOpsgenie(body []byte) (OpsgenieAction, error) {
	var a OpsgenieAction
	if err := json.Unmarshal(body, &a); err != nil {
		return OpsgenieAction{}, fmt.Errorf("not an Opsgenie webhook payload: %w", jsonError(err))
	}
	if a.Action == "" {
		return OpsgenieAction{}, errors.New(`not an Opsgenie webhook payload: no "action"`)
	}
	return a, nil
}

// OpsgenieTokenHeader carries the shared token (a custom header of the
// Opsgenie webhook integration).
const OpsgenieTokenHeader = "X-Breakglass-Token"

func (h *Handler) opsgenie(w http.ResponseWriter, r *http.Request) {
	if h.o.OpsgenieToken == "" {
		reply(w, http.StatusNotFound, "Opsgenie acknowledgements are off on this daemon: set notify.ack.opsgenie_token and send it in the %s header", OpsgenieTokenHeader)
		return
	}
	tok := r.Header.Get(OpsgenieTokenHeader)
	if tok == "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tok = strings.TrimSpace(b)
		}
	}
	if !tokenEqual(tok, h.o.OpsgenieToken) {
		why := "does not match notify.ack.opsgenie_token"
		if tok == "" {
			why = "is missing"
		}
		h.o.Logger.Warn("Opsgenie webhook refused: token "+why, "remote", r.RemoteAddr)
		reply(w, http.StatusUnauthorized, "%s %s: nothing recorded", OpsgenieTokenHeader, why)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	a, err := DecodeOpsgenie(body)
	if err != nil {
		reply(w, http.StatusBadRequest, "%v", err)
		return
	}
	if a.Action != OpsgenieAcknowledge {
		reply(w, http.StatusOK, "action %s ignored: only %s acknowledges", clean(a.Action, 100), OpsgenieAcknowledge)
		return
	}
	id := a.Alert.Alias
	if !ValidID(id) {
		reply(w, http.StatusNotFound, "Opsgenie alert %s has no breakglass alert id as its alias: not a breakglass alert", clean(a.Alert.TinyID, 100))
		return
	}
	by := clean(a.Alert.Username, maxName)
	if by == "" {
		by = clean(a.Source.Name, maxName)
	}
	if by == "" {
		by = "Opsgenie"
	}
	note := "Opsgenie alert"
	if t := clean(a.Alert.TinyID, 50); t != "" {
		note += " #" + t
	}
	if ogID := clean(a.Alert.AlertID, 100); ogID != "" {
		note += " (" + ogID + ")"
	}
	h.webhookAck(w, r, store.StateChange{AlertID: id, By: by, Via: store.ViaOpsgenie, Note: note, At: h.o.Now()})
}

// jsonError keeps what a JSON error says about where, not the bytes.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s is a JSON %s, want %s (offset %d)", te.Field, te.Value, te.Type, te.Offset)
	}
	return errors.New("invalid JSON")
}
