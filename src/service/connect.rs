//! Starting an authorization: the CRM's one-time connect session, then the
//! browser's step to Zoom with a fresh `state` and PKCE verifier.

use oauth2::PkceCodeChallenge;

use crate::app::AppState;
use crate::crypto::{random_token, sha256_hex, Aad, SealedColumn};
use crate::domain::{Actor, AppType, Email, ReturnTo};
use crate::store::{ConnectSession, Org, PendingAuthorization};
use crate::zoom::scopes::ProductName;

use super::{Claim, ServiceError, ServiceResult};

/// How long a connect link stays usable.
pub const SESSION_TTL_SECS: i64 = 600;
/// How long the browser has between the connect link and Zoom's callback.
pub const PENDING_TTL_SECS: i64 = 600;

pub struct NewConnectSession {
    pub email: Email,
    pub app_type: AppType,
    pub return_to: Option<ReturnTo>,
    /// Products to offer checked on the connect page (`ZOOM_PRODUCTS` names).
    pub products: Vec<ProductName>,
}

pub struct IssuedSession {
    pub id: String,
    /// `<PUBLIC_URL>/connect/<one-time token>`; the token is stored only hashed.
    pub url: String,
    pub expires_at: i64,
}

pub async fn create_session(
    app: &AppState,
    org: &Org,
    new: NewConnectSession,
    actor: &Actor,
) -> ServiceResult<IssuedSession> {
    if crate::tokens::apps::for_new_session(app, &org.id, new.app_type)
        .await?
        .is_none()
    {
        return Err(ServiceError::invalid(
            "app_type_unavailable",
            format!(
                "no Zoom app is configured for {} connections; set {}",
                new.app_type,
                match new.app_type {
                    AppType::User => "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
                    AppType::Account => "ZOOM_ACCOUNT_CLIENT_ID and ZOOM_ACCOUNT_CLIENT_SECRET",
                }
            ),
        ));
    }
    let products = choose_products(app, new.products.iter().map(ProductName::as_str))?;
    let token = random_token();
    let now = app.clock.now();
    let session = ConnectSession {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org.id.clone(),
        token_hash: sha256_hex(token.as_bytes()),
        email: new.email.to_string(),
        app_type: new.app_type,
        return_to: new.return_to.map(|r| r.as_str().to_string()),
        created_by: actor.to_string(),
        expires_at: now + SESSION_TTL_SECS,
        consumed_at: None,
        created_at: now,
        products: (!products.is_empty()).then(|| join(&products)),
    };
    app.store.insert_connect_session(&session).await?;
    Ok(IssuedSession {
        id: session.id,
        url: app.config.public_path(&format!("/connect/{token}")),
        expires_at: session.expires_at,
    })
}

/// The browser's way to Zoom: where to send it, and the `state` to bind to it.
pub struct ToZoom {
    pub authorize_url: url::Url,
    pub state: String,
    pub state_hash: String,
    pub session_id: String,
    pub app_type: AppType,
    pub products: Vec<ProductName>,
}

