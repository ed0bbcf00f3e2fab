//! Completing an authorization: Zoom's answer, checked against what the CRM
//! asked for, becomes a stored connection or is refused and revoked.

use crate::app::AppState;
use crate::crypto::{sha256_hex, Aad, SealedColumn};
use crate::domain::{Actor, AppType, AuditAction, AuditOutcome, ConnectionStatus, Email};
use crate::store::{Connection, PendingAuthorization};
use crate::zoom::scopes::missing_scopes;
use crate::zoom::{ClientAuth, TokenSet, UpstreamError, ZoomUser};

use super::{Claim, ServiceResult};

/// What Zoom sent the browser back with.
pub struct ZoomAnswer<'a> {
    pub code: Option<&'a str>,
    /// RFC 9207: when present, it must name the Zoom we sent the browser to.
    pub iss: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
}

/// How an authorization ended; the adapter turns it into a page or a redirect.
#[derive(Debug)]
pub enum Outcome {
    Connected {
        id: String,
        created: bool,
    },
    Cancelled,
    /// An account-level grant from another Zoom account than the org's.
    AccountMismatch,
    EmailMismatch {
        crm: String,
        zoom_masked: String,
    },
    NotAdmin {
        role: String,
    },
    /// The grant lacks scopes from `ZOOM_REQUIRED_SCOPES`.
    MissingScopes {
        missing: Vec<String>,
    },
    ZoomError(String),
    ZoomUnavailable(String),
    Internal(String),
}

impl Outcome {
    /// The `status` a `return_to` URL receives.
    pub fn status_param(&self) -> &'static str {
        match self {
            Self::Connected { .. } => "connected",
            Self::Cancelled => "cancelled",
            Self::EmailMismatch { .. } => "email_mismatch",
            Self::NotAdmin { .. } => "not_admin",
            Self::AccountMismatch => "account_mismatch",
            Self::MissingScopes { .. } => "missing_scopes",
            Self::ZoomError(_) | Self::ZoomUnavailable(_) | Self::Internal(_) => "error",
        }
    }
}

/// Claims the pending authorization for `state` once. The caller has already
/// checked that this browser holds the binding cookie for it.
pub async fn take_pending(
    app: &AppState,
    state: &str,
) -> ServiceResult<Claim<PendingAuthorization>> {
    let consumed = app
        .store
        .take_pending_authorization(&sha256_hex(state.as_bytes()), app.clock.now())
        .await?;
    Ok(match Claim::from_store(consumed) {
        Ok(pending) => Claim::Claimed(pending),
        Err(problem) => problem,
    })
}

/// Exchanges the code once, reads the Zoom user, and keeps the grant only
/// when it is the one the CRM expects. Every outcome is audited.
pub async fn complete(
    app: &AppState,
    pending: &PendingAuthorization,
    answer: ZoomAnswer<'_>,
) -> Outcome {
    let outcome = decide(app, pending, answer).await;
    audit(app, pending, &outcome).await;
    outcome
}

