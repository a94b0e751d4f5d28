package config

import (
	"slices"
	"strconv"
	"strings"

	"breakglass/internal/entra"
	"breakglass/internal/expect"
)

// expect: says what a break-glass sign-in is expected to look like, for
// every account (top level) and per account (accounts[].expect). Each key
// an account's expect sets replaces the global key for that account, even
// with an empty value (devices: [] switches the global devices off, as does
// phishing_resistant: false); each key it leaves out is inherited. The
// merge happens here, once: every entry of Config.Accounts (group entries
// too, whose members inherit theirs) carries its effective Expect, nil when
// it expects nothing. internal/expect judges sign-ins against it.

// expectKeys are the keys of an expect: mapping, in the order they are
// listed in messages.
var expectKeys = []string{"devices", "networks", "countries", "phishing_resistant", "strengths", "conditional_access"}

const expectWhat = "give devices:, networks:, countries:, phishing_resistant: or conditional_access:"

// validateExpect checks the global expect: and each account's, then
// merges them.
func (c *Config) validateExpect(d *decoder) {
	global := c.Expect
	if _, set := d.lines["expect"]; set && global == nil && !d.failed["expect"] {
		// "expect:" with every key commented out would otherwise switch
		// the checks off without a word.
		d.errorf(d.lines["expect"], "expect", "empty; %s, or remove expect:", expectWhat)
	}
	d.checkExpect("expect", global)
	d.accountExpects("accounts", c.Accounts, global)
	for i := range c.Tenants {
		d.accountExpects(tenantField(i)+".accounts", c.Tenants[i].Accounts, global)
	}
	if global != nil {
		d.checkStrengths("expect", global)
		c.Expect = canonicalExpect(global)
	}
}

// accountExpects checks each account's expect: in one list at field and
// merges the global one into it.
func (d *decoder) accountExpects(field string, list []entra.Account, global *entra.Expect) {
	for i := range list {
		a := &list[i]
		f := field + "[" + strconv.Itoa(i) + "].expect"
		if _, set := d.lines[f]; set && a.Expect == nil && !d.failed[f] {
			d.errorf(d.lines[f], f, "empty; %s, or remove it (the account then has the global expect:)", expectWhat)
		}
		d.checkExpect(f, a.Expect)
		a.Expect = d.mergeExpect(f, global, a.Expect)
		if a.Expect != nil {
			d.checkStrengths(f, a.Expect)
		}
	}
}

// checkExpect validates and normalises one expect: mapping in place.
func (d *decoder) checkExpect(f string, e *entra.Expect) {
	if e == nil || d.failed[f] {
		return
	}
	e.Devices = d.checkDevices(f+".devices", e.Devices)
	d.checkNetworks(f+".networks", e.Networks)
	e.Countries = d.checkCountries(f+".countries", e.Countries)
	for i, s := range e.Strengths {
		e.Strengths[i] = strings.TrimSpace(s)
		if sf := f + ".strengths[" + strconv.Itoa(i) + "]"; e.Strengths[i] == "" && !d.failed[sf] {
			d.errorf(d.lines[sf], sf, "empty; name a custom authentication strength (its name or id) that counts as phishing-resistant")
		}
	}
	cf := f + ".conditional_access"
	if v := strings.TrimSpace(e.ConditionalAccess); v != "" && !d.failed[cf] {
		n, ok := expect.NormalizeCA(v)
		if !ok || strings.Trim(v, "0123456789") == "" {
			d.errorf(d.lines[cf], cf, "must be one of %s (the sign-in's conditionalAccessStatus)", strings.Join(expect.CAOutcomes, ", "))
		}
		e.ConditionalAccess = n
	}
}

func (d *decoder) checkDevices(f string, ids []string) []string {
	first := map[string]int{}
	for i, id := range ids {
		df := f + "[" + strconv.Itoa(i) + "]"
		if d.failed[df] {
			continue
		}
		id = entra.CanonicalID(id)
		ids[i] = id
		switch {
		case !entra.IsGUID(id):
			d.errorf(d.lines[df], df, "not a device id (expected the workstation's Entra device id, 8-4-4-4-12 hex digits, as Entra admin center > Devices shows it)")
		case id == "00000000-0000-0000-0000-000000000000":
			d.errorf(d.lines[df], df, "the all-zero GUID is what Entra logs for no device; use the workstation's device id")
		default:
			if j, dup := first[id]; dup {
				d.errorf(d.lines[df], df, "duplicate of %s[%d] (line %d)", f, j, d.lines[f+"["+strconv.Itoa(j)+"]"])
			} else {
				first[id] = i
			}
		}
	}
	return ids
}

