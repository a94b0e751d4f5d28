-- 0012: the latest posture report per tenant (issue 14; see SQLite's
-- 0012). ran_at is a fixed-width UTC text time, as elsewhere.
CREATE TABLE posture_reports (
    tenant TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    report BYTEA NOT NULL,
    ran_at TEXT COLLATE "C" NOT NULL
);
