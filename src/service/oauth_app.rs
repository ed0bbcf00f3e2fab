//! An org's own Zoom OAuth app (Celigo's "iClient"): the customer registers
//! their app in Zoom and gives us its client id and secret.
//!
//! One app per org. It serves the org's connect sessions of its `app_type`
//! (the other kind keeps the deployment's app); every connection keeps the
//! app it was made with. While active connections use the app, changing its
//! client id or type, or removing it, is refused with `409 app_in_use`; a PUT
//! with the same client id and type rotates the secret and webhook token in
//! place, which those connections then use.

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::{Actor, AppType, AuditAction, AuditOutcome, OrgSlug, Required};
use crate::store::{Org, OrgOauthApp};

use super::connections::{deauthorize_reach, Deauthorization, Deauthorized, Reach};
use super::{ServiceError, ServiceResult};

pub struct NewOauthApp {
    pub client_id: Required,
    pub client_secret: Required,
    pub app_type: AppType,
    pub webhook_secret_token: Option<Required>,
}

/// What `GET` shows: never a secret.
pub struct OauthAppView {
    pub client_id: String,
    pub app_type: AppType,
    /// The redirect URL to register in the org's Zoom app.
    pub redirect_url: String,
    /// The org's event notification endpoint URL.
    pub webhook_url: String,
    pub webhook_secret_set: bool,
}

pub fn webhook_url(app: &AppState, org: &Org) -> String {
    app.config
        .public_path(&format!("/webhooks/zoom/{}", org.slug))
}

pub async fn get(app: &AppState, org: &Org) -> ServiceResult<OauthAppView> {
    let own = app.store.org_oauth_app(&org.id).await?.ok_or_else(|| {
        ServiceError::NotFound(format!("org {:?} has no Zoom app of its own", org.slug))
    })?;
    Ok(OauthAppView {
        client_id: own.client_id,
        app_type: own.app_type,
        redirect_url: app.config.redirect_uri(),
        webhook_url: webhook_url(app, org),
        webhook_secret_set: own.webhook_secret_token.is_some(),
    })
}

pub async fn put(app: &AppState, org: &Org, actor: &Actor, new: NewOauthApp) -> ServiceResult<()> {
    let now = app.clock.now();
    let existing = app.store.org_oauth_app(&org.id).await?;
    let same_app = existing
        .as_ref()
        .is_some_and(|e| e.client_id == new.client_id.as_str() && e.app_type == new.app_type);
    if let (Some(old), false) = (&existing, same_app) {
        let in_use = app.store.org_oauth_app_in_use(&old.id).await?;
        if in_use > 0 {
            let err = in_use_error(in_use, "replacing it with another client id or app type");
            audit(
                app,
                org,
                actor,
                AuditAction::OauthAppSet,
                AuditOutcome::Refused,
                &err.to_string(),
            )
            .await;
            return Err(err);
        }
    }
    // The same app keeps its row (and so its connections); another app gets a
    // new row id, so nothing made with the old one can use the new secret.
    let (id, created_at) = match existing.filter(|_| same_app) {
        Some(e) => (e.id, e.created_at),
        None => (uuid::Uuid::new_v4().to_string(), now),
    };
    let row = OrgOauthApp {
        client_secret: app.keyring.seal_str(
            Aad::new(SealedColumn::ORG_APP_CLIENT_SECRET, &id),
            new.client_secret.as_str(),
        ),
        webhook_secret_token: new.webhook_secret_token.as_ref().map(|t| {
            app.keyring.seal_str(
                Aad::new(SealedColumn::ORG_APP_WEBHOOK_SECRET, &id),
                t.as_str(),
            )
        }),
        id,
        org_id: org.id.clone(),
        client_id: new.client_id.as_str().to_string(),
        app_type: new.app_type,
        created_at,
        updated_at: now,
    };
    app.store.put_org_oauth_app(&row).await?;
    app.forget_tokens(&org.id);
    let detail = format!(
        "client id {} ({} app){}{}",
        row.client_id,
        row.app_type,
        if same_app { ", secret rotated" } else { "" },
        if row.webhook_secret_token.is_some() {
            ", with webhook secret token"
        } else {
            ""
        },
    );
    audit(
        app,
        org,
        actor,
        AuditAction::OauthAppSet,
        AuditOutcome::Success,
        &detail,
    )
    .await;
    Ok(())
}

