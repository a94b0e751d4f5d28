package config

import (
	"strings"

	"breakglass/internal/geoip"
)

// GeoIPKey is the configuration key of geo_info_from_ip_address's
// database, named in the errors of rules that need it.
const GeoIPKey = "kql.geoip_database"

// validateGeoIP checks kql.geoip_database: a readable MaxMind DB file.
// It is read here once (geoip.Load caches it for the rules and queries).
func (c *Config) validateGeoIP(d *decoder) {
	p := strings.TrimSpace(c.KQL.GeoIPDatabase)
	if d.failed[GeoIPKey] || c.KQL.GeoIPDatabase == "" {
		return
	}
	if p == "" {
		d.errorf(d.lines[GeoIPKey], GeoIPKey, "empty: give the path of a GeoLite2-City .mmdb file, or remove the key")
		return
	}
	c.KQL.GeoIPDatabase = p
	db, err := geoip.Load(p)
	if err != nil {
		d.errorf(d.lines[GeoIPKey], GeoIPKey, "%v: give a readable MaxMind City database (GeoLite2-City.mmdb)", err)
		return
	}
	if db.Meta.IPVersion != 6 {
		// An IPv4-only database cannot place the IPv6 addresses Entra
		// logs: those sign-ins would get no location, silently.
		d.errorf(d.lines[GeoIPKey], GeoIPKey, "%s is an IPv4-only database; use one with IPv6 (GeoLite2-City is)", p)
	}
}
