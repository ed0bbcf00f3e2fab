-- An org's own Zoom OAuth app (issue 11, part 1). One row per org: the app
-- serves that org's connect sessions of its app_type; the other kind keeps
-- using the deployment's app. Replacing the app with another client_id gives
-- the row a new id, so connections made with the old app never pick up the
-- new one's credentials. client_secret and webhook_secret_token are sealed
-- (AAD bound to the row id).
CREATE TABLE org_oauth_apps (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL UNIQUE REFERENCES orgs(id) ON DELETE CASCADE,
    client_id            TEXT NOT NULL,
    client_secret        TEXT NOT NULL,
    app_type             TEXT NOT NULL,
    webhook_secret_token TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- The app a connection was made with, and the app a pending authorization
-- began with (so the callback exchanges with the same one). NULL: the
-- deployment's app from the environment. No foreign key: a connection that
-- no longer blocks the app's removal (needs_reauth, revoked) keeps the id
-- and must authorize again.
ALTER TABLE connections ADD COLUMN oauth_app_id TEXT;
ALTER TABLE pending_authorizations ADD COLUMN oauth_app_id TEXT;
CREATE INDEX connections_by_oauth_app ON connections (oauth_app_id, status)
    WHERE oauth_app_id IS NOT NULL;
