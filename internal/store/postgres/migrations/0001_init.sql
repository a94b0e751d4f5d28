-- 0001: alerts and the evidence behind them. The PostgreSQL schema follows
-- the SQLite one (internal/store/sqlite/migrations) migration for
-- migration, so both backends are at the same version for the same code.
--
-- Times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000000Z,
-- as in SQLite: exact to the nanosecond (timestamptz keeps microseconds)
-- and ordered by plain comparison. Every TEXT column is COLLATE "C": byte
-- order, the order Go and SQLite sort in, whatever locale the database was
-- created with (a locale collation sorts "a-b" and "ab" by other rules).
-- Text that PostgreSQL cannot hold (NUL bytes, invalid UTF-8) is stored
-- escaped by the store (see text.go), never refused.

-- One row per raw record, however many alerts point at it. Rows are never
-- updated: the first copy stored is the evidence.
CREATE TABLE evidence (
    event_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    category TEXT COLLATE "C" NOT NULL,
    source   TEXT COLLATE "C" NOT NULL,
    raw      BYTEA NOT NULL,
    sha256   TEXT COLLATE "C" NOT NULL,
    stored   TEXT COLLATE "C" NOT NULL
);

-- seq orders alerts as they were stored (UnattachedAlerts); id, the dedupe
-- key, is what ON CONFLICT keys on.
CREATE TABLE alerts (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT COLLATE "C" NOT NULL UNIQUE,
    rule         TEXT COLLATE "C" NOT NULL,
    severity     INTEGER NOT NULL,
    title        TEXT COLLATE "C" NOT NULL,
    account_id   TEXT COLLATE "C" NOT NULL,
    account_upn  TEXT COLLATE "C" NOT NULL,
    account_name TEXT COLLATE "C" NOT NULL,
    event_id     TEXT COLLATE "C" NOT NULL REFERENCES evidence (event_id),
    event_time   TEXT COLLATE "C" NOT NULL,
    category     TEXT COLLATE "C" NOT NULL,
    source       TEXT COLLATE "C" NOT NULL,
    detected     TEXT COLLATE "C" NOT NULL,
    operation    TEXT COLLATE "C" NOT NULL,
    change_type  TEXT COLLATE "C" NOT NULL,
    result       TEXT COLLATE "C" NOT NULL,
    app          TEXT COLLATE "C" NOT NULL,
    ip_address   TEXT COLLATE "C" NOT NULL,
    location     TEXT COLLATE "C" NOT NULL,
    actor        TEXT COLLATE "C" NOT NULL,
    correlation  TEXT COLLATE "C" NOT NULL
);

CREATE INDEX alerts_event_id ON alerts (event_id);
CREATE INDEX alerts_detected ON alerts (detected);
-- Listing is newest event first with id as the tie-break.
CREATE INDEX alerts_event_time ON alerts (event_time DESC, id);
CREATE INDEX alerts_rule_event_time ON alerts (rule, event_time DESC, id);
-- lower() matches how Alerts compares account ids (Entra object ids are
-- GUIDs, whose case varies between log sources).
CREATE INDEX alerts_account_event_time ON alerts (lower(account_id), event_time DESC, id);
