-- Portable schema: ids are TEXT (UUIDs), instants are BIGINT unix seconds,
-- hashes are lower-case hex TEXT and secrets are sealed TEXT (`tbx1.<kid>.<b64>`).
-- The same queries therefore run on SQLite and PostgreSQL.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT REFERENCES orgs(id) ON DELETE CASCADE, -- NULL: may act on every org
    secret_hash  TEXT NOT NULL,
    label        TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE TABLE connect_sessions (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL,
    app_type     TEXT NOT NULL,
    return_to    TEXT,
    created_by   TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    consumed_at  BIGINT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE pending_authorizations (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES connect_sessions(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    state_hash     TEXT NOT NULL UNIQUE,
    pkce_verifier  TEXT NOT NULL,
    email          TEXT NOT NULL,
    app_type       TEXT NOT NULL,
    return_to      TEXT,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE connections (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    app_type           TEXT NOT NULL,
    subject            TEXT NOT NULL, -- Zoom user id (user apps) or account id (account apps)
    zoom_user_id       TEXT NOT NULL,
    zoom_account_id    TEXT NOT NULL,
    email              TEXT NOT NULL,
    role_name          TEXT,
    status             TEXT NOT NULL,
    status_reason      TEXT,
    scopes             TEXT NOT NULL,
    access_token       TEXT,
    refresh_token      TEXT,
    access_expires_at  BIGINT,
    version            BIGINT NOT NULL,
    lease_owner        TEXT,
    lease_until        BIGINT,
    last_refreshed_at  BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (org_id, app_type, subject)
);
CREATE INDEX connections_by_email ON connections (org_id, email);
CREATE INDEX connections_by_expiry ON connections (status, access_expires_at);

CREATE TABLE s2s_credentials (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL UNIQUE REFERENCES orgs(id) ON DELETE CASCADE,
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
    updated_at         BIGINT NOT NULL
);

CREATE TABLE jwt_credentials (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL UNIQUE REFERENCES orgs(id) ON DELETE CASCADE,
    api_key     TEXT NOT NULL,
    api_secret  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      TEXT REFERENCES orgs(id) ON DELETE CASCADE,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);
