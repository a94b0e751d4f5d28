-- 0003: spine v2. Alert labels, annotations, lifecycle state and fail-closed
-- flags; delivery leases and dead letters; the pruned-delivery keys that
-- keep notification exactly-once after retention; rule conditions; source
-- liveness; the heartbeat Writable writes.
--
-- Times are TEXT in the fixed-width UTC form described in 0001; NULL means
-- "not set".

-- labels and annotations are JSON objects, unreadable a JSON array; NULL
-- keeps a nil map or slice apart from an empty one, so alerts round-trip
-- exactly. Rows from before this migration read as firing with none.
ALTER TABLE alerts ADD COLUMN labels      TEXT;
ALTER TABLE alerts ADD COLUMN annotations TEXT;
ALTER TABLE alerts ADD COLUMN unreadable  TEXT;
ALTER TABLE alerts ADD COLUMN event_time_unknown INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN state TEXT NOT NULL DEFAULT 'firing'
    CHECK (state IN ('firing', 'acknowledged', 'resolved'));
ALTER TABLE alerts ADD COLUMN state_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN state_at TEXT;

CREATE INDEX alerts_state_event_time ON alerts (state, event_time DESC, id);

-- Every lifecycle move, for reviews: who acknowledged or resolved what, when.
CREATE TABLE alert_states (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    by       TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX alert_states_alert ON alert_states (alert_id, id);

-- A lease (owner, until) keeps a claimed delivery from a second dispatcher
-- while it is being sent; lease_until NULL means unleased. dead_at is set
-- when the delivery is given up on (dead-lettered).
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
ALTER TABLE outbox ADD COLUMN dead_at     TEXT;
ALTER TABLE outbox ADD COLUMN dead_reason TEXT NOT NULL DEFAULT '';

-- Pending now also means "not dead-lettered".
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (next_attempt, id) WHERE delivered IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead ON outbox (dead_at, id) WHERE dead_at IS NOT NULL AND delivered IS NULL;
CREATE INDEX outbox_delivered ON outbox (delivered) WHERE delivered IS NOT NULL;

-- The keys of delivered rows removed by Prune. Inserting into the outbox
-- checks this table as well as the outbox's own UNIQUE key, so a delivery
-- that was sent and then pruned is never created and sent again.
CREATE TABLE outbox_pruned (
    alert_id  TEXT NOT NULL,
    status    TEXT NOT NULL,
    target    TEXT NOT NULL,
    delivered TEXT NOT NULL,
    PRIMARY KEY (alert_id, status, target)
) WITHOUT ROWID;

-- Persisted state of long-lived conditions (bg.silence, bg.source, ...).
CREATE TABLE conditions (
    rule     TEXT NOT NULL,
    "key"    TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    since    TEXT NOT NULL,
    updated  TEXT NOT NULL,
    data     BLOB,
    PRIMARY KEY (rule, "key")
) WITHOUT ROWID;

-- When each source last read or polled successfully.
CREATE TABLE source_alive (
    source TEXT NOT NULL PRIMARY KEY,
    at     TEXT NOT NULL
) WITHOUT ROWID;

-- One row that Writable rewrites to prove the database takes writes.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
