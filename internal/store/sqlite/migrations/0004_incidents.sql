-- 0004: incidents (issue 10) and the append-only, hash-chained evidence log.
--
-- Times are TEXT in the fixed-width UTC form described in 0001. Neither
-- table is touched by Prune: incidents and their evidence outlive Entra's
-- own retention (incidents.retention, 400 days by default).

-- One row per incident. "key" groups alerts (the account's object id in
-- lower case, else its UPN; "<kind>:<subject>" for watcher incidents); the
-- newest incident of a key is the one a new alert may join. review is the
-- JSON of store.Review, NULL until reviewed.
CREATE TABLE incidents (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    "key"       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    account_upn TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'reviewed', 'closed')),
    opened      TEXT NOT NULL,
    first_event TEXT NOT NULL,
    last_event  TEXT NOT NULL,
    updated     TEXT NOT NULL,
    previous    TEXT NOT NULL DEFAULT '',
    review      TEXT
);
CREATE INDEX incidents_key ON incidents ("key", seq);
CREATE INDEX incidents_opened ON incidents (opened DESC, seq DESC);
CREATE INDEX incidents_account ON incidents (account_id COLLATE NOCASE, opened DESC);

-- Which incident each alert belongs to: alert_id is the primary key, so an
-- alert is in one incident at most, and attaching again is a lookup. seq
-- keeps the order alerts were attached in. No foreign key to alerts: an
-- alert may be attached in the transaction that stores it, in any order.
CREATE TABLE incident_alerts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    attached    TEXT NOT NULL
);
CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id, seq);

-- Every transition of an incident, oldest first by id.
CREATE TABLE incident_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    by          TEXT NOT NULL,
    at          TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX incident_changes_incident ON incident_changes (incident_id, id);

-- The evidence log. seq is assigned as head + 1 inside the write
-- transaction (BEGIN IMMEDIATE), so appends from every process are
-- serialised and the chain cannot fork; it is not AUTOINCREMENT because a
-- gap must mean a deleted entry. Content is stored byte for byte.
CREATE TABLE evidence_log (
    seq            INTEGER PRIMARY KEY,
    incident       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    ref            TEXT NOT NULL,
    at             TEXT NOT NULL,
    content        BLOB NOT NULL,
    content_sha256 TEXT NOT NULL,
    prev           TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX evidence_log_incident ON evidence_log (incident, seq);
CREATE INDEX evidence_log_ref ON evidence_log (incident, kind, ref);

-- Append-only, also against breakglass's own mistakes. Someone with the
-- file can drop these triggers; the hash chain is what catches that.
CREATE TRIGGER evidence_log_no_update BEFORE UPDATE ON evidence_log
BEGIN
    SELECT RAISE(ABORT, 'evidence_log is append-only: entries are never updated');
END;
CREATE TRIGGER evidence_log_no_delete BEFORE DELETE ON evidence_log
BEGIN
    SELECT RAISE(ABORT, 'evidence_log is append-only: entries are never deleted');
END;
