package graph_test

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/graph"
)

// TestErrorsNameOnlyConfigKeys: every graph.<key> that a credential error
// tells the user to set is a key the config accepts (an error once asked
// for graph.token_file, which the config rejects).
func TestErrorsNameOnlyConfigKeys(t *testing.T) {
	keys := map[string]bool{}
	rt := reflect.TypeFor[config.GraphConfig]()
	for i := range rt.NumField() {
		if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ","); name != "" {
			keys[name] = true
		}
	}
	env := func(map[string]string) func(string) (string, bool) {
		return func(string) (string, bool) { return "", false }
	}
	keyRE := regexp.MustCompile(`graph\.([a-z_]+)`)
	for _, o := range []graph.CredentialOptions{
		{Auth: graph.AuthClientSecret, LookupEnv: env(nil)},
		{Auth: graph.AuthClientSecret, TenantID: "common", ClientID: "x", ClientSecret: "s", LookupEnv: env(nil)},
		{Auth: graph.AuthClientCertificate, LookupEnv: env(nil)},
		{Auth: graph.AuthClientCertificate, TenantID: "contoso.onmicrosoft.com", ClientID: "00000000-0000-4000-8000-000000000001", CertificatePath: "/nonexistent", LookupEnv: env(nil)},
		{Auth: graph.AuthWorkloadIdentity, LookupEnv: env(nil)},
		{Auth: graph.AuthWorkloadIdentity, TokenFile: "/nonexistent", TenantID: "bad tenant", ClientID: "bad", LookupEnv: env(nil)},
		{Auth: graph.AuthManagedIdentity, ClientID: "bad", LookupEnv: env(nil)},
		{Auth: graph.AuthAzureCLI, TenantID: "a b", LookupEnv: env(nil)},
		{Auth: graph.AuthAccessToken, TokenEnv: "1x", LookupEnv: env(nil)},
		{Auth: graph.AuthAzureCLI, Cloud: "mars", LookupEnv: env(nil)},
		{Auth: graph.AuthAzureCLI, AuthorityHost: "http://x", LookupEnv: env(nil)},
		{Auth: "", LookupEnv: env(nil)},
		{Auth: "kerberos", LookupEnv: env(nil)},
	} {
		_, err := graph.NewTokenSource(o, "")
		if err == nil {
			t.Errorf("%+v: no error", o)
			continue
		}
		for _, m := range keyRE.FindAllStringSubmatch(err.Error(), -1) {
			if !keys[m[1]] {
				t.Errorf("auth %s: error names graph.%s, which the config does not accept:\n%v", o.Auth, m[1], err)
			}
		}
	}
}

// TestTenantRuleAgrees: config check and the credentials accept exactly
// the same tenant ids (they once disagreed: config took any string with a
// dot, the credential any [A-Za-z0-9.-] word).
func TestTenantRuleAgrees(t *testing.T) {
	for _, tenant := range []string{
		"72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com", "contoso", "common",
		"a..b", "contoso.com/x", "10.0.0.1", "contoso_1.com", "x.y",
	} {
		yaml := fmt.Sprintf("accounts:\n  - id: 7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70\ngraph:\n  auth: client_secret\n  tenant_id: %q\n  client_id: 00000000-0000-4000-8000-000000000001\n  client_secret: s\n", tenant)
		_, cfgErr := config.Parse("t.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
		_, credErr := graph.NewTokenSource(graph.CredentialOptions{Auth: graph.AuthClientSecret, TenantID: tenant,
			ClientID: "00000000-0000-4000-8000-000000000001", ClientSecret: "s"}, "")
		valErr := graph.ValidateTenantID(tenant)
		if (cfgErr == nil) != (valErr == nil) || (credErr == nil) != (valErr == nil) {
			t.Errorf("tenant %q: config %v, credential %v, rule %v: they disagree", tenant, cfgErr, credErr, valErr)
		}
	}
}
