-- 0009: who may use the dashboard and the API (issue 13; see SQLite's
-- 0009): local users, API tokens, sessions and the audit trail.
--
-- No secret is stored in a form that grants access: password_hash is an
-- argon2id PHC string, tokens and sessions are the hex SHA-256 of a random
-- value the client holds. NULL expires/revoked means never/not. Names
-- compare case-insensitively (SQLite's COLLATE NOCASE): the lower() unique
-- indexes make "Alice" and "alice" one user.
CREATE TABLE auth_users (
    name          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    role          TEXT COLLATE "C" NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    password_hash TEXT COLLATE "C" NOT NULL,
    created       TEXT COLLATE "C" NOT NULL,
    updated       TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX auth_users_name ON auth_users (lower(name));

CREATE TABLE auth_tokens (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    role       TEXT COLLATE "C" NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
    hash       TEXT COLLATE "C" NOT NULL UNIQUE,
    created    TEXT COLLATE "C" NOT NULL,
    expires    TEXT COLLATE "C" NOT NULL,
    revoked    TEXT COLLATE "C",
    last_used  TEXT COLLATE "C",
    created_by TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX auth_tokens_name ON auth_tokens (lower(name));

-- A local user's session (source '') takes its role from auth_users on
-- every request; one started by an identity provider (source 'oidc') keeps
-- the role the provider's claims mapped to.
CREATE TABLE auth_sessions (
    hash      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_name TEXT COLLATE "C" NOT NULL,
    source    TEXT COLLATE "C" NOT NULL DEFAULT '',
    role      TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (role IN ('', 'viewer', 'responder', 'admin')),
    created   TEXT COLLATE "C" NOT NULL,
    last_seen TEXT COLLATE "C" NOT NULL,
    expires   TEXT COLLATE "C" NOT NULL,
    remote    TEXT COLLATE "C" NOT NULL,
    CHECK ((source = '') = (role = ''))
);
CREATE INDEX auth_sessions_user ON auth_sessions (lower(user_name));

-- The audit trail is append-only: nothing updates or deletes a row.
CREATE TABLE auth_audit (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TEXT COLLATE "C" NOT NULL,
    actor   TEXT COLLATE "C" NOT NULL,
    via     TEXT COLLATE "C" NOT NULL,
    remote  TEXT COLLATE "C" NOT NULL,
    action  TEXT COLLATE "C" NOT NULL,
    target  TEXT COLLATE "C" NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    detail  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX auth_audit_at ON auth_audit (at DESC, seq DESC);
