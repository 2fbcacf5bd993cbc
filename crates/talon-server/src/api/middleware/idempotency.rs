//! `Idempotency-Key` on POST: the key is reserved atomically before the handler runs; a retry with the
//! same key and body gets the stored response (`Idempotent-Replayed: true`), a different body gets 422,
//! and a retry while the first is still running gets 409. Records are kept 24 hours.
//!
//! A record belongs to the credential that made the request (one API key, or one session), and is only
//! looked up once that credential has authenticated: a replay is given only to the credential that was
//! given the original answer, which its scopes (they never change) allowed, and a revoked key or ended
//! session gets 401 before any record is read. Unauthenticated requests (register, login) are never
//! recorded: there is no credential to keep them for, and their answers must not be kept. Stored bodies
//! are sealed under the server key, bound to their credential and key.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use talon_store::{Reservation, StoredResponse};
use tracing::Instrument;

use super::request_id::{current_request_id, with_request_id};
use crate::api::error::{ApiError, ErrorCode};
use crate::auth::Principal;
use crate::state::AppState;

pub const RETENTION: Duration = Duration::hours(24);
/// An in-flight reservation this old belongs to a request that died with its server; it is taken over.
const STALE_AFTER: Duration = Duration::minutes(5);
const MAX_KEY_CHARS: usize = 255;

pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(raw) = request.headers().get("idempotency-key") else {
        return next.run(request).await;
    };
    let key = match raw.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_owned(),
        _ => {
            return ApiError::new(ErrorCode::BadRequest, "Idempotency-Key must be 1 to 255 visible ASCII characters")
                .into_response();
        }
    };
    let Some(scope) = request.extensions().get::<Principal>().map(Principal::idempotency_scope) else {
        return next.run(request).await;
    };

    let (parts, body) = request.into_parts();
    // Each surface's own limit has been applied to the body already; this bound only has to let the
    // largest of them (an upload) through.
    let largest = state
        .settings
        .max_body_bytes
        .max(state.marketplace.settings.max_upload_bytes.saturating_add(crate::api::marketplace::MULTIPART_OVERHEAD));
    let Ok(body) = axum::body::to_bytes(body, largest).await else {
        return ApiError::new(ErrorCode::PayloadTooLarge, "Request body is too large").into_response();
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path_and_query().map_or("", |p| p.as_str()), &body);

    let now = Utc::now();
    let reservation =
        state.store.reserve_idempotency_key(&scope, &key, &fingerprint, now, now - RETENTION, now - STALE_AFTER).await;
    match reservation {
        Err(e) => ApiError::internal(e).into_response(),
        Ok(Reservation::InFlight { fingerprint: held }) if held != fingerprint => reused(),
        Ok(Reservation::Completed { fingerprint: held, .. }) if held != fingerprint => reused(),
        Ok(Reservation::InFlight { .. }) => {
            ApiError::conflict("A request with this Idempotency-Key is still in progress").into_response()
        }
        Ok(Reservation::Completed { response, .. }) => replay(&state, &scope, &key, response),
        Ok(Reservation::Reserved) => {
            let request = Request::from_parts(parts, Body::from(body));
            run_and_record(state, scope, key, request, next).await
        }
    }
}

fn reused() -> Response {
    ApiError::new(ErrorCode::IdempotencyKeyReused, "This Idempotency-Key was used with a different request")
        .into_response()
}

/// What identifies "the same request": method, path with query, and body.
pub fn fingerprint(method: &Method, path_and_query: &str, body: &Bytes) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str());
    hasher.update(b"\n");
    hasher.update(path_and_query);
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().to_vec()
}

/// Runs the handler on its own task so that a client hanging up cannot stop it half-way: whatever it
/// did is recorded against the key. A 5xx or a panic releases the key so the client can retry.
async fn run_and_record(state: AppState, scope: String, key: String, request: Request, next: Next) -> Response {
    let handler = with_request_id(current_request_id(), next.run(request)).instrument(tracing::Span::current());
    let response = match tokio::spawn(handler).await {
        Ok(response) => response,
        Err(e) => {
            release(&state, &scope, &key).await;
            return ApiError::internal(format!("handler failed: {e}")).into_response();
        }
    };
    let streaming = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    // A stream is forwarded as it comes, never buffered, so it cannot be replayed: the key is freed.
    if response.status().is_server_error() || streaming {
        release(&state, &scope, &key).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            release(&state, &scope, &key).await;
            return ApiError::internal(format!("could not buffer response: {e}")).into_response();
        }
    };
    let sealed = match state.sealer.seal_bytes(&body, &seal_context(&scope, &key)) {
        Ok(sealed) => sealed,
        Err(e) => {
            release(&state, &scope, &key).await;
            tracing::error!(error = %e, "could not seal idempotent response");
            return Response::from_parts(parts, Body::from(body));
        }
    };
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        content_type: parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: sealed,
    };
    if let Err(e) = state.store.complete_idempotency_key(&scope, &key, &stored).await {
        tracing::error!(error = %e, "could not record idempotent response");
    }
    Response::from_parts(parts, Body::from(body))
}

async fn release(state: &AppState, scope: &str, key: &str) {
    if let Err(e) = state.store.release_idempotency_key(scope, key).await {
        tracing::error!(error = %e, "could not release idempotency key");
    }
}

/// What a sealed body is bound to: it opens only as the answer to this credential's use of this key.
fn seal_context(scope: &str, key: &str) -> Vec<u8> {
    [scope.as_bytes(), b"\n", key.as_bytes()].concat()
}

fn replay(state: &AppState, scope: &str, key: &str, stored: StoredResponse) -> Response {
    let body = match state.sealer.open_bytes(&stored.body, &seal_context(scope, key)) {
        Ok(body) => body,
        Err(e) => return ApiError::internal(format!("stored idempotent response: {e}")).into_response(),
    };
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(content_type) = stored.content_type.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(CONTENT_TYPE, content_type);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
