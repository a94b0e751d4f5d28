package watch

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/posture"
)

// RulePosture is the built-in rule that fires when a posture check that
// passed now fails: the tenant drifted from a break-glass setup that was
// right.
const RulePosture = "bg.posture"

// PostureSource is the source name of posture alerts, and of the bg.source
// raised when an audit run itself fails.
const PostureSource = "posture"

// postureStateRule persists the last decisive verdict of every result
// (one condition, key postureStateKey): what a later run is compared with.
// It is state, not an alert.
const (
	postureStateRule = "posture.state"
	postureStateKey  = "verdicts"
)

// postureCoverageKey is the bg.source key (source posture) raised while
// results that passed are now skipped: data the audit could read before
// (a permission, a licence) is gone.
const postureCoverageKey = "coverage"

// Label names of posture alerts, beside the standard ones.
const (
	LabelCheck = "check"
)

// Posture turns scheduled audit reports into bg.posture alerts. A result
// (check, account) whose last decisive verdict was good (pass or accepted)
// and that is now bad (fail or error) raises one alert naming the check
// and the account; it resolves when the result is good again, or when a
// successful run no longer reports it (the account or check is gone).
// Skips and warnings keep the last verdict: a pass followed by a skip (data
// no longer readable) and then a fail still alerts. A pass followed by a
// skip raises bg.source for the posture source meanwhile: drift there
// cannot be seen. A result that has never
// been good raises nothing: it is the audit's finding, not drift, and it
// is logged. Open drifts and verdicts are conditions in the store, so a
// restart neither loses nor repeats them.
type Posture struct {
	o Options
	// scope is the tenant whose audits this watcher observes ("" with one
	// tenant): its verdicts, drifts and bg.source keys are kept apart from
	// every other tenant's (TenantPosture).
	scope  string
	health *SourceHealth
	mu     sync.Mutex
}

func newPosture(o Options, h *SourceHealth) *Posture { return &Posture{o: o, health: h} }

// Posture returns the pipeline's posture-drift watcher.
func (p *Pipeline) Posture() *Posture { return p.posture }

// TenantPosture returns a posture-drift watcher for one tenant's audits
// among several: its drifts, verdicts and failures are that tenant's (and
// labelled with it), so one tenant's report never resolves another's
// drift. Keep one per tenant for the daemon's life.
func (p *Pipeline) TenantPosture(tenant string) *Posture {
	return &Posture{o: p.o, health: p.failing, scope: strings.ToLower(tenant)}
}

// scopePrefix starts the condition keys of a tenant's posture watcher.
const scopePrefix = "tenant:"

// full is the stored condition key of result key k.
func (w *Posture) full(k string) string {
	if w.scope == "" {
		return k
	}
	return scopePrefix + w.scope + "\x01" + k
}

// own reports whether the stored key belongs to this watcher, and returns
// its result key.
func (w *Posture) own(stored string) (string, bool) {
	if w.scope == "" {
		return stored, !strings.HasPrefix(stored, scopePrefix)
	}
	return strings.CutPrefix(stored, scopePrefix+w.scope+"\x01")
}

// healthKey is the bg.source key (source posture) of base for this
// watcher's tenant.
func (w *Posture) healthKey(base string) string {
	if w.scope == "" {
		return base
	}
	return base + TenantKeySep + w.scope
}

// TenantKeySep joins a tenant id to the key of a bg.source that concerns
// one tenant's audit ("audit of tenant <id>"), which is how the daemon
// labels it with the tenant.
const TenantKeySep = " of tenant "

// verdict is a result's last decisive state. ID and UPN are the account
// as last reported: an account configured by UPN is reported by its
// object id while it resolves and by the UPN alone once it does not, and
// both must find the same verdict.
type verdict struct {
	Good bool      `json:"good"`
	At   time.Time `json:"at"`
	ID   string    `json:"id,omitempty"`
	UPN  string    `json:"upn,omitempty"`
}

// postureData is the evidence of a drift alert and its condition.
type postureData struct {
	Check       string              `json:"check"`
	AccountID   string              `json:"account_id,omitempty"`
	AccountUPN  string              `json:"account_upn,omitempty"`
	Status      posture.Status      `json:"status"`
	Message     string              `json:"message"`
	Evidence    []posture.Evidence  `json:"evidence,omitempty"`
	Remediation posture.Remediation `json:"remediation"`
	LastGood    time.Time           `json:"last_good"`
	Detected    time.Time           `json:"detected"`
	Tenant      posture.TenantInfo  `json:"tenant"`
	Exception   *posture.Exception  `json:"exception,omitempty"`
	Severity    posture.Severity    `json:"severity"`
}

