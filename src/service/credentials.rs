//! Write-only org credentials: legacy JWT keys and Server-to-Server OAuth
//! apps, one entry per Zoom account (keyed by email) in an org.

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::{rfc3339, Actor, AuditAction, AuditOutcome, Email, Required};
use crate::store::{JwtCredentials, Org, S2sCredentials};

use crate::tokens::fetch_s2s_token;
use crate::zoom::UpstreamError;

use super::{ServiceError, ServiceResult};

pub struct JwtKey {
    /// The Zoom account's email this key serves; `None` for the org-wide entry.
    pub email: Option<Email>,
    pub api_key: Required,
    pub api_secret: Required,
}

pub struct S2sApp {
    pub email: Email,
    pub account_id: Required,
    pub client_id: Required,
    pub client_secret: Required,
}

/// True while new legacy JWT credentials may still be registered.
pub fn jwt_registration_open(app: &AppState) -> bool {
    app.clock.now_datetime() < app.config.jwt_new_credentials_cutoff
}

pub async fn set_jwt(app: &AppState, org: &Org, actor: &Actor, key: JwtKey) -> ServiceResult<()> {
    if !jwt_registration_open(app) {
        app.audit(
            Some(&org.id),
            actor,
            AuditAction::JwtCredentialsSet,
            AuditOutcome::Refused,
            "registration closed",
        )
        .await;
        return Err(ServiceError::Conflict {
            code: "jwt_registration_closed",
            message: format!(
                "Zoom stopped accepting new JWT credentials at {}; authorize the Zoom OAuth app or add Server-to-Server credentials instead",
                rfc3339(app.config.jwt_new_credentials_cutoff.unix_timestamp())
            ),
        });
    }
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = app.keyring.seal_str(
        Aad::new(SealedColumn::JWT_API_SECRET, &id),
        key.api_secret.as_str(),
    );
    let account = key.email.as_ref().map(Email::to_string);
    let row = JwtCredentials {
        id,
        org_id: org.id.clone(),
        email: account.clone().unwrap_or_default(),
        api_key: key.api_key.into_inner(),
        api_secret: sealed,
        created_at: now,
        updated_at: now,
    };
    app.store.put_jwt(&row).await?;
    app.forget_tokens(&org.id);
    app.audit(
        Some(&org.id),
        actor,
        AuditAction::JwtCredentialsSet,
        AuditOutcome::Success,
        account_detail(account.as_deref()),
    )
    .await;
    Ok(())
}

fn account_detail(email: Option<&str>) -> String {
    match email {
        Some(email) => format!("account {email}"),
        None => "org-wide entry".into(),
    }
}

/// Removes the JWT entry for `email` (`None`: the org-wide entry without an
/// email), or every entry when `which` is `All`.
pub async fn remove_jwt(
    app: &AppState,
    org: &Org,
    actor: &Actor,
    which: Entries<'_>,
) -> ServiceResult<()> {
    let removed = match which {
        Entries::All => app.store.delete_jwt(&org.id).await?,
        Entries::One(email) => {
            app.store
                .delete_jwt_entry(&org.id, email.map_or("", Email::as_str))
                .await?
        }
    };
    let action = (AuditAction::JwtCredentialsRemoved, "JWT");
    finish_removal(app, org, actor, action, which, removed).await
}

/// Which entries a removal means.
#[derive(Clone, Copy)]
pub enum Entries<'a> {
    All,
    One(Option<&'a Email>),
}

/// Invalidates cached tokens, audits, and turns a missing single entry into a 404.
async fn finish_removal(
    app: &AppState,
    org: &Org,
    actor: &Actor,
    (action, kind): (AuditAction, &str),
    which: Entries<'_>,
    removed: bool,
) -> ServiceResult<()> {
    app.forget_tokens(&org.id);
    let detail = match which {
        Entries::All => "every entry".to_string(),
        Entries::One(email) => account_detail(email.map(Email::as_str)),
    };
    let outcome = if removed {
        AuditOutcome::Success
    } else {
        AuditOutcome::Noop
    };
    app.audit(Some(&org.id), actor, action, outcome, detail)
        .await;
    match which {
        Entries::One(email) if !removed => Err(ServiceError::NotFound(format!(
            "org {} has no {kind} credentials for {}",
            org.slug,
            email.map_or("the org-wide entry (no email)", Email::as_str)
        ))),
        _ => Ok(()),
    }
}

/// Checks the credentials by minting a token, and keeps that token, so the
/// first token request needs no second mint.
pub async fn set_s2s(app: &AppState, org: &Org, actor: &Actor, creds: S2sApp) -> ServiceResult<()> {
    let minted = fetch_s2s_token(
        app,
        creds.client_id.as_str(),
        creds.client_secret.as_str(),
        creds.account_id.as_str(),
    )
    .await;
    let tokens = match minted {
        Ok(tokens) => tokens,
        Err(err @ UpstreamError::Rejected { .. }) => {
            app.audit(
                Some(&org.id),
                actor,
                AuditAction::S2sCredentialsSet,
                AuditOutcome::Refused,
                err.reason(),
            )
            .await;
            return Err(ServiceError::Rejected {
                code: "s2s_credentials_rejected",
                message: format!(
                    "Zoom refused these Server-to-Server credentials: {}",
                    err.reason()
                ),
            });
        }
        Err(err) => {
            return Err(ServiceError::Unavailable {
                detail: err.to_string(),
                retry_after_secs: 5,
            })
        }
    };
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let seal =
        |column: SealedColumn, value: &str| app.keyring.seal_str(Aad::new(column, &id), value);
    let account_id = creds.account_id.into_inner();
    let email = creds.email.to_string();
    let row = S2sCredentials {
        client_secret: seal(
            SealedColumn::S2S_CLIENT_SECRET,
            creds.client_secret.as_str(),
        ),
        access_token: Some(seal(SealedColumn::S2S_ACCESS_TOKEN, &tokens.access_token)),
        access_expires_at: Some(now + tokens.lifetime_secs()),
        scopes: tokens.scope.clone().unwrap_or_default(),
        id: id.clone(),
        org_id: org.id.clone(),
        email: email.clone(),
        account_id: account_id.clone(),
        client_id: creds.client_id.into_inner(),
        version: 0,
        lease_owner: None,
        lease_until: None,
        last_refreshed_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    app.store.put_s2s(&row).await?;
    app.forget_tokens(&org.id);
    app.audit(
        Some(&org.id),
        actor,
        AuditAction::S2sCredentialsSet,
        AuditOutcome::Success,
        format!("account {account_id} for {email}"),
    )
    .await;
    Ok(())
}

/// Removes the S2S entry for one email, or every entry.
pub async fn remove_s2s(
    app: &AppState,
    org: &Org,
    actor: &Actor,
    which: Entries<'_>,
) -> ServiceResult<()> {
    let removed = match which {
        Entries::All => app.store.delete_s2s(&org.id).await?,
        Entries::One(email) => {
            app.store
                .delete_s2s_entry(&org.id, email.map_or("", Email::as_str))
                .await?
        }
    };
    let action = (AuditAction::S2sCredentialsRemoved, "Server-to-Server");
    finish_removal(app, org, actor, action, which, removed).await
}
