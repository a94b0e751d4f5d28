// Package expect judges a break-glass sign-in against what its account's
// sign-ins are expected to look like (config expect:): from an approved
// workstation (device id, named network, country), with phishing-resistant
// authentication, with a given Conditional Access outcome. Microsoft's
// guidance asks for exactly that; nobody checks it by hand at 3 a.m.
//
// Each configured expectation gets a verdict: held, broken, or unknown when
// the record does not carry the field (unknown is never held). Apply writes
// the verdicts onto the alert: an annotation per expectation, the label
// expectation=broken|unknown|held that routes can match, and for a broken
// one the title says so and the severity is raised to Sev0.
package expect

import (
	"net/netip"
	"slices"
	"strings"

	"breakglass/internal/alert"
	"breakglass/internal/entra"
)

// Status is an expectation's verdict.
type Status string

const (
	Held    Status = "held"
	Broken  Status = "broken"
	Unknown Status = "unknown"
)

// Kinds, in the order verdicts are given. They are the config keys, and
// the annotation of each is AnnPrefix + kind.
const (
	KindDevice            = "device"
	KindNetwork           = "network"
	KindCountry           = "country"
	KindPhishingResistant = "phishing_resistant"
	KindConditionalAccess = "conditional_access"
)

// Annotation keys Apply sets.
const (
	// AnnPrefix + kind holds that expectation's verdict, e.g.
	// "expect.device": "broken (device 3f2a… is not an approved workstation)".
	AnnPrefix = "expect."
	// AnnSummary says in one line which expectations broke and why; set
	// only when one did.
	AnnSummary = "expectations"
)

// Verdict is one expectation's judgement of one sign-in.
type Verdict struct {
	Kind   string
	Status Status
	Why    string // what the record showed, for people
}

// String is the annotation text: "broken (why)".
func (v Verdict) String() string { return string(v.Status) + " (" + v.Why + ")" }

// Evaluate judges ev against e, one verdict per configured expectation in
// Kind order; nil when e expects nothing.
func Evaluate(e *entra.Expect, ev *entra.Event) []Verdict {
	if e.IsZero() || ev == nil {
		return nil
	}
	var out []Verdict
	if len(e.Devices) > 0 {
		out = append(out, device(e, ev))
	}
	if len(e.Networks) > 0 {
		out = append(out, network(e, ev))
	}
	if len(e.Countries) > 0 {
		out = append(out, country(e, ev))
	}
	if e.PhishingResistant {
		out = append(out, phishingResistant(e, ev))
	}
	if e.ConditionalAccess != "" {
		out = append(out, conditionalAccess(e, ev))
	}
	return out
}

// Worst is broken if any verdict is, else unknown if any is, else held;
// "" for no verdicts.
func Worst(vs []Verdict) Status {
	var w Status
	for _, v := range vs {
		switch {
		case v.Status == Broken:
			return Broken
		case v.Status == Unknown:
			w = Unknown
		case w == "":
			w = Held
		}
	}
	return w
}

// Apply writes the verdicts onto a. A broken expectation is raised to
// Sev0, named in the title and summarised in AnnSummary. When every
// expectation held, a Sev0 alert (a break-glass sign-in) becomes Sev1,
// an expected use: it still alerts every routed group and still needs an
// acknowledgement, but the severity tells it apart from a sign-in that
// broke an expectation, which stays Sev0 and says why. Unknown verdicts
// are stated and change nothing (fail closed: a shape that lacks a field
// keeps its Sev0).
func Apply(a *alert.Alert, vs []Verdict) {
	if len(vs) == 0 {
		return
	}
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	var broken, whys []string
	for _, v := range vs {
		a.Annotations[AnnPrefix+v.Kind] = v.String()
		if v.Status == Broken {
			broken = append(broken, label(v.Kind))
			whys = append(whys, v.Why)
		}
	}
	w := Worst(vs)
	a.Labels[alert.LabelExpectation] = string(w)
	if w == Held {
		var held []string
		for _, v := range vs {
			held = append(held, heldLabel(v.Kind))
		}
		a.Title += " - expected use, every expectation held"
		a.Annotations[AnnSummary] = "held: every expectation held (" + strings.Join(held, ", ") +
			"); still confirm with the account's holders that this use was planned"
		if a.Severity == alert.Sev0 {
			a.Severity = alert.Sev1
		}
		return
	}
	if w != Broken {
		return
	}
	a.Title += " - EXPECTATION BROKEN: " + strings.Join(broken, ", ")
	a.Annotations[AnnSummary] = "broken: " + strings.Join(whys, "; ")
	if a.Severity > alert.Sev0 {
		a.Severity = alert.Sev0
	}
}

// heldLabel is how a held kind reads in a title.
func heldLabel(kind string) string {
	switch kind {
	case KindDevice:
		return "approved device"
	case KindNetwork:
		return "approved network"
	case KindCountry:
		return "approved country"
	case KindPhishingResistant:
		return "phishing-resistant"
	case KindConditionalAccess:
		return "expected CA outcome"
	}
	return kind
}

