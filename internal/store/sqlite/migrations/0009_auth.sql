-- 0009: who may use the dashboard and the API (issue 13): local users,
-- API tokens, sessions and the audit trail of write actions.
--
-- No secret is stored in a form that grants access: password_hash is an
-- argon2id PHC string, tokens and sessions are stored as the hex SHA-256 of
-- a 256-bit random value the client holds. Times are TEXT in the
-- fixed-width UTC form described in 0001; a NULL expires/revoked means
-- never/not.
CREATE TABLE auth_users (
    name          TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    password_hash TEXT NOT NULL,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL
);

CREATE TABLE auth_tokens (
    name      TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    role      TEXT NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    hash      TEXT NOT NULL UNIQUE,
    created   TEXT NOT NULL,
    expires   TEXT NOT NULL,
    revoked   TEXT,
    last_used TEXT,
    created_by TEXT NOT NULL
);

-- A session of a local user (source '') takes its role from auth_users on
-- every request, so a role change or removal applies at once; RemoveUser
-- and SetUserPassword delete its sessions. A session started by an
-- identity provider (source 'oidc') has no user row and keeps the role the
-- provider's claims mapped to.
CREATE TABLE auth_sessions (
    hash      TEXT NOT NULL PRIMARY KEY,
    user_name TEXT NOT NULL COLLATE NOCASE,
    source    TEXT NOT NULL DEFAULT '',
    role      TEXT NOT NULL DEFAULT '' CHECK (role IN ('', 'viewer', 'responder', 'admin')),
    created   TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    expires   TEXT NOT NULL,
    remote    TEXT NOT NULL,
    CHECK ((source = '') = (role = ''))
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_name);

-- The audit trail is append-only: nothing updates or deletes a row.
CREATE TABLE auth_audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    via     TEXT NOT NULL,
    remote  TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX auth_audit_at ON auth_audit (at DESC, seq DESC);
