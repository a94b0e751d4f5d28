package kqlrule

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/geoip/geoiptest"
	"breakglass/internal/logs"
)

const geoRule = `accounts:
  - id: 00aa00aa-bb11-cc22-dd33-44ee44ee44ee
rules:
  - name: bg-abroad
    query: |
      SigninLogs
      | where UserId == "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
      | extend Geo = geo_info_from_ip_address(IPAddress)
      | where tostring(Geo.country) != "United Kingdom"
      | project UserId, IPAddress, Country = tostring(Geo.country), City = tostring(Geo.city)
`

// TestGeoRuleNeedsDatabase: without kql.geoip_database a rule calling
// geo_info_from_ip_address is refused, naming the rule and the key.
func TestGeoRuleNeedsDatabase(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte(geoRule), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(cfg)
	var list config.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Compile error = %v, want 1 config error", err)
	}
	got := list[0].Error()
	for _, w := range []string{"c.yaml:5: rules[0].query:", `rule "bg-abroad"`, "geo_info_from_ip_address", "kql.geoip_database is not set"} {
		if !strings.Contains(got, w) {
			t.Errorf("error %q lacks %q", got, w)
		}
	}
}

// TestGeoRuleFires: with a database, the filter rule places each sign-in
// and fires on the one from abroad, with the location in its rows.
func TestGeoRuleFires(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	err := geoiptest.Write(db, []geoiptest.Network{
		{Prefix: netip.MustParsePrefix("20.53.0.0/16"), Data: geoiptest.City("Australia", "New South Wales", "Sydney", -33.8715, 151.2006)},
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Data: geoiptest.City("United Kingdom", "England", "London", 51.5142, -0.0931)},
	}, geoiptest.Options{RecordSize: 28, Pointers: true})
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(geoRule, "rules:\n", "kql:\n  geoip_database: "+db+"\nrules:\n", 1)
	cfg, err := config.Parse("c.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rules[0].Kind != KindFilter {
		t.Fatalf("kind %s (%s), want a filter rule", rules[0].Kind, rules[0].Why)
	}
	accounts := entra.NewAccountSet(cfg.Users())
	fr := NewFilterRule(rules[0], func() *entra.AccountSet { return accounts })
	signin := func(ip string) *detect.Record {
		raw := `{"TimeGenerated":"2026-03-01T10:00:00Z","Category":"SignInLogs","OperationName":"Sign-in activity","Id":"s-1","UserId":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee","UserPrincipalName":"bg@example.com","ResultType":"0","IPAddress":"` + ip + `","Type":"SigninLogs"}`
		var ev entra.Event
		if err := logs.Decode([]byte(raw), logs.Classify([]byte(raw)), &ev); err != nil {
			t.Fatal(err)
		}
		return &detect.Record{Event: &ev, Table: entra.TableOf(ev.Category), Raw: []byte(raw), Source: "f:1", Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	}
	got := fr.Eval(nil, signin("20.53.203.50"))
	if len(got) != 1 {
		t.Fatalf("sign-in from Sydney: %d alerts, want 1", len(got))
	}
	if rows := got[0].Annotations[AnnRows]; !strings.Contains(rows, `"Country":"Australia"`) || !strings.Contains(rows, `"City":"Sydney"`) {
		t.Errorf("rows = %s", rows)
	}
	if got := fr.Eval(nil, signin("81.2.69.160")); len(got) != 0 {
		t.Errorf("sign-in from London fired: %+v", got)
	}
	// an address the database does not know has no country: it is not
	// the United Kingdom, so it fires (the rule's own logic, not a null)
	if got := fr.Eval(nil, signin("10.1.2.3")); len(got) != 1 {
		t.Errorf("sign-in from an unknown place: %d alerts, want 1", len(got))
	}
}
