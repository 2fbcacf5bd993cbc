//! The error shapes of Talon's three surfaces. An `ApiError` is rendered into one of them; the
//! response keeps the typed error in its extensions (`RenderedError`), so that the surface of the
//! route re-renders it in its own shape without reading the body.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use talon_domain::{ApiKeySecret, FieldError};
use utoipa::ToSchema;

use super::{ApiError, ErrorCode};
use crate::api::middleware::access_log::FailureCause;
use crate::api::middleware::request_id::current_request_id;

/// Which shape the errors of a route take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSurface {
    /// `/api/…`, the ops routes and every unknown path: the envelope.
    Rest,
    /// `/v1/…`: OpenAI's `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// The chat API (`/api/v1/chat`, `/api/v1/bot/{id}/chat`): the envelope under the chat API's codes.
    ChatApi,
}

/// An error response's typed error and the surface whose shape its body is in.
#[derive(Debug, Clone)]
pub struct RenderedError {
    pub error: ApiError,
    pub surface: ErrorSurface,
}

impl ErrorSurface {
    /// The error as this surface answers it: status, body, `Retry-After`, and the cause of a 5xx for
    /// the request log (never in the body).
    pub fn render(self, error: ApiError) -> Response {
        let status = error.status();
        let mut response = match self {
            ErrorSurface::Rest => (status, Json(ErrorEnvelope::new(&error))).into_response(),
            ErrorSurface::OpenAi => (status, Json(OpenAiError::new(&error))).into_response(),
            ErrorSurface::ChatApi => (status, Json(ChatApiError::new(&error))).into_response(),
        };
        if let Some(cause) = error.failure_cause() {
            response.extensions_mut().insert(FailureCause(cause));
        }
        if let Some(seconds) = error.retry_after() {
            response.headers_mut().insert(RETRY_AFTER, seconds.into());
        }
        response.extensions_mut().insert(RenderedError { error, surface: self });
        response
    }
}

/// The REST error body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "VALIDATION_ERROR", "message": "Invalid request data",
    "details": [{"field": "commitMesage", "message": "Unknown field"}], "requestId": "req_01a22b0bdd4f7a2c8b1e3d5f7a9c0e2b"}}))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code such as `VALIDATION_ERROR`.
    pub code: &'static str,
    pub message: String,
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<FieldError>,
    #[serde(rename = "requestId")]
    pub request_id: String,
}

impl ErrorEnvelope {
    fn new(error: &ApiError) -> Self {
        Self {
            error: ErrorBody {
                code: error.public_code(),
                message: error.message().to_owned(),
                details: error.details().to_vec(),
                request_id: current_request_id(),
            },
        }
    }
}

/// An error on the OpenAI surface (`/v1/…`), in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"message": "The model does not exist: no such agent, or no such version",
    "type": "invalid_request_error", "param": null, "code": "model_not_found"}}))]
pub struct OpenAiError {
    pub error: OpenAiErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, `rate_limit_error` or
    /// `api_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The first field at fault, for a request that was refused for its fields.
    pub param: Option<String>,
    /// A lower-case code such as `model_not_found` or `validation_error`; null for an unknown URL or
    /// method, as OpenAI answers those.
    pub code: Option<String>,
}

impl OpenAiError {
    fn new(error: &ApiError) -> Self {
        let kind = match error.status().as_u16() {
            400 | 404 | 405 | 409 | 413 | 415 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            _ => "api_error",
        };
        let code = match (error.surface_code(), error.code()) {
            (Some(code), _) => Some(code.to_ascii_lowercase()),
            (None, ErrorCode::NotFound | ErrorCode::MethodNotAllowed) => None,
            (None, code) => Some(code.as_str().to_ascii_lowercase()),
        };
        Self {
            error: OpenAiErrorBody {
                message: error.message().to_owned(),
                kind,
                param: error.details().first().map(|d| d.field.clone()),
                code,
            },
        }
    }
}

/// An error on the chat API, with the codes of its reference.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_request", "message": "Invalid request data",
    "details": [{"field": "messages", "message": "Must be a non-empty array of messages"}], "requestId": "req_01J…"}}))]
