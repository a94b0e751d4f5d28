-- 0008: records kept for the scheduled KQL rules (issue 12 item 4).
--
-- Times are TEXT in the fixed-width UTC form described in 0001. ingested is
-- when breakglass read the record: scheduled rules evaluate the windows
-- (from, to] on it, so a late record counts in exactly one window. The
-- same bytes for the same table are kept once (sha256 is the hex SHA-256 of
-- raw): a replay does not count a record twice. Rows are deleted by
-- PruneRecords once no rule's period reaches back to them.
CREATE TABLE kql_records (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl      TEXT NOT NULL,
    ingested TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    source   TEXT NOT NULL,
    raw      BLOB NOT NULL,
    UNIQUE (tbl, sha256)
);
CREATE INDEX kql_records_window ON kql_records (tbl, ingested);
CREATE INDEX kql_records_ingested ON kql_records (ingested);
