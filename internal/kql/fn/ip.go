package fn

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"breakglass/internal/kql/value"
)

// IP address functions (https://learn.microsoft.com/kusto/query/ipv4-is-in-range-function).
// Sign-in logs carry IPAddress as text; an address that does not parse
// gives null (or false for the tests), never an error.

func init() {
	Register(
		&Scalar{Name: "parse_ipv4", Min: 1, Max: 1, Result: sig(value.Long, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				p, ok := parseV4Prefix(text(a[0]), -1)
				if !ok {
					return nullLong
				}
				return long(int64(v4Uint(p.Masked().Addr())))
			}},
		&Scalar{Name: "parse_ipv4_mask", Min: 2, Max: 2, Result: sig(value.Long, kStr, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				m, ok := intArg(a[1])
				if !ok || m < 0 || m > 32 {
					return nullLong
				}
				p, ok := parseV4Prefix(text(a[0]), int(m))
				if !ok {
					return nullLong
				}
				return long(int64(v4Uint(p.Masked().Addr())))
			}},
		&Scalar{Name: "format_ipv4", Min: 1, Max: 2, Result: sig(value.String, kAny, kInt),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				mask := int64(32)
				if len(a) > 1 {
					var ok bool
					if mask, ok = intArg(a[1]); !ok || mask < 0 || mask > 32 {
						return str("")
					}
				}
				var p netip.Prefix
				if a[0].T == value.Long || a[0].T == value.Int {
					if a[0].IsNull() || a[0].I < 0 || a[0].I > 0xFFFFFFFF {
						return str("")
					}
					u := uint32(a[0].I)
					p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}), int(mask))
				} else {
					var ok bool
					if p, ok = parseV4Prefix(text(a[0]), int(mask)); !ok {
						return str("")
					}
				}
				return str(p.Masked().Addr().String())
			}},
		&Scalar{Name: "ipv4_netmask_suffix", Min: 1, Max: 1, Result: sig(value.Long, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				p, ok := parseV4Prefix(text(a[0]), -1)
				if !ok {
					return nullLong
				}
				return long(int64(p.Bits()))
			}},
		&Scalar{Name: "ipv4_is_private", Min: 1, Max: 1, Result: sig(value.Bool, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				p, ok := parseV4Prefix(text(a[0]), -1)
				if !ok {
					return nullBool
				}
				for _, r := range privateV4 {
					if r.Contains(p.Addr()) && p.Bits() >= r.Bits() {
						return boolean(true)
					}
				}
				return boolean(false)
			}},
		&Scalar{Name: "ipv4_is_in_range", Min: 2, Max: 2, Result: sig(value.Bool, kStr, kStr), ResultConst: ipChecked(sig(value.Bool, kStr, kStr), false, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value { return ipInRanges(text(a[0]), []string{text(a[1])}, false) }},
		&Scalar{Name: "ipv4_is_in_any_range", Min: 2, Max: -1, Result: sig(value.Bool, kStr, kStr), ResultConst: ipChecked(sig(value.Bool, kStr, kStr), false, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value { return ipInRanges(text(a[0]), rangeList(a[1:]), false) }},
		&Scalar{Name: "ipv4_is_match", Min: 2, Max: 3, Result: sig(value.Bool, kStr, kStr, kInt), ResultConst: ipCheckedOnly(sig(value.Bool, kStr, kStr, kInt), false, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				c := ipCompare(a, false)
				if c.IsNull() {
					return nullBool
				}
				return boolean(c.I == 0)
			}},
		&Scalar{Name: "ipv4_compare", Min: 2, Max: 3, Result: sig(value.Long, kStr, kStr, kInt), ResultConst: ipCheckedOnly(sig(value.Long, kStr, kStr, kInt), false, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value { return ipCompare(a, false) }},
		&Scalar{Name: "parse_ipv6", Min: 1, Max: 1, Result: sig(value.String, kStr),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				p, ok := parseV6Prefix(text(a[0]), -1)
				if !ok {
					return str("")
				}
				return str(expandV6(p.Masked().Addr()))
			}},
		&Scalar{Name: "ipv6_is_in_range", Min: 2, Max: 2, Result: sig(value.Bool, kStr, kStr), ResultConst: ipChecked(sig(value.Bool, kStr, kStr), true, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value { return ipInRanges(text(a[0]), []string{text(a[1])}, true) }},
		&Scalar{Name: "ipv6_is_in_any_range", Min: 2, Max: -1, Result: sig(value.Bool, kStr, kStr), ResultConst: ipChecked(sig(value.Bool, kStr, kStr), true, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value { return ipInRanges(text(a[0]), rangeList(a[1:]), true) }},
		&Scalar{Name: "ipv6_compare", Min: 2, Max: 3, Result: sig(value.Long, kStr, kStr, kInt), ResultConst: ipCheckedOnly(sig(value.Long, kStr, kStr, kInt), true, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value { return ipCompare(a, true) }},
		&Scalar{Name: "ipv6_is_match", Min: 2, Max: 3, Result: sig(value.Bool, kStr, kStr, kInt), ResultConst: ipCheckedOnly(sig(value.Bool, kStr, kStr, kInt), true, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				c := ipCompare(a, true)
				if c.IsNull() {
					return nullBool
				}
				return boolean(c.I == 0)
			}},
		&Scalar{Name: "has_ipv4", Min: 2, Max: 2, Result: sig(value.Bool, kStr, kStr), ResultConst: ipCheckedOnly(sig(value.Bool, kStr, kStr), false, 1),
			Call: func(_ *Ctx, a []value.Value) value.Value {
				want, err := netip.ParseAddr(text(a[1]))
				if err != nil || !want.Is4() {
					return boolean(false)
				}
				for _, tok := range ipTokens(text(a[0])) {
					if ad, err := netip.ParseAddr(tok); err == nil && ad == want {
						return boolean(true)
					}
				}
				return boolean(false)
			}},
	)
}

// ipChecked makes a ResultConst that also parses the constant address or
// range arguments from position from on: a typo in a rule's range
// ("10.0.0/8") is a load-time error, not a filter that never matches.
func ipChecked(base func([]value.Type) (value.Type, error), v6 bool, from int) func([]value.Type, []value.Value) (value.Type, error) {
	parse := parseV4Prefix
	what := "an IPv4 address or range (a.b.c.d or a.b.c.d/n)"
	if v6 {
		parse, what = parseV6Prefix, "an IP address or range"
	}
	return func(args []value.Type, consts []value.Value) (value.Type, error) {
		t, err := base(args)
		if err != nil {
			return t, err
		}
		for i := from; i < len(consts); i++ {
			var texts []string
			switch c := consts[i]; {
			case c.T == value.String:
				texts = []string{c.S}
			case c.T == value.Dynamic && !c.IsNull():
				texts = rangeList([]value.Value{c})
			}
			for _, s := range texts {
				if _, ok := parse(s, -1); !ok {
					return t, fmt.Errorf("argument %d: %q is not %s", i+1, s, what)
				}
			}
		}
		return t, nil
	}
}

// ipCheckedOnly is ipChecked for the one argument at pos (the third
// argument of the compare functions is a mask, not an address).
func ipCheckedOnly(base func([]value.Type) (value.Type, error), v6 bool, pos int) func([]value.Type, []value.Value) (value.Type, error) {
	inner := ipChecked(base, v6, pos)
	return func(args []value.Type, consts []value.Value) (value.Type, error) {
		if len(consts) > pos+1 {
			consts = consts[:pos+1]
		}
		return inner(args, consts)
	}
}

var privateV4 = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

func v4Uint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// parseV4Prefix reads "a.b.c.d" or "a.b.c.d/n"; mask (when >= 0) narrows
// the prefix further.
func parseV4Prefix(s string, mask int) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	bitsN := 32
	if ip, m, ok := strings.Cut(s, "/"); ok {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > 32 {
			return netip.Prefix{}, false
		}
		s, bitsN = ip, n
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	if mask >= 0 && mask < bitsN {
		bitsN = mask
	}
	return netip.PrefixFrom(a, bitsN), true
}

// parseV6Prefix reads an IPv6 or IPv4 address (as ::ffff:a.b.c.d), with
// an optional /n.
func parseV6Prefix(s string, mask int) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	bitsN := -1
	if ip, m, ok := strings.Cut(s, "/"); ok {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > 128 {
			return netip.Prefix{}, false
		}
		s, bitsN = ip, n
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if a.Is4() {
		a = netip.AddrFrom16(a.As16())
		if bitsN >= 0 && bitsN <= 32 {
			bitsN += 96
		}
	}
	a = a.WithZone("")
	if bitsN < 0 {
		bitsN = 128
	}
	if mask >= 0 && mask < bitsN {
		bitsN = mask
	}
	return netip.PrefixFrom(a, bitsN), true
}

func expandV6(a netip.Addr) string {
	b := a.As16()
	var parts [8]string
	for i := range 8 {
		parts[i] = strconv.FormatUint(uint64(b[2*i])<<8|uint64(b[2*i+1]), 16)
		for len(parts[i]) < 4 {
			parts[i] = "0" + parts[i]
		}
	}
	return strings.Join(parts[:], ":")
}

func rangeList(vs []value.Value) []string {
	var out []string
	for _, v := range vs {
		if arr, ok := asArray(v); ok {
			for _, e := range arr {
				out = append(out, value.FromDynamic(e).String())
			}
			continue
		}
		out = append(out, text(v))
	}
	return out
}

// ipInRanges: ipv4_is_in_range("192.168.1.6", "192.168.1.1/24") is true;
// an address that does not parse gives null.
func ipInRanges(ip string, ranges []string, v6 bool) value.Value {
	parse := parseV4Prefix
	if v6 {
		parse = parseV6Prefix
	}
	p, ok := parse(ip, -1)
	if !ok {
		return nullBool
	}
	for _, r := range ranges {
		rp, ok := parse(r, -1)
		if !ok {
			continue
		}
		if rp.Masked().Contains(p.Addr()) && p.Bits() >= rp.Bits() {
			return boolean(true)
		}
	}
	return boolean(false)
}

func ipCompare(a []value.Value, v6 bool) value.Value {
	parse := parseV4Prefix
	if v6 {
		parse = parseV6Prefix
	}
	mask := -1
	if len(a) > 2 {
		m, ok := intArg(a[2])
		if !ok || m < 0 || m > 128 {
			return nullLong
		}
		mask = int(m)
	}
	p1, ok1 := parse(text(a[0]), mask)
	p2, ok2 := parse(text(a[1]), mask)
	if !ok1 || !ok2 {
		return nullLong
	}
	n := min(p1.Bits(), p2.Bits())
	x := netip.PrefixFrom(p1.Addr(), n).Masked().Addr()
	y := netip.PrefixFrom(p2.Addr(), n).Masked().Addr()
	return long(int64(x.Compare(y)))
}

func ipTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
}
