// Package entra holds the domain types shared by every stage of breakglass:
// the break-glass accounts being guarded and the normalised log event that
// every decoder produces, whatever shape the record arrived in.
package entra

import (
	"strings"
	"time"
)

// Kind says whether an event is a sign-in or a directory audit event.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindSignIn
	KindAudit
)

func (k Kind) String() string {
	switch k {
	case KindSignIn:
		return "signin"
	case KindAudit:
		return "audit"
	}
	if n, ok := extraKindNames[k]; ok {
		return n
	}
	return "unknown"
}

// Category names follow the Azure Monitor diagnostic-settings categories,
// because that is the one vocabulary every export shape can be mapped onto.
const (
	CategorySignIn           = "SignInLogs"
	CategoryNonInteractive   = "NonInteractiveUserSignInLogs"
	CategoryServicePrincipal = "ServicePrincipalSignInLogs"
	CategoryManagedIdentity  = "ManagedIdentitySignInLogs"
	CategoryAudit            = "AuditLogs"
)

// MonitoredCategories lists the categories breakglass decodes; records of any
// other category are counted, and raise bg.unparsed if they mention an
// account (fail closed).
var MonitoredCategories = []string{
	CategorySignIn, CategoryNonInteractive, CategoryServicePrincipal,
	CategoryManagedIdentity, CategoryAudit,
	CategoryGraphActivity, CategoryUserRiskEvents, CategoryRiskyUsers,
	CategoryProvisioning, CategoryADFSSignIn, CategoryLegacyAudit, // categories.go
}

// KindOf returns the event kind of a monitored category.
func KindOf(category string) Kind {
	switch category {
	case CategoryAudit:
		return KindAudit
	case CategorySignIn, CategoryNonInteractive, CategoryServicePrincipal, CategoryManagedIdentity:
		return KindSignIn
	}
	return extraKinds[category] // categories.go; KindUnknown when absent
}

// Event is one sign-in or audit record in normalised form. Only the fields
// that detection, alerts and reviews need are kept; the raw record travels
// alongside as evidence.
type Event struct {
	Kind     Kind
	Category string // one of the Category* constants
	Shape    string // where it came from, e.g. "graph", "diagnostic", "loganalytics"
	ID       string
	Time     time.Time

	CorrelationID string

	// Sign-in fields.
	UserID              string
	UserPrincipalName   string
	UserDisplayName     string
	AppID               string
	AppDisplayName      string
	ResourceDisplayName string
	IPAddress           string
	Location            string // "City, State, CC" as far as known
	City, State         string // from the location details, where known
	Country             string // the two-letter country or region, where known
	ClientAppUsed       string
	ResultType          string // "0" is success, anything else is an Entra error code
	ResultDescription   string
	ConditionalAccess   string
	AuthRequirement     string
	Interactive         bool
	ServicePrincipalID  string
	ServicePrincipal    string
	Device              Device // signin.go
	Auth                Auth   // signin.go

	// Audit fields.
	Operation       string // activityDisplayName / OperationName
	AuditCategory   string // UserManagement, RoleManagement, ...
	OperationType   string
	Result          string // success, failure, timeout
	ResultReason    string
	LoggedByService string
	Initiator       Actor
	Targets         []Target

	// Extra holds the fields of the other categories (categories.go).
	Extra Extra

	// How well the record could be read. A record with an odd field is
	// still detected on (fail closed); these say what was missing.

	// TimeUnknown is set when the record carried no usable event time;
	// Time is then zero and alerts carry the ingest time instead.
	TimeUnknown bool
	// Unreadable names each field that could not be read, as "field: why".
	Unreadable []string
	// IdentityUnknown, when set, says why the record's identities (user,
	// initiator or targets) could not all be determined: an identity field
	// was wrong-typed, an identity structure could not be parsed, or a
	// duplicated key disagreed. Such a record that mentions an account but
	// raises no rule must raise bg.unparsed.
	IdentityUnknown string
	// Ambiguous holds the other values of identity keys that occur more
	// than once with different values (the first value is in the field
	// itself). Detection tries them too.
	Ambiguous []AltIdentity
}

// AltIdentity is one more value of a duplicated identity key.
type AltIdentity struct {
	Where string // "user", "initiator" or "target"
	Value string // an id or UPN
}

// Actor is who initiated an audit event: a user or an app.
type Actor struct {
	UserID             string
	UserPrincipalName  string
	UserDisplayName    string
	IPAddress          string
	AppID              string
	AppDisplayName     string
	ServicePrincipalID string
}

// Target is one resource an audit event acted on.
type Target struct {
	ID                 string
	DisplayName        string
	Type               string
	UserPrincipalName  string
	ModifiedProperties []ModifiedProperty
}

// ModifiedProperty is one changed attribute of an audit target.
type ModifiedProperty struct {
	Name     string
	OldValue string
	NewValue string
}

