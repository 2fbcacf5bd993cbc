//! Puts every error of a route in the shape of its surface. An `ApiError` response carries its typed
//! error (`RenderedError`), so a route of another surface renders it again from that; an error the
//! framework answered without one (a body over the limit, a rejected path) is rendered by its status.
//! No body is read here.

use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::api::error::{ApiError, ErrorCode, ErrorSurface, RenderedError, chat_api_unauthorized_code};

/// Middleware (`from_fn_with_state(surface, render_errors)`): the errors of the routes below in
/// `surface`'s shape.
pub async fn render_errors(State(surface): State<ErrorSurface>, request: Request, next: Next) -> Response {
    let unauthorized_code = match surface {
        ErrorSurface::ChatApi => Some(chat_api_unauthorized_code(request.headers())),
        ErrorSurface::Rest | ErrorSurface::OpenAi => None,
    };
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was never read, so the connection cannot carry another request: say so,
        // or a client would reuse it and see it closed under its next request.
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let error = match response.extensions_mut().remove::<RenderedError>() {
        Some(rendered) if rendered.surface == surface => {
            response.extensions_mut().insert(rendered);
            return response;
        }
        Some(rendered) => rendered.error,
        None if !(status.is_client_error() || status.is_server_error()) => return response,
        // Rendered already, where the typed error is no longer at hand: an idempotent replay.
        None if is_json(&response) => return response,
        None => ApiError::for_status(status),
    };
    let error = match unauthorized_code {
        Some(code) if error.code() == ErrorCode::Unauthorized && error.surface_code().is_none() => {
            error.with_code(code)
        }
        _ => error,
    };
    let rendered = surface.render(error);
    // Keep what the original said beyond its body (`Allow`, rate-limit headers), replace the rest.
    let (mut parts, _) = response.into_parts();
    let (rendered_parts, body) = rendered.into_parts();
    parts.status = rendered_parts.status;
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.extend(rendered_parts.headers);
    parts.extensions.extend(rendered_parts.extensions);
    Response::from_parts(parts, body)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
