//! A form posted by a page of a signed-in session: its anti-forgery token checked, then its fields
//! parsed into a typed struct.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use super::error::WebError;
use super::session::{CSRF_FIELD, SignedIn, check_origin};
use crate::state::AppState;

/// The largest form the dashboard accepts; a prompt is the biggest field.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// `(session, fields)` of a form whose `_csrf` field is this session's token and whose `Origin`, if
/// sent, is this site. A form without them changes nothing (403).
pub struct CsrfForm<T>(pub SignedIn, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        let session = SignedIn::from_request_parts(&mut parts, state).await?;
        check_origin(&parts.headers)?;
        let request = Request::from_parts(parts, body);
        let bytes = read_form(request, state).await?;
        if !csrf_of(&bytes).is_some_and(|token| state.jwt.csrf_matches(session.session_id, &token)) {
            return Err(WebError::Forgery);
        }
        let fields = parse(&bytes)?;
        Ok(CsrfForm(session, fields))
    }
}

/// The fields of a form posted without a session (sign-in, register).
pub struct PublicForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for PublicForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, WebError> {
        check_origin(request.headers())?;
        let bytes = read_form(request, state).await?;
        Ok(PublicForm(parse(&bytes)?))
    }
}

async fn read_form(request: Request, state: &AppState) -> Result<Bytes, WebError> {
    let content_type = request.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")) {
        return Err(WebError::bad_request("Send the form as application/x-www-form-urlencoded"));
    }
    let limit = MAX_FORM_BYTES.min(state.settings.max_body_bytes.max(64 * 1024));
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| WebError::bad_request(format!("The form is larger than {} KiB", limit / 1024)))?;
    Ok(body)
}

fn csrf_of(bytes: &[u8]) -> Option<String> {
    form_urlencoded_pairs(bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v)
}

fn form_urlencoded_pairs(bytes: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| WebError::bad_request(format!("The form could not be read: {e}")))
}

/// A form with nothing but its anti-forgery token (sign out, stop, deploy the head).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// Every value of a field that may repeat (checkboxes): `scope=a&scope=b`.
pub fn all_values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_among_the_fields() {
        assert_eq!(csrf_of(b"name=a&_csrf=abc%20d&x=1").as_deref(), Some("abc d"));
        assert_eq!(csrf_of(b"name=a"), None);
    }

    #[test]
    fn repeated_fields_are_all_kept() {
        let pairs: Vec<(String, String)> = form_urlencoded_pairs(b"scope=a&scope=b&name=k").collect();
        assert_eq!(all_values(&pairs, "scope"), ["a", "b"]);
    }
}
