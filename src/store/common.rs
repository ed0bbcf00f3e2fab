//! The one implementation of [`Store`]: generic over the sqlx driver, with
//! the SQL text in `sql.rs`. See the `store` module doc for why this shape.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::backend::{Backend, SqlStore};
use super::one_time::claim_once;
use super::paging::{connection_page_sql, Bind, ConnectionPageQuery, PagedConnection};
use super::{
    map_unique, outbox, records::*, sql, PlanOf, SealedColumn, Store, StoreResult, TokenSlot,
};
use super::{ConnectionUse, LeaseEnd, LeaseGrant, RefreshCandidate, RefreshKind, RefreshPage};
use crate::domain::{AppType, ConnectionStatus, EventType};

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn backend(&self) -> &'static str {
        DB::LABEL
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query(sql::PING).execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_org(&self, org: &Org) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ORG)
            .bind(&org.id)
            .bind(&org.slug)
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| map_unique(e, format!("org {:?}", org.slug)))?;
        Ok(())
    }

    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>> {
        let query = sqlx::query_as(sql::ORG_BY_SLUG).bind(slug);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn org_by_id(&self, id: &str) -> StoreResult<Option<Org>> {
        let query = sqlx::query_as(sql::ORG_BY_ID).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        Ok(sqlx::query_as(sql::LIST_ORGS).fetch_all(&self.pool).await?)
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        sqlx::query(sql::INSERT_API_KEY)
            .bind(&key.id)
            .bind(&key.org_id)
            .bind(&key.secret_hash)
            .bind(&key.label)
            .bind(key.created_at)
            .bind(&key.scopes)
            .bind(key.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        let query = sqlx::query_as(sql::API_KEY).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn list_api_keys(&self, org_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        let query = sqlx::query_as(sql::LIST_API_KEYS).bind(org_id.map(str::to_string));
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<bool> {
        let query = sqlx::query(sql::REVOKE_API_KEY).bind(id).bind(now);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn record_api_key_use(&self, uses: &[(String, i64)]) -> StoreResult<u64> {
        let mut changed = 0;
        for (id, at) in uses {
            let query = sqlx::query(sql::RECORD_API_KEY_USE)
                .bind(id.as_str())
                .bind(*at);
            changed += DB::rows_affected(&query.execute(&self.pool).await?);
        }
        Ok(changed)
    }

    async fn notify_invalidation(&self, payload: &str) -> StoreResult<()> {
        if let Some(statement) = DB::NOTIFY {
            sqlx::query(statement)
                .bind(payload)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>> {
        let query = sqlx::query_as(sql::CONNECT_SESSION).bind(token_hash);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn insert_connect_session(&self, s: &ConnectSession) -> StoreResult<()> {
        sqlx::query(sql::INSERT_CONNECT_SESSION)
            .bind(&s.id)
            .bind(&s.org_id)
            .bind(&s.token_hash)
            .bind(&s.email)
            .bind(s.app_type)
            .bind(&s.return_to)
            .bind(&s.created_by)
            .bind(s.expires_at)
            .bind(s.created_at)
            .bind(&s.products)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn consume_connect_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<ConnectSession>> {
        claim_once(&self.pool, token_hash, now).await
    }

    async fn insert_pending_authorization(&self, p: &PendingAuthorization) -> StoreResult<()> {
        sqlx::query(sql::INSERT_PENDING_AUTHORIZATION)
            .bind(&p.id)
            .bind(&p.session_id)
            .bind(&p.org_id)
            .bind(&p.state_hash)
            .bind(&p.pkce_verifier)
            .bind(&p.email)
            .bind(p.app_type)
            .bind(&p.return_to)
            .bind(p.expires_at)
            .bind(p.created_at)
            .bind(&p.oauth_app_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take_pending_authorization(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<PendingAuthorization>> {
        claim_once(&self.pool, state_hash, now).await
    }

    async fn connection(&self, org_id: &str, id: &str) -> StoreResult<Option<Connection>> {
        let query = sqlx::query_as(sql::CONNECTION).bind(org_id).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn connection_by_id(&self, id: &str) -> StoreResult<Option<Connection>> {
        let query = sqlx::query_as(sql::CONNECTION_BY_ID).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn connection_by_subject(
        &self,
        org_id: &str,
        app_type: AppType,
        subject: &str,
    ) -> StoreResult<Option<Connection>> {
        let query = sqlx::query_as(sql::CONNECTION_BY_SUBJECT)
            .bind(org_id)
            .bind(app_type)
            .bind(subject);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn upsert_connection(&self, c: &Connection) -> StoreResult<bool> {
        // The event (created or reauthorized) commits with the row, or not
        // at all. The write comes first: a SQLite transaction that read
        // first could not upgrade to writing past a concurrent writer.
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(sql::UPSERT_CONNECTION)
            .bind(&c.id)
            .bind(&c.org_id)
            .bind(c.app_type)
            .bind(&c.subject)
            .bind(&c.zoom_user_id)
            .bind(&c.zoom_account_id)
            .bind(&c.email)
            .bind(&c.role_name)
            .bind(&c.scopes)
            .bind(&c.access_token)
            .bind(&c.refresh_token)
            .bind(c.access_expires_at)
            .bind(c.updated_at)
            .bind(&c.oauth_app_id)
            .execute(&mut *tx)
            .await?;
        let written = DB::rows_affected(&done) == 1;
        if written {
            // An insert starts at version 0; a re-authorization increments it.
            let version: i64 = sqlx::query_scalar(outbox::CONNECTION_VERSION)
                .bind(&c.id)
                .fetch_one(&mut *tx)
                .await?;
            let kind = match version {
                0 => EventType::ConnectionCreated,
                _ => EventType::ConnectionReauthorized,
            };
            let row = Connection {
                status: ConnectionStatus::Active,
                status_reason: None,
                ..c.clone()
            };
            Self::emit(&mut tx, kind, &row, None, c.updated_at).await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn list_connections(&self, org_id: &str) -> StoreResult<Vec<Connection>> {
        let query = sqlx::query_as(sql::LIST_CONNECTIONS).bind(org_id);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn page_connections(&self, q: &ConnectionPageQuery) -> StoreResult<Vec<PagedConnection>> {
        let (text, binds) = connection_page_sql(q, DB::EMAIL_COLLATION);
        let mut query = sqlx::query_as(AssertSqlSafe(text));
        for bind in binds {
            query = match bind {
                Bind::Text(v) => query.bind(v),
                Bind::Int(v) => query.bind(v),
            };
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn connection_counts(&self, org_id: &str) -> StoreResult<Vec<(ConnectionStatus, i64)>> {
        let rows: Vec<(ConnectionStatus, i64)> = sqlx::query_as(sql::CONNECTION_COUNTS)
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    async fn explain(&self, statement: &PlanOf) -> StoreResult<Vec<String>> {
        let (text, binds) = match statement {
            PlanOf::ConnectionPage(q) => connection_page_sql(q, DB::EMAIL_COLLATION),
            PlanOf::ConnectionCounts { org_id } => (
                sql::CONNECTION_COUNTS.to_string(),
                vec![Bind::Text(org_id.clone())],
            ),
            PlanOf::AuditPage {
                org_id,
                before_id,
                limit,
            } => (
                sql::LIST_AUDIT.to_string(),
                vec![
                    Bind::Text(org_id.clone()),
                    Bind::Int(before_id.unwrap_or(i64::MAX)),
                    Bind::Int(*limit),
                ],
            ),
        };
        let mut tx = self.pool.begin().await?;
        for setting in DB::PLAN_SETUP {
            sqlx::query(*setting).execute(&mut *tx).await?;
        }
        let mut query = sqlx::query(AssertSqlSafe(format!("{}{text}", DB::EXPLAIN)));
        for bind in binds {
            query = match bind {
                Bind::Text(v) => query.bind(v),
                Bind::Int(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&mut *tx).await?;
        tx.rollback().await?;
        rows.iter()
            .map(|row| Ok(sqlx::Row::try_get::<String, _>(row, DB::PLAN_COLUMN)?))
            .collect()
    }

    async fn user_connection_for_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> StoreResult<Option<Connection>> {
        let query = sqlx::query_as(sql::USER_CONNECTIONS_FOR_EMAIL)
            .bind(org_id)
            .bind(email);
        Ok(super::records::preferred_connection(
            query.fetch_all(&self.pool).await?,
        ))
    }

    async fn account_connection(&self, org_id: &str) -> StoreResult<Option<Connection>> {
        let query = sqlx::query_as(sql::ACCOUNT_CONNECTION).bind(org_id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn delete_connection(&self, org_id: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let query = sqlx::query_as(sql::DELETE_CONNECTION).bind(org_id).bind(id);
        let deleted: Option<Connection> = query.fetch_optional(&mut *tx).await?;
        if let Some(row) = &deleted {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            Self::emit(&mut tx, EventType::ConnectionDeleted, row, None, now).await?;
        }
        tx.commit().await?;
        Ok(deleted.is_some())
    }

    async fn mark_needs_reauth(
        &self,
        id: &str,
        version: i64,
        reason: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let query = sqlx::query_as(sql::MARK_NEEDS_REAUTH)
            .bind(id)
            .bind(version)
            .bind(reason)
            .bind(now);
        let marked: Option<Connection> = query.fetch_optional(&mut *tx).await?;
        if let Some(row) = &marked {
            let kind = EventType::ConnectionNeedsReauth;
            Self::emit(&mut tx, kind, row, Some(reason), now).await?;
        }
        tx.commit().await?;
        Ok(marked.is_some())
    }

    async fn deauthorize_connections(&self, d: &Deauthorize) -> StoreResult<Vec<Connection>> {
        let query = sqlx::query_as(sql::DEAUTHORIZE_CONNECTIONS)
            .bind(&d.zoom_user_id)
            .bind(&d.zoom_account_id)
            .bind(&d.reason)
            .bind(d.now)
            .bind(i64::from(d.user_connections))
            .bind(d.account_connections.code())
            .bind(d.deauthorized_at)
            .bind(d.oauth_app_id.as_deref().unwrap_or_default());
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Connection> = query.fetch_all(&mut *tx).await?;
        for row in &rows {
            let kind = EventType::ConnectionRevoked;
            Self::emit(&mut tx, kind, row, Some(&d.reason), d.now).await?;
        }
        tx.commit().await?;
        Ok(rows)
    }

    async fn active_grant_exists(&self, app_type: AppType, subject: &str) -> StoreResult<bool> {
        let query = sqlx::query_scalar::<_, String>(sql::ACTIVE_GRANT_EXISTS)
            .bind(app_type)
            .bind(subject);
        Ok(query.fetch_optional(&self.pool).await?.is_some())
    }

    async fn record_webhook_event(&self, id: &str, now: i64) -> StoreResult<bool> {
        let query = sqlx::query(sql::RECORD_WEBHOOK_EVENT).bind(id).bind(now);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn forget_webhook_event(&self, id: &str) -> StoreResult<()> {
        let query = sqlx::query(sql::FORGET_WEBHOOK_EVENT).bind(id);
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn record_use(&self, uses: &[(String, i64)], granularity_secs: i64) -> StoreResult<u64> {
        let mut changed = 0;
        for chunk in uses.chunks(super::usage::USE_BATCH) {
            let sql = super::usage::record_use_sql(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(granularity_secs);
            for (id, at) in chunk {
                query = query.bind(id.as_str()).bind(*at);
            }
            changed += DB::rows_affected(&query.execute(&self.pool).await?);
        }
        Ok(changed)
    }

    async fn refresh_page(&self, p: &RefreshPage) -> StoreResult<Vec<RefreshCandidate>> {
        // A used page's first seek starts at the bound itself: SQLite ranges
        // the index on the row value only, not on `last_used_at >= $1`.
        let start = match p.kind {
            RefreshKind::Used => p.bound,
            RefreshKind::KeepAlive => i64::MIN,
        };
        let (after_key, after_id) = p.after.clone().unwrap_or((start, String::new()));
        let query = sqlx::query_as(super::usage::page_sql(p.kind))
            .bind(p.bound)
            .bind(after_key)
            .bind(after_id)
            .bind(p.expiring_before)
            .bind(p.now)
            .bind(p.limit);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn claim_refresh_slot(&self, per_sec: i64) -> StoreResult<bool> {
        let claimed: Option<(i64,)> = sqlx::query_as(super::usage::claim_slot_sql(DB::LABEL))
            .bind(per_sec)
            .fetch_optional(&self.pool)
            .await?;
        Ok(claimed.is_some())
    }

    async fn connection_use(&self, id: &str) -> StoreResult<Option<ConnectionUse>> {
        let query = sqlx::query_as(super::usage::CONNECTION_USE).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn acquire_lease(
        &self,
        slot: TokenSlot,
        id: &str,
        version: i64,
        owner: &str,
        lease_secs: i64,
    ) -> StoreResult<Option<LeaseGrant>> {
        let taken: Option<(i64, Option<i64>)> =
            sqlx::query_as(super::lease::acquire_sql(DB::LABEL, slot))
                .bind(owner)
                .bind(lease_secs)
                .bind(id)
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        Ok(taken.map(|(until, prior)| LeaseGrant {
            until,
            earlier_answer_lost: prior == Some(version),
        }))
    }

    async fn release_lease(
        &self,
        slot: TokenSlot,
        id: &str,
        owner: &str,
        end: LeaseEnd,
    ) -> StoreResult<()> {
        let query = sqlx::query(super::lease::release_sql(slot, end))
            .bind(id)
            .bind(owner);
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn store_refreshed(&self, slot: TokenSlot, u: &RefreshedTokens) -> StoreResult<bool> {
        let query = sqlx::query(super::lease::store_refreshed_sql(slot)).bind(&u.access_token);
        let query = match slot {
            TokenSlot::Connection => query.bind(&u.refresh_token),
            TokenSlot::S2s => query,
        };
        let done = query
            .bind(u.access_expires_at)
            .bind(&u.scopes)
            .bind(u.now)
            .bind(&u.id)
            .bind(u.expected_version)
            .bind(&u.lease_owner)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn put_s2s(&self, c: &S2sCredentials) -> StoreResult<()> {
        sqlx::query(sql::PUT_S2S)
            .bind(&c.id)
            .bind(&c.org_id)
            .bind(&c.email)
            .bind(&c.account_id)
            .bind(&c.client_id)
            .bind(&c.client_secret)
            .bind(&c.access_token)
            .bind(c.access_expires_at)
            .bind(&c.scopes)
            .bind(c.last_refreshed_at)
            .bind(c.updated_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn s2s(&self, org_id: &str) -> StoreResult<Option<S2sCredentials>> {
        let query = sqlx::query_as(sql::S2S).bind(org_id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn delete_s2s(&self, org_id: &str) -> StoreResult<bool> {
        let query = sqlx::query(sql::DELETE_S2S).bind(org_id);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) >= 1)
    }

    async fn s2s_entries(&self, org_id: &str) -> StoreResult<Vec<S2sCredentials>> {
        let query = sqlx::query_as(sql::S2S_ENTRIES).bind(org_id);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn s2s_by_id(&self, id: &str) -> StoreResult<Option<S2sCredentials>> {
        let query = sqlx::query_as(sql::S2S_BY_ID).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn delete_s2s_entry(&self, org_id: &str, email: &str) -> StoreResult<bool> {
        let query = sqlx::query(sql::DELETE_S2S_ENTRY).bind(org_id).bind(email);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn put_jwt(&self, c: &JwtCredentials) -> StoreResult<()> {
        sqlx::query(sql::PUT_JWT)
            .bind(&c.id)
            .bind(&c.org_id)
            .bind(&c.email)
            .bind(&c.api_key)
            .bind(&c.api_secret)
            .bind(c.updated_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn jwt(&self, org_id: &str) -> StoreResult<Option<JwtCredentials>> {
        let query = sqlx::query_as(sql::JWT).bind(org_id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn delete_jwt(&self, org_id: &str) -> StoreResult<bool> {
        let query = sqlx::query(sql::DELETE_JWT).bind(org_id);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) >= 1)
    }

    async fn jwt_entries(&self, org_id: &str) -> StoreResult<Vec<JwtCredentials>> {
        let query = sqlx::query_as(sql::JWT_ENTRIES).bind(org_id);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn delete_jwt_entry(&self, org_id: &str, email: &str) -> StoreResult<bool> {
        let query = sqlx::query(sql::DELETE_JWT_ENTRY).bind(org_id).bind(email);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn put_sdk(&self, c: &SdkCredentials) -> StoreResult<()> {
        sqlx::query(sql::PUT_SDK)
            .bind(&c.id)
            .bind(&c.org_id)
            .bind(&c.sdk_key)
            .bind(&c.sdk_secret)
            .bind(c.updated_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sdk(&self, org_id: &str) -> StoreResult<Option<SdkCredentials>> {
        let query = sqlx::query_as(sql::SDK).bind(org_id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn delete_sdk(&self, org_id: &str) -> StoreResult<bool> {
        let query = sqlx::query(sql::DELETE_SDK).bind(org_id);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn put_org_oauth_app(&self, a: &OrgOauthApp) -> StoreResult<()> {
        sqlx::query(sql::PUT_ORG_OAUTH_APP)
            .bind(&a.id)
            .bind(&a.org_id)
            .bind(&a.client_id)
            .bind(&a.client_secret)
            .bind(a.app_type)
            .bind(&a.webhook_secret_token)
            .bind(a.created_at)
            .bind(a.updated_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn org_oauth_app(&self, org_id: &str) -> StoreResult<Option<OrgOauthApp>> {
        let query = sqlx::query_as(sql::ORG_OAUTH_APP).bind(org_id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn org_oauth_app_by_id(&self, id: &str) -> StoreResult<Option<OrgOauthApp>> {
        let query = sqlx::query_as(sql::ORG_OAUTH_APP_BY_ID).bind(id);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn org_oauth_app_in_use(&self, id: &str) -> StoreResult<i64> {
        let query = sqlx::query_scalar::<_, i64>(sql::ORG_OAUTH_APP_IN_USE).bind(id);
        Ok(query.fetch_one(&self.pool).await?)
    }

    async fn delete_org_oauth_app_if_unused(&self, org_id: &str) -> StoreResult<bool> {
        let query = sqlx::query(sql::DELETE_ORG_OAUTH_APP_IF_UNUSED).bind(org_id);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn insert_admin_link(&self, l: &AdminLink) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ADMIN_LINK)
            .bind(&l.id)
            .bind(&l.org_id)
            .bind(&l.token_hash)
            .bind(&l.email)
            .bind(&l.created_by)
            .bind(l.expires_at)
            .bind(l.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn admin_link(&self, token_hash: &str) -> StoreResult<Option<AdminLink>> {
        let query = sqlx::query_as(sql::ADMIN_LINK).bind(token_hash);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn consume_admin_link(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<AdminLink>> {
        claim_once(&self.pool, token_hash, now).await
    }

    async fn admin_emails(&self, org_id: &str) -> StoreResult<Vec<String>> {
        let query = sqlx::query_scalar(sql::ADMIN_EMAILS).bind(org_id);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn insert_admin_session(&self, s: &AdminSession) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ADMIN_SESSION)
            .bind(&s.id_hash)
            .bind(&s.org_id)
            .bind(&s.email)
            .bind(s.expires_at)
            .bind(s.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_admin_sessions(&self, org_id: &str, email: &str) -> StoreResult<u64> {
        let query = sqlx::query(sql::END_ADMIN_SESSIONS)
            .bind(org_id)
            .bind(email);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?))
    }

    async fn admin_session(
        &self,
        id_hash: &str,
        now: i64,
        idle_since: i64,
    ) -> StoreResult<Option<AdminSession>> {
        let query = sqlx::query_as(sql::ADMIN_SESSION)
            .bind(id_hash)
            .bind(now)
            .bind(idle_since);
        Ok(query.fetch_optional(&self.pool).await?)
    }

    async fn touch_admin_session(&self, id_hash: &str, now: i64) -> StoreResult<()> {
        let query = sqlx::query(sql::TOUCH_ADMIN_SESSION)
            .bind(id_hash)
            .bind(now);
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_admin_session(&self, id_hash: &str) -> StoreResult<()> {
        let query = sqlx::query(sql::DELETE_ADMIN_SESSION).bind(id_hash);
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn prune_expired(&self, before: i64) -> StoreResult<u64> {
        let mut removed = 0;
        for statement in sql::PRUNE_EXPIRED {
            let done = sqlx::query(statement)
                .bind(before)
                .execute(&self.pool)
                .await?;
            removed += DB::rows_affected(&done);
        }
        Ok(removed)
    }

    async fn append_audit(&self, e: &NewAuditEvent) -> StoreResult<()> {
        sqlx::query(sql::APPEND_AUDIT)
            .bind(&e.org_id)
            .bind(&e.actor)
            .bind(e.action)
            .bind(e.outcome)
            .bind(&e.detail)
            .bind(e.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        org_id: &str,
        before_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let query = sqlx::query_as(sql::LIST_AUDIT)
            .bind(org_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn sealed_cells(
        &self,
        column: SealedColumn,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedCell>> {
        let query = sqlx::query_as(AssertSqlSafe(sql::sealed_cells_sql(column)))
            .bind(after_id)
            .bind(limit);
        Ok(query.fetch_all(&self.pool).await?)
    }

    async fn replace_sealed(
        &self,
        column: SealedColumn,
        id: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        let query = sqlx::query(AssertSqlSafe(sql::replace_sealed_sql(column)))
            .bind(new)
            .bind(id)
            .bind(old);
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }
}
