package preserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/logs"
	"breakglass/internal/scan"
	"breakglass/internal/store"
)

// Every record that concerns a break-glass account as its user, its
// initiator or its target raises an alert (bg.signin for every sign-in
// category, interactive or not, successful or not; bg.activity for an
// audit it initiated; bg.change for one that targets it; bg.unparsed for
// one that cannot be read), and the incident builder keeps each alert's
// raw record in the incident's evidence. What is left is a record that
// decodes cleanly and names the account somewhere else, such as a
// Conditional Access policy update whose modified properties add the
// account to excludeUsers: no rule fires, and the scanner only counts it.
// ContextScanner finds those records, and KeepContext appends each to the open
// incident of the account it names.

// ContextStore is what Keep reads and appends.
type ContextStore interface {
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
	AppendLog(ctx context.Context, e store.LogEntry) (store.LogEntry, error)
	AppendLogOnce(ctx context.Context, e store.LogEntry) (store.LogEntry, bool, error)
}

// ContextRecord is a record that names an account but raised no alert.
type ContextRecord struct {
	Account entra.Account
	EventID string // detect.EventKey of the record
	Raw     []byte
}

// ScanContext returns the records of data (one unit of source input, as a
// Sink is given it) that name one of accounts but raise none of the
// built-in alerts.
func ScanContext(ctx context.Context, accounts *entra.AccountSet, name string, data []byte) ([]ContextRecord, error) {
	if accounts == nil || len(accounts.Accounts()) == 0 {
		return nil, nil
	}
	rule := contextRule{builtins: detect.NewSet(detect.Builtins(accounts)...), accounts: accounts, mention: logs.NewPrefilter(accounts.Needles())}
	s := scan.New(scan.Options{Accounts: accounts, Rules: []detect.Rule{rule}, Workers: 1})
	defer s.Close()
	var out []ContextRecord
	var st scan.Stats
	err := s.Scan(ctx, name, bytes.NewReader(data), &st, func(f scan.Finding) error {
		if f.Alert.Rule != contextRuleID {
			return nil // bg.unparsed: the pipeline raised it already
		}
		out = append(out, ContextRecord{Account: entra.Account{ID: f.Alert.AccountID, UPN: f.Alert.AccountUPN}, EventID: f.Alert.EventID, Raw: f.Raw})
		return nil
	})
	return out, err
}

const contextRuleID = "preserve.context"

// contextRule fires on a decoded record that mentions an account's id or
// UPN and that no built-in rule fires on. It is never registered: its
// findings are evidence, not alerts.
type contextRule struct {
	builtins *detect.Set
	accounts *entra.AccountSet
	mention  *logs.Prefilter
}

func (r contextRule) Meta() detect.Meta {
	return detect.Meta{ID: contextRuleID, Severity: alert.Sev4, Title: "Record naming a break-glass account"}
}

func (r contextRule) Needs() detect.Needs { return detect.Needs{Literals: r.accounts.Needles()} }

func (r contextRule) Eval(dst []alert.Alert, rec *detect.Record) []alert.Alert {
	if len(r.builtins.Eval(nil, rec)) > 0 {
		return dst
	}
	ni := r.mention.Find(rec.Raw)
	if ni < 0 {
		return dst
	}
	acct, ok := r.accounts.MatchAny(r.mention.Needles()[ni])
	if !ok {
		return dst
	}
	eid := detect.EventKey(rec.Event)
	return append(dst, alert.Alert{ID: alert.Key(eid, contextRuleID), Rule: contextRuleID, AccountID: acct.ID, AccountUPN: acct.UPN,
		EventID: eid, EventTime: rec.Event.Time, Category: rec.Event.Category, Source: rec.Source})
}

