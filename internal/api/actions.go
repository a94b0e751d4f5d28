package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"breakglass/internal/ack"
	"breakglass/internal/drill"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

// Actions are the writes the API offers, done through the same domain
// code as the CLI (the daemon implements them with its config: action
// groups, gap, drill bounds). who is the authenticated caller.
type Actions interface {
	AckIncident(ctx context.Context, id, who, note string) (store.Incident, error)
	ReviewIncident(ctx context.Context, id, who string, rq ReviewRequest) (store.Incident, []string, error)
	CloseIncident(ctx context.Context, id, who, note string) (store.Incident, error)
	PlanDrill(ctx context.Context, who string, rq DrillRequest) (store.Drill, error)
	StartDrill(ctx context.Context, id, who string) (store.Drill, error)
	FinishDrill(ctx context.Context, id, who string, attest map[string]string) (drill.Report, error)
}

// BadRequestError marks an action's refusal of the caller's input (an
// unknown classification, a missing note): answered 400, not 500.
type BadRequestError struct{ Err error }

func (e BadRequestError) Error() string { return e.Err.Error() }
func (e BadRequestError) Unwrap() error { return e.Err }

// BadRequest lets other packages (the dashboard) tell a refusal apart.
func (e BadRequestError) BadRequest() bool { return true }

// ReviewRequest is the body of POST /incidents/{id}/review.
type ReviewRequest struct {
	Class  string            `json:"class"`
	Note   string            `json:"note"`
	Attest map[string]string `json:"attest,omitempty"`
}

// NoteRequest is the optional body of acknowledge and close.
type NoteRequest struct {
	Note string `json:"note,omitempty"`
}

// DrillRequest is the body of POST /drills.
type DrillRequest struct {
	Account string    `json:"account"`
	At      time.Time `json:"at,omitzero"`
	// Window is a Go duration ("1h", "30m"); empty: drill.window.
	Window string `json:"window,omitempty"`
	Note   string `json:"note,omitempty"`
}

// AttestRequest is the body of POST /drills/{id}/finish.
type AttestRequest struct {
	Attest map[string]string `json:"attest,omitempty"`
}

// ReviewResult answers a review: the incident, and the groups the review
// did not attest for.
type ReviewResult struct {
	Incident    incident.View `json:"incident"`
	NotAttested []string      `json:"not_attested"`
}

// maxBody bounds every request body.
const maxBody = 64 << 10

func writeRoutes() []Route {
	id := []Param{{"id", "path", "string", "incident id"}}
	did := []Param{{"id", "path", "string", "drill id"}}
	return []Route{
		{Method: "POST", Path: "/api/v1/alerts/{id}/ack", Role: RoleResponder, Summary: "Acknowledge an alert (stops its escalation), as the signed links and the CLI do",
			Params: []Param{{"id", "path", "string", "alert id"}}, Request: ack.APIAckRequest{}, Response: ack.APIAckResponse{}, handler: (*Server).ackAlert},
		{Method: "POST", Path: "/api/v1/incidents/{id}/ack", Role: RoleResponder, Summary: "Acknowledge an incident and its firing alerts (stops escalation)",
			Params: id, Request: NoteRequest{}, Response: incident.View{}, handler: (*Server).ackIncident},
		{Method: "POST", Path: "/api/v1/incidents/{id}/review", Role: RoleResponder, Summary: "Classify an incident as drill, emergency or misuse (misuse pages everyone)",
			Params: id, Request: ReviewRequest{}, Response: ReviewResult{}, handler: (*Server).reviewIncident},
		{Method: "POST", Path: "/api/v1/incidents/{id}/close", Role: RoleResponder, Summary: "Close a reviewed incident",
			Params: id, Request: NoteRequest{}, Response: incident.View{}, handler: (*Server).closeIncident},
		{Method: "POST", Path: "/api/v1/drills", Role: RoleResponder, Summary: "Plan a drill: announce a window in which a sign-in of the account is the drill's",
			Request: DrillRequest{}, Response: Drill{}, Created: true, handler: (*Server).planDrill},
		{Method: "POST", Path: "/api/v1/drills/{id}/start", Role: RoleResponder, Summary: "Start a planned drill",
			Params: did, Response: Drill{}, handler: (*Server).startDrill},
		{Method: "POST", Path: "/api/v1/drills/{id}/finish", Role: RoleResponder, Summary: "Finish a drill: measure detection, notification and acknowledgement, and record the attestations",
			Params: did, Request: AttestRequest{}, Response: drill.Report{}, handler: (*Server).finishDrill},
	}
}

// decode reads an optional JSON body (empty is the zero value) strictly:
// an unknown field is an error naming it, so a typo is not silently lost.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, maxBody)
}

