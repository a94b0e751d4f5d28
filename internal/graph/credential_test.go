package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	tenantID  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID  = "0b5a2f6e-3c1d-4e8f-9a7b-1c2d3e4f5a6b"
	secret    = "s3cr3t-CLIENT-secret-VALUE"
	certPass  = "p4ss-CERT-password-VALUE"
	envSecret = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.env-token-VALUE"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// selfSignedPEM is a throwaway certificate and key as Entra would accept
// for certificate credentials (RSA).
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "breakglass-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
}

func TestNewTokenSourceValidation(t *testing.T) {
	garbage := writeFile(t, "garbage.pfx", []byte("not a certificate"))
	tests := []struct {
		name string
		o    CredentialOptions
		want []string // substrings, all required
	}{
		{"no auth", CredentialOptions{}, []string{"graph.auth: required"}},
		{"unknown auth", CredentialOptions{Auth: "password"}, []string{`graph.auth: unknown auth "password"`}},
		{"client_secret missing all", CredentialOptions{Auth: AuthClientSecret},
			[]string{"graph.tenant_id: required for auth client_secret", "graph.client_id: required", "graph.client_secret: required"}},
		{"client_secret blank secret", CredentialOptions{Auth: AuthClientSecret, TenantID: tenantID, ClientID: clientID, ClientSecret: "  "},
			[]string{"graph.client_secret: required"}},
		{"client_secret bad client id", CredentialOptions{Auth: AuthClientSecret, TenantID: tenantID, ClientID: "my-app", ClientSecret: secret},
			[]string{`graph.client_id: "my-app" is not a GUID`}},
		{"client_secret bad tenant", CredentialOptions{Auth: AuthClientSecret, TenantID: "contoso.com/../x", ClientID: clientID, ClientSecret: secret},
			[]string{"graph.tenant_id:", "not a tenant ID"}},
		{"client_certificate missing path", CredentialOptions{Auth: AuthClientCertificate, TenantID: tenantID, ClientID: clientID, ClientSecret: secret},
			[]string{"graph.certificate_path: required"}},
		{"client_certificate missing file", CredentialOptions{Auth: AuthClientCertificate, TenantID: tenantID, ClientID: clientID,
			CertificatePath: filepath.Join(t.TempDir(), "nope.pem"), CertificatePassword: certPass}, []string{"graph.certificate_path:", "no such file"}},
		{"client_certificate not a certificate", CredentialOptions{Auth: AuthClientCertificate, TenantID: tenantID, ClientID: clientID,
			CertificatePath: garbage, CertificatePassword: certPass}, []string{"graph.certificate_path:", "graph.certificate_password"}},
		{"workload_identity nothing set", CredentialOptions{Auth: AuthWorkloadIdentity, LookupEnv: env(nil)},
			[]string{"graph.tenant_id (or AZURE_TENANT_ID): required", "graph.client_id (or AZURE_CLIENT_ID): required",
				"AZURE_FEDERATED_TOKEN_FILE: required"}},
		{"workload_identity token file missing", CredentialOptions{Auth: AuthWorkloadIdentity, LookupEnv: env(map[string]string{
			"AZURE_TENANT_ID": tenantID, "AZURE_CLIENT_ID": clientID, "AZURE_FEDERATED_TOKEN_FILE": "/nonexistent/token"})},
			[]string{"AZURE_FEDERATED_TOKEN_FILE:", "/nonexistent/token"}},
		{"managed_identity bad client id", CredentialOptions{Auth: AuthManagedIdentity, ClientID: "system"}, []string{"graph.client_id:"}},
		{"azure_cli bad tenant", CredentialOptions{Auth: AuthAzureCLI, TenantID: "a b"}, []string{"graph.tenant_id:"}},
		{"access_token bad env name", CredentialOptions{Auth: AuthAccessToken, TokenEnv: "1-TOKEN"}, []string{"graph.token_env:"}},
		{"unknown cloud", CredentialOptions{Auth: AuthAzureCLI, Cloud: "mars"}, []string{`graph.cloud: unknown cloud "mars"`}},
		{"authority not https", CredentialOptions{Auth: AuthClientSecret, TenantID: tenantID, ClientID: clientID, ClientSecret: secret,
			AuthorityHost: "http://login.example.com"}, []string{"graph.authority_host:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every case carries secrets, so none may show up in any error.
			if tt.o.ClientSecret == "" && tt.o.Auth != AuthClientSecret {
				tt.o.ClientSecret = secret
			}
			if tt.o.CertificatePassword == "" {
				tt.o.CertificatePassword = certPass
			}
			ts, err := NewTokenSource(tt.o, "")
			if err == nil {
				t.Fatalf("no error; got %T", ts)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			for _, s := range []string{secret, certPass} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a secret: %q", err)
				}
			}
		})
	}
}

