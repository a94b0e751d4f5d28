package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateGroupEntries: a group entry names no user to put in a
// simulated record. simulate skips it and says so (it used to fail with
// "account N has neither id nor upn"), simulates the user entries, and
// refuses a list of groups only rather than fall back to its demo
// accounts without a word.
func TestSimulateGroupEntries(t *testing.T) {
	const (
		gid  = "9a000000-0000-4000-8000-0000000000e1"
		user = "7d5f3b2a-4c1e-4f6b-9a8d-2e3c4b5a6f70"
	)
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.yaml")
	onlyGroups := filepath.Join(dir, "groups.yaml")
	os.WriteFile(mixed, []byte("accounts:\n  - group: "+gid+"\n  - id: "+user+"\n"), 0o600)
	os.WriteFile(onlyGroups, []byte("accounts:\n  - group: "+gid+"\n"), 0o600)
	out, truth := filepath.Join(dir, "out.json"), filepath.Join(dir, "truth.json")

	r := runBinary(t, []string{"BREAKGLASS_CONFIG="}, "simulate", "-c", mixed, "--count", "200", "--bg-share", "0.5", "--out", out, "--truth", truth)
	if r.code != 0 || !strings.Contains(r.stderr, "skipping 1 group entry") || !strings.Contains(r.stderr, gid) {
		t.Fatalf("mixed list: exit %d, want 0 and a note naming the skipped group:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(truth)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), user) {
		t.Errorf("the user entry was not simulated:\n%.500s", data)
	}

	r = runBinary(t, []string{"BREAKGLASS_CONFIG="}, "simulate", "-c", onlyGroups, "--count", "10", "--out", filepath.Join(dir, "none.json"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "lists only groups") {
		t.Errorf("groups only: exit %d, want %d naming the problem:\n%s", r.code, exitUsage, r.stderr)
	}
}
