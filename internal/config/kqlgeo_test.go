package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/geoip/geoiptest"
)

// TestGeoIPDatabase: kql.geoip_database must name a readable MaxMind DB
// with IPv6; each problem is an error at the key's line.
func TestGeoIPDatabase(t *testing.T) {
	dir := t.TempDir()
	nets := []geoiptest.Network{{Prefix: netip.MustParsePrefix("20.53.0.0/16"), Data: geoiptest.City("Australia", "New South Wales", "Sydney", -33.8715, 151.2006)}}
	good := filepath.Join(dir, "city.mmdb")
	if err := geoiptest.Write(good, nets, geoiptest.Options{}); err != nil {
		t.Fatal(err)
	}
	v4 := filepath.Join(dir, "v4.mmdb")
	if err := geoiptest.Write(v4, nets, geoiptest.Options{IPVersion: 4}); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.mmdb")
	if err := os.WriteFile(junk, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{good, ""},
		{"  " + good + " ", ""},
		{filepath.Join(dir, "missing.mmdb"), "c.yaml:4: kql.geoip_database: stat " + filepath.Join(dir, "missing.mmdb") + ": no such file"},
		{junk, "c.yaml:4: kql.geoip_database: " + junk + ": mmdb: no metadata marker"},
		{v4, "c.yaml:4: kql.geoip_database: " + v4 + " is an IPv4-only database"},
		{" ", "c.yaml:4: kql.geoip_database: empty"},
	}
	for _, c := range cases {
		doc := "accounts:\n  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee\nkql:\n  geoip_database: \"" + c.path + "\"\n"
		cfg, err := Parse("c.yaml", []byte(doc), nil)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.path, err)
		case c.want == "" && cfg.KQL.GeoIPDatabase != good:
			t.Errorf("%q: GeoIPDatabase = %q, want %q", c.path, cfg.KQL.GeoIPDatabase, good)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.path, err, c.want)
		}
	}
}
