package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"breakglass/internal/entra"
)

// Defaults for settings the file may leave out.
const (
	DefaultStorePath = "data/breakglass.db"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "text"
)

// Log levels and formats accepted in log.level and log.format.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

// Config is a validated configuration with defaults applied.
type Config struct {
	Accounts []entra.Account `yaml:"accounts"`
	// TenantID labels alerts (label "tenant"); default graph.tenant_id.
	TenantID string         `yaml:"tenant_id,omitempty"`
	Store    StoreConfig    `yaml:"store"`
	Log      LogConfig      `yaml:"log"`
	Server   ServerConfig   `yaml:"server"`
	Sources  []SourceConfig `yaml:"sources"`
	Notify   NotifyConfig   `yaml:"notify"`
	Graph    GraphConfig    `yaml:"graph,omitempty"`
	Audit    AuditConfig    `yaml:"audit"`
	// Incidents groups alerts into incidents (incidents.go).
	Incidents IncidentsConfig `yaml:"incidents"`
	// Evidence publishes and signs the evidence log's heads (evidence.go).
	Evidence EvidenceConfig `yaml:"evidence"`
	// Drill bounds and schedules drills of the accounts (drill.go).
	Drill DrillConfig `yaml:"drill"`
	// Canary is the daily synthetic check of the pipeline (canary.go).
	Canary *CanaryConfig `yaml:"canary,omitempty"`
	// Exceptions accept posture findings on purpose (audit.go).
	Exceptions []Exception `yaml:"exceptions,omitempty"`
	// Expect is what every account's sign-ins are expected to look like
	// (expect.go); merged into each Accounts[i].Expect.
	Expect *entra.Expect `yaml:"expect,omitempty"`
	// Rules are KQL alert rules (rules.go).
	Rules []Rule `yaml:"rules,omitempty"`
	// KQL holds what every KQL query shares (rules.go).
	KQL  KQLConfig `yaml:"kql,omitempty"`
	Path string    `yaml:"-"` // file it was loaded from
}

// Users returns the user entries of accounts:, in order; group entries are
// left out (see Groups).
func (c *Config) Users() []entra.Account {
	var out []entra.Account
	for _, a := range c.Accounts {
		if !a.IsGroup() {
			out = append(out, a)
		}
	}
	return out
}

// Groups returns the object ids of the group entries of accounts:, in
// order. Their transitive user members are break-glass accounts too, which
// only Graph can tell.
func (c *Config) Groups() []string {
	var out []string
	for _, a := range c.Accounts {
		if a.IsGroup() {
			out = append(out, a.Group)
		}
	}
	return out
}

// StoreConfig says where breakglass keeps its state.
type StoreConfig struct {
	// Driver is the backend: sqlite (the default) or postgres (store.go).
	Driver string `yaml:"driver"`
	// Path is the SQLite database file, relative to the working directory
	// unless absolute (driver sqlite only).
	Path string `yaml:"path,omitempty"`
	// DSN is the PostgreSQL connection string (driver postgres), a
	// secret; DSNFile is a file holding it instead. ConnString returns the
	// one given.
	DSN     Secret `yaml:"dsn,omitempty"`
	DSNFile string `yaml:"dsn_file,omitempty"`
	// FileDSN is what DSNFile held when the config was loaded.
	FileDSN Secret `yaml:"-"`
	// Retention is how long delivered notifications and the checkpoints of
	// files that no longer exist are kept. Alerts and evidence are never
	// pruned.
	Retention time.Duration `yaml:"retention"`
}

