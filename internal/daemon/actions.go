package daemon

import (
	"context"
	"errors"
	"time"

	"breakglass/internal/api"
	"breakglass/internal/config"
	"breakglass/internal/drill"
	"breakglass/internal/incident"
	"breakglass/internal/store"
)

// ActionStore is what the API's writes need from the store.
type ActionStore interface {
	incident.ReviewStore
	drill.StatusStore
}

// Actions does the API's and the dashboard's writes through the same
// domain code as the CLI, with this config's action groups, incident gap
// and drill bounds.
type Actions struct {
	cfg *config.Config
	st  ActionStore
	ev  drill.Evaluator
	now func() time.Time
}

var _ api.Actions = (*Actions)(nil)

// NewActions returns the actions for cfg over st.
func NewActions(cfg *config.Config, st ActionStore, now func() time.Time) (*Actions, error) {
	targets, err := RouteFunc(cfg)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Actions{cfg: cfg, st: st, ev: drill.Evaluator{Bounds: cfg.Drill, Targets: targets}, now: now}, nil
}

// usage turns the domain packages' refusals of input into the API's 400.
func usage(err error) error {
	if errors.Is(err, drill.ErrUsage) {
		return api.BadRequestError{Err: err}
	}
	return err
}

// AckIncident implements api.Actions.
func (a *Actions) AckIncident(ctx context.Context, id, who, note string) (store.Incident, error) {
	res, err := incident.Ack(ctx, a.st, id, who, note, a.now())
	return res.Incident, err
}

// ReviewIncident implements api.Actions.
func (a *Actions) ReviewIncident(ctx context.Context, id, who string, rq api.ReviewRequest) (store.Incident, []string, error) {
	var groups []string
	for _, g := range a.cfg.Notify.Groups {
		groups = append(groups, g.Name)
	}
	attest := map[string]string{}
	for g, v := range rq.Attest {
		name, val, err := incident.ParseAttest(g+"="+v, groups)
		if err != nil {
			return store.Incident{}, nil, api.BadRequestError{Err: err}
		}
		attest[name] = val
	}
	res, err := incident.Review(ctx, a.st, id, incident.ReviewRequest{Class: rq.Class, By: who, Note: rq.Note,
		Attest: attest, Groups: groups, Targets: a.cfg.Notify.Targets(), Gap: a.cfg.Incidents.Gap}, a.now())
	return res.Incident, res.Missing, err
}

// CloseIncident implements api.Actions.
func (a *Actions) CloseIncident(ctx context.Context, id, who, note string) (store.Incident, error) {
	return incident.Close(ctx, a.st, id, who, note, a.now())
}

// PlanDrill implements api.Actions.
func (a *Actions) PlanDrill(ctx context.Context, who string, rq api.DrillRequest) (store.Drill, error) {
	var window time.Duration
	if rq.Window != "" {
		d, err := time.ParseDuration(rq.Window)
		if err != nil {
			return store.Drill{}, api.BadRequestError{Err: err}
		}
		window = d
	}
	d, err := drill.Plan(ctx, a.st, a.cfg, drill.PlanRequest{Account: rq.Account, At: rq.At, Window: window, By: who, Note: rq.Note}, a.now())
	return d, usage(err)
}

// StartDrill implements api.Actions.
func (a *Actions) StartDrill(ctx context.Context, id, _ string) (store.Drill, error) {
	d, err := drill.Start(ctx, a.st, id, a.now())
	return d, usage(err)
}

// FinishDrill implements api.Actions.
func (a *Actions) FinishDrill(ctx context.Context, id, _ string, attest map[string]string) (drill.Report, error) {
	var items []string
	for k, v := range attest {
		items = append(items, k+"="+v)
	}
	checked, err := drill.ParseAttest(items)
	if err != nil {
		return drill.Report{}, api.BadRequestError{Err: err}
	}
	rep, err := a.ev.Finish(ctx, a.st, id, checked, a.now())
	return rep, usage(err)
}
