-- 0008: records kept for the scheduled KQL rules (issue 12 item 4; see
-- SQLite's 0008). ingested is when breakglass read the record: scheduled
-- rules evaluate the windows (from, to] on it. The same bytes for the same
-- table are kept once (sha256 of raw). Rows are deleted by PruneRecords.
CREATE TABLE kql_records (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tbl      TEXT COLLATE "C" NOT NULL,
    ingested TEXT COLLATE "C" NOT NULL,
    sha256   TEXT COLLATE "C" NOT NULL,
    source   TEXT COLLATE "C" NOT NULL,
    raw      BYTEA NOT NULL,
    UNIQUE (tbl, sha256)
);
CREATE INDEX kql_records_window ON kql_records (tbl, ingested);
CREATE INDEX kql_records_ingested ON kql_records (ingested);
