//! Admin sign-in: a one-time link opens an 8-hour session held in an
//! encrypted, HttpOnly, SameSite=Strict cookie. Every state-changing call
//! must also carry the session's CSRF token in `X-CSRF-Token`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};

use crate::app::AppState;
use crate::crypto::ct_eq;
use crate::domain::Actor;
use crate::error::ApiError;
use crate::service::admin::{self, AdminIdentity, SESSION_TTL_SECS};
use crate::service::Claim;
use crate::store::Org;
use crate::web::pages::start_again;

const COOKIE: &str = "tb_admin";

/// `GET /admin/login/{token}`
pub async fn login(
    State(app): State<AppState>,
    jar: PrivateCookieJar,
    Path(token): Path<String>,
) -> Response {
    let signed_in = match admin::sign_in(&app, &token).await {
        Ok(Claim::Claimed(signed_in)) => signed_in,
        Ok(Claim::AlreadyUsed) => return start_again(StatusCode::GONE, "This sign-in link was already used", "Each admin sign-in link works once. Open the Zoom settings in your CRM again to get a new one."),
        Ok(Claim::Expired) => return start_again(StatusCode::GONE, "This sign-in link has expired", "Admin sign-in links are valid for 10 minutes. Open the Zoom settings in your CRM again to get a new one."),
        Ok(Claim::Unknown) => return start_again(StatusCode::NOT_FOUND, "This sign-in link is not valid", "We do not recognise this admin sign-in link."),
        Err(err) => return ApiError::from(err).into_response(),
    };
    let cookie = Cookie::build((COOKIE, signed_in.session_token))
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
    admin::sign_out(&app, &admin.0).await?;
    Ok((
        StatusCode::NO_CONTENT,
        jar.remove(Cookie::build(COOKIE).path("/admin")),
    )
        .into_response())
}

/// A signed-in admin, scoped to exactly one org.
pub struct Admin(pub AdminIdentity);

impl Admin {
    pub fn org(&self) -> &Org {
        &self.0.org
    }

    pub fn actor(&self) -> Actor {
        self.0.actor()
    }

    /// State-changing calls must echo the CSRF token; a cross-site form cannot read it.
    pub fn check_csrf(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let presented = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if ct_eq(presented.as_bytes(), self.0.csrf_token.as_bytes()) {
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
        let token = jar.get(COOKIE).ok_or(ApiError::Unauthorized)?;
        admin::authenticate(app, token.value())
            .await?
            .map(Admin)
            .ok_or(ApiError::Unauthorized)
    }
}