// label is how a kind reads in a title: short, because the SMS form
// keeps the first 100 characters of the title.
func label(kind string) string {
	switch kind {
	case KindDevice:
		return "unapproved device"
	case KindNetwork:
		return "unapproved network"
	case KindCountry:
		return "unapproved country"
	case KindPhishingResistant:
		return "not phishing-resistant"
	case KindConditionalAccess:
		return "unexpected CA outcome"
	}
	return kind
}

func device(e *entra.Expect, ev *entra.Event) Verdict {
	v := Verdict{Kind: KindDevice}
	d := ev.Device
	id := entra.CanonicalID(d.ID)
	name := ""
	if d.Name != "" {
		name = " (" + d.Name + ")"
	}
	switch {
	case id != "" && slices.ContainsFunc(e.Devices, func(s string) bool { return entra.CanonicalID(s) == id }):
		v.Status, v.Why = Held, "device "+d.ID+name+" is an approved workstation"
	case id != "":
		v.Status, v.Why = Broken, "device "+d.ID+name+" is not an approved workstation"
	case d.Known:
		v.Status, v.Why = Broken, "the device is not registered in Entra (no device id"+describeDevice(d)+"), so it is not an approved workstation"
	default:
		v.Status, v.Why = Unknown, "the record has no device details; check the sign-in in the Entra portal"
	}
	return v
}

func describeDevice(d entra.Device) string {
	var parts []string
	for _, p := range []string{d.Name, d.OS, d.Browser} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func network(e *entra.Expect, ev *entra.Event) Verdict {
	v := Verdict{Kind: KindNetwork}
	raw := strings.TrimSpace(ev.IPAddress)
	if raw == "" {
		v.Status, v.Why = Unknown, "the record has no IP address"
		return v
	}
	ip, ok := ParseIP(raw)
	if !ok {
		v.Status, v.Why = Unknown, "the IP address "+quote(raw)+" cannot be read"
		return v
	}
	names := make([]string, 0, len(e.Networks))
	for n := range e.Networks {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, c := range e.Networks[n] {
			if p, err := ParsePrefix(c); err == nil && p.Contains(ip) {
				v.Status, v.Why = Held, ip.String()+" is in "+n+" ("+p.String()+")"
				return v
			}
		}
	}
	v.Status, v.Why = Broken, ip.String()+" is not in an approved network ("+strings.Join(names, ", ")+")"
	return v
}

// ParseIP reads an address as sign-in records write it: IPv4, IPv6 (an
// IPv4-mapped one as IPv4), with or without brackets or a port.
func ParseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// ParsePrefix reads a CIDR prefix, or a single address as a full-length
// prefix; config uses it to validate, Evaluate to match.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

func country(e *entra.Expect, ev *entra.Event) Verdict {
	v := Verdict{Kind: KindCountry}
	cc := strings.ToUpper(strings.TrimSpace(ev.Country))
	if cc == "" {
		cc = countryOf(ev.Location)
	}
	switch {
	case cc == "":
		v.Status, v.Why = Unknown, "the record has no country"
	case slices.Contains(e.Countries, cc):
		v.Status, v.Why = Held, "signed in from "+cc
	default:
		v.Status, v.Why = Broken, "signed in from "+cc+", not an approved country ("+strings.Join(e.Countries, ", ")+")"
	}
	return v
}

func countryOf(loc string) string {
	i := strings.LastIndexByte(loc, ',')
	cc := strings.ToUpper(strings.TrimSpace(loc[i+1:]))
	if len(cc) == 2 && 'A' <= cc[0] && cc[0] <= 'Z' && 'A' <= cc[1] && cc[1] <= 'Z' {
		return cc
	}
	return ""
}

// Conditional Access outcomes, as config writes them.
const (
	CASuccess    = "success"
	CAFailure    = "failure"
	CANotApplied = "notApplied"
)

// CAOutcomes are the values conditional_access accepts.
var CAOutcomes = []string{CASuccess, CAFailure, CANotApplied}

// NormalizeCA maps conditionalAccessStatus as any shape writes it
// ("success", "Success", "Not Applied", Defender's 0/1/2) onto one of
// CAOutcomes; ok is false for anything else.
func NormalizeCA(s string) (string, bool) {
	k := strings.ToLower(strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.TrimSpace(s)))
	switch k {
	case "success", "0":
		return CASuccess, true
	case "failure", "1":
		return CAFailure, true
	case "notapplied", "2":
		return CANotApplied, true
	}
	return "", false
}

func conditionalAccess(e *entra.Expect, ev *entra.Event) Verdict {
	v := Verdict{Kind: KindConditionalAccess}
	raw := strings.TrimSpace(ev.ConditionalAccess)
	got, ok := NormalizeCA(raw)
	switch {
	case raw == "":
		v.Status, v.Why = Unknown, "the record has no Conditional Access status"
	case !ok:
		v.Status, v.Why = Unknown, "Conditional Access status "+quote(raw)+" is not success, failure or notApplied"
	case got == e.ConditionalAccess:
		v.Status, v.Why = Held, "Conditional Access outcome was "+got
	default:
		v.Status, v.Why = Broken, "Conditional Access outcome was "+got+", expected "+e.ConditionalAccess
	}
	return v
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}
