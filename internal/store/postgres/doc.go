// Package postgres keeps breakglass's state (alerts and their evidence, the
// notification outbox, checkpoints, conditions, incidents, the evidence log
// and drills) in PostgreSQL, so several breakglass replicas can share one
// database and a machine is no longer a single point of failure.
//
// It implements every interface of package store that the SQLite backend
// does and passes the same conformance suite (store/storetest). The schema
// follows SQLite's migration for migration (migrations/NNNN_name.sql, the
// same numbers), applied at Open under a session advisory lock, so replicas
// that start together migrate once; a schema newer than this binary is
// refused.
//
// Concurrency is PostgreSQL's own, made explicit where a decision reads
// before it writes: deliveries are claimed with FOR UPDATE SKIP LOCKED and
// a lease, evidence log appends and incident grouping take transaction
// advisory locks, and lifecycle changes lock their row. Times are kept as
// fixed-width UTC text, as in SQLite, because timestamptz keeps only
// microseconds and the store promises nanoseconds.
//
// Adding to the schema: SQLite's migration NNNN gets its twin here under
// the same number (migrations/NNNN_name.sql, translated: every text column
// TEXT COLLATE "C", BLOB as BYTEA, INTEGER PRIMARY KEY AUTOINCREMENT as
// BIGINT GENERATED ALWAYS AS IDENTITY, COLLATE NOCASE indexes as lower()
// ones, triggers as plpgsql functions); a new store interface gets a file
// of its own here, written as the others (queries through conn, so text is
// escaped; decisions that read before they write under a row or advisory
// lock); storetest then runs it against both backends.
//
// The driver is jackc/pgx (through database/sql), pure Go, so breakglass
// still builds with CGO_ENABLED=0. The DSN is a secret: it never appears in
// an error or log line of this package.
package postgres
