//! Every request gets an id: the caller's `X-Request-Id` when it is a sane token, a new `req_…` otherwise.
//! The id is echoed on the response, attached to the request's log span, and put in every error body.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use talon_domain::RequestId;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_INCOMING_CHARS: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served on this task; `unknown` outside a request.
pub fn current_request_id() -> String {
    CURRENT.try_with(Clone::clone).unwrap_or_else(|_| "unknown".to_owned())
}

fn acceptable(incoming: &HeaderValue) -> Option<String> {
    let text = incoming.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= MAX_INCOMING_CHARS
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| text.to_owned())
}

pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request.headers().get(&X_REQUEST_ID).and_then(acceptable).unwrap_or_else(|| RequestId::new().to_string());
    let header = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(X_REQUEST_ID.clone(), header.clone());

    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = CURRENT.scope(id, tracing::Instrument::instrument(next.run(request), span)).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), header);
    response
}

/// Runs `future` (typically on a spawned task) as part of the request with this id.
pub async fn with_request_id<F: std::future::Future>(id: String, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}
