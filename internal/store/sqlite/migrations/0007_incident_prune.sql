-- 0007: pruning incidents after export or expiry (issue 10 item 8).
--
-- Times are TEXT in the fixed-width UTC form described in 0001.

-- When a prune dropped an entry's content; NULL: never. Every chained
-- column stays as written, so the chain still verifies after a prune.
ALTER TABLE evidence_log ADD COLUMN pruned TEXT;

-- Still append-only, with one exception: a prune may set pruned and empty
-- the content of an entry of an incident, once, changing nothing else.
-- Prune entries are never pruned, and DELETE stays forbidden (0004's
-- evidence_log_no_delete is unchanged).
DROP TRIGGER evidence_log_no_update;
CREATE TRIGGER evidence_log_no_update BEFORE UPDATE ON evidence_log
WHEN NOT (
    OLD.pruned IS NULL AND NEW.pruned IS NOT NULL
    AND typeof(NEW.content) = 'blob' AND length(NEW.content) = 0
    AND NEW.seq IS OLD.seq AND NEW.incident IS OLD.incident AND NEW.kind IS OLD.kind
    AND NEW.ref IS OLD.ref AND NEW.at IS OLD.at AND NEW.content_sha256 IS OLD.content_sha256
    AND NEW.prev IS OLD.prev AND NEW.hash IS OLD.hash
    AND OLD.incident != '' AND OLD.kind != 'prune'
)
BEGIN
    SELECT RAISE(ABORT, 'evidence_log is append-only: entries are never updated (a prune only empties the content of an incident''s entries)');
END;

-- The tombstone of a pruned incident: when it closed, when and why it was
-- pruned, the export it was pruned after, how many entries lost their
-- content and the Seq of its prune entry. pruned_at NULL: not pruned.
ALTER TABLE incidents ADD COLUMN closed        TEXT;
ALTER TABLE incidents ADD COLUMN pruned_at     TEXT;
ALTER TABLE incidents ADD COLUMN prune_reason  TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN prune_bundle  TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN prune_entries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN prune_seq     INTEGER NOT NULL DEFAULT 0;

-- Every bundle incidents export wrote: the bundle's SHA-256 and time, and
-- the incident's newest entry it carries. An export is what allows pruning
-- an incident before it expires (incidents prune --exported).
CREATE TABLE incident_exports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    sha256      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    last_seq    INTEGER NOT NULL
);
CREATE INDEX incident_exports_incident ON incident_exports (incident_id, id);