// ResultKey identifies a result across runs: the check and the account
// (object id, else UPN, lower-case; empty for a tenant-wide result).
func ResultKey(r posture.Result) string {
	return r.Check + "\x00" + strings.ToLower(cmp.Or(r.AccountID, r.AccountUPN))
}

func good(s posture.Status) bool { return s == posture.StatusPass || s == posture.StatusAccepted }
func bad(s posture.Status) bool  { return s == posture.StatusFail || s == posture.StatusError }

// Observe compares a finished report with the last verdicts: it raises
// bg.posture for each good result gone bad, resolves each drift that is
// good again or no longer reported, and records the new verdicts. An error
// is the store's; what could be done before it is kept.
func (w *Posture) Observe(ctx context.Context, rep *posture.Report) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.o.Now().UTC()
	verdicts := map[string]verdict{}
	if c, ok, err := w.o.Conditions.Condition(ctx, postureStateRule, w.healthKey(postureStateKey)); err != nil {
		return fmt.Errorf("reading posture verdicts: %w", err)
	} else if ok && len(c.Data) > 0 {
		if err := json.Unmarshal(c.Data, &verdicts); err != nil {
			// Fail closed would be to alert on everything; failing loudly
			// and starting afresh is what a person can act on.
			w.o.Logger.Error("posture verdicts in the store are unreadable; starting afresh", "error", err)
			verdicts = map[string]verdict{}
		}
	}
	open := map[string]Condition{}
	cs, err := w.o.Conditions.Conditions(ctx, RulePosture)
	if err != nil {
		return fmt.Errorf("listing posture drifts: %w", err)
	}
	for _, c := range cs {
		if k, ok := w.own(c.Key); ok {
			open[k] = c
		}
	}

	keys := resultKeys(rep.Results, verdicts, open)
	seen := map[string]bool{}
	var firstBad, lost []string
	var errs []error
	for i, r := range rep.Results {
		k := keys[i]
		seen[k] = true
		prev, known := verdicts[k]
		ident := func(good bool) verdict {
			return verdict{Good: good, At: now, ID: cmp.Or(r.AccountID, prev.ID), UPN: cmp.Or(r.AccountUPN, prev.UPN)}
		}
		switch {
		case good(r.Status):
			if c, ok := open[k]; ok {
				if err := resolve(ctx, w.o, RulePosture, w.full(k), c.AlertID); err != nil {
					errs = append(errs, fmt.Errorf("resolving posture drift %s: %w", describeKey(k), err))
					continue
				}
				w.o.Logger.Info("posture check passes again; drift resolved", "check", r.Check, "account", accountOf(r), "status", r.Status, "alert_id", c.AlertID)
			}
			verdicts[k] = ident(true)
		case bad(r.Status):
			_, isOpen := open[k]
			if known && prev.Good && !isOpen {
				if err := w.raise(ctx, rep, r, k, prev.At, now); err != nil {
					errs = append(errs, err)
					continue // keep the good verdict: the next run tries again
				}
			} else if !known || !prev.Good {
				firstBad = append(firstBad, r.Check+" "+accountOf(r))
			}
			verdicts[k] = ident(false)
		case known && prev.Good && r.Status == posture.StatusSkip:
			// The verdict stays good (a later fail is drift), but a check
			// that can no longer be evaluated cannot see drift either.
			lost = append(lost, describeResult(r)+": "+r.Message)
		}
	}
	// A result not reported this time is gone only when its account left
	// the configuration or its check no longer exists. Otherwise the check
	// gave no verdict for it (it crashed, or reported tenant-wide): the
	// drift stays open, the verdict stays, and the blind spot is raised.
	for k := range verdicts {
		if !seen[k] && stillAudited(k, verdicts[k], rep) {
			seen[k] = true
			if _, isOpen := open[k]; isOpen || verdicts[k].Good {
				lost = append(lost, describeKey(k)+": this audit gave no result for it")
			}
		}
	}
	for k := range open {
		if !seen[k] && stillAudited(k, verdict{}, rep) {
			seen[k] = true
			lost = append(lost, describeKey(k)+": this audit gave no result for it")
		}
	}
	for k, c := range open {
		if seen[k] {
			continue
		}
		if err := resolve(ctx, w.o, RulePosture, w.full(k), c.AlertID); err != nil {
			errs = append(errs, fmt.Errorf("resolving posture drift %s: %w", describeKey(k), err))
			continue
		}
		w.o.Logger.Info("posture result no longer reported (account or check removed); drift resolved", "result", describeKey(k), "alert_id", c.AlertID)
	}
	for k := range verdicts {
		if !seen[k] {
			delete(verdicts, k)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		w.health.Failing(ctx, PostureSource, w.healthKey(postureCoverageKey), fmt.Errorf("%d posture results that passed can no longer be evaluated, so their drift would go unseen: %s",
			len(lost), strings.Join(lost, "; ")))
	} else {
		w.health.Recovered(ctx, PostureSource, w.healthKey(postureCoverageKey))
	}
	if len(firstBad) > 0 {
		sort.Strings(firstBad)
		w.o.Logger.Warn("posture audit: failing checks that never passed (findings, not drift: no alert); run breakglass audit for the details",
			"count", len(firstBad), "results", firstBad)
	}
	data, _ := json.Marshal(verdicts)
	if err := w.o.Conditions.SetCondition(ctx, Condition{Rule: postureStateRule, Key: w.healthKey(postureStateKey), Updated: now, Data: data}); err != nil {
		errs = append(errs, fmt.Errorf("recording posture verdicts: %w", err))
	}
	w.o.Metrics.postureRun(rep, now)
	if len(errs) > 0 {
		return fmt.Errorf("%d posture transitions not recorded: %w", len(errs), errs[0])
	}
	return nil
}

