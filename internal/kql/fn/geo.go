package fn

import (
	"net/netip"
	"strings"

	"breakglass/internal/kql/value"
)

// Geo locates IP addresses for geo_info_from_ip_address: a MaxMind City
// database (internal/geoip, configured as kql.geoip_database). GeoInfo
// returns the address's country, state, city and location, false when
// the database does not know the address.
type Geo interface {
	GeoInfo(ip netip.Addr) (GeoPlace, bool)
}

// GeoPlace is what the database knows of an address.
type GeoPlace struct {
	Country, State, City string
	Latitude, Longitude  float64
	HasLocation          bool
}

// GeoFunc is the function's name: callers that must not run it on nulls
// (alert rules) look for it.
const GeoFunc = "geo_info_from_ip_address"

func init() {
	Register(&Scalar{
		Name: GeoFunc, Min: 1, Max: 1,
		Result: func(args []value.Type) (value.Type, error) {
			if err := check(args, kStr); err != nil { // a string, or a dynamic column holding one
				return value.Dynamic, err
			}
			return value.Dynamic, nil
		},
		// geo-info-from-ip-address-function: a bag of country, state,
		// city, latitude and longitude (the docs' example: Australia, New
		// South Wales, Sydney, -33.8715, 151.2006 for 20.53.203.50). Not
		// an IP address, an address the database does not know, or no
		// database (Ctx.Geo nil): null.
		Call: func(c *Ctx, args []value.Value) value.Value {
			null := value.NullOf(value.Dynamic)
			if c == nil || c.Geo == nil || args[0].IsNull() {
				return null
			}
			ip, err := netip.ParseAddr(strings.TrimSpace(args[0].String()))
			if err != nil {
				return null
			}
			p, ok := c.Geo.GeoInfo(ip)
			if !ok {
				return null
			}
			bag := map[string]any{"country": p.Country, "state": p.State, "city": p.City}
			if p.HasLocation {
				bag["latitude"], bag["longitude"] = p.Latitude, p.Longitude
			}
			return value.NewDynamic(bag)
		},
	})
}
