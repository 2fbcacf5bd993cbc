//! Who is signed in to the dashboard: a session token in an `HttpOnly` cookie, and the anti-forgery
//! token every state-changing request of that session must carry.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use uuid::Uuid;

use super::error::WebError;
use crate::auth::{Credential, Principal};
use crate::services::Caller;
use crate::state::AppState;

/// The cookie holding the session token.
pub const SESSION_COOKIE: &str = "talon_session";
/// The cookie holding a one-time notice for the next page ("Agent created").
pub const NOTICE_COOKIE: &str = "talon_notice";
/// Where forms put the anti-forgery token, and the header scripts send it in.
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in dashboard session: the account, the session's id and its anti-forgery token, and the
/// notice the previous request left for this page.
#[derive(Clone)]
pub struct SignedIn {
    pub principal: Principal,
    pub session_id: Uuid,
    pub csrf: String,
    pub notice: Option<String>,
}

impl SignedIn {
    /// The caller as services see it (a session reaches every agent of its account).
    pub fn caller(&self) -> Caller {
        self.principal.caller()
    }

    pub fn email(&self) -> &str {
        &self.principal.account.email
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = WebError;

    /// Resolves the session cookie like a bearer session token: a missing, expired or signed-out
    /// session sends the browser to sign in. API keys are never accepted here.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let sign_in = || WebError::SignIn { back_to: back_to(parts) };
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(sign_in)?;
        if talon_domain::ApiKeySecret::looks_like_key(token) {
            return Err(sign_in());
        }
        let principal = state.authenticator.resolve(token).await.map_err(|e| match e {
            crate::auth::AuthError::Store(e) => WebError::internal(e),
            _ => sign_in(),
        })?;
        let Credential::Session { id, .. } = principal.credential else { return Err(sign_in()) };
        let csrf = state.jwt.csrf_token(id);
        let notice = cookie(&parts.headers, NOTICE_COOKIE).and_then(decode_notice);
        Ok(SignedIn { principal, session_id: id, csrf, notice })
    }
}

/// A signed-in session whose request is allowed to change something: it came from a page of this
/// server (its `Origin`, when sent, is this host) and carries the session's anti-forgery token in the
/// `X-CSRF-Token` header. Forms carry the token as a field instead, checked by `CsrfForm`.
pub struct Changing(pub SignedIn);

impl FromRequestParts<AppState> for Changing {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        check_origin(&parts.headers)?;
        let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !state.jwt.csrf_matches(signed_in.session_id, presented) {
            return Err(WebError::Forgery);
        }
        Ok(Changing(signed_in))
    }
}

/// A browser sends `Origin` with every POST; one naming another site is a forgery whatever it carries.
pub fn check_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if origin_host.eq_ignore_ascii_case(host) { Ok(()) } else { Err(WebError::Forgery) }
}

/// The value of one cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether cookies should be sent over HTTPS only: when a trusted proxy says the browser used HTTPS.
pub fn served_over_tls(headers: &HeaderMap, state: &AppState) -> bool {
    state.settings.trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for the session token: `HttpOnly` (no script reads it), `SameSite=Lax` (no other
/// site's form or script sends it), `Secure` over TLS, for as long as the token lives.
pub fn session_cookie(token: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("talon_session=; Path=/; Max-Age=0"))
}

pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("talon_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// `Set-Cookie` for a notice the next page shows once.
pub fn notice_cookie(text: &str) -> (axum::http::HeaderName, HeaderValue) {
    let encoded = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
    let value = format!("{NOTICE_COOKIE}={encoded}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
    (SET_COOKIE, HeaderValue::from_str(&value).unwrap_or_else(|_| clear_notice_cookie()))
}

pub fn clear_notice_cookie() -> HeaderValue {
    HeaderValue::from_static("talon_notice=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn decode_notice(raw: &str) -> Option<String> {
    let text = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
    let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    (!text.is_empty()).then_some(text)
}

/// Where to come back to after signing in: the page asked for, when it was a page (GET) of this site.
fn back_to(parts: &Parts) -> Option<String> {
    if parts.method != Method::GET {
        return None;
    }
    let path = parts.uri.path_and_query().map(|p| p.as_str())?;
    safe_return_path(path).map(str::to_owned)
}

/// A return address after sign-in must be a path of this site: `/agents`, never `//evil.example` or
/// `https://…`.
pub fn safe_return_path(path: &str) -> Option<&str> {
    let ok =
        path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") && !path.contains(['\r', '\n']);
    ok.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; talon_session=tok; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("talon_notice=Saved%21"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, NOTICE_COOKIE).and_then(decode_notice).as_deref(), Some("Saved!"));
        assert_eq!(cookie(&headers, "talon"), None);
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return_path("/agents?q=a"), Some("/agents?q=a"));
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "agents", "/a\r\nSet-Cookie: x"] {
            assert_eq!(safe_return_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn another_origin_is_a_forgery() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(check_origin(&headers).is_ok(), "no Origin: same-site navigation or a non-browser client");
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(check_origin(&headers).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(matches!(check_origin(&headers), Err(WebError::Forgery)));
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(matches!(check_origin(&headers), Err(WebError::Forgery)));
    }
}
