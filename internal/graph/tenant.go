package graph

import (
	"fmt"
	"strings"
)

// ValidateTenantID checks a tenant as graph.tenant_id (and
// AZURE_TENANT_ID) may name it: the directory's GUID, or one of its
// verified domain names such as contoso.onmicrosoft.com. It is the one rule
// for both config check and the credentials, so the two never disagree.
//
// A domain must be a DNS name of at least two labels: azidentity would also
// take a bare word, but the only bare words Entra knows are the
// multi-tenant aliases (common, organizations, consumers), with which an
// application cannot read one tenant's logs.
func ValidateTenantID(s string) error {
	if s != strings.TrimSpace(s) || s == "" {
		return fmt.Errorf("%q is not a tenant ID: empty or surrounded by spaces", s)
	}
	if guidRE.MatchString(s) {
		return nil
	}
	switch strings.ToLower(s) {
	case "common", "organizations", "consumers":
		return fmt.Errorf("%q is a multi-tenant alias, not a tenant: use the tenant's ID (a GUID) or a verified domain such as contoso.onmicrosoft.com", s)
	}
	const want = "a GUID, or a verified domain such as contoso.onmicrosoft.com"
	if len(s) > 253 {
		return fmt.Errorf("tenant ID of %d characters is too long for a domain name (want %s)", len(s), want)
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q is not a tenant ID (want %s)", s, want)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q is not a tenant ID: %q is not a domain name label (want %s)", s, l, want)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a tenant ID: %q is not a domain name label (want %s)", s, l, want)
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fmt.Errorf("%q is not a tenant ID: a domain's last label is not all digits (want %s)", s, want)
	}
	return nil
}
