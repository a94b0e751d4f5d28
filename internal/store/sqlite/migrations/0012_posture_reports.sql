-- 0012: the latest posture report per tenant (issue 14), so that every
-- replica's dashboard shows it, also after a restart: tenant is the
-- tenant id, lower-case ('' for a config without tenants:), report the
-- posture.Report as the API serves it (JSON), ran_at when the audit ran.
CREATE TABLE posture_reports (
    tenant TEXT NOT NULL PRIMARY KEY,
    report BLOB NOT NULL,
    ran_at TEXT NOT NULL
);
