package doctor

import (
	"strings"
	"testing"
	"time"

	"breakglass/internal/graph"
)

// FuzzParseClaims: any token text, however hostile, gives claims or an
// error, never a panic, and the detail built from it stays one line.
func FuzzParseClaims(f *testing.F) {
	f.Add(jwt(allRoles, time.Unix(1e9, 0)))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WzEsMl19.")
	f.Add("not a token")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := parseClaims(tok)
		d := tokenDetail(c, err, time.Unix(1e9, 0))
		if d == "" {
			t.Error("empty detail")
		}
		e := &Env{}
		if got := e.clean(d); strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 && r != '\n' }) {
			t.Errorf("control characters survive clean: %q", got)
		}
	})
}

// FuzzParseRequirement: the permission texts graph owns parse into
// permission names; any other text is refused or parsed, never a panic.
func FuzzParseRequirement(f *testing.F) {
	for _, p := range []string{"/auditLogs/signIns", "/users/x/memberOf", "/users", "/groups", "/identityGovernance"} {
		f.Add(graph.PermissionsFor(p, ""))
	}
	f.Add("A and (or")
	f.Fuzz(func(t *testing.T, text string) {
		req, ok := parseRequirement(text)
		if !ok {
			return
		}
		for _, alts := range req {
			for _, a := range alts {
				if a == "" || strings.ContainsAny(a, " ()") {
					t.Errorf("%q: bad permission name %q", text, a)
				}
			}
		}
	})
}

// TestProbePermissionsParse: every permission the probes need is one
// parseRequirement reads, so the roles check misses none.
func TestProbePermissionsParse(t *testing.T) {
	f := newFixture(t)
	f.config()
	for _, p := range graphProbes(mustLoad(t, f.config())) {
		text := graph.PermissionsFor(p.path, "")
		if _, ok := parseRequirement(text); !ok {
			t.Errorf("%s (%s): permission text %q does not parse", p.path, p.feature, text)
		}
	}
}
