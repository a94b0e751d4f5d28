package graph

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"breakglass/internal/graph/scrub"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Auth modes for CredentialOptions.Auth.
const (
	AuthClientSecret      = "client_secret"
	AuthClientCertificate = "client_certificate"
	AuthWorkloadIdentity  = "workload_identity"
	AuthManagedIdentity   = "managed_identity"
	AuthAzureCLI          = "azure_cli"
	AuthAccessToken       = "access_token"
)

// DefaultTokenEnv is where access_token auth reads the token by default.
const DefaultTokenEnv = "BREAKGLASS_GRAPH_TOKEN"

// CredentialOptions say how breakglass authenticates to Graph. Field
// comments name the config keys that errors refer to.
type CredentialOptions struct {
	Auth         string // graph.auth: one of the Auth* constants
	TenantID     string // graph.tenant_id
	ClientID     string // graph.client_id
	ClientSecret string // graph.client_secret
	// CertificatePath is a PEM file (certificate and unencrypted key) or a
	// PFX file, which may be protected by CertificatePassword.
	CertificatePath     string // graph.certificate_path
	CertificatePassword string // graph.certificate_password
	// TokenFile is the workload identity federated token. It has no
	// config key: empty means $AZURE_FEDERATED_TOKEN_FILE as set by the AKS
	// webhook, which also sets AZURE_TENANT_ID and AZURE_CLIENT_ID, used
	// when TenantID and ClientID are empty. Errors name those variables.
	TokenFile string
	TokenEnv  string // graph.token_env; default DefaultTokenEnv
	Cloud     string // graph.cloud: global (default), usgov or china
	// AuthorityHost replaces the cloud's Entra authority, e.g. for a
	// private cloud; instance discovery is then off, as azidentity needs.
	AuthorityHost string // graph.authority_host
	// LookupEnv replaces os.LookupEnv in tests.
	LookupEnv func(string) (string, bool)

	transport policy.Transporter // tests: a fake token endpoint
}

// Cloud is one national cloud's pair of endpoints.
type Cloud struct {
	AuthorityHost string // Entra ID token authority, with trailing slash
	GraphBaseURL  string // for Options.BaseURL and the token scope
}

// Clouds returns the national clouds by graph.cloud name. The map is a
// fresh copy.
func Clouds() map[string]Cloud {
	return map[string]Cloud{
		"global": {AuthorityHost: "https://login.microsoftonline.com/", GraphBaseURL: "https://graph.microsoft.com"},
		"usgov":  {AuthorityHost: "https://login.microsoftonline.us/", GraphBaseURL: "https://graph.microsoft.us"},
		"china":  {AuthorityHost: "https://login.chinacloudapi.cn/", GraphBaseURL: "https://microsoftgraph.chinacloudapi.cn"},
	}
}

// LookupCloud returns the named cloud; "" is global.
func LookupCloud(name string) (Cloud, error) {
	if name == "" {
		name = "global"
	}
	c, ok := Clouds()[strings.ToLower(name)]
	if !ok {
		return Cloud{}, fmt.Errorf("graph.cloud: unknown cloud %q (want global, usgov or china)", name)
	}
	return c, nil
}

