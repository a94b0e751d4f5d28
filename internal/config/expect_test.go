package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"breakglass/internal/entra"
)

// TestExpectMerge pins the documented merge: a key an account's expect
// sets replaces the global key (an empty value switches it off), a key it
// leaves out is inherited, and group entries carry theirs for members.
func TestExpectMerge(t *testing.T) {
	data, err := os.ReadFile("testdata/good/expect.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("expect.yaml", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	global := entra.Expect{
		Devices:           []string{"3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"},
		Networks:          map[string][]string{"paw-vlan": {"203.0.113.0/24", "2001:db8:100::/48"}, "jump host": {"198.51.100.7/32"}},
		Countries:         []string{"NO", "SE"},
		PhishingResistant: true,
		Strengths:         []string{"Break-glass FIDO2 only"},
		ConditionalAccess: "notApplied",
	}
	if !reflect.DeepEqual(*cfg.Expect, global) {
		t.Errorf("global expect = %+v, want %+v", *cfg.Expect, global)
	}
	own := global
	own.Devices, own.Countries, own.ConditionalAccess = []string{"9e8d7c6b-5a49-4382-a716-151413121110"}, nil, "success"
	group := global
	group.PhishingResistant, group.Strengths = false, nil
	for i, want := range []entra.Expect{global, own, group} {
		if got := cfg.Accounts[i].Expect; got == nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("accounts[%d].expect = %+v, want %+v", i, got, want)
		}
	}
	if cfg.Accounts[0].Expect == cfg.Expect {
		t.Error("accounts[0] shares the global Expect; a later edit of one would change the other")
	}

	// No expect anywhere: no account carries one.
	cfg, err = Parse("none.yaml", []byte("accounts:\n  - upn: bg@contoso.com\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Accounts[0].Expect != nil || cfg.Expect != nil {
		t.Errorf("expect without configuration: %+v, %+v", cfg.Accounts[0].Expect, cfg.Expect)
	}
	// An account that switches every global key off expects nothing.
	cfg, err = Parse("off.yaml", []byte("expect:\n  countries: [NO]\naccounts:\n  - upn: bg@contoso.com\n    expect:\n      countries: []\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Accounts[0].Expect != nil {
		t.Errorf("all switched off: %+v, want nil", cfg.Accounts[0].Expect)
	}
}

// TestExpectReadmeExample: the README's expect: example is a valid file.
func TestExpectReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "### Expectations of break-glass sign-ins")
	_, block, ok2 := strings.Cut(sec, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no expect: example")
	}
	cfg, err := Parse("README.md", []byte(block), nil)
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	if e := cfg.Accounts[1].Expect; e == nil || len(e.Devices) != 1 || !e.PhishingResistant || len(e.Countries) != 2 {
		t.Errorf("README example's second account: %+v", e)
	}
}
