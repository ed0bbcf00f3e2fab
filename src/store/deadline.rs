//! A deadline on every database call.
//!
//! The pools already bound how long a connection is waited for, but a query
//! on a connection whose server went away can hang until the operating
//! system gives up on the socket. During an outage every caller must get an
//! answer within two seconds, so each call of the `Store` trait is cut off
//! after the deadline and reported as `StoreError::Unavailable`.
//!
//! A call cut off this way may still complete in the database. Callers that
//! write treat such a failure as "unknown outcome": the refresh path re-reads
//! the row before concluding that its pair was not stored.

use std::future::Future;
use std::time::Duration;

use super::*;
use crate::domain::AppType;

/// Wraps a store so that no call outlives `limit`.
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S: Store> Deadline<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit }
    }

    pub(super) fn inner(&self) -> &S {
        &self.inner
    }

    pub(super) async fn within<T>(
        &self,
        call: &'static str,
        work: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        match tokio::time::timeout(self.limit, work).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "{call} did not finish within {} ms",
                self.limit.as_millis()
            ))),
        }
    }
}

/// Writes the forwarding impl: one line per trait method.
macro_rules! forward {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        #[async_trait]
        impl<S: Store> Store for Deadline<S> {
            fn backend(&self) -> &'static str {
                self.inner.backend()
            }
            $(
                async fn $name(&self, $($arg: $ty),*) -> StoreResult<$ret> {
                    self.within(stringify!($name), self.inner.$name($($arg),*)).await
                }
            )*
        }
    };
}

forward! {
    fn ping() -> ();
    fn insert_org(org: &Org) -> ();
    fn org_by_slug(slug: &str) -> Option<Org>;
    fn org_by_id(id: &str) -> Option<Org>;
    fn list_orgs() -> Vec<Org>;
    fn insert_api_key(key: &ApiKey) -> ();
    fn api_key(id: &str) -> Option<ApiKey>;
    fn list_api_keys(org_id: Option<&str>) -> Vec<ApiKey>;
    fn revoke_api_key(id: &str, now: i64) -> bool;
    fn record_api_key_use(uses: &[(String, i64)]) -> u64;
    fn notify_invalidation(payload: &str) -> ();
    fn connect_session(token_hash: &str) -> Option<ConnectSession>;
    fn insert_connect_session(session: &ConnectSession) -> ();
    fn consume_connect_session(token_hash: &str, now: i64) -> Consumed<ConnectSession>;
    fn insert_pending_authorization(pending: &PendingAuthorization) -> ();
    fn take_pending_authorization(state_hash: &str, now: i64)
        -> Consumed<PendingAuthorization>;
    fn connection(org_id: &str, id: &str) -> Option<Connection>;
    fn connection_by_id(id: &str) -> Option<Connection>;
    fn connection_by_subject(org_id: &str, app_type: AppType, subject: &str)
        -> Option<Connection>;
    fn upsert_connection(conn: &Connection) -> bool;
    fn list_connections(org_id: &str) -> Vec<Connection>;
    fn page_connections(q: &ConnectionPageQuery) -> Vec<PagedConnection>;
    fn connection_counts(org_id: &str) -> Vec<(crate::domain::ConnectionStatus, i64)>;
    fn explain(statement: &PlanOf) -> Vec<String>;
    fn user_connection_for_email(org_id: &str, email: &str) -> Option<Connection>;
    fn account_connection(org_id: &str) -> Option<Connection>;
    fn delete_connection(org_id: &str, id: &str) -> bool;
    fn mark_needs_reauth(id: &str, version: i64, reason: &str, now: i64) -> bool;
    fn deauthorize_connections(d: &Deauthorize) -> Vec<Connection>;
    fn active_grant_exists(app_type: AppType, subject: &str) -> bool;
    fn record_webhook_event(id: &str, now: i64) -> bool;
    fn forget_webhook_event(id: &str) -> ();
    fn acquire_lease(slot: TokenSlot, id: &str, version: i64, owner: &str, lease_secs: i64)
        -> Option<LeaseGrant>;
    fn record_use(uses: &[(String, i64)], granularity_secs: i64) -> u64;
    fn refresh_page(page: &RefreshPage) -> Vec<RefreshCandidate>;
    fn claim_refresh_slot(per_sec: i64) -> bool;
    fn connection_use(id: &str) -> Option<ConnectionUse>;
    fn release_lease(slot: TokenSlot, id: &str, owner: &str, end: LeaseEnd) -> ();
    fn store_refreshed(slot: TokenSlot, update: &RefreshedTokens) -> bool;
    fn put_s2s(creds: &S2sCredentials) -> ();
    fn s2s(org_id: &str) -> Option<S2sCredentials>;
    fn delete_s2s(org_id: &str) -> bool;
    fn put_jwt(creds: &JwtCredentials) -> ();
    fn jwt(org_id: &str) -> Option<JwtCredentials>;
    fn delete_jwt(org_id: &str) -> bool;
    fn put_org_oauth_app(app: &OrgOauthApp) -> ();
    fn org_oauth_app(org_id: &str) -> Option<OrgOauthApp>;
    fn org_oauth_app_by_id(id: &str) -> Option<OrgOauthApp>;
    fn org_oauth_app_in_use(id: &str) -> i64;
    fn delete_org_oauth_app_if_unused(org_id: &str) -> bool;
    fn s2s_entries(org_id: &str) -> Vec<S2sCredentials>;
    fn s2s_by_id(id: &str) -> Option<S2sCredentials>;
    fn delete_s2s_entry(org_id: &str, email: &str) -> bool;
    fn jwt_entries(org_id: &str) -> Vec<JwtCredentials>;
    fn delete_jwt_entry(org_id: &str, email: &str) -> bool;
    fn put_sdk(creds: &SdkCredentials) -> ();
    fn sdk(org_id: &str) -> Option<SdkCredentials>;
    fn delete_sdk(org_id: &str) -> bool;
    fn insert_admin_link(link: &AdminLink) -> ();
    fn admin_link(token_hash: &str) -> Option<AdminLink>;
    fn consume_admin_link(token_hash: &str, now: i64) -> Consumed<AdminLink>;
    fn admin_emails(org_id: &str) -> Vec<String>;
    fn insert_admin_session(session: &AdminSession) -> ();
    fn end_admin_sessions(org_id: &str, email: &str) -> u64;
    fn admin_session(id_hash: &str, now: i64, idle_since: i64) -> Option<AdminSession>;
    fn touch_admin_session(id_hash: &str, now: i64) -> ();
    fn delete_admin_session(id_hash: &str) -> ();
    fn prune_expired(before: i64) -> u64;
    fn append_audit(event: &NewAuditEvent) -> ();
    fn list_audit(org_id: &str, before_id: Option<i64>, limit: i64) -> Vec<AuditEvent>;
    fn sealed_cells(column: SealedColumn, after_id: &str, limit: i64) -> Vec<SealedCell>;
    fn replace_sealed(column: SealedColumn, id: &str, old: &str, new: &str) -> bool;
}
