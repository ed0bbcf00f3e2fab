//! Meeting SDK credentials (write-only, one app per org) and the signatures
//! the Meeting SDK joins meetings with.

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::{rfc3339, Actor, AuditAction, AuditOutcome, Required};
use crate::store::{Org, SdkCredentials};
use crate::tokens::sdk_signature;

use super::{ServiceError, ServiceResult};

pub struct SdkApp {
    pub sdk_key: Required,
    pub sdk_secret: Required,
}

/// What a signature is asked for, already checked at the edge.
pub struct SignatureRequest {
    /// 9 to 11 digits.
    pub meeting_number: String,
    /// 0: join as attendee; 1: as host.
    pub role: u8,
    pub lifetime_secs: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SdkSignature)]
pub struct Signature {
    /// The SDK JWT to pass to the Meeting SDK's `join` as `signature`.
    pub signature: String,
    pub sdk_key: String,
    /// The token's `exp` (equal to its `tokenExp`).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

pub async fn set_sdk(app: &AppState, org: &Org, actor: &Actor, creds: SdkApp) -> ServiceResult<()> {
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = app.keyring.seal_str(
        Aad::new(SealedColumn::SDK_SECRET, &id),
        creds.sdk_secret.as_str(),
    );
    let row = SdkCredentials {
        id,
        org_id: org.id.clone(),
        sdk_key: creds.sdk_key.into_inner(),
        sdk_secret: sealed,
        created_at: now,
        updated_at: now,
    };
    app.store.put_sdk(&row).await?;
    app.audit(
        Some(&org.id),
        actor,
        AuditAction::SdkCredentialsSet,
        AuditOutcome::Success,
        "",
    )
    .await;
    Ok(())
}

/// Idempotent.
pub async fn remove_sdk(app: &AppState, org: &Org, actor: &Actor) -> ServiceResult<()> {
    let removed = app.store.delete_sdk(&org.id).await?;
    let outcome = if removed {
        AuditOutcome::Success
    } else {
        AuditOutcome::Noop
    };
    app.audit(
        Some(&org.id),
        actor,
        AuditAction::SdkCredentialsRemoved,
        outcome,
        "",
    )
    .await;
    Ok(())
}

/// The SDK key shown to admins (the key is not a secret; the secret is never shown).
pub async fn sdk_key(app: &AppState, org: &Org) -> ServiceResult<Option<(String, i64)>> {
    Ok(app
        .store
        .sdk(&org.id)
        .await?
        .map(|c| (c.sdk_key, c.updated_at)))
}

pub async fn sign(app: &AppState, org: &Org, req: SignatureRequest) -> ServiceResult<Signature> {
    let creds = app
        .store
        .sdk(&org.id)
        .await?
        .ok_or_else(|| ServiceError::Conflict {
            code: "sdk_credentials_missing",
            message: format!(
                "org {} has no Meeting SDK credentials; set them with PUT /api/v1/orgs/{}/sdk-credentials",
                org.slug, org.slug
            ),
        })?;
    let secret = app.keyring.open_string(
        Aad::new(SealedColumn::SDK_SECRET, &creds.id),
        &creds.sdk_secret,
    )?;
    let (signature, exp) = sdk_signature(
        &creds.sdk_key,
        &secret,
        &req.meeting_number,
        req.role,
        app.clock.now(),
        req.lifetime_secs,
    )?;
    Ok(Signature {
        signature,
        sdk_key: creds.sdk_key,
        expires_at: rfc3339(exp),
    })
}