async fn decide(app: &AppState, pending: &PendingAuthorization, answer: ZoomAnswer<'_>) -> Outcome {
    if let Some(error) = answer.error {
        return if error == "access_denied" {
            Outcome::Cancelled
        } else {
            Outcome::ZoomError(answer.error_description.unwrap_or(error).to_string())
        };
    }
    if let Some(iss) = answer.iss {
        let ours = app.config.zoom_oauth_url.as_str().trim_end_matches('/');
        if iss.trim_end_matches('/') != ours {
            return Outcome::ZoomError(format!(
                "the answer names the issuer {iss:?}, not the Zoom this authorization was sent to"
            ));
        }
    }
    let Some(code) = answer.code.filter(|c| !c.is_empty()) else {
        return Outcome::ZoomError("Zoom did not send an authorization code".into());
    };
    // The app this authorization began with, even if the org changed its app since.
    let zoom_app = match crate::tokens::apps::for_grant(
        app,
        pending.oauth_app_id.as_deref(),
        pending.app_type,
    )
    .await
    {
        Ok(zoom_app) => zoom_app,
        Err(err) => return Outcome::Internal(err),
    };
    let auth = zoom_app.auth();
    let verifier = match app.keyring.open_string(
        Aad::new(SealedColumn::PKCE_VERIFIER, &pending.id),
        &pending.pkce_verifier,
    ) {
        Ok(v) => v,
        Err(err) => return Outcome::Internal(format!("PKCE verifier could not be opened: {err}")),
    };
    let tokens = match app
        .zoom
        .exchange_code(&auth, code, &app.config.redirect_uri(), &verifier)
        .await
    {
        Ok(tokens) => tokens,
        Err(err @ UpstreamError::Rejected { .. }) => return Outcome::ZoomError(err.reason()),
        Err(err) => return Outcome::ZoomUnavailable(err.to_string()),
    };
    let user = match app.zoom.users_me(&tokens.access_token).await {
        Ok(user) => user,
        Err(err) => {
            revoke(app, &auth, &tokens).await;
            return Outcome::ZoomUnavailable(format!("reading the Zoom user failed: {err}"));
        }
    };
    let refused = Refused {
        app_type: pending.app_type,
        user: &user,
        auth: &auth,
        tokens: &tokens,
    };
    let expected = Email::parse(&pending.email).ok();
    let actual = Email::parse(&user.email).ok();
    match (expected, actual) {
        (Some(expected), Some(actual)) if expected == actual => {}
        (expected, actual) => {
            refused.revoke_unless_in_use(app).await;
            return Outcome::EmailMismatch {
                crm: expected
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| pending.email.clone()),
                zoom_masked: actual
                    .map(|e| e.masked())
                    .unwrap_or_else(|| "an account without a valid email".into()),
            };
        }
    }
    let missing = missing_scopes(
        &app.config.zoom_required_scopes,
        tokens.scope.as_deref().unwrap_or_default(),
    );
    if !missing.is_empty() {
        refused.revoke_unless_in_use(app).await;
        return Outcome::MissingScopes { missing };
    }
    if pending.app_type == AppType::Account && !user.is_account_admin() {
        refused.revoke_unless_in_use(app).await;
        return Outcome::NotAdmin {
            role: user.role_name.clone().unwrap_or_else(|| "Member".into()),
        };
    }
    if pending.app_type == AppType::Account {
        // The org's account connection is pinned to its Zoom account: another
        // account's Owner must not become every member's token. To move to
        // another account, an admin disconnects first.
        match app.store.account_connection(&pending.org_id).await {
            Ok(Some(existing)) if existing.zoom_account_id != user.account_id => {
                refused.revoke_unless_in_use(app).await;
                return Outcome::AccountMismatch;
            }
            Ok(_) => {}
            Err(err) => {
                revoke(app, &auth, &tokens).await;
                return Outcome::Internal(err.to_string());
            }
        }
    }
    match store_connection(app, pending, &user, &tokens).await {
        Ok((id, created)) => Outcome::Connected { id, created },
        Err(err) => {
            revoke(app, &auth, &tokens).await;
            Outcome::Internal(err)
        }
    }
}

/// A grant we refuse, and what is needed to revoke it.
struct Refused<'a> {
    app_type: AppType,
    user: &'a ZoomUser,
    auth: &'a ClientAuth<'a>,
    tokens: &'a TokenSet,
}

impl Refused<'_> {
    /// Zoom's revoke uninstalls the app for that user (or account), which
    /// erases their grants in every org. So a refused grant is revoked only
    /// when nobody holds an active grant of the same app for that subject;
    /// otherwise a forced authorization could destroy another tenant's connection.
    async fn revoke_unless_in_use(&self, app: &AppState) {
        let subject = match self.app_type {
            AppType::User => &self.user.id,
            AppType::Account => &self.user.account_id,
        };
        match app.store.active_grant_exists(self.app_type, subject).await {
            Ok(false) => revoke(app, self.auth, self.tokens).await,
            Ok(true) => {
                tracing::info!("refused grant not revoked: the Zoom user has an active connection")
            }
            Err(err) => {
                tracing::warn!(%err, "refused grant not revoked: could not check for other connections")
            }
        }
    }
}

/// Best effort: a grant we refuse must not stay alive at Zoom.
async fn revoke(app: &AppState, auth: &ClientAuth<'_>, tokens: &TokenSet) {
    let token = tokens
        .refresh_token
        .as_deref()
        .unwrap_or(&tokens.access_token);
    if let Err(err) = app.zoom.revoke(auth, token).await {
        tracing::warn!(%err, "could not revoke a refused grant at Zoom");
    }
}

