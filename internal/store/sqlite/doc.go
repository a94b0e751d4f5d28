// Package sqlite implements store.Store on SQLite.
package sqlite

import _ "modernc.org/sqlite"
