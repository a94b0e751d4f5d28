-- 0006: drills (issue 11; see SQLite's 0006). Never touched by Prune.
-- started, finished are NULL until drill start / drill finish ran;
-- window_ns is the window in nanoseconds; attest is JSON (NULL: none),
-- measured what package drill writes (NULL: not measured); updated is the
-- optimistic-concurrency token of UpdateDrill.
CREATE TABLE drills (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id  TEXT COLLATE "C" NOT NULL,
    account_upn TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL CHECK (state IN ('planned', 'running', 'finished')),
    at          TEXT COLLATE "C" NOT NULL,
    window_ns   BIGINT NOT NULL CHECK (window_ns >= 0),
    by          TEXT COLLATE "C" NOT NULL,
    note        TEXT COLLATE "C" NOT NULL,
    started     TEXT COLLATE "C",
    finished    TEXT COLLATE "C",
    result      TEXT COLLATE "C" NOT NULL CHECK (result IN ('', 'passed', 'failed')),
    failed_step TEXT COLLATE "C" NOT NULL,
    reason      TEXT COLLATE "C" NOT NULL,
    alert_id    TEXT COLLATE "C" NOT NULL,
    incident_id TEXT COLLATE "C" NOT NULL,
    attest      TEXT COLLATE "C",
    measured    BYTEA,
    created     TEXT COLLATE "C" NOT NULL,
    updated     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX drills_at ON drills (at DESC, seq DESC);
CREATE INDEX drills_account ON drills (lower(account_id), at DESC);
