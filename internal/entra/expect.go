package entra

// Expect is what a break-glass account's sign-ins are expected to look
// like: from an approved workstation (device, network, country), with
// phishing-resistant authentication, with a given Conditional Access
// outcome. internal/config validates and merges it (global expect: under
// accounts[].expect); internal/expect judges a sign-in against it. Empty
// fields expect nothing.
//
// The fields carry no omitempty: an account's merged expect is rendered in
// full by `config check`, so that an empty list that switched a global
// expectation off for one account loads back the same.
type Expect struct {
	// Devices are the Entra device ids of the approved workstations,
	// lower-case.
	Devices []string `yaml:"devices" json:"devices,omitempty"`
	// Networks are named IP ranges: a name to CIDR prefixes (canonical,
	// e.g. 203.0.113.0/24; a single address is a /32 or /128).
	Networks map[string][]string `yaml:"networks" json:"networks,omitempty"`
	// Countries are ISO 3166-1 alpha-2 codes, upper-case.
	Countries []string `yaml:"countries" json:"countries,omitempty"`
	// PhishingResistant expects FIDO2, Windows Hello for Business,
	// certificate-based (multifactor) or passkey authentication, or a
	// satisfied phishing-resistant authentication strength.
	PhishingResistant bool `yaml:"phishing_resistant" json:"phishing_resistant,omitempty"`
	// Strengths are custom authentication strengths (names or ids) that
	// count as phishing-resistant when satisfied, besides the built-in
	// "Phishing-resistant MFA".
	Strengths []string `yaml:"strengths" json:"strengths,omitempty"`
	// ConditionalAccess is the expected conditionalAccessStatus: success,
	// failure or notApplied; "" expects nothing.
	ConditionalAccess string `yaml:"conditional_access" json:"conditional_access,omitempty"`
}

// IsZero reports whether e expects nothing.
func (e *Expect) IsZero() bool {
	return e == nil || len(e.Devices) == 0 && len(e.Networks) == 0 && len(e.Countries) == 0 &&
		!e.PhishingResistant && e.ConditionalAccess == ""
}