// LogConfig controls the daemon's own logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// Load reads and parses the configuration file at path, expanding ${VAR}
// references from the process environment. Its error, if any, is an
// ErrorList; a missing file unwraps to fs.ErrNotExist.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The PathError would repeat the file name the Error already leads with.
		cause := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			cause = pe.Err
		}
		return nil, ErrorList{{File: path, Msg: "cannot read config file: " + cause.Error(), Err: err}}
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse parses a configuration document. name is the file name used in
// messages and recorded as Config.Path; lookupEnv resolves ${VAR}
// references (nil means an empty environment). On failure the error is an
// ErrorList holding every problem found.
func Parse(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if name == "" {
		name = "<config>"
	}
	d := newDecoder(name, lookupEnv)
	root := d.document(data)
	if root == nil {
		return nil, d.err()
	}
	c := &Config{Path: name}
	d.decode(root, reflect.ValueOf(c).Elem(), "", root.Line)
	c.validate(d)
	if err := d.err(); err != nil {
		return nil, err
	}
	c.applyDefaults()
	return c, nil
}

// validate checks what the types cannot express and normalises values. It
// skips fields that already failed to decode, so each mistake is reported
// once.
func (c *Config) validate(d *decoder) {
	c.validateAccounts(d)
	c.validateStore(d) // store.go
	c.TenantID = strings.TrimSpace(c.TenantID)
	if c.TenantID != "" {
		if err := validTenantID(c.TenantID); err != nil {
			d.errorf(d.lines["tenant_id"], "tenant_id", "%v", err)
		}
	}
	c.Log.Level = d.oneOf("log.level", c.Log.Level, LogLevels)
	c.Log.Format = d.oneOf("log.format", c.Log.Format, LogFormats)
	c.validateServe(d)
	c.validateTLS(d)       // tls.go
	c.validateLease(d)     // lease.go
	c.validateMessages(d)  // notifymsg.go
	c.validateHeartbeat(d) // heartbeat.go
	c.validateRoutes(d)    // routes.go
	c.validateAck(d)       // ack.go
	c.validateOIDC(d)      // oidc.go
	c.validateGraph(d)
	c.validateRateLimits(d) // ratelimit.go
	c.validateAudit(d)
	c.validateExceptions(d)
	c.validateExpect(d)    // expect.go
	c.validateIncidents(d) // incidents.go
	c.validateEvidence(d)  // evidence.go
	c.validateIncidentContext(d)
	c.validateDrill(d)         // drill.go
	c.validateDrillSchedule(d) // drillschedule.go
	c.validateCanary(d)        // canary.go
	c.validateRules(d)         // rules.go
}

// validateAccounts checks the accounts: list: each entry is a user (id:
// and/or upn:) or a group (group:), and no object is listed twice.
func (c *Config) validateAccounts(d *decoder) {
	const what = "list at least one break-glass account (id: and/or upn: for a user, group: for a group)"
	if !d.failed["accounts"] && len(c.Accounts) == 0 {
		if line, ok := d.lines["accounts"]; ok {
			d.errorf(line, "accounts", "empty; "+what)
		} else {
			d.errorf(0, "accounts", "missing; "+what)
		}
	}
	// Object ids are unique across the directory, so users and groups share
	// one index: a group id equal to a user id is the same copy-paste slip.
	firstID := map[string]firstSeen{}
	firstUPN := map[string]firstSeen{}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		f := "accounts[" + strconv.Itoa(i) + "]"
		a.ID, a.UPN, a.Name, a.Group = strings.TrimSpace(a.ID), strings.TrimSpace(a.UPN), strings.TrimSpace(a.Name), strings.TrimSpace(a.Group)
		fid, fupn, fgroup := f+".id", f+".upn", f+".group"
		if d.failed[f] {
			continue
		}
		if a.Group != "" {
			if a.ID != "" || a.UPN != "" {
				d.errorf(d.lines[fgroup], fgroup, "a group entry cannot also have id: or upn:; list the group and each user as separate entries")
				continue
			}
			if d.checkGUID(fgroup, a.Group, "the group's object id") {
				d.unique(firstID, strings.ToLower(a.Group), i, "group")
			}
			continue
		}
		// A field that failed to decode is empty here; it has its own error.
		if a.ID == "" && a.UPN == "" && !d.failed[fid] && !d.failed[fupn] && !d.failed[fgroup] {
			d.errorf(d.lines[f], f, "needs id: (the user's object id) and/or upn: for a user, or group: for a group")
			continue
		}
		if a.ID != "" && d.checkGUID(fid, a.ID, "the user's object id") {
			d.unique(firstID, strings.ToLower(a.ID), i, "id")
		}
		if a.UPN != "" {
			if !IsUPN(a.UPN) {
				d.errorf(d.lines[fupn], fupn, "not a user principal name (expected user@domain)")
			} else {
				d.unique(firstUPN, strings.ToLower(a.UPN), i, "upn")
			}
		}
	}
}

