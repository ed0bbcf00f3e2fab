//! The SQL text both backends run, one statement per name. `$n` placeholders
//! work on SQLite too, and the schema is portable (TEXT and BIGINT), so no
//! statement here needs a per-backend variant.

use super::SealedColumn;

pub const PING: &str = "SELECT 1";

pub const INSERT_ORG: &str = "
    INSERT INTO orgs (id, slug, name, created_at)
    VALUES ($1, $2, $3, $4)";
pub const ORG_BY_SLUG: &str = "SELECT * FROM orgs WHERE slug = $1";
pub const ORG_BY_ID: &str = "SELECT * FROM orgs WHERE id = $1";
pub const LIST_ORGS: &str = "SELECT * FROM orgs ORDER BY slug";

pub const INSERT_API_KEY: &str = "
    INSERT INTO api_keys (id, org_id, secret_hash, label, created_at, scopes, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const API_KEY: &str = "SELECT * FROM api_keys WHERE id = $1";
pub const LIST_API_KEYS: &str = "
    SELECT * FROM api_keys WHERE ($1 IS NULL OR org_id = $1) ORDER BY created_at, id";
pub const REVOKE_API_KEY: &str = "
    UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
/// A key's last use, written in batches; never moved back.
pub const RECORD_API_KEY_USE: &str = "
    UPDATE api_keys SET last_used_at = $2
    WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

pub const INSERT_CONNECT_SESSION: &str = "
    INSERT INTO connect_sessions (
        id, org_id, token_hash, email, app_type, return_to, created_by,
        expires_at, consumed_at, created_at, products
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10)";

pub const INSERT_PENDING_AUTHORIZATION: &str = "
    INSERT INTO pending_authorizations (
        id, session_id, org_id, state_hash, pkce_verifier, email, app_type,
        return_to, expires_at, used_at, created_at, oauth_app_id
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11)";

/// Claims a one-time record: `$1` is its hash, `$2` the current time. The
/// update matches only a live, unused row, so of two racing callers one wins.
pub fn claim_once(table: &str, hash_column: &str, used_column: &str) -> String {
    format!(
        "UPDATE {table} SET {used_column} = $2
         WHERE {hash_column} = $1 AND {used_column} IS NULL AND expires_at > $2
         RETURNING *"
    )
}

/// Re-reads a one-time record that could not be claimed, to say why.
pub fn one_time_by_hash(table: &str, hash_column: &str) -> String {
    format!("SELECT * FROM {table} WHERE {hash_column} = $1")
}

pub const CONNECTION: &str = "SELECT * FROM connections WHERE org_id = $1 AND id = $2";
pub const CONNECTION_BY_ID: &str = "SELECT * FROM connections WHERE id = $1";
pub const CONNECTION_BY_SUBJECT: &str = "
    SELECT * FROM connections
    WHERE org_id = $1 AND app_type = $2 AND subject = $3";

/// Inserts, or replaces the tokens in place when the same subject authorizes
/// again; the `WHERE` leaves a row made under another id untouched. An
/// authorization counts as a use: the user is there and about to use it.
pub const UPSERT_CONNECTION: &str = "
    INSERT INTO connections (
        id, org_id, app_type, subject, zoom_user_id, zoom_account_id, email,
        role_name, status, status_reason, scopes, access_token, refresh_token,
        access_expires_at, version, lease_owner, lease_until, last_refreshed_at,
        created_at, updated_at, authorized_at, last_used_at, refresh_issued_at,
        oauth_app_id
    )
    VALUES (
        $1, $2, $3, $4, $5, $6, $7, $8, 'active', NULL, $9, $10, $11, $12, 0,
        NULL, NULL, NULL, $13, $13, $13, $13, $13, $14
    )
    ON CONFLICT (org_id, app_type, subject) DO UPDATE SET
        zoom_user_id = excluded.zoom_user_id,
        zoom_account_id = excluded.zoom_account_id,
        email = excluded.email,
        role_name = excluded.role_name,
        status = 'active',
        status_reason = NULL,
        scopes = excluded.scopes,
        access_token = excluded.access_token,
        refresh_token = excluded.refresh_token,
        access_expires_at = excluded.access_expires_at,
        version = connections.version + 1,
        lease_owner = NULL,
        lease_until = NULL,
        updated_at = excluded.updated_at,
        authorized_at = excluded.authorized_at,
        last_used_at = excluded.last_used_at,
        refresh_issued_at = excluded.refresh_issued_at,
        oauth_app_id = excluded.oauth_app_id
    WHERE connections.id = excluded.id";

pub const LIST_CONNECTIONS: &str = "
    SELECT * FROM connections WHERE org_id = $1 ORDER BY created_at, id";

/// The user's unrevoked connections, unordered: nearly always one row, and
/// `preferred_connection` picks among them. Ordering them in SQL cost
/// SQLite an ephemeral B-tree per token call, about 20,000 of the database
/// path's 170,000 instructions (callgrind, issue 20).
pub const USER_CONNECTIONS_FOR_EMAIL: &str = "
    SELECT * FROM connections
    WHERE org_id = $1 AND email = $2 AND app_type = 'user' AND status <> 'revoked'";

pub const ACCOUNT_CONNECTION: &str = "
    SELECT * FROM connections
    WHERE org_id = $1 AND app_type = 'account' AND status <> 'revoked'
    ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, updated_at DESC
    LIMIT 1";

pub const DELETE_CONNECTION: &str =
    "DELETE FROM connections WHERE org_id = $1 AND id = $2 RETURNING *";

pub const MARK_NEEDS_REAUTH: &str = "
    UPDATE connections
    SET status = 'needs_reauth', status_reason = $3, version = version + 1,
        lease_owner = NULL, lease_until = NULL, updated_at = $4
    WHERE id = $1 AND version = $2
    RETURNING *";

/// `$1` is the Zoom user id (empty when Zoom names only the account), `$2`
/// the account id. An account grant goes with its account's removal.
/// $5: reach user connections (1 or 0); $6: account connections (0 none,
/// 1 only the installer's, 2 the whole account); $7: the event's instant, so
/// a grant given after it stays; $8: the org app whose connections it
/// reaches ('' for the deployment's app).
pub const DEAUTHORIZE_CONNECTIONS: &str = "
    UPDATE connections
    SET status = 'revoked', status_reason = $3, access_token = NULL,
        refresh_token = NULL, access_expires_at = NULL, version = version + 1,
        lease_owner = NULL, lease_until = NULL, updated_at = $4
    WHERE status <> 'revoked'
      AND COALESCE(authorized_at, 0) <= $7
      AND COALESCE(oauth_app_id, '') = $8
      AND (
        ($5 = 1 AND app_type = 'user' AND zoom_user_id = $1)
        OR ($6 = 2 AND app_type = 'account' AND zoom_account_id = $2)
        OR ($6 = 1 AND app_type = 'account' AND zoom_account_id = $2
            AND (zoom_user_id = $1 OR $1 = ''))
      )
    RETURNING *";
pub const ACTIVE_GRANT_EXISTS: &str = "
    SELECT id FROM connections
    WHERE app_type = $1 AND subject = $2 AND status = 'active' LIMIT 1";

pub const RECORD_WEBHOOK_EVENT: &str = "
    INSERT INTO webhook_events (id, received_at) VALUES ($1, $2)
    ON CONFLICT (id) DO NOTHING";
pub const FORGET_WEBHOOK_EVENT: &str = "DELETE FROM webhook_events WHERE id = $1";
pub const CONNECT_SESSION: &str = "SELECT * FROM connect_sessions WHERE token_hash = $1";
pub const ADMIN_LINK: &str = "SELECT * FROM admin_links WHERE token_hash = $1";

pub const PUT_S2S: &str = "
    INSERT INTO s2s_credentials (
        id, org_id, email, account_id, client_id, client_secret, access_token,
        access_expires_at, scopes, version, lease_owner, lease_until,
        last_refreshed_at, created_at, updated_at
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, $10, $11, $11)
    ON CONFLICT (org_id, email) DO UPDATE SET
        id = excluded.id,
        account_id = excluded.account_id,
        client_id = excluded.client_id,
        client_secret = excluded.client_secret,
        access_token = excluded.access_token,
        access_expires_at = excluded.access_expires_at,
        scopes = excluded.scopes,
        version = s2s_credentials.version + 1,
        lease_owner = NULL,
        lease_until = NULL,
        last_refreshed_at = excluded.last_refreshed_at,
        updated_at = excluded.updated_at";
/// The org's first entry: the earliest created.
pub const S2S: &str =
    "SELECT * FROM s2s_credentials WHERE org_id = $1 ORDER BY created_at, id LIMIT 1";
pub const S2S_ENTRIES: &str =
    "SELECT * FROM s2s_credentials WHERE org_id = $1 ORDER BY created_at, id";
pub const S2S_BY_ID: &str = "SELECT * FROM s2s_credentials WHERE id = $1";
pub const DELETE_S2S: &str = "DELETE FROM s2s_credentials WHERE org_id = $1";
pub const DELETE_S2S_ENTRY: &str = "DELETE FROM s2s_credentials WHERE org_id = $1 AND email = $2";

pub const PUT_JWT: &str = "
    INSERT INTO jwt_credentials (id, org_id, email, api_key, api_secret, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $6)
    ON CONFLICT (org_id, email) DO UPDATE SET
        id = excluded.id,
        api_key = excluded.api_key,
        api_secret = excluded.api_secret,
        updated_at = excluded.updated_at";
/// The org's first entry: the earliest created.
pub const JWT: &str =
    "SELECT * FROM jwt_credentials WHERE org_id = $1 ORDER BY created_at, id LIMIT 1";
pub const JWT_ENTRIES: &str =
    "SELECT * FROM jwt_credentials WHERE org_id = $1 ORDER BY created_at, id";
pub const DELETE_JWT: &str = "DELETE FROM jwt_credentials WHERE org_id = $1";
pub const DELETE_JWT_ENTRY: &str = "DELETE FROM jwt_credentials WHERE org_id = $1 AND email = $2";

pub const PUT_SDK: &str = "
    INSERT INTO sdk_credentials (id, org_id, sdk_key, sdk_secret, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $5)
    ON CONFLICT (org_id) DO UPDATE SET
        id = excluded.id,
        sdk_key = excluded.sdk_key,
        sdk_secret = excluded.sdk_secret,
        updated_at = excluded.updated_at";
pub const SDK: &str = "SELECT * FROM sdk_credentials WHERE org_id = $1";
pub const DELETE_SDK: &str = "DELETE FROM sdk_credentials WHERE org_id = $1";

pub const INSERT_ADMIN_LINK: &str = "
    INSERT INTO admin_links (
        id, org_id, token_hash, email, created_by, expires_at, used_at, created_at
    )
    VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)";
