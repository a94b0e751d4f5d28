-- 0007: pruning incidents after export or expiry (issue 10 item 8; see
-- SQLite's 0007).

-- When a prune dropped an entry's content; NULL: never. Every chained
-- column stays as written, so the chain still verifies after a prune.
ALTER TABLE evidence_log ADD COLUMN pruned TEXT COLLATE "C";

-- Still append-only, with one exception: a prune may set pruned and empty
-- the content of an entry of an incident, once, changing nothing else.
-- Prune entries are never pruned; DELETE and TRUNCATE stay forbidden.
CREATE FUNCTION evidence_log_update_only_prune() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.pruned IS NULL AND NEW.pruned IS NOT NULL AND length(NEW.content) = 0
        AND NEW.seq = OLD.seq AND NEW.incident = OLD.incident AND NEW.kind = OLD.kind
        AND NEW.ref = OLD.ref AND NEW.at = OLD.at AND NEW.content_sha256 = OLD.content_sha256
        AND NEW.prev = OLD.prev AND NEW.hash = OLD.hash
        AND OLD.incident <> '' AND OLD.kind <> 'prune' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'evidence_log is append-only: entries are never updated (a prune only empties the content of an incident''s entries)'
        USING ERRCODE = 'restrict_violation';
END;
$$;
DROP TRIGGER evidence_log_no_update ON evidence_log;
CREATE TRIGGER evidence_log_no_update BEFORE UPDATE ON evidence_log
    FOR EACH ROW EXECUTE FUNCTION evidence_log_update_only_prune();

-- The tombstone of a pruned incident (see SQLite's 0007).
ALTER TABLE incidents ADD COLUMN closed        TEXT COLLATE "C";
ALTER TABLE incidents ADD COLUMN pruned_at     TEXT COLLATE "C";
ALTER TABLE incidents ADD COLUMN prune_reason  TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN prune_bundle  TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN prune_entries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN prune_seq     BIGINT NOT NULL DEFAULT 0;

-- Every bundle incidents export wrote: what allows pruning an incident
-- before it expires (incidents prune --exported).
CREATE TABLE incident_exports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents (id),
    sha256      TEXT COLLATE "C" NOT NULL,
    path        TEXT COLLATE "C" NOT NULL,
    at          TEXT COLLATE "C" NOT NULL,
    last_seq    BIGINT NOT NULL
);
CREATE INDEX incident_exports_incident ON incident_exports (incident_id, id);