async fn audit(app: &AppState, p: &PendingAuthorization, outcome: &Outcome) {
    use AuditAction as A;
    use AuditOutcome as O;
    let (action, result, detail) = match outcome {
        Outcome::Connected { id, created } => (
            if *created {
                A::ConnectionCreated
            } else {
                A::ConnectionReauthorized
            },
            O::Success,
            format!("connection {id} ({} app)", p.app_type),
        ),
        Outcome::Cancelled => (A::AuthorizationCancelled, O::Failure, String::new()),
        // Never name the Zoom user here: in a forced authorization it belongs
        // to someone outside this org.
        Outcome::EmailMismatch { .. } => (
            A::AuthorizationEmailMismatch,
            O::Refused,
            "the Zoom account's email is not the CRM user's".into(),
        ),
        Outcome::AccountMismatch => (
            A::AuthorizationAccountMismatch,
            O::Refused,
            "an account-level grant from another Zoom account than the org's was refused".into(),
        ),
        Outcome::MissingScopes { missing } => (
            A::AuthorizationMissingScopes,
            O::Refused,
            format!(
                "Zoom did not grant the required scopes: {}",
                missing.join(" ")
            ),
        ),
        Outcome::NotAdmin { role } => (
            A::AuthorizationNotAdmin,
            O::Refused,
            format!("installer role {role}"),
        ),
        Outcome::ZoomError(reason) => (
            A::AuthorizationFailed,
            O::Failure,
            format!("Zoom: {reason}"),
        ),
        Outcome::ZoomUnavailable(detail) | Outcome::Internal(detail) => {
            (A::AuthorizationFailed, O::Failure, detail.clone())
        }
    };
    let actor = match Email::parse(&p.email) {
        Ok(email) => Actor::User(email),
        Err(_) => Actor::Zoom,
    };
    app.audit(Some(&p.org_id), &actor, action, result, detail)
        .await;
}

/// Upserts the connection, keyed by Zoom user (user apps) or Zoom account
/// (account apps). Re-authorizing keeps the id and replaces the tokens in place.
async fn store_connection(
    app: &AppState,
    p: &PendingAuthorization,
    user: &ZoomUser,
    tokens: &TokenSet,
) -> Result<(String, bool), String> {
    let subject = match p.app_type {
        AppType::Account => &user.account_id,
        AppType::User => &user.id,
    };
    let now = app.clock.now();
    // Tokens are sealed to the row id, so pick the id first; a concurrent
    // insert of the same subject makes the upsert refuse, and we go again.
    for _ in 0..3 {
        let existing = app
            .store
            .connection_by_subject(&p.org_id, p.app_type, subject)
            .await
            .map_err(|e| e.to_string())?;
        let created = existing.is_none();
        let id = existing
            .map(|c| c.id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let seal =
            |column: SealedColumn, value: &str| app.keyring.seal_str(Aad::new(column, &id), value);
        let row = Connection {
            access_token: Some(seal(
                SealedColumn::CONNECTION_ACCESS_TOKEN,
                &tokens.access_token,
            )),
            refresh_token: tokens
                .refresh_token
                .as_deref()
                .map(|rt| seal(SealedColumn::CONNECTION_REFRESH_TOKEN, rt)),
            id: id.clone(),
            org_id: p.org_id.clone(),
            app_type: p.app_type,
            subject: subject.clone(),
            zoom_user_id: user.id.clone(),
            zoom_account_id: user.account_id.clone(),
            email: Email::parse(&user.email)
                .map(|e| e.to_string())
                .unwrap_or_else(|_| user.email.clone()),
            role_name: user.role_name.clone(),
            status: ConnectionStatus::Active,
            status_reason: None,
            scopes: tokens.scope.clone().unwrap_or_default(),
            access_expires_at: Some(now + tokens.lifetime_secs()),
            version: 0,
            lease_owner: None,
            lease_until: None,
            last_refreshed_at: None,
            created_at: now,
            updated_at: now,
            authorized_at: Some(now),
            last_used_at: Some(now),
            oauth_app_id: p.oauth_app_id.clone(),
        };
        if app
            .store
            .upsert_connection(&row)
            .await
            .map_err(|e| e.to_string())?
        {
            app.forget_tokens(&p.org_id);
            return Ok((id, created));
        }
    }
    Err("the connection kept changing while it was being saved".into())
}

/// Until when the org's legacy JWT key keeps its integration working, if it has one.
pub async fn jwt_fallback_until(app: &AppState, org_id: &str) -> Option<i64> {
    let cutoff = app.config.jwt_cutoff.unix_timestamp();
    match app.store.jwt(org_id).await {
        Ok(Some(_)) if app.clock.now() < cutoff => Some(cutoff),
        _ => None,
    }
}
