package backup

import (
	"fmt"
	"strings"

	"breakglass/internal/config"
)

// DSNEnv is the variable the PostgreSQL guidance reads the connection
// string from when the configuration holds it inline (store.dsn), so that
// no command line or shell history carries it.
const DSNEnv = "BREAKGLASS_STORE_DSN"

// PostgresGuidance says how to back up (op "backup", to out) or restore
// (op "restore", from out) a PostgreSQL store with PostgreSQL's own tools.
// breakglass does not run them: pg_dump must be the server's major version
// or newer, and the operator's own tooling (pgBackRest, managed
// snapshots) is often the better answer. The commands read the connection
// string from store.dsn_file or $BREAKGLASS_STORE_DSN; it is never
// printed.
func PostgresGuidance(c config.StoreConfig, cfgPath, op, file string) string {
	if file == "" {
		file = "breakglass.dump"
	}
	dbname := `"$` + DSNEnv + `"`
	var set string
	if c.DSNFile != "" {
		dbname = `"$(cat ` + shellQuote(c.DSNFile) + `)"`
	} else {
		set = fmt.Sprintf("  export %s='...'   # the connection string of store.dsn in %s\n", DSNEnv, cfgPath)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "store.driver is postgres in %s: breakglass backs up only SQLite stores itself.\n", cfgPath)
	fmt.Fprintf(&b, "Use PostgreSQL's tools (pg_dump of the server's major version or newer):\n\n")
	if op == "restore" {
		fmt.Fprintf(&b, "With serve stopped, restore into an empty database (create it first), then start serve:\n\n%s", set)
		fmt.Fprintf(&b, "  pg_restore --exit-on-error --single-transaction --no-owner --dbname=%s %s\n", dbname, shellQuote(file))
	} else {
		fmt.Fprintf(&b, "Online and consistent while serve runs (one snapshot):\n\n%s", set)
		fmt.Fprintf(&b, "  pg_dump --format=custom --no-owner --file=%s --dbname=%s\n", shellQuote(file), dbname)
		fmt.Fprintf(&b, "  pg_restore --list %s > /dev/null   # the dump reads back\n", shellQuote(file))
	}
	fmt.Fprintf(&b, "\nThen check the evidence chain: breakglass evidence verify -c %s\n", cfgPath)
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
