package config

import (
	"errors"
	"strings"
	"testing"
)

// TestEvidence: evidence: defaults next to the store and every rule of
// validateEvidence, each with its file line.
func TestEvidence(t *testing.T) {
	const head = "accounts:\n  - upn: bg1@contoso.com\nstore:\n  path: /var/lib/breakglass/bg.db\n"
	for _, tc := range []struct {
		name, yaml string
		want       EvidenceConfig
		wantErr    string
		wantLine   int
	}{
		{"unset", "", EvidenceConfig{HeadsFile: "/var/lib/breakglass/bg.db.heads"}, "", 0},
		{"all set", "evidence:\n  heads_file: ' /srv/heads/bg.heads '\n  signing_key: /etc/breakglass/evidence-key.pem\n  public_key: /etc/breakglass/evidence-key.pem.pub\n",
			EvidenceConfig{HeadsFile: "/srv/heads/bg.heads", SigningKey: "/etc/breakglass/evidence-key.pem", PublicKey: "/etc/breakglass/evidence-key.pem.pub"}, "", 0},
		{"empty heads file", "evidence:\n  heads_file: ''\n", EvidenceConfig{}, "evidence.heads_file: empty", 6},
		{"empty key", "evidence:\n  signing_key: ' '\n", EvidenceConfig{}, "evidence.signing_key: empty", 6},
		{"control char", "evidence:\n  public_key: \"a\\tb\"\n", EvidenceConfig{}, "evidence.public_key: contains a control character", 6},
		{"directory", "evidence:\n  heads_file: /srv/heads/\n", EvidenceConfig{}, "evidence.heads_file: is a directory", 6},
		{"heads file is the store", "evidence:\n  heads_file: /var/lib/breakglass/bg.db\n", EvidenceConfig{}, "kept outside the store", 6},
		{"public key is the private key", "evidence:\n  signing_key: k.pem\n  public_key: k.pem\n", EvidenceConfig{}, "evidence.public_key: is the signing key's file", 7},
		{"not a mapping", "evidence: [a]\n", EvidenceConfig{}, "evidence: expected a mapping", 5},
		{"unknown key", "evidence:\n  signing_kye: k.pem\n", EvidenceConfig{}, "signing_kye", 6},
		{"wrong type", "evidence:\n  heads_file: [a]\n", EvidenceConfig{}, "evidence.heads_file: expected a string", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(head+tc.yaml), nil)
			if tc.wantErr != "" {
				var list ErrorList
				if !errors.As(err, &list) || len(list) != 1 {
					t.Fatalf("Parse = %v, want one error", err)
				}
				if !strings.Contains(list[0].Error(), tc.wantErr) || list[0].Line != tc.wantLine {
					t.Fatalf("error %q at line %d, want %q at line %d", list[0], list[0].Line, tc.wantErr, tc.wantLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Evidence != tc.want {
				t.Errorf("got %+v, want %+v", cfg.Evidence, tc.want)
			}
		})
	}
}

var defaultEvidence = EvidenceConfig{HeadsFile: DefaultStorePath + DefaultHeadsSuffix}
