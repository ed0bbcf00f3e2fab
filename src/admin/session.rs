//! Admin sign-in: a one-time link opens an 8-hour session held in an
//! encrypted, HttpOnly, SameSite=Strict cookie. Every state-changing call
//! must also carry the session's CSRF token in `X-CSRF-Token`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};

use crate::app::AppState;
use crate::crypto::{ct_eq, random_token, sha256_hex};
use crate::domain::Email;
use crate::error::ApiError;
use crate::flow::pages::start_again;
use crate::store::{AdminLink, AdminSession, Consumed, Org};
use crate::webhooks::hmac_hex;

pub const LINK_TTL_SECS: i64 = 600;
pub const SESSION_TTL_SECS: i64 = 8 * 3600;
const COOKIE: &str = "tb_admin";

/// Mints a one-time sign-in link for `email` on `org`.
pub async fn issue_link(
    app: &AppState,
    org: &Org,
    email: &Email,
    created_by: &str,
) -> Result<(String, i64), ApiError> {
    let token = random_token();
    let now = app.clock.now();
    let link = AdminLink {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org.id.clone(),
        token_hash: sha256_hex(token.as_bytes()),
        email: email.to_string(),
        created_by: created_by.to_string(),
        expires_at: now + LINK_TTL_SECS,
        used_at: None,
        created_at: now,
    };
    app.store.insert_admin_link(&link).await?;
    Ok((
        app.config.public_path(&format!("/admin/login/{token}")),
        link.expires_at,
    ))
}

/// `GET /admin/login/{token}`
pub async fn login(
    State(app): State<AppState>,
    jar: PrivateCookieJar,
    Path(token): Path<String>,
) -> Response {
    let now = app.clock.now();
    let link = match app.store.consume_admin_link(&sha256_hex(token.as_bytes()), now).await {
        Ok(Consumed::Claimed(link)) => link,
        Ok(Consumed::AlreadyUsed(_)) => return start_again(StatusCode::GONE, "This sign-in link was already used", "Each admin sign-in link works once. Open the Zoom settings in your CRM again to get a new one."),
        Ok(Consumed::Expired(_)) => return start_again(StatusCode::GONE, "This sign-in link has expired", "Admin sign-in links are valid for 10 minutes. Open the Zoom settings in your CRM again to get a new one."),
        Ok(Consumed::Unknown) => return start_again(StatusCode::NOT_FOUND, "This sign-in link is not valid", "We do not recognise this admin sign-in link."),
        Err(err) => return ApiError::from(err).into_response(),
    };
    let session_token = random_token();
    let session = AdminSession {
        id_hash: sha256_hex(session_token.as_bytes()),
        org_id: link.org_id.clone(),
        email: link.email.clone(),
        expires_at: now + SESSION_TTL_SECS,
        created_at: now,
    };
    if let Err(err) = app.store.insert_admin_session(&session).await {
        return ApiError::from(err).into_response();
    }
    app.audit(
        Some(&link.org_id),
        &format!("admin:{}", link.email),
        "admin.signed_in",
        "success",
        "",
    )
    .await;
    let cookie = Cookie::build((COOKIE, session_token))
        .path("/admin")
        .http_only(true)
        .secure(app.config.secure_cookies())
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(SESSION_TTL_SECS))
        .build();
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/admin/"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jar.add(cookie),
    )
        .into_response()
}

/// `POST /admin/logout`
pub async fn logout(
    State(app): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    jar: PrivateCookieJar,
) -> Result<Response, ApiError> {
    admin.check_csrf(&headers)?;
    app.store.delete_admin_session(&admin.session_hash).await?;
    Ok((
        StatusCode::NO_CONTENT,
        jar.remove(Cookie::build(COOKIE).path("/admin")),
    )
        .into_response())
}

/// A signed-in admin, scoped to exactly one org.
pub struct Admin {
    pub org: Org,
    pub email: String,
    session_hash: String,
    pub csrf_token: String,
}

impl Admin {
    pub fn actor(&self) -> String {
        format!("admin:{}", self.email)
    }

    /// State-changing calls must echo the CSRF token; a cross-site form cannot read it.
    pub fn check_csrf(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let presented = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if ct_eq(presented.as_bytes(), self.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "missing or wrong CSRF token; reload the console".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let jar = PrivateCookieJar::from_headers(&parts.headers, app.cookie_key.clone());
        let expired = || ApiError::Unauthorized;
        let token = jar.get(COOKIE).ok_or_else(expired)?.value().to_string();
        let session_hash = sha256_hex(token.as_bytes());
        let session = app
            .store
            .admin_session(&session_hash, app.clock.now())
            .await?
            .ok_or_else(expired)?;
        let org = app
            .store
            .org_by_id(&session.org_id)
            .await?
            .ok_or_else(expired)?;
        // Derived, not stored: HMAC of the session id under the cookie key.
        let csrf_token = hmac_hex(
            &hex::encode(app.keyring.cookie_key_material()),
            format!("csrf:{session_hash}").as_bytes(),
        );
        Ok(Admin {
            org,
            email: session.email,
            session_hash,
            csrf_token,
        })
    }
}
