package fn_test

import (
	"net/netip"
	"testing"

	"breakglass/internal/geoip"
	"breakglass/internal/geoip/geoiptest"
	"breakglass/internal/kql/fn"
	"breakglass/internal/kql/value"
)

// TestGeoInfoFromIPAddress: the Kusto docs' examples
// (geo-info-from-ip-address-function), over a database that holds their
// two networks: a bag of country, state, city, latitude and longitude;
// null without a database, for an address it lacks, and for text that
// is no address.
func TestGeoInfoFromIPAddress(t *testing.T) {
	b, err := geoiptest.Build([]geoiptest.Network{
		{Prefix: netip.MustParsePrefix("20.53.0.0/16"), Data: geoiptest.City("Australia", "New South Wales", "Sydney", -33.8715, 151.2006)},
		{Prefix: netip.MustParsePrefix("2a03:2880::/32"), Data: geoiptest.City("United States", "Florida", "Boca Raton", 26.3594, -80.0771)},
		{Prefix: netip.MustParsePrefix("1.2.3.0/24"), Data: map[string]any{"country": map[string]any{"names": map[string]any{"en": "Nowhere"}}}},
	}, geoiptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := geoip.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	f := fn.Lookup(fn.GeoFunc)
	cases := []struct {
		geo  fn.Geo
		ip   value.Value
		want string
	}{
		{db, value.NewString("20.53.203.50"), `{"city":"Sydney","country":"Australia","latitude":-33.8715,"longitude":151.2006,"state":"New South Wales"}`},
		{db, value.NewString("2a03:2880:f12c:83:face:b00c::25de"), `{"city":"Boca Raton","country":"United States","latitude":26.3594,"longitude":-80.0771,"state":"Florida"}`},
		{db, value.NewString(" 20.53.203.50 "), `{"city":"Sydney","country":"Australia","latitude":-33.8715,"longitude":151.2006,"state":"New South Wales"}`},
		{db, value.NewString("1.2.3.4"), `{"city":"","country":"Nowhere","state":""}`}, // no location: no latitude/longitude
		{db, value.NewString("8.8.8.8"), "null"},
		{db, value.NewString("not an address"), "null"},
		{db, value.NewString(""), "null"},
		{nil, value.NewString("20.53.203.50"), "null"},
	}
	for _, c := range cases {
		got := f.Call(&fn.Ctx{Geo: c.geo}, []value.Value{c.ip})
		s := "null"
		if !got.IsNull() {
			s = value.JSON(got.D)
		}
		if got.T != value.Dynamic || s != c.want {
			t.Errorf("geo_info_from_ip_address(%q) = %s (%s), want %s", c.ip.S, s, got.T, c.want)
		}
	}
}