var (
	guidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// NewTokenSource validates o and returns a TokenSource for Graph at
// graphBaseURL (default: the cloud's). Errors name the config key at
// fault and never contain secret values. Nothing is fetched here: the
// first token is requested by the first Graph call.
func NewTokenSource(o CredentialOptions, graphBaseURL string) (TokenSource, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cl, err := LookupCloud(o.Cloud)
	if err != nil {
		return nil, err
	}
	if graphBaseURL == "" {
		graphBaseURL = cl.GraphBaseURL
	}
	scope := strings.TrimRight(graphBaseURL, "/") + "/.default"
	copts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cl.AuthorityHost}}
	if o.transport != nil {
		copts.Transport = o.transport
	}
	noDiscovery := false
	if o.AuthorityHost != "" {
		host, err := authorityHost(o.AuthorityHost)
		if err != nil {
			return nil, err
		}
		copts.Cloud.ActiveDirectoryAuthorityHost = host
		noDiscovery = !slices.ContainsFunc(slices.Collect(maps.Values(Clouds())), func(c Cloud) bool {
			return strings.EqualFold(c.AuthorityHost, host)
		})
	}

	// Errors from azidentity can carry the token endpoint's answer, which
	// may echo the request (client_secret=…, client_assertion=…).
	sc := scrub.New(o.ClientSecret, o.CertificatePassword)
	var errs []error
	require := func(key, val string) {
		if strings.TrimSpace(val) == "" {
			errs = append(errs, fmt.Errorf("%s: required for auth %s", key, o.Auth))
		}
	}
	checkTenant := func(key, v string) {
		if v == "" {
			return
		}
		if err := ValidateTenantID(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	checkClient := func(v string) {
		if v != "" && !guidRE.MatchString(v) {
			errs = append(errs, fmt.Errorf("graph.client_id: %q is not a GUID (use the application's client ID)", v))
		}
	}
	tenant, client := strings.TrimSpace(o.TenantID), strings.TrimSpace(o.ClientID)

	switch o.Auth {
	case AuthClientSecret:
		require("graph.tenant_id", tenant)
		require("graph.client_id", client)
		require("graph.client_secret", o.ClientSecret)
		checkTenant("graph.tenant_id", tenant)
		checkClient(client)
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		cred, err := azidentity.NewClientSecretCredential(tenant, client, o.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, fmt.Errorf("graph: client_secret credential: %w", scrub.Clean(sc, err))
		}
		return fromCredential(cred, scope, sc), nil

	case AuthClientCertificate:
		require("graph.tenant_id", tenant)
		require("graph.client_id", client)
		require("graph.certificate_path", o.CertificatePath)
		checkTenant("graph.tenant_id", tenant)
		checkClient(client)
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		data, err := os.ReadFile(o.CertificatePath)
		if err != nil {
			return nil, fmt.Errorf("graph.certificate_path: %w", err)
		}
		var pw []byte
		if o.CertificatePassword != "" {
			pw = []byte(o.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			// The parser's messages describe the file, never the password.
			return nil, fmt.Errorf("graph.certificate_path: %s is not a PEM file with certificate and unencrypted key, "+
				"or a PFX file openable with graph.certificate_password: %w", o.CertificatePath, scrub.Clean(sc, err))
		}
		cred, err := azidentity.NewClientCertificateCredential(tenant, client, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, fmt.Errorf("graph: client_certificate credential: %w", scrub.Clean(sc, err))
		}
		return fromCredential(cred, scope, sc), nil

	case AuthWorkloadIdentity:
		tenantKey, clientKey := "graph.tenant_id", "graph.client_id"
		if tenant == "" {
			tenant, _ = lookup("AZURE_TENANT_ID")
			tenant, tenantKey = strings.TrimSpace(tenant), "AZURE_TENANT_ID"
		}
		if client == "" {
			client, _ = lookup("AZURE_CLIENT_ID")
			client, clientKey = strings.TrimSpace(client), "AZURE_CLIENT_ID"
		}
		// The token file has no config key: the AKS workload identity
		// webhook mounts it and names it in AZURE_FEDERATED_TOKEN_FILE.
		file := o.TokenFile
		if file == "" {
			file, _ = lookup("AZURE_FEDERATED_TOKEN_FILE")
		}
		require("graph.tenant_id (or AZURE_TENANT_ID)", tenant)
		require("graph.client_id (or AZURE_CLIENT_ID)", client)
		if strings.TrimSpace(file) == "" {
			errs = append(errs, errors.New("AZURE_FEDERATED_TOKEN_FILE: required for auth workload_identity: "+
				"the environment variable naming the federated token file, set by the AKS workload identity webhook"))
		}
		checkTenant(tenantKey, tenant)
		if client != "" && !guidRE.MatchString(client) {
			errs = append(errs, fmt.Errorf("%s: %q is not a GUID (use the application's client ID)", clientKey, client))
		}
		if file != "" {
			// The file is read at each token refresh; catch a wrong mount now.
			if _, err := os.Stat(file); err != nil {
				errs = append(errs, fmt.Errorf("AZURE_FEDERATED_TOKEN_FILE: %w", err))
			}
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: copts, TenantID: tenant, ClientID: client, TokenFilePath: file,
			DisableInstanceDiscovery: noDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("graph: workload_identity credential: %w", scrub.Clean(sc, err))
		}
		return fromCredential(cred, scope, sc), nil

	case AuthManagedIdentity:
		// A client ID selects a user-assigned identity; none means the
		// system-assigned one. The tenant is the host's.
		checkClient(client)
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: copts}
		if client != "" {
			mo.ID = azidentity.ClientID(client)
		}
		cred, err := azidentity.NewManagedIdentityCredential(mo)
		if err != nil {
			return nil, fmt.Errorf("graph: managed_identity credential: %w", scrub.Clean(sc, err))
		}
		return fromCredential(cred, scope, sc), nil

	case AuthAzureCLI:
		// For people trying breakglass out with their own `az login`. The
		// CLI uses its own configured cloud, so graph.cloud only picks the
		// scope. The CLI caches nothing for us: FromCredential does.
		checkTenant("graph.tenant_id", tenant)
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		cred, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenant})
		if err != nil {
			return nil, fmt.Errorf("graph: azure_cli credential: %w", scrub.Clean(sc, err))
		}
		return fromCredential(cred, scope, sc), nil

	case AuthAccessToken:
		name := o.TokenEnv
		if name == "" {
			name = DefaultTokenEnv
		}
		if !envNameRE.MatchString(name) {
			return nil, fmt.Errorf("graph.token_env: %q is not an environment variable name", name)
		}
		return &envToken{name: name, lookup: lookup}, nil

	case "":
		return nil, errors.New("graph.auth: required (client_secret, client_certificate, workload_identity, managed_identity, azure_cli or access_token)")
	default:
		return nil, fmt.Errorf("graph.auth: unknown auth %q (want client_secret, client_certificate, workload_identity, managed_identity, azure_cli or access_token)", o.Auth)
	}
}

