package daemon

import (
	"fmt"

	"breakglass/internal/config"
	"breakglass/internal/route"
)

// routerOf builds the router of cfg's notify.groups and notify.routes. The
// config package has validated both, so an error here is a bug, reported
// rather than ignored.
func routerOf(cfg *config.Config) (*route.Router, error) {
	var groups []route.Group
	for _, g := range cfg.Notify.Groups {
		rg := route.Group{Name: g.Name, EscalateAfter: g.EscalateAfter}
		for i := range g.Channels {
			rg.Targets = append(rg.Targets, g.Target(i))
		}
		groups = append(groups, rg)
	}
	var routes []route.Route
	for i, rc := range cfg.Notify.Routes {
		rt := route.Route{Groups: rc.Groups, Continue: rc.Continue}
		for _, s := range rc.Matchers {
			m, err := route.ParseMatcher(s)
			if err != nil {
				return nil, fmt.Errorf("notify.routes[%d]: %w", i, err)
			}
			rt.Matchers = append(rt.Matchers, m)
		}
		routes = append(routes, rt)
	}
	r, err := route.New(groups, routes)
	if err != nil {
		return nil, fmt.Errorf("notify.routes: %w", err)
	}
	return r, nil
}

// pipelineRoute is the pipeline's routing: each alert goes to the groups
// its plan notifies at once (later steps are the escalator's).
func pipelineRoute(cfg *config.Config) (func(labels map[string]string) []string, error) {
	r, err := routerOf(cfg)
	if err != nil {
		return nil, err
	}
	return func(labels map[string]string) []string { return r.Plan(labels).Now() }, nil
}
