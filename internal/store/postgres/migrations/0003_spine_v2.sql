-- 0003: spine v2 (see SQLite's 0003). Alert labels, annotations, lifecycle
-- state and fail-closed flags; delivery leases and dead letters; the
-- pruned-delivery keys; rule conditions; source liveness; the heartbeat.
-- NULL means "not set".

-- labels, annotations and unreadable are JSON as TEXT (not jsonb, which
-- refuses the \u0000 a hostile record may carry); NULL keeps a nil map or
-- slice apart from an empty one.
ALTER TABLE alerts ADD COLUMN labels      TEXT COLLATE "C";
ALTER TABLE alerts ADD COLUMN annotations TEXT COLLATE "C";
ALTER TABLE alerts ADD COLUMN unreadable  TEXT COLLATE "C";
ALTER TABLE alerts ADD COLUMN event_time_unknown BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE alerts ADD COLUMN state TEXT COLLATE "C" NOT NULL DEFAULT 'firing'
    CHECK (state IN ('firing', 'acknowledged', 'resolved'));
ALTER TABLE alerts ADD COLUMN state_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN state_at TEXT COLLATE "C";

CREATE INDEX alerts_state_event_time ON alerts (state, event_time DESC, id);

-- The label filter's lookup: one row per (alert, label). SQLite reads the
-- labels JSON with json_each; PostgreSQL's JSON functions refuse \u0000, so
-- the pairs are kept here as well, escaped like every other text.
CREATE TABLE alert_labels (
    alert_id TEXT COLLATE "C" NOT NULL REFERENCES alerts (id),
    "key"    TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (alert_id, "key")
);
CREATE INDEX alert_labels_pair ON alert_labels ("key", value);

-- Every lifecycle move, for reviews.
CREATE TABLE alert_states (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   TEXT COLLATE "C" NOT NULL REFERENCES alerts (id),
    from_state TEXT COLLATE "C" NOT NULL,
    to_state   TEXT COLLATE "C" NOT NULL,
    by         TEXT COLLATE "C" NOT NULL,
    at         TEXT COLLATE "C" NOT NULL
);
CREATE INDEX alert_states_alert ON alert_states (alert_id, id);

-- A lease (owner, until) keeps a claimed delivery from a second dispatcher;
-- lease_until NULL means unleased. dead_at is set when dead-lettered.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN dead_at     TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN dead_reason TEXT COLLATE "C" NOT NULL DEFAULT '';

DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (next_attempt, id) WHERE delivered IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead ON outbox (dead_at, id) WHERE dead_at IS NOT NULL AND delivered IS NULL;
CREATE INDEX outbox_delivered ON outbox (delivered) WHERE delivered IS NOT NULL;

-- The keys of delivered rows removed by Prune, so a delivery that was sent
-- and then pruned is never created and sent again.
CREATE TABLE outbox_pruned (
    alert_id  TEXT COLLATE "C" NOT NULL,
    status    TEXT COLLATE "C" NOT NULL,
    target    TEXT COLLATE "C" NOT NULL,
    delivered TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (alert_id, status, target)
);

-- Persisted state of long-lived conditions (bg.silence, bg.source, ...).
CREATE TABLE conditions (
    rule     TEXT COLLATE "C" NOT NULL,
    "key"    TEXT COLLATE "C" NOT NULL,
    alert_id TEXT COLLATE "C" NOT NULL,
    since    TEXT COLLATE "C" NOT NULL,
    updated  TEXT COLLATE "C" NOT NULL,
    data     BYTEA,
    PRIMARY KEY (rule, "key")
);

-- When each source last read or polled successfully.
CREATE TABLE source_alive (
    source TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    at     TEXT COLLATE "C" NOT NULL
);

-- One row that Writable rewrites to prove the database takes writes.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT COLLATE "C" NOT NULL
);
