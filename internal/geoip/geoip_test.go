package geoip_test

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"breakglass/internal/geoip"
	"breakglass/internal/geoip/geoiptest"
)

var testNets = []geoiptest.Network{
	{Prefix: netip.MustParsePrefix("20.53.0.0/16"), Data: geoiptest.City("Australia", "New South Wales", "Sydney", -33.8715, 151.2006)},
	{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Data: geoiptest.City("United Kingdom", "England", "London", 51.5142, -0.0931)},
	{Prefix: netip.MustParsePrefix("2a03:2880::/32"), Data: geoiptest.City("United States", "Florida", "Boca Raton", 26.3594, -80.0771)},
	{Prefix: netip.MustParsePrefix("1.1.1.1/32"), Data: geoiptest.City("Australia", "", "", -33.494, 143.2104)},
}

// TestCity: lookups in databases of every record size, both IP versions,
// with and without string pointers, give the networks' data.
func TestCity(t *testing.T) {
	cases := []struct {
		ip   string
		want string // country|state|city|lat|lon, or "not found"
		v4   bool   // also in an IPv4 database
	}{
		{"20.53.203.50", "Australia|New South Wales|Sydney|-33.8715|151.2006", true},
		{"20.53.0.0", "Australia|New South Wales|Sydney|-33.8715|151.2006", true},
		{"20.54.0.1", "not found", true},
		{"81.2.69.160", "United Kingdom|England|London|51.5142|-0.0931", true},
		{"::ffff:81.2.69.160", "United Kingdom|England|London|51.5142|-0.0931", true},
		{"1.1.1.1", "Australia|||-33.494|143.2104", true},
		{"1.1.1.2", "not found", true},
		{"2a03:2880:f12c:83:face:b00c::25de", "United States|Florida|Boca Raton|26.3594|-80.0771", false},
		{"2a04::1", "not found", false},
		{"10.0.0.1", "not found", true},
	}
	for _, rs := range []int{24, 28, 32} {
		for _, ipv := range []int{6, 4} {
			for _, ptr := range []bool{false, true} {
				name := fmt.Sprintf("record%d/ipv%d/pointers=%v", rs, ipv, ptr)
				nets := testNets
				if ipv == 4 {
					nets = nil
					for _, n := range testNets {
						if n.Prefix.Addr().Is4() {
							nets = append(nets, n)
						}
					}
				}
				b, err := geoiptest.Build(nets, geoiptest.Options{RecordSize: rs, IPVersion: ipv, Pointers: ptr})
				if err != nil {
					t.Fatal(err)
				}
				db, err := geoip.Parse(b)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if db.Meta.RecordSize != rs || db.Meta.IPVersion != ipv || db.Meta.DatabaseType != "GeoLite2-City" {
					t.Errorf("%s: metadata %+v", name, db.Meta)
				}
				for _, c := range cases {
					want := c.want
					if ipv == 4 && !c.v4 {
						want = "not found"
					}
					got := "not found"
					city, err := db.City(netip.MustParseAddr(c.ip))
					switch {
					case errors.Is(err, geoip.ErrNotFound):
					case err != nil:
						got = "error: " + err.Error()
					default:
						got = fmt.Sprintf("%s|%s|%s|%v|%v", city.Country, city.State, city.City, city.Latitude, city.Longitude)
					}
					if got != want {
						t.Errorf("%s: %s = %s, want %s", name, c.ip, got, want)
					}
				}
			}
		}
	}
}

// TestDamaged: a damaged file gives an error naming what is wrong (and,
// where it helps, the offset), never a crash.
func TestDamaged(t *testing.T) {
	good, err := geoiptest.Build(testNets, geoiptest.Options{Pointers: true})
	if err != nil {
		t.Fatal(err)
	}
	marker := strings.LastIndex(string(good), "\xAB\xCD\xEFMaxMind.com")
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no metadata marker"},
		{"text", []byte("hello, world"), "no metadata marker"},
		{"metadata cut", good[:marker+20], "metadata"},
		{"tree longer than the file", good[marker-40:], "longer than the file"},
		{"bad record size", []byte(strings.Replace(string(good), "record_size\xa1\x18", "record_size\xa1\x19", 1)), "record_size 25"},
	}
	for _, c := range cases {
		_, err := geoip.Parse(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to say %q", c.name, err, c.want)
		}
	}
	// data damaged after a valid tree: the lookup fails, with the offset
	bad := append([]byte(nil), good...)
	db, err := geoip.Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	dataStart := int(db.Meta.NodeCount)*6 + 16
	for i := dataStart; i < marker; i++ {
		bad[i] = 0xFF
	}
	if _, err := db.City(netip.MustParseAddr("20.53.203.50")); err == nil || !strings.Contains(err.Error(), "offset") {
		t.Errorf("damaged data: %v, want an error with the offset", err)
	}
}

// TestOpen: Open and Load read files; a missing one is an error naming it.
func TestOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "city.mmdb")
	if err := geoiptest.Write(p, testNets, geoiptest.Options{}); err != nil {
		t.Fatal(err)
	}
	db, err := geoip.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := geoip.Load(p); again != db {
		t.Error("Load of an unchanged file read it again")
	}
	if _, err := geoip.Open(filepath.Join(t.TempDir(), "nope.mmdb")); err == nil || !strings.Contains(err.Error(), "nope.mmdb") {
		t.Errorf("missing file: %v", err)
	}
}
