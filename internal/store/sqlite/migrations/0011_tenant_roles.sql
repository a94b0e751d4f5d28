-- 0011: roles limited to tenants (issue 14, many tenants): a user or an
-- API token may see and act on only some tenants' alerts, incidents,
-- drills and accounts. tenants holds their ids, lower-case, joined by
-- commas; '' (every existing row) is every tenant, as before.
ALTER TABLE auth_users ADD COLUMN tenants TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_tokens ADD COLUMN tenants TEXT NOT NULL DEFAULT '';
