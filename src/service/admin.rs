//! Admin console sign-in: one-time links open sessions held in a cookie.
//! Only hashes of link and session tokens are stored.

use crate::app::AppState;
use crate::crypto::{hmac_hex, random_token, sha256_hex};
use crate::domain::{Actor, AuditAction, AuditOutcome, Email};
use crate::store::{AdminLink, AdminSession, Org};

use super::{Claim, ServiceError, ServiceResult};

pub const LINK_TTL_SECS: i64 = 600;
pub const SESSION_TTL_SECS: i64 = 8 * 3600;
/// A session nobody used for this long is over.
pub const SESSION_IDLE_SECS: i64 = 30 * 60;
/// `last_seen_at` is written at most this often, not on every request.
const TOUCH_EVERY_SECS: i64 = 60;

pub struct IssuedLink {
    pub url: String,
    pub expires_at: i64,
}

/// Mints a one-time sign-in link for `email` on `org`.
pub async fn issue_link(
    app: &AppState,
    org: &Org,
    email: &Email,
    actor: &Actor,
) -> ServiceResult<IssuedLink> {
    let token = random_token();
    let now = app.clock.now();
    let link = AdminLink {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org.id.clone(),
        token_hash: sha256_hex(token.as_bytes()),
        email: email.to_string(),
        created_by: actor.to_string(),
        expires_at: now + LINK_TTL_SECS,
        used_at: None,
        created_at: now,
    };
    app.store.insert_admin_link(&link).await?;
    Ok(IssuedLink {
        url: app.config.public_path(&format!("/admin/login/{token}")),
        expires_at: link.expires_at,
    })
}

/// What the sign-in page shows before the admin confirms.
pub struct LinkPreview {
    pub org_name: String,
    pub email: String,
}

/// Looks at a sign-in link without using it: a GET (a mail scanner, a link
/// preview) never signs anyone in.
pub async fn preview_link(app: &AppState, link_token: &str) -> ServiceResult<Claim<LinkPreview>> {
    let row = app
        .store
        .admin_link(&sha256_hex(link_token.as_bytes()))
        .await?;
    let link = match Claim::peek(
        row,
        |l| l.used_at.is_some(),
        |l| l.expires_at,
        app.clock.now(),
    ) {
        Ok(link) => link,
        Err(problem) => return Ok(problem),
    };
    let org = app
        .store
        .org_by_id(&link.org_id)
        .await?
        .ok_or_else(|| ServiceError::internal("an admin link names a missing org"))?;
    Ok(Claim::Claimed(LinkPreview {
        org_name: org.name,
        email: link.email,
    }))
}

/// A new console session: the token goes into the cookie and nowhere else.
pub struct SignedIn {
    pub session_token: String,
    pub org_id: String,
}

/// Uses a sign-in link once and opens a session for it.
pub async fn sign_in(app: &AppState, link_token: &str) -> ServiceResult<Claim<SignedIn>> {
    let now = app.clock.now();
    let consumed = app
        .store
        .consume_admin_link(&sha256_hex(link_token.as_bytes()), now)
        .await?;
    let link = match Claim::from_store(consumed) {
        Ok(link) => link,
        Err(problem) => return Ok(problem),
    };
    let session_token = random_token();
    let session = AdminSession {
        id_hash: sha256_hex(session_token.as_bytes()),
        org_id: link.org_id.clone(),
        email: link.email.clone(),
        expires_at: now + SESSION_TTL_SECS,
        created_at: now,
        last_seen_at: Some(now),
    };
    // One console session per admin and org: a new sign-in ends the earlier ones.
    app.store
        .end_admin_sessions(&link.org_id, &link.email)
        .await?;
    app.store.insert_admin_session(&session).await?;
    let actor = Actor::Admin(stored_email(&link.email)?);
    app.audit(
        Some(&link.org_id),
        &actor,
        AuditAction::AdminSignedIn,
        AuditOutcome::Success,
        "",
    )
    .await;
    Ok(Claim::Claimed(SignedIn {
        session_token,
        org_id: link.org_id,
    }))
}

/// A signed-in admin, scoped to exactly one org.
pub struct AdminIdentity {
    pub org: Org,
    pub email: Email,
    pub session_hash: String,
    /// Derived, never stored: HMAC of the session under the cookie key.
    pub csrf_token: String,
    /// The same under every older key, so a console open across a master key
    /// rotation keeps working.
    pub csrf_accepted: Vec<String>,
}

impl AdminIdentity {
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.email.clone())
    }
}

/// The admin a session cookie belongs to, while the session is live.
pub async fn authenticate(
    app: &AppState,
    session_token: &str,
) -> ServiceResult<Option<AdminIdentity>> {
    let session_hash = sha256_hex(session_token.as_bytes());
    let now = app.clock.now();
    let idle_since = now - SESSION_IDLE_SECS;
    let Some(session) = app
        .store
        .admin_session(&session_hash, now, idle_since)
        .await?
    else {
        return Ok(None);
    };
    if session.last_seen_at.unwrap_or(session.created_at) <= now - TOUCH_EVERY_SECS {
        app.store.touch_admin_session(&session_hash, now).await?;
    }
    let Some(org) = app.store.org_by_id(&session.org_id).await? else {
        return Ok(None);
    };
    let csrf_accepted: Vec<String> = app
        .keyring
        .cookie_key_materials()
        .iter()
        .map(|material| {
            hmac_hex(
                &hex::encode(material),
                format!("csrf:{session_hash}").as_bytes(),
            )
        })
        .collect();
    let csrf_token = csrf_accepted[0].clone();
    Ok(Some(AdminIdentity {
        org,
        email: stored_email(&session.email)?,
        session_hash,
        csrf_token,
        csrf_accepted,
    }))
}

pub async fn sign_out(app: &AppState, admin: &AdminIdentity) -> ServiceResult<()> {
    app.store.delete_admin_session(&admin.session_hash).await?;
    app.audit(
        Some(&admin.org.id),
        &admin.actor(),
        AuditAction::AdminSignedOut,
        AuditOutcome::Success,
        "",
    )
    .await;
    Ok(())
}

fn stored_email(raw: &str) -> ServiceResult<Email> {
    Email::parse(raw).map_err(|e| ServiceError::internal(format!("stored admin email: {e}")))
}
