-- 0001: alerts and the evidence behind them.
--
-- Times are TEXT in a fixed-width UTC form (2006-01-02T15:04:05.000000000Z):
-- readable in the sqlite3 shell, exact to the nanosecond, and, unlike
-- RFC3339Nano's trimmed fractions, ordered correctly by plain string
-- comparison, so ORDER BY and range filters can use the indexes.

-- One row per raw record, however many alerts point at it. Rows are never
-- updated: the first copy stored is the evidence.
CREATE TABLE evidence (
    event_id TEXT NOT NULL PRIMARY KEY,
    category TEXT NOT NULL,
    source   TEXT NOT NULL,
    raw      BLOB NOT NULL,
    sha256   TEXT NOT NULL,
    stored   TEXT NOT NULL
);

-- seq is the INTEGER PRIMARY KEY (a rowid alias) rather than id, because a
-- bare rowid may be renumbered by VACUUM while an alias never is; the
-- notification outbox and incidents planned for later migrations reference
-- seq, and AUTOINCREMENT keeps it from being reused so an outbox cursor
-- ("delivered up to seq N") stays meaningful. id, the dedupe key, is UNIQUE,
-- which is what INSERT OR IGNORE keys on.
CREATE TABLE alerts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    rule         TEXT    NOT NULL,
    severity     INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    account_id   TEXT    NOT NULL,
    account_upn  TEXT    NOT NULL,
    account_name TEXT    NOT NULL,
    event_id     TEXT    NOT NULL REFERENCES evidence (event_id),
    event_time   TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    detected     TEXT    NOT NULL,
    operation    TEXT    NOT NULL,
    change_type  TEXT    NOT NULL,
    result       TEXT    NOT NULL,
    app          TEXT    NOT NULL,
    ip_address   TEXT    NOT NULL,
    location     TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    correlation  TEXT    NOT NULL
);

CREATE INDEX alerts_event_id ON alerts (event_id);
CREATE INDEX alerts_detected ON alerts (detected);
-- Listing is newest event first with id as the tie-break.
CREATE INDEX alerts_event_time ON alerts (event_time DESC, id);
CREATE INDEX alerts_rule_event_time ON alerts (rule, event_time DESC, id);
-- NOCASE matches how Alerts compares account ids (Entra object ids are
-- GUIDs, whose case varies between log sources).
CREATE INDEX alerts_account_event_time ON alerts (account_id COLLATE NOCASE, event_time DESC, id);