/// Removes the org's app; idempotent. Refused while active connections use it.
pub async fn remove(app: &AppState, org: &Org, actor: &Actor) -> ServiceResult<()> {
    let Some(existing) = app.store.org_oauth_app(&org.id).await? else {
        audit(
            app,
            org,
            actor,
            AuditAction::OauthAppRemoved,
            AuditOutcome::Noop,
            "there was none",
        )
        .await;
        return Ok(());
    };
    if !app.store.delete_org_oauth_app_if_unused(&org.id).await? {
        let in_use = app.store.org_oauth_app_in_use(&existing.id).await?;
        if in_use > 0 {
            let err = in_use_error(in_use, "removing it");
            audit(
                app,
                org,
                actor,
                AuditAction::OauthAppRemoved,
                AuditOutcome::Refused,
                &err.to_string(),
            )
            .await;
            return Err(err);
        }
        // Removed concurrently by someone else: the outcome asked for holds.
    }
    app.forget_tokens(&org.id);
    let detail = format!(
        "client id {} ({} app)",
        existing.client_id, existing.app_type
    );
    audit(
        app,
        org,
        actor,
        AuditAction::OauthAppRemoved,
        AuditOutcome::Success,
        &detail,
    )
    .await;
    Ok(())
}

fn in_use_error(count: i64, what: &str) -> ServiceError {
    ServiceError::Conflict {
        code: "app_in_use",
        message: format!(
            "{count} active connection{} use{} the org's Zoom app; disconnect {} before {what}",
            if count == 1 { "" } else { "s" },
            if count == 1 { "s" } else { "" },
            if count == 1 { "it" } else { "them" },
        ),
    }
}

async fn audit(
    app: &AppState,
    org: &Org,
    actor: &Actor,
    action: AuditAction,
    outcome: AuditOutcome,
    detail: &str,
) {
    app.audit(Some(&org.id), actor, action, outcome, detail.to_string())
        .await;
}

/// The org's app and its opened webhook secret token, for `POST /webhooks/zoom/{org}`.
pub async fn webhook_app(app: &AppState, org_slug: &str) -> ServiceResult<(OrgOauthApp, String)> {
    if !OrgSlug::is_valid(org_slug) {
        return Err(ServiceError::NotFound(format!(
            "org {org_slug:?} not found"
        )));
    }
    let org = app
        .store
        .org_by_slug(org_slug)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("org {org_slug:?} not found")))?;
    let own = app.store.org_oauth_app(&org.id).await?.ok_or_else(|| {
        ServiceError::NotFound(format!("org {org_slug:?} has no Zoom app of its own"))
    })?;
    let Some(sealed) = own.webhook_secret_token.as_deref() else {
        return Err(ServiceError::Conflict {
            code: "webhooks_disabled",
            message: format!("the Zoom app of org {org_slug:?} has no webhook secret token"),
        });
    };
    let secret = app
        .keyring
        .open_string(
            Aad::new(SealedColumn::ORG_APP_WEBHOOK_SECRET, &own.id),
            sealed,
        )
        .map_err(|e| {
            ServiceError::internal(format!("webhook secret token could not be opened: {e}"))
        })?;
    Ok((own, secret))
}

/// Zoom's `app_deauthorized` for an org's own app: only that org's
/// connections made with that app are reached.
pub async fn deauthorize(
    app: &AppState,
    own: &OrgOauthApp,
    d: Deauthorization,
) -> ServiceResult<Deauthorized> {
    if d.client_id != own.client_id {
        return Ok(Deauthorized::OtherApp);
    }
    let reach = Reach {
        user_connections: own.app_type == AppType::User,
        account_connections: match own.app_type {
            AppType::Account => crate::store::AccountReach::WholeAccount,
            AppType::User => crate::store::AccountReach::None,
        },
        oauth_app_id: Some(own.id.clone()),
    };
    deauthorize_reach(app, d, reach).await
}