func TestNewTokenSourceModes(t *testing.T) {
	certPath := writeFile(t, "cert.pem", selfSignedPEM(t))
	tokenFile := writeFile(t, "token", []byte("k8s-sa-token"))
	tests := []struct {
		name      string
		o         CredentialOptions
		base      string
		wantScope string // "" for access_token
	}{
		{"client_secret", CredentialOptions{Auth: AuthClientSecret, TenantID: tenantID, ClientID: clientID, ClientSecret: secret}, "",
			"https://graph.microsoft.com/.default"},
		{"client_secret usgov", CredentialOptions{Auth: AuthClientSecret, TenantID: "contoso.onmicrosoft.us", ClientID: clientID, ClientSecret: secret, Cloud: "usgov"}, "",
			"https://graph.microsoft.us/.default"},
		{"client_secret private authority", CredentialOptions{Auth: AuthClientSecret, TenantID: tenantID, ClientID: clientID, ClientSecret: secret,
			AuthorityHost: "login.private.example"}, "https://graph.private.example/", "https://graph.private.example/.default"},
		{"client_certificate", CredentialOptions{Auth: AuthClientCertificate, TenantID: tenantID, ClientID: clientID, CertificatePath: certPath}, "",
			"https://graph.microsoft.com/.default"},
		{"workload_identity from options", CredentialOptions{Auth: AuthWorkloadIdentity, TenantID: tenantID, ClientID: clientID, TokenFile: tokenFile,
			LookupEnv: env(nil)}, "", "https://graph.microsoft.com/.default"},
		{"workload_identity from webhook env", CredentialOptions{Auth: AuthWorkloadIdentity, Cloud: "china", LookupEnv: env(map[string]string{
			"AZURE_TENANT_ID": tenantID, "AZURE_CLIENT_ID": clientID, "AZURE_FEDERATED_TOKEN_FILE": tokenFile})}, "",
			"https://microsoftgraph.chinacloudapi.cn/.default"},
		{"managed_identity system", CredentialOptions{Auth: AuthManagedIdentity}, "", "https://graph.microsoft.com/.default"},
		{"managed_identity user-assigned", CredentialOptions{Auth: AuthManagedIdentity, ClientID: clientID}, "", "https://graph.microsoft.com/.default"},
		{"azure_cli", CredentialOptions{Auth: AuthAzureCLI, TenantID: tenantID}, "", "https://graph.microsoft.com/.default"},
		{"access_token", CredentialOptions{Auth: AuthAccessToken}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := NewTokenSource(tt.o, tt.base)
			if err != nil {
				t.Fatalf("NewTokenSource: %v", err)
			}
			switch s := ts.(type) {
			case *credentialSource:
				if s.scope != tt.wantScope {
					t.Errorf("scope = %q, want %q", s.scope, tt.wantScope)
				}
			case *envToken:
				if tt.wantScope != "" || s.name != DefaultTokenEnv {
					t.Errorf("envToken %+v", s)
				}
			default:
				t.Errorf("unexpected %T", ts)
			}
		})
	}
}

