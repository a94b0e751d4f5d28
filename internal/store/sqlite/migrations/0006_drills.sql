-- 0006: drills (issue 11). One row per announced drill of a break-glass
-- account. Like incidents, drills are proof for auditors and are never
-- touched by Prune: they are kept with incidents (incidents.retention, 400
-- days by default), whatever notify retention says.
--
-- Times are TEXT in the fixed-width UTC form described in 0001; started,
-- finished are NULL until drill start / drill finish ran. window_ns is the
-- window in nanoseconds. attest is the JSON of the attestations (NULL: none),
-- measured the JSON package drill writes (NULL: not measured). updated is
-- the optimistic-concurrency token of UpdateDrill.
CREATE TABLE drills (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL,
    account_upn TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('planned', 'running', 'finished')),
    at          TEXT NOT NULL,
    window_ns   INTEGER NOT NULL CHECK (window_ns >= 0),
    by          TEXT NOT NULL,
    note        TEXT NOT NULL,
    started     TEXT,
    finished    TEXT,
    result      TEXT NOT NULL CHECK (result IN ('', 'passed', 'failed')),
    failed_step TEXT NOT NULL,
    reason      TEXT NOT NULL,
    alert_id    TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    attest      TEXT,
    measured    BLOB,
    created     TEXT NOT NULL,
    updated     TEXT NOT NULL
);
CREATE INDEX drills_at ON drills (at DESC, seq DESC);
CREATE INDEX drills_account ON drills (account_id COLLATE NOCASE, at DESC);
