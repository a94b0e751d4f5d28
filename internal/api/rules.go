package api

import (
	"context"
	"net/http"
	"time"

	"breakglass/internal/drill"
	"breakglass/internal/kqlrule"
	"breakglass/internal/store"
)

// RuleInfo is one configured KQL rule with what the store knows of it.
type RuleInfo struct {
	kqlrule.Info
	// LastEvaluation is the end of the newest window a scheduled rule
	// was evaluated over, LastEvaluatedAt when that was done; null when
	// it never was, and always for filter rules (they run on every
	// record as it arrives).
	LastEvaluation  *time.Time `json:"last_evaluation"`
	LastEvaluatedAt *time.Time `json:"last_evaluated_at"`
	// LastFiring is when the rule's newest alert was detected (null:
	// never), LastAlert its id.
	LastFiring *time.Time `json:"last_firing"`
	LastAlert  string     `json:"last_alert,omitempty"`
	// StateError says why the rule's evaluation state could not be read
	// (then LastEvaluation is null, not "never").
	StateError string `json:"state_error,omitempty"`
}

// RuleList is every configured KQL rule, in the config's order.
type RuleList struct {
	Rules []RuleInfo `json:"rules"`
}

func ruleRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/rules", Role: RoleViewer,
			Summary:  "Every configured KQL rule: kind, query, frequency, period, threshold, severity, literals, last evaluation and last firing",
			Response: RuleList{}, handler: (*Server).rules},
	}
}

func (s *Server) rules(w http.ResponseWriter, r *http.Request) {
	out, what, err := s.RuleList(r.Context())
	if err != nil {
		s.storeError(w, what, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// RuleList returns every configured rule with its last evaluation and
// last firing. An unreadable rule state is said on the rule (the others
// are still listed); a store that cannot be read is an error, naming
// what (for pages rendered beside the API).
func (s *Server) RuleList(ctx context.Context) (out RuleList, what string, err error) {
	out.Rules = []RuleInfo{}
	for _, in := range s.o.Rules {
		ri := RuleInfo{Info: in}
		if in.Kind == string(kqlrule.KindScheduled) && s.o.RuleState != nil {
			window, at, err := s.o.RuleState(ctx, in.ID)
			switch {
			case err != nil:
				ri.StateError = "its evaluation state could not be read; the daemon's log says why"
			case !window.IsZero():
				ri.LastEvaluation, ri.LastEvaluatedAt = timePtr(window), timePtr(at)
			}
		}
		page, _, err := s.o.Store.AlertPage(ctx, store.AlertFilter{Rule: in.ID}, "", 1)
		if err != nil {
			return out, "the alerts of rule " + in.ID, err
		}
		if len(page) > 0 {
			ri.LastFiring, ri.LastAlert = timePtr(page[0].Detected), page[0].ID
		}
		out.Rules = append(out.Rules, ri)
	}
	return out, "", nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// DrillStatus is every configured account's drills and when the next is
// due (Options.DrillStatus); nil, nil when the server does not know.
func (s *Server) DrillStatus(ctx context.Context) ([]drill.AccountStatus, error) {
	if s.o.DrillStatus == nil {
		return nil, nil
	}
	return s.o.DrillStatus(ctx)
}