func (w *Posture) raise(ctx context.Context, rep *posture.Report, r posture.Result, k string, goodAt, now time.Time) error {
	a := postureAlert(r, w.full(k), goodAt, now)
	labelAlert(&a, PostureSource, cmp.Or(w.scope, w.o.Tenant, rep.Tenant.ID))
	data, _ := json.Marshal(postureData{
		Check: r.Check, AccountID: r.AccountID, AccountUPN: r.AccountUPN, Status: r.Status, Message: r.Message,
		Evidence: r.Evidence, Remediation: r.Remediation, LastGood: goodAt, Detected: now, Tenant: rep.Tenant,
		Exception: r.Exception, Severity: r.Severity,
	})
	inserted, err := raise(ctx, w.o, a, data, Condition{Rule: RulePosture, Key: w.full(k), AlertID: a.ID, Since: now, Updated: now, Data: data})
	if err != nil {
		return fmt.Errorf("storing posture drift %s: %w", describeKey(k), err)
	}
	if inserted {
		w.o.Metrics.alert(PostureSource, RulePosture)
	}
	w.o.Logger.Warn("posture drift", "check", r.Check, "account", accountOf(r), "status", r.Status, "message", r.Message, "alert_id", a.ID)
	return nil
}

// postureAlert is one drift episode: the result, and when it was last
// seen good, so that a second run of the same failure is the same alert.
func postureAlert(r posture.Result, k string, goodAt, now time.Time) alert.Alert {
	eventID := "posture:" + k + ":" + goodAt.UTC().Format(time.RFC3339Nano)
	who := accountOf(r)
	what := r.Check + " now fails"
	if r.Status == posture.StatusError {
		what = r.Check + " can no longer be verified"
	}
	title := "Posture drift: " + what
	if who != "" {
		title += " for " + who
	}
	ann := map[string]string{
		"description": fmt.Sprintf("The posture check %q passed on %s UTC and now reports %s: %s", r.Check, goodAt.UTC().Format("2006-01-02 15:04"), r.Status, r.Message),
		"message":     r.Message,
		"check_title": r.Title,
		"status":      string(r.Status),
	}
	if s := r.Remediation.Summary; s != "" {
		ann["remediation"] = s
	}
	if s := r.Remediation.Portal; s != "" {
		ann["portal"] = s
	}
	a := alert.Alert{
		ID:          alert.Key(eventID, RulePosture),
		Rule:        RulePosture,
		Severity:    alert.Sev1,
		Title:       title,
		AccountID:   r.AccountID,
		AccountUPN:  r.AccountUPN,
		EventID:     eventID,
		EventTime:   now,
		Category:    "Posture",
		Source:      PostureSource,
		Detected:    now,
		Labels:      map[string]string{LabelCheck: r.Check},
		Annotations: ann,
	}
	return a
}

func accountOf(r posture.Result) string { return cmp.Or(r.AccountUPN, r.AccountID) }

func describeKey(k string) string {
	check, acct, _ := strings.Cut(k, "\x00")
	if acct == "" {
		return check
	}
	return check + " for " + acct
}

// Record observes a completed audit and tells the posture source's health:
// a run whose results cannot be recorded (the store refused the verdicts
// or a transition) is a failed run, since without its verdicts the next
// fail is no drift. It returns Observe's error.
func (w *Posture) Record(ctx context.Context, rep *posture.Report) error {
	if err := w.Observe(ctx, rep); err != nil {
		w.AuditFailed(ctx, fmt.Errorf("the audit ran, but its results could not be recorded, so drift may go unseen: %w", err))
		return err
	}
	w.AuditRan(ctx)
	return nil
}