func (d *decoder) checkNetworks(f string, nets map[string][]string) {
	names := make([]string, 0, len(nets))
	for n := range nets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		nf := join(f, name)
		if d.failed[nf] {
			continue
		}
		if strings.TrimSpace(name) == "" {
			d.errorf(d.lines[nf], nf, "a network needs a name")
			continue
		}
		list := nets[name]
		if len(list) == 0 {
			d.errorf(d.lines[nf], nf, "empty; list the network's IP ranges (CIDR such as 203.0.113.0/24, or single addresses)")
			continue
		}
		for i, s := range list {
			ef := nf + "[" + strconv.Itoa(i) + "]"
			if d.failed[ef] {
				continue
			}
			p, err := expect.ParsePrefix(s)
			switch {
			case err != nil:
				d.errorf(d.lines[ef], ef, "not an IP range (expected CIDR such as 203.0.113.0/24 or 2001:db8::/48, or a single address)")
			case p != p.Masked():
				d.errorf(d.lines[ef], ef, "has bits set after the prefix length; write %s", p.Masked())
			case p.Bits() == 0:
				d.errorf(d.lines[ef], ef, "matches every address, so the expectation would always hold; list the workstations' ranges")
			default:
				list[i] = p.String()
			}
		}
	}
}

func (d *decoder) checkCountries(f string, ccs []string) []string {
	first := map[string]int{}
	for i, cc := range ccs {
		cf := f + "[" + strconv.Itoa(i) + "]"
		if d.failed[cf] {
			continue
		}
		cc = strings.ToUpper(strings.TrimSpace(cc))
		ccs[i] = cc
		switch {
		case cc == "UK":
			d.errorf(d.lines[cf], cf, "UK is not an ISO 3166-1 code; Entra logs the United Kingdom as GB")
		case !isCountry(cc):
			d.errorf(d.lines[cf], cf, "not an ISO 3166-1 alpha-2 country code (two letters such as NO, DE, US, as Entra logs location.countryOrRegion)")
		default:
			if j, dup := first[cc]; dup {
				d.errorf(d.lines[cf], cf, "duplicate of %s[%d] (line %d)", f, j, d.lines[f+"["+strconv.Itoa(j)+"]"])
			} else {
				first[cc] = i
			}
		}
	}
	return ccs
}

// checkStrengths: custom strengths only widen phishing_resistant.
func (d *decoder) checkStrengths(f string, e *entra.Expect) {
	sf := f + ".strengths"
	if _, set := d.lines[sf]; set && len(e.Strengths) > 0 && !e.PhishingResistant && !d.failed[sf] {
		d.errorf(d.lines[sf], sf, "only used with phishing_resistant: true (they count as phishing-resistant when satisfied)")
	}
}

// mergeExpect is the effective expect of an account: each key its own
// expect sets (present in the file, even empty), else the global one.
func (d *decoder) mergeExpect(f string, global, own *entra.Expect) *entra.Expect {
	if global == nil && own == nil {
		return nil
	}
	var eff entra.Expect
	if global != nil {
		eff = *global
		eff.Devices, eff.Countries, eff.Strengths = slices.Clone(global.Devices), slices.Clone(global.Countries), slices.Clone(global.Strengths)
		eff.Networks = cloneNetworks(global.Networks)
	}
	if own != nil {
		set := func(k string) bool { _, ok := d.lines[f+"."+k]; return ok }
		if set("devices") {
			eff.Devices = own.Devices
		}
		if set("networks") {
			eff.Networks = own.Networks
		}
		if set("countries") {
			eff.Countries = own.Countries
		}
		if set("phishing_resistant") {
			eff.PhishingResistant = own.PhishingResistant
		}
		if set("strengths") {
			eff.Strengths = own.Strengths
		}
		if set("conditional_access") {
			eff.ConditionalAccess = own.ConditionalAccess
		}
	}
	return canonicalExpect(&eff)
}

// canonicalExpect writes empty lists as nil, so that the rendered
// effective config loads back equal, and expecting nothing as nil.
func canonicalExpect(e *entra.Expect) *entra.Expect {
	if len(e.Devices) == 0 {
		e.Devices = nil
	}
	if len(e.Networks) == 0 {
		e.Networks = nil
	}
	if len(e.Countries) == 0 {
		e.Countries = nil
	}
	if len(e.Strengths) == 0 {
		e.Strengths = nil
	}
	if e.IsZero() && e.Strengths == nil {
		return nil
	}
	return e
}

func cloneNetworks(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// isoCountries are the ISO 3166-1 alpha-2 codes assigned to countries and
// territories, plus XK (Kosovo), which geolocation databases and so Entra
// use.
const isoCountries = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA " +
	"RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK"

func isCountry(cc string) bool {
	if len(cc) != 2 {
		return false
	}
	i := strings.Index(isoCountries, cc)
	return i >= 0 && i%3 == 0
}
