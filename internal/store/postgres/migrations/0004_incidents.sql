-- 0004: incidents (issue 10) and the append-only, hash-chained evidence log
-- (see SQLite's 0004). Neither is touched by Prune.

CREATE TABLE incidents (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    "key"       TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    account_id  TEXT COLLATE "C" NOT NULL,
    account_upn TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL CHECK (state IN ('open', 'acknowledged', 'reviewed', 'closed')),
    opened      TEXT COLLATE "C" NOT NULL,
    first_event TEXT COLLATE "C" NOT NULL,
    last_event  TEXT COLLATE "C" NOT NULL,
    updated     TEXT COLLATE "C" NOT NULL,
    previous    TEXT COLLATE "C" NOT NULL DEFAULT '',
    review      TEXT COLLATE "C"
);
CREATE INDEX incidents_key ON incidents ("key", seq);
CREATE INDEX incidents_opened ON incidents (opened DESC, seq DESC);
CREATE INDEX incidents_account ON incidents (lower(account_id), opened DESC);

-- Which incident each alert belongs to (one at most: alert_id is UNIQUE).
CREATE TABLE incident_alerts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    TEXT COLLATE "C" NOT NULL UNIQUE,
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents (id),
    attached    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id, seq);

CREATE TABLE incident_changes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents (id),
    from_state  TEXT COLLATE "C" NOT NULL,
    to_state    TEXT COLLATE "C" NOT NULL,
    by          TEXT COLLATE "C" NOT NULL,
    at          TEXT COLLATE "C" NOT NULL,
    note        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX incident_changes_incident ON incident_changes (incident_id, id);

-- The evidence log. seq is head + 1, assigned under a transaction-scoped
-- advisory lock (evidencelog.go), so appends from every replica are
-- serialised and the chain cannot fork; not an identity column, because a
-- gap must mean a deleted entry.
CREATE TABLE evidence_log (
    seq            BIGINT PRIMARY KEY,
    incident       TEXT COLLATE "C" NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL,
    ref            TEXT COLLATE "C" NOT NULL,
    at             TEXT COLLATE "C" NOT NULL,
    content        BYTEA NOT NULL,
    content_sha256 TEXT COLLATE "C" NOT NULL,
    prev           TEXT COLLATE "C" NOT NULL,
    hash           TEXT COLLATE "C" NOT NULL
);
CREATE INDEX evidence_log_incident ON evidence_log (incident, seq);
CREATE INDEX evidence_log_ref ON evidence_log (incident, kind, ref);

-- Append-only, also against breakglass's own mistakes: UPDATE, DELETE and
-- TRUNCATE fail. A superuser can drop these triggers; the hash chain, and
-- the heads kept outside the store, are what catch that.
CREATE FUNCTION evidence_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER evidence_log_no_update BEFORE UPDATE ON evidence_log
    FOR EACH ROW EXECUTE FUNCTION evidence_log_append_only();
CREATE TRIGGER evidence_log_no_delete BEFORE DELETE ON evidence_log
    FOR EACH ROW EXECUTE FUNCTION evidence_log_append_only();
CREATE TRIGGER evidence_log_no_truncate BEFORE TRUNCATE ON evidence_log
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_log_append_only();