// decodeLimit is decode with a body limit of its own (a query may be
// larger than an action's body).
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, maxBody int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fieldError(w, "body", fmt.Sprintf("larger than %d bytes", maxBody))
		} else {
			fieldError(w, "body", "could not be read")
		}
		return false
	}
	if strings.TrimSpace(string(b)) == "" {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			fieldError(w, "body", fmt.Sprintf("not JSON at offset %d: %v", se.Offset, err))
		case errors.As(err, &te):
			fieldError(w, te.Field, fmt.Sprintf("wrong type at offset %d: want %s", te.Offset, te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			fieldError(w, f, "unknown field")
		default:
			fieldError(w, "body", err.Error())
		}
		return false
	}
	if dec.More() {
		fieldError(w, "body", "more than one JSON value")
		return false
	}
	return true
}

func (s *Server) who(r *http.Request) string {
	if s.o.Who == nil {
		return ""
	}
	return s.o.Who(r)
}

// actionError answers an action's failure.
func (s *Server) actionError(w http.ResponseWriter, what string, err error) {
	var bad BadRequestError
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, CodeBadRequest, bad.Error())
	case errors.Is(err, store.ErrStateTransition), errors.Is(err, incident.ErrNoReview):
		writeError(w, http.StatusConflict, CodeConflict, what+": "+err.Error())
	default:
		s.storeError(w, what, err)
	}
}

func (s *Server) actions(w http.ResponseWriter) bool {
	if s.o.Actions == nil {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "this server does not take actions; use the CLI on the host")
		return false
	}
	return true
}

func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request) {
	if s.o.AlertAck == nil {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "this server does not take acknowledgements; use breakglass alerts ack on the host")
		return
	}
	s.o.AlertAck.ServeHTTP(w, r)
}

func (s *Server) ackIncident(w http.ResponseWriter, r *http.Request) {
	var rq NoteRequest
	if !s.actions(w) || !decode(w, r, &rq) {
		return
	}
	id := r.PathValue("id")
	inc, err := s.o.Actions.AckIncident(r.Context(), id, s.who(r), rq.Note)
	if err != nil {
		s.actionError(w, "incident "+strconv.Quote(id), err)
		return
	}
	writeJSON(w, http.StatusOK, incident.ViewOf(inc))
}

func (s *Server) reviewIncident(w http.ResponseWriter, r *http.Request) {
	var rq ReviewRequest
	if !s.actions(w) || !decode(w, r, &rq) {
		return
	}
	switch rq.Class {
	case store.ClassDrill, store.ClassEmergency, store.ClassMisuse:
	default:
		fieldError(w, "class", fmt.Sprintf("%q: want drill, emergency or misuse", rq.Class))
		return
	}
	if strings.TrimSpace(rq.Note) == "" {
		fieldError(w, "note", "required: why you classify it so (a ticket, who used the account and why)")
		return
	}
	id := r.PathValue("id")
	inc, missing, err := s.o.Actions.ReviewIncident(r.Context(), id, s.who(r), rq)
	if err != nil {
		s.actionError(w, "incident "+strconv.Quote(id), err)
		return
	}
	if missing == nil {
		missing = []string{}
	}
	writeJSON(w, http.StatusOK, ReviewResult{Incident: incident.ViewOf(inc), NotAttested: missing})
}

func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request) {
	var rq NoteRequest
	if !s.actions(w) || !decode(w, r, &rq) {
		return
	}
	id := r.PathValue("id")
	inc, err := s.o.Actions.CloseIncident(r.Context(), id, s.who(r), rq.Note)
	if err != nil {
		s.actionError(w, "incident "+strconv.Quote(id), err)
		return
	}
	writeJSON(w, http.StatusOK, incident.ViewOf(inc))
}

func (s *Server) planDrill(w http.ResponseWriter, r *http.Request) {
	var rq DrillRequest
	if !s.actions(w) || !decode(w, r, &rq) {
		return
	}
	if strings.TrimSpace(rq.Account) == "" {
		fieldError(w, "account", "required: the object id or UPN of a configured break-glass account")
		return
	}
	if rq.Window != "" {
		if d, err := time.ParseDuration(rq.Window); err != nil || d <= 0 {
			fieldError(w, "window", fmt.Sprintf("%q is not a positive duration such as 30m or 1h", rq.Window))
			return
		}
	}
	d, err := s.o.Actions.PlanDrill(r.Context(), s.who(r), rq)
	if err != nil {
		s.actionError(w, "drill", err)
		return
	}
	writeJSON(w, http.StatusCreated, drillOf(d))
}

func (s *Server) startDrill(w http.ResponseWriter, r *http.Request) {
	var rq struct{}
	if !s.actions(w) || !decode(w, r, &rq) {
		return
	}
	id := r.PathValue("id")
	d, err := s.o.Actions.StartDrill(r.Context(), id, s.who(r))
	if err != nil {
		s.actionError(w, "drill "+strconv.Quote(id), err)
		return
	}
	writeJSON(w, http.StatusOK, drillOf(d))
}

func (s *Server) finishDrill(w http.ResponseWriter, r *http.Request) {
	var rq AttestRequest
	if !s.actions(w) || !decode(w, r, &rq) {
		return
	}
	id := r.PathValue("id")
	rep, err := s.o.Actions.FinishDrill(r.Context(), id, s.who(r), rq.Attest)
	if err != nil {
		s.actionError(w, "drill "+strconv.Quote(id), err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
