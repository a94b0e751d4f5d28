// Package sqlite keeps breakglass's alerts, their evidence, the notification
// outbox and source checkpoints in a single SQLite file, so a standalone
// daemon or CLI needs no database server.
//
// The file is opened in WAL mode with synchronous=FULL: an alert reported as
// stored has been fsynced and survives a crash or power loss, and readers do
// not block the writer. Writes go through one connection per Store and start
// with BEGIN IMMEDIATE, so two Stores on one file (two processes, say) queue
// on SQLite's lock, bounded by the busy timeout, instead of failing on a lock
// upgrade mid-transaction.
//
// The schema is versioned by embedded migrations (migrations/NNNN_name.sql),
// applied in order at Open, one transaction each, and recorded in
// schema_migrations. A database written by a newer breakglass is refused
// rather than guessed at.
//
// The driver is modernc.org/sqlite, a translation of SQLite to Go, so
// breakglass builds with CGO_ENABLED=0. In-memory databases are not
// supported: every pooled connection would get its own empty database.
package sqlite