// Account is one entry of the break-glass list as configured: a user (at
// least one of ID and UPN is set) or a group (Group is set, ID and UPN are
// empty), whose transitive user members are break-glass accounts.
type Account struct {
	ID   string `yaml:"id,omitempty" json:"id,omitempty"`
	UPN  string `yaml:"upn,omitempty" json:"upn,omitempty"`
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Group is a group's object id. A group entry stands for its members,
	// which only Graph knows, so AccountSet ignores it: whoever expands the
	// group adds the members as user entries.
	Group string `yaml:"group,omitempty" json:"group,omitempty"`
	// Expect is what this account's sign-ins are expected to look like
	// (config expect:, with the global expect: already merged in by
	// config); nil when none is configured. A pointer, so Account stays
	// comparable.
	Expect *Expect `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// IsGroup reports whether the entry is a group rather than a user.
func (a Account) IsGroup() bool { return a.Group != "" }

// Label is a human name for the account: its name, else UPN, else ID, else
// (for a group entry) "group <id>".
func (a Account) Label() string {
	switch {
	case a.Name != "":
		return a.Name
	case a.UPN != "":
		return a.UPN
	case a.ID == "" && a.Group != "":
		return "group " + a.Group
	}
	return a.ID
}

// AccountSet answers "is this a break-glass account?" by object id or UPN,
// case-insensitively, as Entra compares both.
type AccountSet struct {
	list  []Account
	byID  map[string]int
	byUPN map[string]int
}

// NewAccountSet indexes the user accounts; group entries are left out,
// because matching needs their members (see Account.Group). Callers
// validate for duplicates first (config does); later duplicates simply lose
// to earlier ones here.
func NewAccountSet(accounts []Account) *AccountSet {
	s := &AccountSet{byID: map[string]int{}, byUPN: map[string]int{}}
	for _, a := range accounts {
		if !a.IsGroup() {
			s.list = append(s.list, a)
		}
	}
	for i, a := range s.list {
		if id := CanonicalID(a.ID); id != "" {
			if _, ok := s.byID[id]; !ok {
				s.byID[id] = i
			}
		}
		if a.UPN != "" {
			if _, ok := s.byUPN[FoldASCII(a.UPN)]; !ok {
				s.byUPN[FoldASCII(a.UPN)] = i
			}
		}
	}
	return s
}

// Accounts returns the user accounts in order.
func (s *AccountSet) Accounts() []Account { return s.list }

// Match finds the account for an (id, upn) pair from a record. The object
// id decides when both the record and the account have one, because UPNs can
// be renamed and reused. The UPN decides when the record carries no id, or
// when the account was configured by UPN alone (its id is unknown to us).
//
// A record id that is not a GUID (a number written as text, garbage) is not
// an object id, so it cannot overrule the UPN: the UPN then decides.
func (s *AccountSet) Match(id, upn string) (Account, bool) {
	id = CanonicalID(id)
	if id != "" && !isZeroGUID(id) {
		if i, ok := s.byID[id]; ok {
			return s.list[i], true
		}
	}
	if isZeroGUID(id) || !IsGUID(id) {
		id = ""
	}
	if upn = strings.TrimSpace(upn); upn != "" {
		if i, ok := s.byUPN[FoldASCII(upn)]; ok && (id == "" || s.list[i].ID == "") {
			return s.list[i], true
		}
	}
	return Account{}, false
}

// MatchAny finds the account whose id or UPN is v. It is for values whose
// role is uncertain (the other value of a duplicated key, a needle found in
// raw bytes), where failing closed matters more than the id-over-UPN rule.
func (s *AccountSet) MatchAny(v string) (Account, bool) {
	if id := CanonicalID(v); id != "" && !isZeroGUID(id) {
		if i, ok := s.byID[id]; ok {
			return s.list[i], true
		}
	}
	if upn := strings.TrimSpace(v); upn != "" {
		if i, ok := s.byUPN[FoldASCII(upn)]; ok {
			return s.list[i], true
		}
	}
	return Account{}, false
}

// Needles returns every identifier that can appear in a record of one of the
// accounts, lower-cased. The fast path searches raw bytes for these.
func (s *AccountSet) Needles() []string {
	var out []string
	for id := range s.byID {
		out = append(out, id)
	}
	for upn := range s.byUPN {
		out = append(out, upn)
	}
	return out
}

// isZeroGUID treats the all-zero GUID, which Entra writes for "no user", as
// no id at all.
func isZeroGUID(id string) bool {
	return id == "00000000-0000-0000-0000-000000000000"
}

// CanonicalID normalises an object id for comparison: surrounding space,
// braces or parentheses ("{GUID}", as .NET and the registry write them) and
// a "urn:uuid:" prefix are removed, and ASCII letters are folded. Every
// decoration it removes leaves the GUID itself in the raw bytes, so the
// prefilter (searching Needles) still sees every record this matches. A
// GUID without hyphens is deliberately not rewritten: the prefilter would
// need a second needle per account, which costs the fast path a quarter of
// its speed, and Entra never writes object ids that way.
func CanonicalID(id string) string {
	for {
		prev := id
		id = strings.TrimSpace(id)
		if len(id) >= 2 && (id[0] == '{' && id[len(id)-1] == '}' || id[0] == '(' && id[len(id)-1] == ')') {
			id = id[1 : len(id)-1]
		}
		if len(id) >= 9 && strings.EqualFold(id[:9], "urn:uuid:") {
			id = id[9:]
		}
		if id == prev {
			break
		}
	}
	return FoldASCII(id)
}

// IsGUID reports whether s is a GUID in its 8-4-4-4-12 form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i : i+1]) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// FoldASCII lower-cases ASCII letters only. Ids and UPNs are compared with
// it everywhere, so that the byte-level prefilter and full decoding always
// agree on what matches.
func FoldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