pub const ADMIN_EMAILS: &str = "
    SELECT DISTINCT email FROM admin_links WHERE org_id = $1 ORDER BY email";

pub const INSERT_ADMIN_SESSION: &str = "
    INSERT INTO admin_sessions (id_hash, org_id, email, expires_at, created_at, last_seen_at)
    VALUES ($1, $2, $3, $4, $5, $5)";
pub const ADMIN_SESSION: &str = "
    SELECT * FROM admin_sessions
    WHERE id_hash = $1 AND expires_at > $2 AND COALESCE(last_seen_at, created_at) > $3";
pub const END_ADMIN_SESSIONS: &str = "
    DELETE FROM admin_sessions WHERE org_id = $1 AND email = $2";
pub const TOUCH_ADMIN_SESSION: &str = "
    UPDATE admin_sessions SET last_seen_at = $2 WHERE id_hash = $1";
pub const DELETE_ADMIN_SESSION: &str = "DELETE FROM admin_sessions WHERE id_hash = $1";

/// Each binds the cutoff. Pending authorizations go first: they reference
/// connect sessions.
pub const PRUNE_EXPIRED: [&str; 6] = [
    "DELETE FROM pending_authorizations WHERE expires_at < $1",
    "DELETE FROM connect_sessions WHERE expires_at < $1",
    "DELETE FROM admin_links WHERE expires_at < $1",
    "DELETE FROM admin_sessions WHERE expires_at < $1",
    "DELETE FROM webhook_events WHERE received_at < $1",
    "DELETE FROM refresh_rate_slots WHERE at_second < $1",
];