pub struct ChatApiError {
    pub error: ChatApiErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatApiErrorBody {
    /// `missing_api_key`, `invalid_api_key`, `invalid_api_key_format`, `insufficient_scope`,
    /// `api_not_enabled`, `bot_not_found`, `invalid_request`, `request_too_large`, `rate_limited`,
    /// `concurrent_limit`, `bot_rate_limited`, `bot_offline`, `container_error`, `timeout` or
    /// `internal_error`.
    pub code: &'static str,
    pub message: String,
    /// The fields at fault of an `invalid_request`.
    #[schema(value_type = Vec<Object>)]
    pub details: Vec<FieldError>,
    #[serde(rename = "requestId")]
    pub request_id: String,
    /// On a 429: seconds to wait before retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ChatApiError {
    fn new(error: &ApiError) -> Self {
        let status = error.status();
        Self {
            error: ChatApiErrorBody {
                code: error.surface_code().unwrap_or_else(|| chat_api_code(status)),
                message: error.message().to_owned(),
                details: error.details().to_vec(),
                request_id: current_request_id(),
                retry_after: error.retry_after().filter(|_| status == StatusCode::TOO_MANY_REQUESTS),
            },
        }
    }
}

/// The chat API's code for an error that has none of its own, by status.
fn chat_api_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "invalid_api_key",
        403 => "insufficient_scope",
        404 => "bot_not_found",
        413 => "request_too_large",
        429 => "rate_limited",
        503 => "bot_offline",
        504 => "timeout",
        s if s < 500 => "invalid_request",
        _ => "internal_error",
    }
}

/// The chat API names a 401 after what the request presented: no bearer token (`missing_api_key`), a
/// token that looks like a key but cannot be one (`invalid_api_key_format`), or a key that did not
/// authenticate (`invalid_api_key`).
pub fn chat_api_unauthorized_code(headers: &HeaderMap) -> &'static str {
    // The scheme is case-insensitive (RFC 9110): `bearer` is read like `Bearer`.
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token));
    match token.map(str::trim) {
        None | Some("") => "missing_api_key",
        Some(t) if ApiKeySecret::looks_like_key(t) && ApiKeySecret::parse(t).is_err() => "invalid_api_key_format",
        Some(_) => "invalid_api_key",
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use talon_domain::ValidationErrors;

    use super::*;

    #[test]
    fn openai_shape_names_the_first_field_and_no_code_for_unknown_urls() {
        let invalid = OpenAiError::new(&ApiError::validation(ValidationErrors::single("messages", "Required")));
        assert_eq!(invalid.error.kind, "invalid_request_error");
        assert_eq!(invalid.error.param.as_deref(), Some("messages"));
        assert_eq!(invalid.error.code.as_deref(), Some("validation_error"));
        let unknown = OpenAiError::new(&ApiError::new(ErrorCode::NotFound, "Invalid URL (GET /v1/x)"));
        assert_eq!((unknown.error.kind, unknown.error.code), ("invalid_request_error", None));
        let named = OpenAiError::new(&ApiError::new(ErrorCode::NotFound, "gone").with_code("model_not_found"));
        assert_eq!(named.error.code.as_deref(), Some("model_not_found"));
        let limited = OpenAiError::new(&ApiError::new(ErrorCode::RateLimited, "slow down"));
        assert_eq!((limited.error.kind, limited.error.code.as_deref()), ("rate_limit_error", Some("rate_limited")));
    }

    #[test]
    fn chat_api_codes_by_status_unless_named() {
        let code = |error: ApiError| ChatApiError::new(&error).error.code;
        assert_eq!(code(ApiError::validation(ValidationErrors::single("messages", "Required"))), "invalid_request");
        assert_eq!(code(ApiError::new(ErrorCode::PayloadTooLarge, "big")), "request_too_large");
        assert_eq!(code(ApiError::new(ErrorCode::UnsupportedMediaType, "json")), "invalid_request");
        assert_eq!(code(ApiError::internal("boom")), "internal_error");
        assert_eq!(code(ApiError::new(ErrorCode::UpstreamError, "x").with_code("bot_offline")), "bot_offline");
        let limited = ChatApiError::new(&ApiError::new(ErrorCode::RateLimited, "x").with_retry_after(7));
        assert_eq!(limited.error.retry_after, Some(7));
    }

    #[test]
    fn a_401_is_named_after_what_was_presented() {
        let with = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = value {
                headers.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            }
            chat_api_unauthorized_code(&headers)
        };
        assert_eq!(with(None), "missing_api_key");
        assert_eq!(with(Some("Basic abc")), "missing_api_key");
        assert_eq!(with(Some("Bearer tln_typo")), "invalid_api_key_format");
        assert_eq!(with(Some(&format!("bearer {}", ApiKeySecret::generate().expose()))), "invalid_api_key");
    }
}
