-- Several Zoom accounts per org: S2S and JWT credentials become entries
-- keyed by (org, email) instead of one per org. Row ids are kept as they
-- are: every sealed column's associated data is bound to its row id.

ALTER TABLE s2s_credentials DROP CONSTRAINT s2s_credentials_org_id_key;
ALTER TABLE s2s_credentials ADD CONSTRAINT s2s_credentials_org_email UNIQUE (org_id, email);
CREATE INDEX s2s_credentials_by_org ON s2s_credentials (org_id, created_at, id);

-- A JWT entry's email is '' when none was given: the org-wide key that
-- existed before 0011 becomes such an entry.
ALTER TABLE jwt_credentials ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE jwt_credentials DROP CONSTRAINT jwt_credentials_org_id_key;
ALTER TABLE jwt_credentials ADD CONSTRAINT jwt_credentials_org_email UNIQUE (org_id, email);
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
