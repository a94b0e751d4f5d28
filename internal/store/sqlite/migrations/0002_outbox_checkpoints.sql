-- 0002: the notification outbox and source checkpoints.
--
-- Times are TEXT in the fixed-width UTC form described in 0001.

-- One row per (alert, status, target): the row is written in the transaction
-- that stores the alert, so a stored alert cannot lose its notification to a
-- crash, and the UNIQUE key is what makes enqueuing idempotent (INSERT OR
-- IGNORE). Rows are kept after delivery, with delivered set, as the record of
-- who was told and when; only rows with delivered IS NULL are pending.
--
-- alert_id references alerts (id), not seq as 0001 anticipated: deliveries
-- are addressed by the alert ID callers already hold, and each row tracks its
-- own progress, so no "delivered up to seq N" cursor is needed.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id     TEXT    NOT NULL REFERENCES alerts (id),
    status       TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    target       TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT    NOT NULL,
    created      TEXT    NOT NULL,
    delivered    TEXT,
    -- '' rather than NULL for "no error yet", so readers need no NULL case.
    last_error   TEXT    NOT NULL DEFAULT '',
    UNIQUE (alert_id, status, target)
);

-- The dispatcher polls for due rows and the depth gauge counts pending ones;
-- delivered rows pile up forever, so the index leaves them out.
CREATE INDEX outbox_pending ON outbox (next_attempt, id) WHERE delivered IS NULL;

-- How far each source has read each of its inputs. "key" and "offset" are
-- quoted because both are SQL keywords.
CREATE TABLE checkpoints (
    source   TEXT    NOT NULL,
    "key"    TEXT    NOT NULL,
    "offset" INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    updated  TEXT    NOT NULL,
    PRIMARY KEY (source, "key")
) WITHOUT ROWID;
