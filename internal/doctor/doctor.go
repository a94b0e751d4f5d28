// Package doctor is `breakglass doctor`: it checks, in order, everything
// serve depends on (the configuration, the store, every source, Graph and
// its permissions, every notification channel, the clock, the break-glass
// accounts) and says for each what is wrong and the command or
// configuration key that fixes it. It changes nothing: the store is
// inspected, not migrated, and channels are dry-run unless Send is set.
//
// Checks register themselves (check_*.go, one file each with its test);
// Run runs them in their order. A check returns Results; later checks
// read what earlier ones found from the Env (no valid configuration: the
// rest skip; no Graph token: the account lookups skip).
package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"breakglass/internal/alert"
	"breakglass/internal/config"
)

// Status is a check's verdict.
type Status string

// Verdicts. Only Fail makes doctor exit non-zero: a warning is something
// to look at that does not stop serve, a skip a check that does not apply.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one finding.
type Result struct {
	Check  string `json:"check"`  // config, store, sources, graph, channels, clock, accounts
	Item   string `json:"item"`   // what in it: "schema", "sources[0] logs (file)"
	Status Status `json:"status"` // ok, warn, fail or skip
	Detail string `json:"detail"` // what was found
	Fix    string `json:"fix,omitempty"`
}

// Options configure a run.
type Options struct {
	// ConfigPath is the configuration file.
	ConfigPath string
	// Send sends a real test notification through every channel (as
	// `notify test`), after the dry runs.
	Send bool
	// Severity of Send's test notification.
	Severity alert.Severity
	// Progress receives a line before each check and each slow step
	// (people watching a terminal); nil for none.
	Progress io.Writer
	// Console is where a console channel writes Send's test message.
	Console io.Writer
	// Timeout bounds each network step (token, probe, GET); default 10s.
	Timeout time.Duration
	// MaxSkew is the clock difference that fails; default DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the local clock the skew check compares (tests skew it).
	Now func() time.Time
	// HTTP sends the clock check's request; default a plain client.
	HTTP *http.Client
}

// DefaultMaxSkew is the clock skew doctor fails on: tokens, signed
// acknowledge links and record times tolerate a little, not minutes.
const DefaultMaxSkew = 2 * time.Minute

// DefaultTimeout bounds each network step.
const DefaultTimeout = 10 * time.Second

// Report is the outcome of a run.
type Report struct {
	Config  string         `json:"config"`
	OK      bool           `json:"ok"`
	Counts  map[Status]int `json:"counts"`
	Results []Result       `json:"results"`
	// ConfigInvalid: the configuration did not load (exit 2).
	ConfigInvalid bool `json:"config_invalid,omitempty"`
}

// Exit codes, as every command's: 0 all passed, 1 a check failed, 2 the
// configuration is invalid.
func (r Report) ExitCode() int {
	switch {
	case r.ConfigInvalid:
		return 2
	case !r.OK:
		return 1
	}
	return 0
}

// Env is what checks share: the options, the configuration (nil until the
// config check loaded it) and what earlier checks found.
type Env struct {
	Opts Options
	Cfg  *config.Config

	configInvalid bool
	graph         *graphState // check_graph.go; nil: no token
	secrets       []string    // scrubbed from every result
}

// progress writes one progress line.
func (e *Env) progress(format string, args ...any) {
	if e.Opts.Progress != nil {
		fmt.Fprintf(e.Opts.Progress, "doctor: "+format+"\n", args...)
	}
}

// timeout bounds one network step.
func (e *Env) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.Opts.Timeout)
}

type check struct {
	order int
	name  string
	// needsConfig: skipped when the configuration did not load.
	needsConfig bool
	run         func(ctx context.Context, e *Env) []Result
}

var checks []check

// register adds a check; order places it (config 10, store 20, sources
// 30, graph 40, channels 50, clock 60, accounts 70).
func register(order int, name string, needsConfig bool, run func(context.Context, *Env) []Result) {
	checks = append(checks, check{order, name, needsConfig, run})
	slices.SortStableFunc(checks, func(a, b check) int { return a.order - b.order })
}

// Checks lists the registered checks' names, in order.
func Checks() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name
	}
	return out
}

// Run runs every check in order and never panics on what it finds: each
// problem is a Result.
func Run(ctx context.Context, o Options) Report {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.Console == nil {
		o.Console = io.Discard
	}
	e := &Env{Opts: o}
	rep := Report{Config: o.ConfigPath, Counts: map[Status]int{}}
	for _, c := range checks {
		if c.needsConfig && e.Cfg == nil {
			rep.Results = append(rep.Results, Result{Check: c.name, Status: Skip,
				Detail: "needs a valid configuration (see config above)"})
			continue
		}
		e.progress("checking %s", c.name)
		rep.Results = append(rep.Results, runCheck(ctx, e, c)...)
	}
	rep.ConfigInvalid = e.configInvalid
	rep.OK = !e.configInvalid
	for i := range rep.Results {
		r := &rep.Results[i]
		r.Detail, r.Fix, r.Item = e.clean(r.Detail), e.clean(r.Fix), e.clean(r.Item)
		rep.Counts[r.Status]++
		if r.Status == Fail {
			rep.OK = false
		}
	}
	return rep
}

// runCheck runs one check; a panic in it (a bug) is a failed finding, not
// a crash that would hide the checks after it.
func runCheck(ctx context.Context, e *Env, c check) (out []Result) {
	defer func() {
		if p := recover(); p != nil {
			out = append(out, Result{Check: c.name, Status: Fail, Detail: fmt.Sprintf("doctor itself failed in this check: %v", p),
				Fix: "report this as a bug in breakglass doctor, with the output of the other checks"})
		}
	}()
	return c.run(ctx, e)
}

// clean removes every secret doctor knows of and every control character
// but newline from text that may quote a server: an escape sequence a
// remote end sent must not reach the terminal, nor a password the output.
func (e *Env) clean(s string) string {
	for _, sec := range e.secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
