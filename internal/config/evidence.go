package config

import (
	"strings"
	"unicode"
)

// DefaultHeadsSuffix names the heads file next to the store by default:
// store.path + ".heads".
const DefaultHeadsSuffix = ".heads"

// EvidenceConfig is evidence: where the daemon publishes the heads of the
// tamper-evident evidence log, and the key that signs them. The heads file
// must live outside the store (ideally on other storage, or shipped
// elsewhere by the log pipeline too): deleting the store's newest entries
// is then still detected.
type EvidenceConfig struct {
	// HeadsFile receives one published head per line (default
	// store.path + ".heads"), relative to the working directory unless
	// absolute, like store.path.
	HeadsFile string `yaml:"heads_file"`
	// SigningKey is the file of the Ed25519 private key that signs heads
	// (PEM PKCS#8, or the 32-byte seed raw, hex or base64); unset: heads
	// are published unsigned. Make one with breakglass evidence keygen or
	// openssl genpkey -algorithm ed25519. serve refuses to start when it
	// cannot read it.
	SigningKey string `yaml:"signing_key,omitempty"`
	// PublicKey is the file of the public key evidence verify trusts
	// (PEM, or the 32 bytes hex or base64); unset: the signing key's.
	PublicKey string `yaml:"public_key,omitempty"`
}

// validateEvidence checks evidence:. The key files are read by serve and
// evidence verify, which name the field when they cannot: the operator
// running incidents report need not be able to read the daemon's key.
func (c *Config) validateEvidence(d *decoder) {
	e := &c.Evidence
	for _, p := range []struct {
		field string
		v     *string
	}{{"evidence.heads_file", &e.HeadsFile}, {"evidence.signing_key", &e.SigningKey}, {"evidence.public_key", &e.PublicKey}} {
		if d.failed[p.field] {
			continue
		}
		*p.v = strings.TrimSpace(*p.v)
		line, set := d.lines[p.field]
		switch {
		case !set:
		case *p.v == "" && p.field == "evidence.heads_file":
			d.errorf(line, p.field, "empty; give a file path, or remove the key for the default (store.path + %q)", DefaultHeadsSuffix)
		case *p.v == "":
			d.errorf(line, p.field, "empty; give a file path, or remove the key")
		case strings.ContainsFunc(*p.v, unicode.IsControl):
			d.errorf(line, p.field, "contains a control character; give a file path")
		case strings.HasSuffix(*p.v, "/"):
			d.errorf(line, p.field, "is a directory; give a file path")
		}
	}
	if !d.failed["evidence.heads_file"] && e.HeadsFile != "" && e.HeadsFile == c.Store.Path {
		d.errorf(d.lines["evidence.heads_file"], "evidence.heads_file", "is the store itself; the heads must be kept outside the store")
	}
	if e.SigningKey != "" && e.SigningKey == e.PublicKey {
		d.errorf(d.lines["evidence.public_key"], "evidence.public_key", "is the signing key's file; give the public key's (keygen writes it as KEY.pub)")
	}
}

func (c *Config) applyEvidenceDefaults() {
	if c.Evidence.HeadsFile == "" {
		c.Evidence.HeadsFile = c.Store.defaultHeadsFile() // store.go
	}
}