// authorityHost normalises graph.authority_host to azidentity's form.
func authorityHost(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("graph.authority_host: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("graph.authority_host: %q must be an https URL such as https://login.microsoftonline.com/", s)
	}
	return "https://" + u.Host + strings.TrimRight(u.Path, "/") + "/", nil
}

// envToken is a token someone else obtained and refreshes, e.g. a sidecar
// or `az account get-access-token` in a wrapper script. It is read at
// every call so a refreshed value is used at once.
type envToken struct {
	name   string
	lookup func(string) (string, bool)
}

func (e *envToken) Token(context.Context) (string, error) {
	v, _ := e.lookup(e.name)
	f := strings.Fields(v)
	if len(f) > 0 && strings.EqualFold(f[0], "bearer") {
		f = f[1:]
	}
	v = strings.Join(f, " ")
	if v == "" {
		return "", fmt.Errorf("graph: auth access_token: environment variable %s (graph.token_env) is unset or empty", e.name)
	}
	return v, nil
}

// FromCredential adapts an azidentity credential to TokenSource for
// scope (Graph base URL + "/.default"). It caches the token until five
// minutes before expiry (or the credential's refresh hint), because not
// every credential caches (the Azure CLI one runs az each time), and keeps
// using a still-valid token if a refresh fails.
func FromCredential(cred azcore.TokenCredential, scope string) TokenSource {
	return fromCredential(cred, scope, nil)
}

// fromCredential is FromCredential with the secrets to scrub from the
// credential's errors (azidentity's include the token endpoint's answer).
func fromCredential(cred azcore.TokenCredential, scope string, sc *scrub.Scrubber) TokenSource {
	return &credentialSource{cred: cred, scope: scope, now: time.Now, scrub: sc}
}

type credentialSource struct {
	cred  azcore.TokenCredential
	scope string
	now   func() time.Time
	scrub *scrub.Scrubber

	mu      sync.Mutex // held across GetToken so concurrent callers share one refresh
	token   string
	refresh time.Time
	expires time.Time
}

func (s *credentialSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refresh) {
		return s.token, nil
	}
	at, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		if s.token != "" && now.Add(30*time.Second).Before(s.expires) {
			return s.token, nil
		}
		// azidentity's error holds the raw response: masked where it echoes.
		return "", fmt.Errorf("graph: get token for %s: %w", s.scope, scrub.Clean(s.scrub, err))
	}
	if at.Token == "" {
		return "", fmt.Errorf("graph: get token for %s: credential returned an empty token", s.scope)
	}
	s.token, s.expires = at.Token, at.ExpiresOn
	s.refresh = at.ExpiresOn.Add(-5 * time.Minute)
	if !at.RefreshOn.IsZero() && at.RefreshOn.Before(s.refresh) {
		s.refresh = at.RefreshOn
	}
	return s.token, nil
}
