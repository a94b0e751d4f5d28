package geoip_test

import (
	"net/netip"
	"testing"

	"breakglass/internal/geoip"
	"breakglass/internal/geoip/geoiptest"
)

// FuzzParse: any bytes give a database or an error; lookups in what
// parses never panic or hang.
func FuzzParse(f *testing.F) {
	for _, o := range []geoiptest.Options{{}, {RecordSize: 28, Pointers: true}, {RecordSize: 32, IPVersion: 4}} {
		nets := testNets
		if o.IPVersion == 4 {
			nets = testNets[:2]
		}
		b, err := geoiptest.Build(nets, o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\xAB\xCD\xEFMaxMind.com\xe0"))
	ips := []netip.Addr{netip.MustParseAddr("20.53.203.50"), netip.MustParseAddr("2a03:2880::1"), netip.MustParseAddr("0.0.0.0"),
		netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("::"), netip.MustParseAddr("ffff::1")}
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := geoip.Parse(b)
		if err != nil {
			return
		}
		for _, ip := range ips {
			_, _ = db.City(ip)
		}
	})
}
