-- 0011: roles limited to tenants (issue 14; see SQLite's 0011): tenant
-- ids, lower-case, joined by commas; '' is every tenant, as before.
ALTER TABLE auth_users ADD COLUMN tenants TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE auth_tokens ADD COLUMN tenants TEXT COLLATE "C" NOT NULL DEFAULT '';