/// Uses the connect link once and records a pending authorization whose
/// `state` and PKCE verifier are fresh, 256-bit, and good for 10 minutes.
/// `products` are the ones the person ticked; with products configured, at
/// least one is needed, and a bad choice leaves the link unused.
pub async fn begin(
    app: &AppState,
    connect_token: &str,
    products: &[String],
) -> ServiceResult<Claim<ToZoom>> {
    let products = choose_products(app, products.iter().map(String::as_str))?;
    if products.is_empty() && !app.config.zoom_products.is_empty() {
        return Err(ServiceError::invalid(
            "no_products",
            "choose at least one Zoom product to connect",
        ));
    }
    let now = app.clock.now();
    let consumed = app
        .store
        .consume_connect_session(&sha256_hex(connect_token.as_bytes()), now)
        .await?;
    let session = match Claim::from_store(consumed) {
        Ok(session) => session,
        Err(problem) => return Ok(problem),
    };
    // The org's own app when it has one for this kind, else the deployment's;
    // the pending authorization remembers which, for the callback.
    let zoom_app = crate::tokens::apps::for_new_session(app, &session.org_id, session.app_type)
        .await?
        .ok_or_else(|| {
            ServiceError::internal(format!(
                "no Zoom app is configured for {}",
                session.app_type
            ))
        })?
        .map_err(ServiceError::internal)?;
    let state = random_token();
    let state_hash = sha256_hex(state.as_bytes());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let id = uuid::Uuid::new_v4().to_string();
    let pending = PendingAuthorization {
        pkce_verifier: app.keyring.seal_str(
            Aad::new(SealedColumn::PKCE_VERIFIER, &id),
            verifier.secret(),
        ),
        id,
        session_id: session.id.clone(),
        org_id: session.org_id.clone(),
        state_hash: state_hash.clone(),
        email: session.email.clone(),
        app_type: session.app_type,
        return_to: session.return_to.clone(),
        expires_at: now + PENDING_TTL_SECS,
        used_at: None,
        created_at: now,
        oauth_app_id: zoom_app.oauth_app_id.clone(),
    };
    app.store.insert_pending_authorization(&pending).await?;
    let authorize_url = app
        .zoom
        .authorize_url(
            &zoom_app.client_id,
            &app.config.redirect_uri(),
            &state,
            challenge,
            requested_scope(app, &products).as_deref(),
        )
        .map_err(ServiceError::internal)?;
    Ok(Claim::Claimed(ToZoom {
        authorize_url,
        state,
        state_hash,
        session_id: session.id,
        app_type: session.app_type,
        products,
    }))
}

/// Configured products only, in configured order.
fn choose_products<'a>(
    app: &AppState,
    names: impl IntoIterator<Item = &'a str>,
) -> ServiceResult<Vec<ProductName>> {
    app.config
        .zoom_products
        .select(names)
        .map_err(|message| ServiceError::invalid("unknown_product", message))
}

/// `ZOOM_SCOPES` plus the chosen products' scopes; `None` lets the Zoom app's
/// own scopes apply, as before products existed.
fn requested_scope(app: &AppState, products: &[ProductName]) -> Option<String> {
    let base: Vec<String> = app
        .config
        .zoom_scopes
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    app.config.zoom_products.scope_for(&base, products)
}

fn join(products: &[ProductName]) -> String {
    products
        .iter()
        .map(ProductName::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the connect page shows before the person confirms.
pub struct ConnectPreview {
    pub org_name: String,
    pub email: String,
    pub app_type: AppType,
    /// Every configured product, with whether it starts ticked: the CRM's
    /// preselection, or all of them when it chose none.
    pub products: Vec<OfferedProduct>,
    /// `ZOOM_REQUIRED_SCOPES`, so the page can say what must be granted.
    pub required_scopes: Vec<String>,
}

pub struct OfferedProduct {
    pub name: String,
    pub scopes: Vec<String>,
    pub checked: bool,
}

/// Looks at a connect link without using it, so opening the page twice works.
pub async fn preview(app: &AppState, connect_token: &str) -> ServiceResult<Claim<ConnectPreview>> {
    let row = app
        .store
        .connect_session(&sha256_hex(connect_token.as_bytes()))
        .await?;
    let session = match Claim::peek(
        row,
        |s| s.consumed_at.is_some(),
        |s| s.expires_at,
        app.clock.now(),
    ) {
        Ok(session) => session,
        Err(problem) => return Ok(problem),
    };
    let org = app
        .store
        .org_by_id(&session.org_id)
        .await?
        .ok_or_else(|| ServiceError::internal("a connect session names a missing org"))?;
    let preselected: Vec<&str> = session
        .products
        .as_deref()
        .map(|p| p.split(' ').collect())
        .unwrap_or_default();
    let products = app
        .config
        .zoom_products
        .iter()
        .map(|p| OfferedProduct {
            name: p.name.to_string(),
            scopes: p.scopes.clone(),
            checked: preselected.is_empty() || preselected.contains(&p.name.as_str()),
        })
        .collect();
    Ok(Claim::Claimed(ConnectPreview {
        org_name: org.name,
        email: session.email,
        app_type: session.app_type,
        products,
        required_scopes: app.config.zoom_required_scopes.clone(),
    }))
}
