package ack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/auth"
	"breakglass/internal/store"
)

// PathAPIAck is the JSON API's acknowledgement (issue 13).
const PathAPIAck = "/api/v1/alerts/{id}/ack"

// Recorder adds a write action to the audit trail (auth.Service).
type Recorder interface {
	Record(r *http.Request, action, target, outcome, detail string) error
}

// APIAckRequest is the optional body of POST PathAPIAck.
type APIAckRequest struct {
	Note string `json:"note"`
}

// APIAlert is the alert as the API shows it after an acknowledgement.
type APIAlert struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Title    string `json:"title,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Severity string `json:"severity,omitempty"`
}

// APIAckResponse answers POST PathAPIAck.
type APIAckResponse struct {
	Alert *APIAlert `json:"alert,omitempty"`
	// Changed is true when this request acknowledged the alert, false when
	// it already was (AcknowledgedBy then says by whom).
	Changed        bool       `json:"changed"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	Message        string     `json:"message"`
}

// APIAck serves POST PathAPIAck: it acknowledges the alert as the
// request's principal (auth.FromContext; mount it behind
// auth.Require(auth.RoleResponder)), through the path the links and the
// CLI use, with Via store.ViaAPI, and records the attempt in rec. The
// body is optional: {"note": "..."}.
func (h *Handler) APIAck(rec Recorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		id := r.PathValue("id")
		if p == nil {
			auth.WriteError(w, r, http.StatusUnauthorized, "unauthenticated", "Sign in, or send an API token as Authorization: Bearer TOKEN.")
			return
		}
		if !ValidID(id) {
			auth.WriteError(w, r, http.StatusBadRequest, "invalid_id", "The alert id is not one breakglass issues (letters, digits, . _ -, at most 128).")
			return
		}
		var req APIAckRequest
		if err := auth.DecodeJSON(w, r, MaxFormBody, &req); err != nil {
			auth.WriteError(w, r, http.StatusBadRequest, "invalid_body", "Nothing was recorded: "+err.Error()+`. Send no body, or {"note": "..."}.`)
			return
		}
		res := h.acknowledge(r.Context(), store.StateChange{AlertID: id, By: clean(p.Actor(), maxName), Via: store.ViaAPI,
			Note: clean(req.Note, maxNote), At: h.o.Now()})
		outcome, code := "ok", ""
		switch {
		case res.status == http.StatusNotFound:
			outcome, code = "failed", "not_found"
		case res.status != http.StatusOK:
			outcome, code = "failed", "store_unavailable"
		case res.a.State == alert.StateResolved:
			outcome, code = "failed", "alert_resolved"
		case !res.changed:
			outcome = "unchanged"
		}
		detail := res.msg
		if req.Note != "" {
			detail += " Note: " + clean(req.Note, maxNote)
		}
		auditErr := rec.Record(r, "alert.ack", id, outcome, detail)
		switch code {
		case "not_found":
			auth.WriteError(w, r, http.StatusNotFound, code, res.msg)
			return
		case "store_unavailable":
			auth.WriteError(w, r, res.status, code, res.msg)
			return
		case "alert_resolved":
			auth.WriteError(w, r, http.StatusConflict, code, res.msg)
			return
		}
		out := APIAckResponse{Changed: res.changed, Message: res.msg}
		if res.a.ID != "" {
			st := res.a.State
			if st == "" {
				st = alert.StateFiring
			}
			out.Alert = &APIAlert{ID: res.a.ID, State: st, Title: res.a.Title, Rule: res.a.Rule, Severity: res.a.Severity.String()}
		}
		if res.prior != nil {
			at := res.prior.At.UTC()
			out.AcknowledgedBy, out.AcknowledgedAt = res.prior.By, &at
		} else if res.changed {
			out.AcknowledgedBy = p.Actor()
		}
		if auditErr != nil {
			// The acknowledgement stands (its state history has who and
			// how); the trail's gap must not pass unseen.
			out.Message = strings.TrimSpace(out.Message + " Warning: the audit trail could not be written; the daemon's log says why.")
		}
		auth.WriteJSON(w, http.StatusOK, out)
	})
}

// ErrResolved is AckAs's refusal of an alert that is resolved.
var ErrResolved = errors.New("the alert is resolved: there is nothing to acknowledge")

// AckAs acknowledges alertID as who, through the same path as the links,
// the CLI and APIAck, recording via (store.ViaAPI for the dashboard and
// the API) and note: the shape of the dashboard's Options.Ack. changed is
// false when it already was acknowledged. An unknown alert is an error
// wrapping store.ErrNotFound, a resolved one ErrResolved.
func (h *Handler) AckAs(ctx context.Context, alertID, who, via, note string) (changed bool, err error) {
	if !ValidID(alertID) {
		return false, fmt.Errorf("alert id %q: %w", alertID, store.ErrNotFound)
	}
	res := h.acknowledge(ctx, store.StateChange{AlertID: alertID, By: clean(who, maxName), Via: via, Note: clean(note, maxNote), At: h.o.Now()})
	switch {
	case res.status == http.StatusNotFound:
		return false, fmt.Errorf("alert %s: %w", alertID, store.ErrNotFound)
	case res.status != http.StatusOK:
		return false, errors.New(res.msg)
	case res.a.State == alert.StateResolved:
		return false, ErrResolved
	}
	return res.changed, nil
}
