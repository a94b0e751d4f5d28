package kqlrule

import (
	"fmt"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/geoip"
	"breakglass/internal/kql/eval"
	"breakglass/internal/kql/fn"
)

// Geo is geo_info_from_ip_address's database from kql.geoip_database
// (config validated it); nil when the key is not set.
func Geo(cfg *config.Config) (fn.Geo, error) {
	if cfg == nil || cfg.KQL.GeoIPDatabase == "" {
		return nil, nil
	}
	db, err := geoip.Load(cfg.KQL.GeoIPDatabase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.GeoIPKey, err)
	}
	return db, nil
}

// geoWithoutDatabase refuses a rule that calls geo_info_from_ip_address
// when no database is configured: every location would be null, and a
// condition on it would never fire (fail closed).
func geoWithoutDatabase(cfg *config.Config, i int, q *eval.Query, geo fn.Geo) error {
	if !q.UsesGeo() || geo != nil {
		return nil
	}
	c := &cfg.Rules[i]
	return &config.Error{File: cfg.Path, Line: c.Line("query"), Field: fmt.Sprintf("rules[%d].query", i),
		Msg: fmt.Sprintf("rule %q calls %s, but %s is not set: every location would be null and the rule could never fire on one; "+
			"set %s to a GeoLite2-City .mmdb file", c.Name, fn.GeoFunc, config.GeoIPKey, config.GeoIPKey)}
}

// Warnings say what a query that runs cannot see: tables breakglass does
// not have (union isfuzzy=true skips them) and locations without a GeoIP
// database. A rule is refused for either (here, at load); an ad hoc query
// (breakglass query, the API, the rules page) runs and shows these.
func Warnings(q *eval.Query, geo fn.Geo) []string {
	var w []string
	if m := q.MissingTables(); len(m) > 0 {
		w = append(w, fmt.Sprintf("the query reads tables breakglass does not have (%s): union isfuzzy=true skips them, so none of their rows are in the result", strings.Join(m, ", ")))
	}
	if q.UsesGeo() && geo == nil {
		w = append(w, fmt.Sprintf("%s is called but %s is not set in the configuration: every location is null", fn.GeoFunc, config.GeoIPKey))
	}
	return w
}
