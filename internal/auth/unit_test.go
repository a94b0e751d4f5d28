package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	const pw = "correct horse battery staple"
	h, err := HashPassword(pw) // DefaultParams: the cost every real hash has
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") || strings.Contains(h, pw) {
		t.Fatalf("hash %q: want a PHC argon2id string with the default parameters and no password", h)
	}
	h2, _ := HashPassword(pw)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{pw, true}, {pw + " ", false}, {"Correct horse battery staple", false}, {"", false}} {
		ok, err := VerifyPassword(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

func TestVerifyRefusesHashesItCannotRead(t *testing.T) {
	good, err := HashPasswordParams("some long password", Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plain", "$2a$10$abcdefghijklmnopqrstuv", // bcrypt: not ours
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		"$argon2id$v=19$m=4194304,t=3,p=4$" + parts[4] + "$" + parts[5], // 4 GiB: refused, not computed
		"$argon2id$v=19$m=65536,t=999,p=4$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=65536,t=3,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$c2hvcnQ",
	} {
		if ok, err := VerifyPassword(h, "some long password"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", h, ok, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tt := range []struct {
		pw, want string
	}{
		{"", "empty"},
		{"short", "shorter than 12"},
		{"elevenchars", "shorter than 12"},
		{"            ", "only spaces"},
		{"tab\tin the middle", "control"},
		{"bad\xffutf8 password", "UTF-8"},
		{strings.Repeat("x", MaxPasswordBytes+1), "longer than"},
		{"twelve chars", ""},
		{"ünïcödé pässwörd", ""},
	} {
		err := CheckPassword(tt.pw)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckPassword(%.20q) = %v, want %q", tt.pw, err, tt.want)
		}
	}
}

func TestParseBearer(t *testing.T) {
	tok, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		h  string
		ok bool
	}{
		{"Bearer " + tok, true},
		{"bearer " + tok, true},
		{"Bearer   " + tok, true},
		{"Bearer " + tok + "x", false},
		{"Bearer " + tok[:len(tok)-1], false},
		{"Basic " + tok, false},
		{"Bearer", false},
		{"Bearer ", false},
		{tok, false},
		{"Bearer opsgenie-shared-token-0123", false},
		{"Bearer bgt_" + strings.Repeat("!", 43), false},
	} {
		got, ok := ParseBearer(tt.h)
		if ok != tt.ok || ok && got != tok {
			t.Errorf("ParseBearer(%q) = %q, %v; want ok %v", tt.h, got, ok, tt.ok)
		}
	}
	if HashToken(tok) == HashToken(tok+"x") || len(HashToken(tok)) != 64 {
		t.Error("HashToken is not a hex SHA-256")
	}
}

func FuzzParseBearer(f *testing.F) {
	tok, _, _ := NewToken()
	for _, s := range []string{"Bearer " + tok, "bearer  x", "Bearer bgt_", "", " ", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, ok := ParseBearer(h)
		if ok && (!strings.HasPrefix(got, TokenPrefix) || len(got) != len(TokenPrefix)+secretLen || !strings.Contains(h, got)) {
			t.Fatalf("ParseBearer(%q) accepted %q", h, got)
		}
	})
}

func TestLimiter(t *testing.T) {
	l := newLimiter(3, 10*time.Minute)
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	k := userKey("Dana")
	for i := range 3 {
		if u := l.blocked(t0.Add(time.Duration(i)*time.Minute), k); !u.IsZero() {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail(t0.Add(time.Duration(i)*time.Minute), k)
	}
	// Three failures at 0, 1, 2 min: blocked until the first leaves the
	// window at 10 min.
	if u := l.blocked(t0.Add(5*time.Minute), userKey("dana")); !u.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("blocked until %v, want %v (names are case-insensitive)", u, t0.Add(10*time.Minute))
	}
	if u := l.blocked(t0.Add(10*time.Minute), k); !u.IsZero() {
		t.Errorf("still blocked at the end of the window: %v", u)
	}
	if u := l.blocked(t0.Add(5*time.Minute), userKey("other")); !u.IsZero() {
		t.Error("another account is blocked")
	}
	l.succeed(k)
	if u := l.blocked(t0.Add(5*time.Minute), k); !u.IsZero() {
		t.Error("blocked after success")
	}
}

func TestRoles(t *testing.T) {
	for _, tt := range []struct {
		have, need Role
		ok         bool
	}{
		{RoleViewer, RoleViewer, true}, {RoleViewer, RoleResponder, false}, {RoleResponder, RoleViewer, true},
		{RoleResponder, RoleAdmin, false}, {RoleAdmin, RoleResponder, true}, {RoleNone, RoleViewer, false}, {RoleAdmin, RoleNone, false},
	} {
		if got := tt.have.Allows(tt.need); got != tt.ok {
			t.Errorf("%v.Allows(%v) = %v", tt.have, tt.need, got)
		}
	}
	for _, s := range Roles {
		r, err := ParseRole(strings.ToUpper(s))
		if err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) succeeded")
	}
}

// FuzzParseHash: a stored hash is read without a crash, and whatever it
// accepts has parameters within the bounds (a hash edited into the store
// cannot make a sign-in take a gigabyte or a minute).
func FuzzParseHash(f *testing.F) {
	h, _ := HashPasswordParams("some long password", Params{Time: 1, MemoryKiB: 64, Threads: 1})
	for _, s := range []string{h, "", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$" + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parseHash(s)
		if err != nil {
			return
		}
		if p.Time == 0 || p.Time > maxTime || p.MemoryKiB > maxMemoryKiB || p.Threads == 0 || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
			t.Fatalf("parseHash(%q) accepted %+v salt %d key %d", s, p, len(salt), len(key))
		}
	})
}

// FuzzDecodeJSON: any API body is read within its bound, with an error or
// a value, never a crash.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{"", "{}", `{"note":"x"}`, `{"note":5}`, `{"x":1}`, "{} {}", "[", strings.Repeat(" ", 100) + "{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v struct {
			Note string `json:"note"`
		}
		r := httptest.NewRequest(http.MethodPost, "/api/v1/x", strings.NewReader(body))
		w := httptest.NewRecorder()
		err := DecodeJSON(w, r, 64, &v)
		if err == nil && len(body) > 64 {
			t.Fatalf("a %d-byte body passed a 64-byte bound", len(body))
		}
	})
}
