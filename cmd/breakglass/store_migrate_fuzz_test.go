package main

import (
	"strings"
	"testing"
)

// FuzzStoreSpec: any --from/--to value parses or fails with a usage error,
// never a panic, and a value that is not an SQLite path never shows in
// the error beyond a driver-like word: it may be a DSN with a password.
func FuzzStoreSpec(f *testing.F) {
	for _, s := range []string{
		"sqlite:data/bg.db", "postgres:", "postgres:host=/tmp user=bg", "postgres://u:pw@db.example.com/x?sslmode=verify-full",
		"postgresql://u:pw@localhost/x", "mysql:x", "host=db password=secret", "x password=abc:def", "postgres:\x00\n",
		"postgres:postgres://u:pw@db/x", ":", "sqlite:", "SQLITE:x", "postgres:password=hunter2 host=db.example.com",
	} {
		f.Add(s, "hunter2secret")
	}
	f.Fuzz(func(t *testing.T, v, secret string) {
		t.Setenv(storeDSNEnv, "")
		var used bool
		spec, err := parseStoreSpec("to", v, "", &used)
		if err == nil {
			if spec.cfg.Driver == "" || strings.Contains(spec.name, secret) && secret != "" && !strings.HasPrefix(v, "sqlite:") {
				t.Fatalf("parsed %q as %+v", v, spec)
			}
			return
		}
		if _, ok := err.(usageError); !ok {
			t.Fatalf("%q: %T %v, want a usage error", v, err, err)
		}
		// A secret placed after the first colon, or anywhere in a value
		// with no sqlite: prefix, never shows.
		if len(secret) < 6 || strings.ContainsAny(secret, ":") || strings.HasPrefix(v, "sqlite:") {
			return
		}
		for _, w := range []string{v + secret, "postgres:" + v + secret, "pg:" + secret, "postgres://u:" + secret + "@db.example.com/x"} {
			_, err := parseStoreSpec("to", w, "", &used)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("%q: the error shows the secret: %v", w, err)
			}
		}
	})
}
