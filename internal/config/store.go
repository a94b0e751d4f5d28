package config

import (
	"errors"
	"os"
	"strings"
	"unicode"

	"breakglass/internal/store/postgres"
)

// Store drivers (store.driver).
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
	// DefaultStoreDriver is used when store.driver is not given.
	DefaultStoreDriver = StoreSQLite
	// DefaultPostgresHeadsFile is evidence.heads_file's default with
	// driver postgres, which has no store.path to put it next to.
	DefaultPostgresHeadsFile = "data/breakglass" + DefaultHeadsSuffix
)

// StoreDrivers lists the values store.driver accepts; internal/store/backend
// opens each (its test checks the two agree).
var StoreDrivers = []string{StoreSQLite, StorePostgres}

// storeDSNHint says how to write store.dsn, in every message about it.
const storeDSNHint = "a PostgreSQL URL postgres://USER@HOST:5432/DB?sslmode=verify-full, or key=value pairs host=... user=... dbname=...; " +
	"give it as ${ENV_VAR} or in store.dsn_file, not in the file itself, as it holds the password"

// validateStore checks store.driver and the keys that go with it: with
// sqlite, store.path (defaulted); with postgres, store.dsn or
// store.dsn_file (read here, so a missing file fails at load, not at the
// first write).
func (c *Config) validateStore(d *decoder) {
	s := &c.Store
	s.Driver = d.oneOf("store.driver", s.Driver, StoreDrivers)
	if d.failed["store.driver"] {
		return
	}
	line := func(k string) int {
		if l, ok := d.lines["store."+k]; ok {
			return l
		}
		if l, ok := d.lines["store"]; ok {
			return l
		}
		return 0
	}
	s.DSNFile = strings.TrimSpace(s.DSNFile)
	_, pathSet := d.lines["store.path"]
	switch s.Driver {
	case "", StoreSQLite:
		for _, k := range []string{"dsn", "dsn_file"} {
			if _, set := d.lines["store."+k]; set && !d.failed["store."+k] {
				d.errorf(line(k), "store."+k, "is for store.driver: postgres; the driver is sqlite (the default), which keeps everything in store.path: set driver: postgres, or remove %s", k)
			}
		}
		return
	}
	// postgres
	if pathSet && !d.failed["store.path"] {
		d.errorf(line("path"), "store.path", "is the SQLite file; store.driver is postgres, which keeps everything in the database store.dsn names: remove store.path")
	}
	_, dsnSet := d.lines["store.dsn"]
	_, fileSet := d.lines["store.dsn_file"]
	if d.failed["store.dsn"] || d.failed["store.dsn_file"] {
		return
	}
	switch {
	case dsnSet && fileSet:
		d.errorf(line("dsn_file"), "store.dsn_file", "give store.dsn or store.dsn_file, not both")
		return
	case fileSet && s.DSNFile == "":
		d.errorf(line("dsn_file"), "store.dsn_file", "empty; give the path of a file holding the DSN (%s)", storeDSNHint)
		return
	case fileSet:
		b, err := os.ReadFile(s.DSNFile)
		if err != nil {
			// The path error names the file, never its content.
			d.errorf(line("dsn_file"), "store.dsn_file", "cannot read: %v", err)
			return
		}
		s.FileDSN = Secret(strings.TrimSpace(string(b)))
		if s.FileDSN == "" {
			d.errorf(line("dsn_file"), "store.dsn_file", "%s is empty; write the DSN in it (%s)", s.DSNFile, storeDSNHint)
			return
		}
		if msg := checkDSN(s.FileDSN.Reveal()); msg != "" {
			d.errorf(line("dsn_file"), "store.dsn_file", "the DSN in %s %s (%s)", s.DSNFile, msg, storeDSNHint)
		}
	case !dsnSet:
		d.errorf(line("dsn"), "store.dsn", "required with store.driver: postgres (%s)", storeDSNHint)
	default:
		s.DSN = Secret(strings.TrimSpace(s.DSN.Reveal()))
		if s.DSN == "" {
			d.errorf(line("dsn"), "store.dsn", "empty (an environment variable set to nothing?); %s", storeDSNHint)
		} else if msg := checkDSN(s.DSN.Reveal()); msg != "" {
			d.errorf(line("dsn"), "store.dsn", "%s (%s)", msg, storeDSNHint)
		}
	}
}

// checkDSN checks a DSN as far as possible without connecting: its shape
// here, then what the postgres backend would refuse at open (a DSN that
// does not parse, or one allowing plaintext to a remote server), so that
// config check catches it. Messages never quote the DSN.
func checkDSN(dsn string) string {
	switch {
	case strings.ContainsFunc(dsn, unicode.IsControl):
		return "contains a control character (a line break?)"
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
	case strings.Contains(dsn, "://"):
		return "is a URL of another scheme; use postgres://"
	case !strings.Contains(dsn, "="):
		return "is neither a postgres:// URL nor key=value pairs"
	}
	switch err := postgres.CheckDSN(dsn); {
	case err == nil:
		return ""
	case errors.Is(err, postgres.ErrPlaintext):
		return "lets the connection to a remote server go unencrypted: set sslmode=verify-full (sslmode=prefer, the default, falls back to plaintext; disable and allow permit it)"
	default:
		return "does not parse as a PostgreSQL connection string"
	}
}

func (c *Config) applyStoreDefaults() {
	if c.Store.Driver == "" {
		c.Store.Driver = DefaultStoreDriver
	}
	if c.Store.Driver == StoreSQLite && c.Store.Path == "" {
		c.Store.Path = DefaultStorePath
	}
}

// ConnString is the PostgreSQL DSN: store.dsn, or what store.dsn_file
// held at load.
func (s StoreConfig) ConnString() Secret {
	if s.DSN != "" {
		return s.DSN
	}
	return s.FileDSN
}

// defaultHeadsFile is where evidence.heads_file defaults to: next to the
// SQLite file, or DefaultPostgresHeadsFile.
func (s StoreConfig) defaultHeadsFile() string {
	if s.Driver == StorePostgres {
		return DefaultPostgresHeadsFile
	}
	return s.Path + DefaultHeadsSuffix
}

// Describe names the store for logs and messages without its secret:
// "sqlite data/breakglass.db", or "postgres" (the DSN holds the password).
func (s StoreConfig) Describe() string {
	if s.Driver == StorePostgres {
		return "postgres (store.dsn)"
	}
	return "sqlite " + s.Path
}
