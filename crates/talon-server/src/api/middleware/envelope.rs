//! Errors produced by the framework rather than by a handler (an unknown route, a wrong method, a body
//! over the limit) arrive without a body; this puts them in the same envelope as every other error.

use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::{ApiError, ErrorCode};

pub async fn envelope_framework_errors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read, so the connection cannot carry another request: say so,
        // or a client would reuse it and see it closed under its next request.
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = ErrorCode::for_status(status);
    let message = match code {
        ErrorCode::NotFound => "No such resource".to_owned(),
        ErrorCode::MethodNotAllowed => "Method not allowed on this path".to_owned(),
        ErrorCode::PayloadTooLarge => "Request body is too large".to_owned(),
        ErrorCode::Internal => "Internal server error".to_owned(),
        _ => status.canonical_reason().unwrap_or("Request failed").to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    let rendered = ApiError::new(code, message).into_response();
    // Keep what the original said beyond its body (`Allow`, rate-limit headers), replace the rest.
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in rendered.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    let (_, body) = rendered.into_parts();
    parts.status = code.status();
    Response::from_parts(parts, body)
}
