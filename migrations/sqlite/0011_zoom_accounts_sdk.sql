-- Several Zoom accounts per org: S2S and JWT credentials become entries
-- keyed by (org, email) instead of one per org. Row ids are kept as they
-- are: every sealed column's associated data is bound to its row id.
--
-- SQLite cannot drop the column-level UNIQUE (org_id), so both tables are
-- rebuilt. Nothing references them, so the rebuild touches no other table.

CREATE TABLE s2s_credentials_new (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email              TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    client_secret      TEXT NOT NULL,
    access_token       TEXT,
    access_expires_at  BIGINT,
    scopes             TEXT NOT NULL,
    version            BIGINT NOT NULL,
    lease_owner        TEXT,
    lease_until        BIGINT,
    last_refreshed_at  BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (org_id, email)
);
INSERT INTO s2s_credentials_new SELECT
    id, org_id, email, account_id, client_id, client_secret, access_token,
    access_expires_at, scopes, version, lease_owner, lease_until,
    last_refreshed_at, created_at, updated_at
FROM s2s_credentials;
DROP TABLE s2s_credentials;
ALTER TABLE s2s_credentials_new RENAME TO s2s_credentials;
CREATE INDEX s2s_credentials_by_org ON s2s_credentials (org_id, created_at, id);

-- A JWT entry's email is '' when none was given: the org-wide key that
-- existed before 0011 becomes such an entry.
CREATE TABLE jwt_credentials_new (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email       TEXT NOT NULL DEFAULT '',
    api_key     TEXT NOT NULL,
    api_secret  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, email)
);
INSERT INTO jwt_credentials_new (id, org_id, email, api_key, api_secret, created_at, updated_at)
SELECT id, org_id, '', api_key, api_secret, created_at, updated_at FROM jwt_credentials;
DROP TABLE jwt_credentials;
ALTER TABLE jwt_credentials_new RENAME TO jwt_credentials;
CREATE INDEX jwt_credentials_by_org ON jwt_credentials (org_id, created_at, id);

-- Meeting SDK app credentials, one per org; the secret is sealed.
CREATE TABLE sdk_credentials (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL UNIQUE REFERENCES orgs(id) ON DELETE CASCADE,
    sdk_key     TEXT NOT NULL,
    sdk_secret  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
