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
// other category are counted and skipped.
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
	ClientAppUsed       string
	ResultType          string // "0" is success, anything else is an Entra error code
	ResultDescription   string
	ConditionalAccess   string
	AuthRequirement     string
	Interactive         bool
	ServicePrincipalID  string
	ServicePrincipal    string

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

// Account is one break-glass account as configured. At least one of ID and
// UPN is set.
type Account struct {
	ID   string `yaml:"id,omitempty" json:"id,omitempty"`
	UPN  string `yaml:"upn,omitempty" json:"upn,omitempty"`
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
}

// Label is a human name for the account: its name, else UPN, else ID.
func (a Account) Label() string {
	switch {
	case a.Name != "":
		return a.Name
	case a.UPN != "":
		return a.UPN
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

// NewAccountSet indexes the accounts. Callers validate for duplicates first
// (config does); later duplicates simply lose to earlier ones here.
func NewAccountSet(accounts []Account) *AccountSet {
	s := &AccountSet{list: append([]Account(nil), accounts...), byID: map[string]int{}, byUPN: map[string]int{}}
	for i, a := range s.list {
		if a.ID != "" {
			if _, ok := s.byID[FoldASCII(a.ID)]; !ok {
				s.byID[FoldASCII(a.ID)] = i
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

// Accounts returns the configured accounts in order.
func (s *AccountSet) Accounts() []Account { return s.list }

// Match finds the account for an (id, upn) pair from a record. The object
// id decides when both the record and the account have one, because UPNs can
// be renamed and reused. The UPN decides when the record carries no id, or
// when the account was configured by UPN alone (its id is unknown to us).
func (s *AccountSet) Match(id, upn string) (Account, bool) {
	id = strings.TrimSpace(id)
	if id != "" && !isZeroGUID(id) {
		if i, ok := s.byID[FoldASCII(id)]; ok {
			return s.list[i], true
		}
	} else {
		id = ""
	}
	if upn = strings.TrimSpace(upn); upn != "" {
		if i, ok := s.byUPN[FoldASCII(upn)]; ok && (id == "" || s.list[i].ID == "") {
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