// checkGUID reports whether v is a usable object id, recording why not.
func (d *decoder) checkGUID(field, v, what string) bool {
	switch {
	case !entra.IsGUID(v):
		d.errorf(d.lines[field], field, "not a GUID (expected %s, 8-4-4-4-12 hex digits)", what)
		return false
	case v == "00000000-0000-0000-0000-000000000000":
		d.errorf(d.lines[field], field, "the all-zero GUID is what Entra logs for no object; use %s", what)
		return false
	}
	return true
}

// unique rejects a second account with the same id or UPN, or a second
// group with the same id. Entra compares both case-insensitively, so two
// spellings are the same object, and a duplicate usually means a copy-paste
// that left another account out.
func (d *decoder) unique(first map[string]firstSeen, key string, i int, attr string) {
	prev, dup := first[key]
	if !dup {
		first[key] = firstSeen{i, attr}
		return
	}
	f := "accounts[" + strconv.Itoa(i) + "]." + attr
	pf := "accounts[" + strconv.Itoa(prev.index) + "]." + prev.attr
	if prev.attr == attr {
		d.errorf(d.lines[f], f, "duplicate of accounts[%d] (line %d)", prev.index, d.lines[pf])
		return
	}
	d.errorf(d.lines[f], f, "same object id as %s (line %d); an object id names one user or one group", pf, d.lines[pf])
}

// firstSeen is where an id or UPN was first listed.
type firstSeen struct {
	index int
	attr  string
}

// oneOf normalises an enumerated setting; empty is allowed and later
// replaced by the default.
func (d *decoder) oneOf(field, value string, allowed []string) string {
	v := strings.ToLower(strings.TrimSpace(value))
	if v == "" || d.failed[field] {
		return v
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	d.errorf(d.lines[field], field, "must be one of %s", strings.Join(allowed, ", "))
	return v
}

func (c *Config) applyDefaults() {
	c.applyStoreDefaults() // store.go
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	c.applyServeDefaults()
	c.applyHeartbeatDefaults()
	c.applyAckDefaults()
	c.applyGraphDefaults()
	c.applyRateLimitDefaults()
	c.applyAuditDefaults()
	c.applyRuleDefaults() // rules.go
	c.applyIncidentDefaults()
	c.applyEvidenceDefaults()      // after the store's: the heads file defaults next to it
	c.applyDrillDefaults()         // drill.go
	c.applyDrillScheduleDefaults() // drillschedule.go, after the interval
	c.applyCanaryDefaults()
}

// IsUPN checks the shape user@domain.tld, the rule for every UPN breakglass
// reads (config and imported lists alike). It is deliberately loose about
// the user part: guest UPNs such as alice_contoso.com#EXT#@tenant.onmicrosoft.com
// are valid break-glass candidates in some tenants.
func IsUPN(s string) bool {
	user, domain, ok := strings.Cut(s, "@")
	if !ok || user == "" || strings.Contains(domain, "@") {
		return false
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}

// Redacted renders the effective configuration, defaults included, as
// YAML with every Secret shown as "<redacted>", for "config check" and for
// attaching to support requests. Values expanded from the environment into
// ordinary fields are shown expanded.
func (c *Config) Redacted() ([]byte, error) {
	eff := *c
	eff.applyDefaults()
	out, err := render(&eff)
	if err != nil {
		return nil, fmt.Errorf("config: rendering %s: %w", c.Path, err)
	}
	return out, nil
}

// render is the YAML encoding Redacted uses, separate so that tests can
// check Secret redaction on types that have Secret fields.
func render(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