pub const APPEND_AUDIT: &str = "
    INSERT INTO audit_events (org_id, actor, action, outcome, detail, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)";
pub const LIST_AUDIT: &str = "
    SELECT * FROM audit_events
    WHERE org_id = $1 AND id < $2
    ORDER BY id DESC
    LIMIT $3";

/// Table and column names come from `SEALED_COLUMNS`, never from input.
pub fn sealed_cells_sql(c: SealedColumn) -> String {
    format!(
        "SELECT id, {col} AS sealed FROM {table}
         WHERE id > $1 AND {col} IS NOT NULL
         ORDER BY id
         LIMIT $2",
        col = c.column,
        table = c.table
    )
}

pub fn replace_sealed_sql(c: SealedColumn) -> String {
    format!(
        "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
        col = c.column,
        table = c.table
    )
}

/// Served by the `(org_id, status, seq)` index alone.
pub const CONNECTION_COUNTS: &str = "
    SELECT status, COUNT(*) AS n FROM connections WHERE org_id = $1 GROUP BY status";

/// An org's own Zoom OAuth app: one row per org. Replacing it with another
/// client id gives the row a new id (the service decides).
pub const PUT_ORG_OAUTH_APP: &str = "
    INSERT INTO org_oauth_apps (
        id, org_id, client_id, client_secret, app_type, webhook_secret_token,
        created_at, updated_at
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (org_id) DO UPDATE SET
        id = excluded.id,
        client_id = excluded.client_id,
        client_secret = excluded.client_secret,
        app_type = excluded.app_type,
        webhook_secret_token = excluded.webhook_secret_token,
        updated_at = excluded.updated_at";
pub const ORG_OAUTH_APP: &str = "SELECT * FROM org_oauth_apps WHERE org_id = $1";
pub const ORG_OAUTH_APP_BY_ID: &str = "SELECT * FROM org_oauth_apps WHERE id = $1";
/// Active connections made with the app: they block its removal.
pub const ORG_OAUTH_APP_IN_USE: &str = "
    SELECT COUNT(*) FROM connections WHERE oauth_app_id = $1 AND status = 'active'";
/// Deletes the org's app only while no active connection uses it, in one
/// statement, so a connection stored concurrently is never orphaned unseen.
pub const DELETE_ORG_OAUTH_APP_IF_UNUSED: &str = "
    DELETE FROM org_oauth_apps
    WHERE org_id = $1
      AND NOT EXISTS (
        SELECT 1 FROM connections
        WHERE connections.oauth_app_id = org_oauth_apps.id
          AND connections.status = 'active'
      )";