// AuditFailed raises bg.source for the posture source: a scheduled audit
// could not run (collection aborted), so drift would go unseen.
func (w *Posture) AuditFailed(ctx context.Context, err error) {
	w.o.Metrics.postureFailed()
	w.failing().Failing(ctx, PostureSource, w.healthKey("audit"), err)
}

// AuditRan resolves that bg.source once an audit completes.
func (w *Posture) AuditRan(ctx context.Context) {
	w.failing().Recovered(ctx, PostureSource, w.healthKey("audit"))
}

func (w *Posture) failing() *SourceHealth { return w.health }

// ResolveAll resolves every open drift: the scheduled audit is no longer
// configured (no graph: section), so nothing would ever resolve them.
func (w *Posture) ResolveAll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs, err := w.o.Conditions.Conditions(ctx, RulePosture)
	if err != nil {
		return fmt.Errorf("listing posture drifts: %w", err)
	}
	for _, c := range cs {
		if _, ok := w.own(c.Key); !ok {
			continue
		}
		if err := resolve(ctx, w.o, RulePosture, c.Key, c.AlertID); err != nil {
			return fmt.Errorf("resolving posture drift %s: %w", describeKey(c.Key), err)
		}
		w.o.Logger.Info("posture audit no longer configured; drift resolved", "result", describeKey(c.Key), "alert_id", c.AlertID)
	}
	return nil
}

func describeResult(r posture.Result) string {
	if who := accountOf(r); who != "" {
		return r.Check + " for " + who
	}
	return r.Check
}

// resultKeys gives each result its key: ResultKey, or, when no verdict or
// drift is stored under it, the stored key of the same check whose account
// has the result's object id or UPN (the account stopped or started
// resolving between runs, so it is named by a different identifier).
func resultKeys(results []posture.Result, verdicts map[string]verdict, open map[string]Condition) []string {
	keys := make([]string, len(results))
	claimed := map[string]bool{}
	for i, r := range results {
		keys[i] = ResultKey(r)
		claimed[keys[i]] = true
	}
	stored := func(k string) bool {
		_, v := verdicts[k]
		_, o := open[k]
		return v || o
	}
	// alias maps check + identifier (lower-case) to the stored keys whose
	// account has that identifier, sorted so that a tie is decided the same
	// way every run.
	alias := map[string][]string{}
	addAlias := func(k string, v verdict) {
		check, acct, _ := strings.Cut(k, "\x00")
		if acct == "" {
			return
		}
		for _, ident := range []string{acct, v.ID, v.UPN} {
			if ident != "" {
				a := check + "\x00" + strings.ToLower(ident)
				if !slices.Contains(alias[a], k) {
					alias[a] = append(alias[a], k)
				}
			}
		}
	}
	for k, v := range verdicts {
		addAlias(k, v)
	}
	for k := range open {
		addAlias(k, verdicts[k])
	}
	for _, ks := range alias {
		sort.Strings(ks)
	}
	for i, r := range results {
		if stored(keys[i]) || (r.AccountID == "" && r.AccountUPN == "") {
			continue
		}
	find:
		for _, ident := range []string{r.AccountID, r.AccountUPN} {
			if ident == "" {
				continue
			}
			for _, k := range alias[r.Check+"\x00"+strings.ToLower(ident)] {
				if !claimed[k] {
					keys[i] = k
					claimed[k] = true
					break find
				}
			}
		}
	}
	return keys
}

// sameIdentity reports whether an account named by id and upn is the one
// stored under the key's account part acct with verdict v.
func sameIdentity(id, upn, acct string, v verdict) bool {
	eq := func(a, b string) bool { return a != "" && b != "" && strings.EqualFold(a, b) }
	return eq(id, acct) || eq(upn, acct) || eq(id, v.ID) || eq(upn, v.UPN)
}

// stillAudited reports whether a stored result the report does not
// contain is still expected: its check exists and, for a per-account
// result, its account is still among the report's accounts.
func stillAudited(k string, v verdict, rep *posture.Report) bool {
	check, acct, _ := strings.Cut(k, "\x00")
	if _, ok := posture.Lookup(check); !ok {
		return false
	}
	if acct == "" {
		return true
	}
	for _, a := range rep.Accounts {
		if sameIdentity(a.ID, a.UPN, acct, v) || groupUnread(a) {
			return true
		}
	}
	return false
}

// groupUnread reports whether a is a group entry whose members this audit
// could not list (unreadable, emptied, deleted). Any account it does not
// name may be one of those members, so none is taken as removed from the
// list. Entries are collect's: "groups[N] id G", and "... member X" for
// one member that did not resolve.
func groupUnread(a posture.AccountInfo) bool {
	return !a.Resolved && strings.HasPrefix(a.Entry, "groups[") && !strings.Contains(a.Entry, " member ")
}
