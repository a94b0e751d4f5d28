package entra

// What a sign-in record says about the device and the authentication
// behind it: what breakglass checks a break-glass sign-in's expectations
// against (internal/expect) and what reviews read. Every decoder fills these
// from the fields its shape has; a shape without them leaves them unknown,
// which is not the same as empty (an unregistered device has device details
// but no device id).

// Device is the device a sign-in came from, as the record describes it.
type Device struct {
	// Known is set when the record describes the device at all. ID may
	// still be empty then: Entra writes no device id for a device that is
	// not registered (joined) in the tenant.
	Known bool
	// ID is the device's Entra device id (deviceDetail.deviceId,
	// AadDeviceId, the download's "Device ID").
	ID          string
	Name        string // displayName / DeviceName
	OS, Browser string
	TrustType   string // Azure AD joined, Hybrid Azure AD joined, Azure AD registered
}

// Auth is how a sign-in authenticated, from every place a shape writes it.
type Auth struct {
	// Known is set when the record carries any authentication detail
	// below (the key was present, even with an empty list).
	Known bool
	// Steps are authenticationDetails, in order.
	Steps []AuthStep
	// MethodsUsed are authenticationMethodsUsed, mfaDetail.authMethod or
	// the download's "Multifactor authentication auth method".
	MethodsUsed []string
	// StrengthsKnown is set when the record lists the applied Conditional
	// Access policies (appliedConditionalAccessPolicies,
	// ConditionalAccessPolicies), whose authentication strengths are in
	// Strengths.
	StrengthsKnown bool
	Strengths      []AuthStrength
}

// AuthStep is one step of authenticationDetails.
type AuthStep struct {
	Method string // authenticationMethod: Password, FIDO2 security key, ...
	Detail string // authenticationMethodDetail
	// Succeeded is nil when the step does not say.
	Succeeded *bool
	// Requirement is authenticationStepRequirement (Primary
	// authentication, MFA, ...).
	Requirement string
}

// AuthStrength is the authentication strength one applied Conditional
// Access policy enforced.
type AuthStrength struct {
	Policy string // the policy's display name
	ID     string // authenticationStrengthId
	Name   string // displayName
	Result string // authenticationStrengthResult: satisfied, cannotSatisfy, ...
}
