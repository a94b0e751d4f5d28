package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestStoreConnString: the DSN comes from store.dsn or store.dsn_file, and
// no way of printing the store config shows it.
func TestStoreConnString(t *testing.T) {
	good, err := os.ReadFile("testdata/good/store_postgres.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc, want, secret string
	}{
		{"dsn", string(good), testEnv["BG_PG_DSN"], "pg-pass-do-not-print"},
		// Not a good fixture: the daemon's test parses those from another
		// directory, where the relative dsn_file is not.
		{"dsn_file", "accounts:\n  - upn: bg@contoso.com\nstore:\n  driver: PostgreS\n  dsn_file: testdata/store/dsn.txt\n",
			"host=db.example user=bg password=file-pass-do-not-print dbname=breakglass sslmode=verify-full", "file-pass-do-not-print"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.name+".yaml", []byte(tc.doc), lookup(testEnv))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Store.ConnString().Reveal(); got != tc.want {
				t.Errorf("ConnString = %q, want %q", got, tc.want)
			}
			if cfg.Store.Driver != StorePostgres || cfg.Store.Path != "" {
				t.Errorf("driver %q path %q, want postgres and no path", cfg.Store.Driver, cfg.Store.Path)
			}
			out, _ := cfg.Redacted()
			for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", cfg.Store, cfg.Store, cfg.Store, cfg.Store.ConnString()),
				string(out), cfg.Store.Describe()} {
				if strings.Contains(s, tc.secret) {
					t.Errorf("printed config shows the DSN's password: %s", s)
				}
			}
		})
	}
}

func TestCheckDSN(t *testing.T) {
	for dsn, ok := range map[string]bool{
		"postgres://u@h/db?sslmode=verify-full":          true,
		"postgresql://u:p@h:5432/db?sslmode=verify-full": true,
		"host=h.example dbname=bg sslmode=require":       true,
		"postgres://u@localhost/db":                      true,  // loopback may go without TLS
		"host=/run/postgresql dbname=bg":                 true,  // and so may a Unix socket
		"postgres://u@h/db":                              false, // prefer: plaintext possible
		"host=h.example dbname=bg sslmode=disable":       false,
		"postgres://u@h:notaport/db?sslmode=verify-full": false,
		"mysql://u@h/db":                                 false,
		"just-a-word":                                    false,
		"host=h\ndbname=x":                               false,
		"postgres://u@h/db\x00":                          false,
		"sqlite:///var/lib/breakglass.db":                false,
	} {
		if got := checkDSN(dsn) == ""; got != ok {
			t.Errorf("checkDSN(%q) = %q, want ok %v", dsn, checkDSN(dsn), ok)
		}
	}
}
