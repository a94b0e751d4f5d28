-- 0010: leases (issue 14; see SQLite's 0010): one holder at a time of a
-- named piece of scheduled work among the replicas sharing this database.
--
-- Unlike the other tables' TEXT times, acquired and until are timestamptz
-- set from the server's now(): every replica compares them against the
-- same clock, so clock skew between replica hosts cannot make two of them
-- believe they hold a lease. A released lease keeps its row with owner ''
-- so that epoch, the fencing token, never goes back.
CREATE TABLE leases (
    name     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    owner    TEXT COLLATE "C" NOT NULL,
    acquired TIMESTAMPTZ NOT NULL,
    until    TIMESTAMPTZ NOT NULL,
    epoch    BIGINT NOT NULL CHECK (epoch > 0)
);
