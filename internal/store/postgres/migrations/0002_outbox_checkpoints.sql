-- 0002: the notification outbox and source checkpoints (see SQLite's 0002).

-- One row per (alert, status, target), written in the transaction that
-- stores the alert; the UNIQUE key makes enqueuing idempotent. Rows are kept
-- after delivery, with delivered set; only rows with delivered IS NULL are
-- pending.
CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     TEXT COLLATE "C" NOT NULL REFERENCES alerts (id),
    status       TEXT COLLATE "C" NOT NULL CHECK (status IN ('firing', 'resolved')),
    target       TEXT COLLATE "C" NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT COLLATE "C" NOT NULL,
    created      TEXT COLLATE "C" NOT NULL,
    delivered    TEXT COLLATE "C",
    last_error   TEXT COLLATE "C" NOT NULL DEFAULT '',
    UNIQUE (alert_id, status, target)
);

CREATE INDEX outbox_pending ON outbox (next_attempt, id) WHERE delivered IS NULL;

-- How far each source has read each of its inputs.
CREATE TABLE checkpoints (
    source   TEXT COLLATE "C" NOT NULL,
    "key"    TEXT COLLATE "C" NOT NULL,
    "offset" BIGINT NOT NULL,
    size     BIGINT NOT NULL,
    updated  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (source, "key")
);
