//! The queries both backends share. The schema is portable (TEXT and BIGINT
//! only), so one body of SQL serves SQLite and PostgreSQL; this macro stamps
//! it onto each backend's pool type.

use super::SealedColumn;

pub(super) fn sealed_cells_sql(c: SealedColumn) -> String {
    format!(
        "SELECT id, {col} AS sealed FROM {table} WHERE id > $1 AND {col} IS NOT NULL ORDER BY id LIMIT $2",
        col = c.column,
        table = c.table
    )
}

pub(super) fn replace_sealed_sql(c: SealedColumn) -> String {
    format!(
        "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
        col = c.column,
        table = c.table
    )
}

/// Classifies a one-time record that could not be claimed.
pub(super) fn classify<T>(
    row: Option<T>,
    used: impl Fn(&T) -> bool,
    expired: impl Fn(&T) -> bool,
) -> super::Consumed<T> {
    match row {
        None => super::Consumed::Unknown,
        Some(r) if used(&r) => super::Consumed::AlreadyUsed(r),
        Some(r) if expired(&r) => super::Consumed::Expired(r),
        // Claimed by a concurrent caller between our two statements.
        Some(r) => super::Consumed::AlreadyUsed(r),
    }
}

macro_rules! impl_store {
    ($ty:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $ty {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_org(&self, org: &Org) -> StoreResult<()> {
                sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&org.id).bind(&org.slug).bind(&org.name).bind(org.created_at)
                    .execute(&self.pool).await
                    .map_err(|e| map_unique(e, format!("org {:?}", org.slug)))?;
                Ok(())
            }

            async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>> {
                Ok(sqlx::query_as("SELECT * FROM orgs WHERE slug = $1").bind(slug).fetch_optional(&self.pool).await?)
            }

            async fn org_by_id(&self, id: &str) -> StoreResult<Option<Org>> {
                Ok(sqlx::query_as("SELECT * FROM orgs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }

            async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
                Ok(sqlx::query_as("SELECT * FROM orgs ORDER BY slug").fetch_all(&self.pool).await?)
            }

            async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
                sqlx::query("INSERT INTO api_keys (id, org_id, secret_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&key.id).bind(&key.org_id).bind(&key.secret_hash).bind(&key.label).bind(key.created_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
                Ok(sqlx::query_as("SELECT * FROM api_keys WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }

            async fn insert_connect_session(&self, s: &ConnectSession) -> StoreResult<()> {
                sqlx::query("INSERT INTO connect_sessions (id, org_id, token_hash, email, app_type, return_to, created_by, expires_at, consumed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)")
                    .bind(&s.id).bind(&s.org_id).bind(&s.token_hash).bind(&s.email).bind(&s.app_type)
                    .bind(&s.return_to).bind(&s.created_by).bind(s.expires_at).bind(s.created_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn consume_connect_session(&self, token_hash: &str, now: i64) -> StoreResult<Consumed<ConnectSession>> {
                let claimed: Option<ConnectSession> = sqlx::query_as("UPDATE connect_sessions SET consumed_at = $2 WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING *")
                    .bind(token_hash).bind(now).fetch_optional(&self.pool).await?;
                if let Some(s) = claimed {
                    return Ok(Consumed::Claimed(s));
                }
                let row: Option<ConnectSession> = sqlx::query_as("SELECT * FROM connect_sessions WHERE token_hash = $1")
                    .bind(token_hash).fetch_optional(&self.pool).await?;
                Ok(classify(row, |s| s.consumed_at.is_some(), |s| s.expires_at <= now))
            }

            async fn insert_pending_authorization(&self, p: &PendingAuthorization) -> StoreResult<()> {
                sqlx::query("INSERT INTO pending_authorizations (id, session_id, org_id, state_hash, pkce_verifier, email, app_type, return_to, expires_at, used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)")
                    .bind(&p.id).bind(&p.session_id).bind(&p.org_id).bind(&p.state_hash).bind(&p.pkce_verifier)
                    .bind(&p.email).bind(&p.app_type).bind(&p.return_to).bind(p.expires_at).bind(p.created_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn take_pending_authorization(&self, state_hash: &str, now: i64) -> StoreResult<Consumed<PendingAuthorization>> {
                let claimed: Option<PendingAuthorization> = sqlx::query_as("UPDATE pending_authorizations SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *")
                    .bind(state_hash).bind(now).fetch_optional(&self.pool).await?;
                if let Some(p) = claimed {
                    return Ok(Consumed::Claimed(p));
                }
                let row: Option<PendingAuthorization> = sqlx::query_as("SELECT * FROM pending_authorizations WHERE state_hash = $1")
                    .bind(state_hash).fetch_optional(&self.pool).await?;
                Ok(classify(row, |p| p.used_at.is_some(), |p| p.expires_at <= now))
            }

            async fn connection(&self, org_id: &str, id: &str) -> StoreResult<Option<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE org_id = $1 AND id = $2").bind(org_id).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn connection_by_id(&self, id: &str) -> StoreResult<Option<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }

            async fn connection_by_subject(&self, org_id: &str, app_type: &str, subject: &str) -> StoreResult<Option<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE org_id = $1 AND app_type = $2 AND subject = $3")
                    .bind(org_id).bind(app_type).bind(subject).fetch_optional(&self.pool).await?)
            }

            async fn upsert_connection(&self, c: &Connection) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO connections (id, org_id, app_type, subject, zoom_user_id, zoom_account_id, email, role_name, status, status_reason, scopes, access_token, refresh_token, access_expires_at, version, lease_owner, lease_until, last_refreshed_at, created_at, updated_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', NULL, $9, $10, $11, $12, 0, NULL, NULL, NULL, $13, $13) \
                    ON CONFLICT (org_id, app_type, subject) DO UPDATE SET zoom_user_id = excluded.zoom_user_id, zoom_account_id = excluded.zoom_account_id, email = excluded.email, role_name = excluded.role_name, status = 'active', status_reason = NULL, scopes = excluded.scopes, access_token = excluded.access_token, refresh_token = excluded.refresh_token, access_expires_at = excluded.access_expires_at, version = connections.version + 1, lease_owner = NULL, lease_until = NULL, updated_at = excluded.updated_at \
                    WHERE connections.id = excluded.id")
                    .bind(&c.id).bind(&c.org_id).bind(&c.app_type).bind(&c.subject).bind(&c.zoom_user_id)
                    .bind(&c.zoom_account_id).bind(&c.email).bind(&c.role_name).bind(&c.scopes)
                    .bind(&c.access_token).bind(&c.refresh_token).bind(c.access_expires_at).bind(c.updated_at)
                    .execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_connections(&self, org_id: &str) -> StoreResult<Vec<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE org_id = $1 ORDER BY created_at, id").bind(org_id).fetch_all(&self.pool).await?)
            }

            async fn user_connection_for_email(&self, org_id: &str, email: &str) -> StoreResult<Option<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE org_id = $1 AND email = $2 AND app_type = 'user' AND status <> 'revoked' ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, updated_at DESC LIMIT 1")
                    .bind(org_id).bind(email).fetch_optional(&self.pool).await?)
            }

            async fn account_connection(&self, org_id: &str) -> StoreResult<Option<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE org_id = $1 AND app_type = 'account' AND status <> 'revoked' ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, updated_at DESC LIMIT 1")
                    .bind(org_id).fetch_optional(&self.pool).await?)
            }

            async fn delete_connection(&self, org_id: &str, id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM connections WHERE org_id = $1 AND id = $2").bind(org_id).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_needs_reauth(&self, id: &str, version: i64, reason: &str, now: i64) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE connections SET status = 'needs_reauth', status_reason = $3, version = version + 1, lease_owner = NULL, lease_until = NULL, updated_at = $4 WHERE id = $1 AND version = $2")
                    .bind(id).bind(version).bind(reason).bind(now).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn deauthorize_connections(&self, zoom_user_id: &str, zoom_account_id: &str, reason: &str, now: i64) -> StoreResult<Vec<Connection>> {
                Ok(sqlx::query_as("UPDATE connections SET status = 'revoked', status_reason = $3, access_token = NULL, refresh_token = NULL, access_expires_at = NULL, version = version + 1, lease_owner = NULL, lease_until = NULL, updated_at = $4 \
                    WHERE status <> 'revoked' AND ((app_type = 'user' AND zoom_user_id = $1) OR (app_type = 'account' AND zoom_account_id = $2 AND (zoom_user_id = $1 OR $1 = ''))) RETURNING *")
                    .bind(zoom_user_id).bind(zoom_account_id).bind(reason).bind(now).fetch_all(&self.pool).await?)
            }

            async fn connections_expiring_before(&self, before: i64, limit: i64) -> StoreResult<Vec<Connection>> {
                Ok(sqlx::query_as("SELECT * FROM connections WHERE status = 'active' AND refresh_token IS NOT NULL AND access_expires_at < $1 ORDER BY access_expires_at LIMIT $2")
                    .bind(before).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn acquire_lease(&self, slot: TokenSlot, id: &str, version: i64, owner: &str, lease_secs: i64) -> StoreResult<Option<LeaseGrant>> {
                let taken: Option<(i64, Option<i64>)> = sqlx::query_as($crate::store::lease::acquire_sql($backend, slot))
                    .bind(owner).bind(lease_secs).bind(id).bind(version).fetch_optional(&self.pool).await?;
                Ok(taken.map(|(until, prior)| LeaseGrant { until, earlier_answer_lost: prior == Some(version) }))
            }

            async fn release_lease(&self, slot: TokenSlot, id: &str, owner: &str, end: LeaseEnd) -> StoreResult<()> {
                sqlx::query($crate::store::lease::release_sql(slot, end)).bind(id).bind(owner).execute(&self.pool).await?;
                Ok(())
            }

            async fn store_refreshed(&self, slot: TokenSlot, u: &RefreshedTokens) -> StoreResult<bool> {
                let query = sqlx::query($crate::store::lease::store_refreshed_sql(slot)).bind(&u.access_token);
                let query = match slot {
                    TokenSlot::Connection => query.bind(&u.refresh_token),
                    TokenSlot::S2s => query,
                };
                let done = query.bind(u.access_expires_at).bind(&u.scopes).bind(u.now).bind(&u.id).bind(u.expected_version)
                    .bind(&u.lease_owner).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_s2s(&self, c: &S2sCredentials) -> StoreResult<()> {
                sqlx::query("INSERT INTO s2s_credentials (id, org_id, email, account_id, client_id, client_secret, access_token, access_expires_at, scopes, version, lease_owner, lease_until, last_refreshed_at, created_at, updated_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, $10, $11, $11) \
                    ON CONFLICT (org_id) DO UPDATE SET id = excluded.id, email = excluded.email, account_id = excluded.account_id, client_id = excluded.client_id, client_secret = excluded.client_secret, access_token = excluded.access_token, access_expires_at = excluded.access_expires_at, scopes = excluded.scopes, version = s2s_credentials.version + 1, lease_owner = NULL, lease_until = NULL, last_refreshed_at = excluded.last_refreshed_at, updated_at = excluded.updated_at")
                    .bind(&c.id).bind(&c.org_id).bind(&c.email).bind(&c.account_id).bind(&c.client_id)
                    .bind(&c.client_secret).bind(&c.access_token).bind(c.access_expires_at).bind(&c.scopes)
                    .bind(c.last_refreshed_at).bind(c.updated_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn s2s(&self, org_id: &str) -> StoreResult<Option<S2sCredentials>> {
                Ok(sqlx::query_as("SELECT * FROM s2s_credentials WHERE org_id = $1").bind(org_id).fetch_optional(&self.pool).await?)
            }

            async fn delete_s2s(&self, org_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM s2s_credentials WHERE org_id = $1").bind(org_id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_jwt(&self, c: &JwtCredentials) -> StoreResult<()> {
                sqlx::query("INSERT INTO jwt_credentials (id, org_id, api_key, api_secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                    ON CONFLICT (org_id) DO UPDATE SET id = excluded.id, api_key = excluded.api_key, api_secret = excluded.api_secret, updated_at = excluded.updated_at")
                    .bind(&c.id).bind(&c.org_id).bind(&c.api_key).bind(&c.api_secret).bind(c.updated_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn jwt(&self, org_id: &str) -> StoreResult<Option<JwtCredentials>> {
                Ok(sqlx::query_as("SELECT * FROM jwt_credentials WHERE org_id = $1").bind(org_id).fetch_optional(&self.pool).await?)
            }

            async fn delete_jwt(&self, org_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM jwt_credentials WHERE org_id = $1").bind(org_id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_admin_link(&self, l: &AdminLink) -> StoreResult<()> {
                sqlx::query("INSERT INTO admin_links (id, org_id, token_hash, email, created_by, expires_at, used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)")
                    .bind(&l.id).bind(&l.org_id).bind(&l.token_hash).bind(&l.email).bind(&l.created_by).bind(l.expires_at).bind(l.created_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn consume_admin_link(&self, token_hash: &str, now: i64) -> StoreResult<Consumed<AdminLink>> {
                let claimed: Option<AdminLink> = sqlx::query_as("UPDATE admin_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *")
                    .bind(token_hash).bind(now).fetch_optional(&self.pool).await?;
                if let Some(l) = claimed {
                    return Ok(Consumed::Claimed(l));
                }
                let row: Option<AdminLink> = sqlx::query_as("SELECT * FROM admin_links WHERE token_hash = $1").bind(token_hash).fetch_optional(&self.pool).await?;
                Ok(classify(row, |l| l.used_at.is_some(), |l| l.expires_at <= now))
            }

            async fn admin_emails(&self, org_id: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT DISTINCT email FROM admin_links WHERE org_id = $1 ORDER BY email").bind(org_id).fetch_all(&self.pool).await?)
            }

            async fn insert_admin_session(&self, s: &AdminSession) -> StoreResult<()> {
                sqlx::query("INSERT INTO admin_sessions (id_hash, org_id, email, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&s.id_hash).bind(&s.org_id).bind(&s.email).bind(s.expires_at).bind(s.created_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn admin_session(&self, id_hash: &str, now: i64) -> StoreResult<Option<AdminSession>> {
                Ok(sqlx::query_as("SELECT * FROM admin_sessions WHERE id_hash = $1 AND expires_at > $2").bind(id_hash).bind(now).fetch_optional(&self.pool).await?)
            }

            async fn delete_admin_session(&self, id_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn prune_expired(&self, before: i64) -> StoreResult<u64> {
                let mut removed = 0;
                // Pending authorizations go first: they reference connect sessions.
                for sql in [
                    "DELETE FROM pending_authorizations WHERE expires_at < $1",
                    "DELETE FROM connect_sessions WHERE expires_at < $1",
                    "DELETE FROM admin_links WHERE expires_at < $1",
                    "DELETE FROM admin_sessions WHERE expires_at < $1",
                ] {
                    removed += sqlx::query(sql).bind(before).execute(&self.pool).await?.rows_affected();
                }
                Ok(removed)
            }

            async fn append_audit(&self, e: &NewAuditEvent) -> StoreResult<()> {
                sqlx::query("INSERT INTO audit_events (org_id, actor, action, outcome, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&e.org_id).bind(&e.actor).bind(&e.action).bind(&e.outcome).bind(&e.detail).bind(e.created_at)
                    .execute(&self.pool).await?;
                Ok(())
            }

            async fn list_audit(&self, org_id: &str, before_id: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEvent>> {
                Ok(sqlx::query_as("SELECT * FROM audit_events WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
                    .bind(org_id).bind(before_id.unwrap_or(i64::MAX)).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn sealed_cells(&self, column: SealedColumn, after_id: &str, limit: i64) -> StoreResult<Vec<SealedCell>> {
                let sql = sqlx::AssertSqlSafe($crate::store::common::sealed_cells_sql(column));
                Ok(sqlx::query_as(sql).bind(after_id).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn replace_sealed(&self, column: SealedColumn, id: &str, old: &str, new: &str) -> StoreResult<bool> {
                let sql = sqlx::AssertSqlSafe($crate::store::common::replace_sealed_sql(column));
                let done = sqlx::query(sql).bind(new).bind(id).bind(old).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_store;
