//! The dashboard: server-rendered pages at `/` for a signed-in account, calling the same services as
//! the API. `session.rs` is who is signed in (an `HttpOnly` cookie) and the anti-forgery token;
//! `form.rs` reads posted forms after checking it; `layout.rs` is the page shell; `pages/` has one
//! module per section; `assets/` the stylesheet and script compiled into the binary.
//!
//! Only sign-in, registration and the assets answer without a session; every other page sends the
//! browser to sign in, and every state-changing request must carry the session's anti-forgery token.

mod assets;
mod error;
mod form;
mod layout;
mod pages;
mod session;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

/// Scripts and styles come from this server only; no page may be framed or post elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::auth::home))
        .route("/login", get(pages::auth::login_page).post(pages::auth::login))
        .route("/register", get(pages::auth::register_page).post(pages::auth::register))
        .route("/logout", post(pages::auth::logout))
        .merge(pages::routes())
        .route("/assets/app.css", get(assets::css))
        .route("/assets/app.js", get(assets::js))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes.max(1024 * 1024)))
        .layer(from_fn(page_headers))
}

/// Headers every dashboard answer carries: the content security policy, no framing, no sniffing; a
/// page is never cached (it shows an account's data), and the notice it showed is cleared.
async fn page_headers(request: Request, next: Next) -> Response {
    let had_notice = session::cookie(request.headers(), session::NOTICE_COOKIE).is_some();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    let is_page = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if is_page {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if had_notice && response.status() == StatusCode::OK {
            response.headers_mut().append(SET_COOKIE, session::clear_notice_cookie());
        }
    }
    response
}
