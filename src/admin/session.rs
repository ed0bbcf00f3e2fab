//! Admin sign-in: a one-time link shows a page whose Sign in button opens a
//! session held in an encrypted, HttpOnly, SameSite=Strict cookie (8 hours
//! at most, 30 idle minutes). Every state-changing call must also carry the
//! session's CSRF token in `X-CSRF-Token`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::html;
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::ct_eq;
use crate::domain::Actor;
use crate::error::ApiError;
use crate::service::admin::{self, AdminIdentity, SESSION_TTL_SECS};
use crate::service::Claim;
use crate::store::Org;
use crate::web::cookies::Cookies;
use crate::web::form_guard;
use crate::web::pages::{form_page, start_again};

const COOKIE: &str = "tb_admin";

const FORM_KIND: &str = "login";

/// `GET /admin/login/{token}`: a page with a Sign in button. Looking at the
/// link (a mail scanner, a link preview) never uses it.
pub async fn login_page(
    State(app): State<AppState>,
    cookies: Cookies,
    Path(token): Path<String>,
) -> Response {
    let preview = match admin::preview_link(&app, &token).await {
        Ok(Claim::Claimed(preview)) => preview,
        Ok(other) => return link_problem(&other),
        Err(err) => return ApiError::from(err).into_response(),
    };
    let (cookies, form_token) = form_guard::issue(
        cookies,
        form_guard::cookie_name(FORM_KIND, &token),
        format!("/admin/login/{token}"),
        app.config.secure_cookies(),
    );
    let body = html! {
        dl {
            dt { "CRM org" } dd { (preview.org_name) }
            dt { "Admin" } dd { (preview.email) }
        }
        p { "Signing in ends any earlier console session of this admin for this org." }
        form method="post" action={ "/admin/login/" (token) } {
            input type="hidden" name="form_token" value=(form_token);
            button.primary type="submit" { "Sign in" }
        }
    };
    (
        cookies,
        form_page("Sign in to the Zoom console", body, None),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    form_token: String,
}

/// `POST /admin/login/{token}`: only the sign-in page's own form uses the link.
pub async fn login(
    State(app): State<AppState>,
    cookies: Cookies,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<SignInForm>,
) -> Response {
    let form_cookie = form_guard::cookie_name(FORM_KIND, &token);
    let explain = (
        "Please sign in from the sign-in page",
        "Admin sign-in links work only through their own page in this browser. Open the link again and click Sign in.",
    );
    if let Some(page) = form_guard::refusal_page(
        &cookies,
        &headers,
        &form_cookie,
        &form.form_token,
        &app.config.public_url,
        explain,
    ) {
        return page;
    }
    let signed_in = match admin::sign_in(&app, &token).await {
        Ok(Claim::Claimed(signed_in)) => signed_in,
        Ok(other) => return link_problem(&other),
        Err(err) => return ApiError::from(err).into_response(),
    };
    let cookie = Cookie::build((COOKIE, signed_in.session_token))
        .path("/admin")
        .http_only(true)
        .secure(app.config.secure_cookies())
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(SESSION_TTL_SECS))
        .build();
    let cookies = cookies
        .without(Cookie::build(form_cookie).path(format!("/admin/login/{token}")))
        .with(cookie);
    (
        StatusCode::SEE_OTHER,
        cookies,
        [
            (header::LOCATION, "/admin/"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
        .into_response()
}

fn link_problem<T>(claim: &Claim<T>) -> Response {
    match claim {
        Claim::AlreadyUsed => start_again(StatusCode::GONE, "This sign-in link was already used", "Each admin sign-in link works once. Open the Zoom settings in your CRM again to get a new one."),
        Claim::Expired => start_again(StatusCode::GONE, "This sign-in link has expired", "Admin sign-in links are valid for 10 minutes. Open the Zoom settings in your CRM again to get a new one."),
        Claim::Unknown | Claim::Claimed(_) => start_again(StatusCode::NOT_FOUND, "This sign-in link is not valid", "We do not recognise this admin sign-in link."),
    }
}

/// `POST /admin/logout`
pub async fn logout(
    State(app): State<AppState>,
    admin: Admin,
    cookies: Cookies,
) -> Result<Response, ApiError> {
    admin::sign_out(&app, &admin.0).await?;
    let cookies = cookies.without(Cookie::build(COOKIE).path("/admin"));
    Ok((StatusCode::NO_CONTENT, cookies, ()).into_response())
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
    fn check_csrf(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let presented = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let accepted = self.0.csrf_accepted.iter().fold(false, |ok, token| {
            ct_eq(presented.as_bytes(), token.as_bytes()) | ok
        });
        if accepted {
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
        let cookies = Cookies::from_headers(&parts.headers, app);
        let token = cookies.get(COOKIE).ok_or(ApiError::Unauthorized)?;
        let admin = admin::authenticate(app, &token)
            .await?
            .map(Admin)
            .ok_or(ApiError::Unauthorized)?;
        // Checked here, once, so no state-changing console route can forget it.
        if !parts.method.is_safe() {
            admin.check_csrf(&parts.headers)?;
        }
        Ok(admin)
    }
}