// KeepContext appends each record to the newest incident of its account
// that is not closed, once (deduplicated on the event key within the
// incident). It returns the records it could not keep: those whose
// account has no such incident, and those a store error stopped (err
// says why).
func KeepContext(ctx context.Context, st ContextStore, recs []ContextRecord, at time.Time) (kept int, left []ContextRecord, err error) {
	// Sources deliver concurrently (the http source once per request):
	// reading what an incident holds and appending must not interleave,
	// or one record delivered twice at once would be kept twice.
	keepMu.Lock()
	defer keepMu.Unlock()
	var errs []error
	logs := map[string]map[string]bool{} // incident → refs held
	for _, rc := range recs {
		inc, ok, err := openIncidentOf(ctx, st, rc.Account)
		if err != nil {
			errs = append(errs, err)
			left = append(left, rc)
			continue
		}
		if !ok {
			left = append(left, rc)
			continue
		}
		held, ok := logs[inc.ID]
		if !ok {
			es, err := st.IncidentLog(ctx, inc.ID)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading the evidence of incident %s: %w", inc.ID, err))
				left = append(left, rc)
				continue
			}
			held = map[string]bool{}
			for _, e := range es {
				if e.Kind == store.LogRecord || e.Kind == store.LogPull {
					held[e.Ref] = true
				}
			}
			logs[inc.ID] = held
		}
		if held[rc.EventID] {
			continue
		}
		e := store.LogEntry{Incident: inc.ID, Kind: store.LogRecord, Ref: rc.EventID, At: at, Content: rc.Raw}
		if _, _, err := st.AppendLogOnce(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("appending record %s to incident %s: %w", rc.EventID, inc.ID, err))
			left = append(left, rc)
			continue
		}
		held[rc.EventID] = true
		kept++
	}
	return kept, left, errors.Join(errs...)
}

// DefaultMaxPending bounds the records a ContextKeeper holds.
const DefaultMaxPending = 10000

// ContextKeeper keeps context records in incidents, and holds those it
// cannot keep yet (no incident of the account is open, or the store
// failed) for up to Hold, retrying: a record that names the account hours
// before the use belongs to the incident the use opens, within
// incidents.context, and a record in the same input as the alert that
// opens the incident arrives before the incident builder has opened it.
// What it holds is in memory: a restart loses it (the records themselves
// were only counted before this existed).
type ContextKeeper struct {
	st   ContextStore
	hold time.Duration
	max  int
	now  func() time.Time

	mu      sync.Mutex
	pending []pendingRecord
	dropped int // held records given up since the last Drops call
}

type pendingRecord struct {
	rec  ContextRecord
	seen time.Time
}

// NewContextKeeper returns a keeper holding records for up to hold
// (incidents.context).
func NewContextKeeper(st ContextStore, hold time.Duration, now func() time.Time) *ContextKeeper {
	if now == nil {
		now = time.Now
	}
	return &ContextKeeper{st: st, hold: hold, max: DefaultMaxPending, now: now}
}

// Keep keeps recs, and retries what it holds. It returns how many records
// went into incidents and the store's errors (the records stay held).
func (k *ContextKeeper) Keep(ctx context.Context, recs []ContextRecord) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	all := make([]ContextRecord, 0, len(k.pending)+len(recs))
	seen := map[string]time.Time{}
	key := func(r ContextRecord) string {
		return strings.ToLower(r.Account.ID+"\x00"+r.Account.UPN) + "\x00" + r.EventID
	}
	for _, p := range k.pending {
		if now.Sub(p.seen) > k.hold {
			k.dropped++
			continue
		}
		if _, dup := seen[key(p.rec)]; !dup {
			seen[key(p.rec)] = p.seen
			all = append(all, p.rec)
		}
	}
	for _, r := range recs {
		if _, dup := seen[key(r)]; !dup {
			seen[key(r)] = now
			all = append(all, r)
		}
	}
	kept, left, err := KeepContext(ctx, k.st, all, now)
	k.pending = k.pending[:0]
	for _, r := range left {
		k.pending = append(k.pending, pendingRecord{rec: r, seen: seen[key(r)]})
	}
	if over := len(k.pending) - k.max; over > 0 {
		k.pending = append(k.pending[:0:0], k.pending[over:]...)
		k.dropped += over
	}
	return kept, err
}

// Pending returns how many records are held.
func (k *ContextKeeper) Pending() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.pending)
}

// Drops returns how many held records were given up (older than Hold, or
// beyond the bound) since the last call.
func (k *ContextKeeper) Drops() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.dropped
	k.dropped = 0
	return n
}

var keepMu sync.Mutex

// openIncidentOf is the newest account incident of a that is not closed.
func openIncidentOf(ctx context.Context, st ContextStore, a entra.Account) (store.Incident, bool, error) {
	f := store.IncidentFilter{Kind: store.IncidentAccount, AccountID: a.ID}
	incs, err := st.Incidents(ctx, f)
	if err != nil {
		return store.Incident{}, false, fmt.Errorf("reading incidents: %w", err)
	}
	for _, inc := range incs { // newest first
		if inc.State == store.IncidentClosed {
			continue
		}
		if a.ID == "" && !strings.EqualFold(inc.AccountUPN, a.UPN) {
			continue
		}
		return inc, true, nil
	}
	return store.Incident{}, false, nil
}