func TestAccessTokenFromEnv(t *testing.T) {
	vars := map[string]string{}
	ts, err := NewTokenSource(CredentialOptions{Auth: AuthAccessToken, TokenEnv: "MY_GRAPH_TOKEN", LookupEnv: env(vars)}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		set     *string // nil: unset
		want    string
		wantErr bool
	}{
		{"unset", nil, "", true},
		{"empty", ptr("  "), "", true},
		{"plain", ptr(envSecret), envSecret, false},
		{"refreshed value is read again", ptr("second-token"), "second-token", false},
		{"bearer prefix stripped", ptr("Bearer third-token\n"), "third-token", false},
		{"only a prefix", ptr("Bearer "), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delete(vars, "MY_GRAPH_TOKEN")
			if tt.set != nil {
				vars["MY_GRAPH_TOKEN"] = *tt.set
			}
			got, err := ts.Token(t.Context())
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "MY_GRAPH_TOKEN") || !strings.Contains(err.Error(), "graph.token_env") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Token = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestClouds(t *testing.T) {
	tests := []struct {
		name, authority, graph string
	}{
		{"global", "https://login.microsoftonline.com/", "https://graph.microsoft.com"},
		{"usgov", "https://login.microsoftonline.us/", "https://graph.microsoft.us"},
		{"china", "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn"},
	}
	all := Clouds()
	if len(all) != len(tests) {
		t.Errorf("Clouds() has %d entries", len(all))
	}
	for _, tt := range tests {
		got, err := LookupCloud(tt.name)
		if err != nil || got != (Cloud{tt.authority, tt.graph}) || all[tt.name] != got {
			t.Errorf("%s: %+v, %v", tt.name, got, err)
		}
	}
	if g, err := LookupCloud(""); err != nil || g.GraphBaseURL != DefaultBaseURL {
		t.Errorf(`LookupCloud("") = %+v, %v`, g, err)
	}
	all["global"] = Cloud{}
	if Clouds()["global"].GraphBaseURL == "" {
		t.Error("Clouds() shares its map")
	}
}

func TestAuthorityHost(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{"login.example.com", "https://login.example.com/", ""},
		{"https://login.microsoftonline.us", "https://login.microsoftonline.us/", ""},
		{"https://login.example.com/adfs/", "https://login.example.com/adfs/", ""},
		{"http://login.example.com", "", "https"},
		{"https://login.example.com/?x=1", "", "https"},
	}
	for _, tt := range tests {
		got, err := authorityHost(tt.in)
		if got != tt.want || (err == nil) != (tt.wantErr == "") {
			t.Errorf("authorityHost(%q) = %q, %v", tt.in, got, err)
		}
	}
}

type fakeCred struct {
	calls  int
	scopes []string
	next   func(n int) (azcore.AccessToken, error)
}

func (f *fakeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls++
	f.scopes = o.Scopes
	return f.next(f.calls)
}

func TestFromCredentialCaches(t *testing.T) {
	fail := errors.New("AADSTS50000: token service down")
	tests := []struct {
		name      string
		next      func(n int) (azcore.AccessToken, error)
		steps     []time.Duration // clock offsets from t0 at which Token is called
		want      []string        // token or "error"
		wantCalls int
	}{
		{
			name: "cached until five minutes before expiry",
			next: func(n int) (azcore.AccessToken, error) {
				return azcore.AccessToken{Token: tok(n), ExpiresOn: t0.Add(time.Hour)}, nil
			},
			steps: []time.Duration{0, 30 * time.Minute, 54 * time.Minute, 56 * time.Minute},
			want:  []string{"t1", "t1", "t1", "t2"}, wantCalls: 2,
		},
		{
			name: "refresh hint honoured",
			next: func(n int) (azcore.AccessToken, error) {
				return azcore.AccessToken{Token: tok(n), ExpiresOn: t0.Add(time.Hour), RefreshOn: t0.Add(10 * time.Minute)}, nil
			},
			steps: []time.Duration{0, 11 * time.Minute},
			want:  []string{"t1", "t2"}, wantCalls: 2,
		},
		{
			name: "failed refresh keeps a valid token",
			next: func(n int) (azcore.AccessToken, error) {
				if n > 1 {
					return azcore.AccessToken{}, fail
				}
				return azcore.AccessToken{Token: tok(n), ExpiresOn: t0.Add(time.Hour)}, nil
			},
			steps: []time.Duration{0, 57 * time.Minute, 61 * time.Minute},
			want:  []string{"t1", "t1", "error"}, wantCalls: 3,
		},
		{
			name:  "empty token is an error",
			next:  func(int) (azcore.AccessToken, error) { return azcore.AccessToken{ExpiresOn: t0.Add(time.Hour)}, nil },
			steps: []time.Duration{0},
			want:  []string{"error"}, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred := &fakeCred{next: tt.next}
			src := FromCredential(cred, "https://graph.microsoft.com/.default").(*credentialSource)
			for i, step := range tt.steps {
				src.now = func() time.Time { return t0.Add(step) }
				got, err := src.Token(t.Context())
				if err != nil {
					if !errors.Is(err, fail) && !strings.Contains(err.Error(), "empty token") {
						t.Errorf("step %d: unexpected error %v", i, err)
					}
					got = "error"
				}
				if got != tt.want[i] {
					t.Errorf("step %d (+%v): token %q, want %q", i, step, got, tt.want[i])
				}
			}
			if cred.calls != tt.wantCalls {
				t.Errorf("GetToken calls = %d, want %d", cred.calls, tt.wantCalls)
			}
			if len(cred.scopes) != 1 || cred.scopes[0] != "https://graph.microsoft.com/.default" {
				t.Errorf("scopes = %v", cred.scopes)
			}
		})
	}
}

func tok(n int) string { return "t" + string(rune('0'+n)) }
