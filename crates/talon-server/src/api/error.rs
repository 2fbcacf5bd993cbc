//! The one error type of the HTTP layer. Each variant of `ErrorCode` is a stable string that clients
//! match on and maps to exactly one status; every error body is the same envelope:
//! `{"error": {"code", "message", "details", "requestId"}}`.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use talon_domain::{FieldError, ValidationErrors};
use utoipa::ToSchema;

use super::middleware::access_log::FailureCause;
use super::middleware::request_id::current_request_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ValidationError,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyKeyReused,
    RateLimited,
    Internal,
    UpstreamError,
    Unavailable,
    UpstreamTimeout,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Internal => "INTERNAL_ERROR",
            ErrorCode::UpstreamError => "UPSTREAM_ERROR",
            ErrorCode::Unavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::UpstreamTimeout => "UPSTREAM_TIMEOUT",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationError | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::UpstreamError => StatusCode::BAD_GATEWAY,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The code a framework-generated error response of this status is reported under.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => ErrorCode::BadRequest,
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::IdempotencyKeyReused,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::BAD_GATEWAY => ErrorCode::UpstreamError,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
            StatusCode::GATEWAY_TIMEOUT => ErrorCode::UpstreamTimeout,
            s if s.is_client_error() => ErrorCode::BadRequest,
            _ => ErrorCode::Internal,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    /// A surface's own name for the error (the chat API's `bot_not_found`, …), shown instead of `code`.
    public_code: Option<&'static str>,
    message: Cow<'static, str>,
    details: Vec<FieldError>,
    /// What really went wrong behind a 5xx: logged with the request id, never sent.
    internal: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            public_code: None,
            message: message.into(),
            details: Vec::new(),
            internal: None,
            retry_after: None,
        }
    }

    /// Tells the client when to retry (`Retry-After`).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The same error under a surface's own code.
    pub fn with_code(mut self, public_code: &'static str) -> Self {
        self.public_code = Some(public_code);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The code the client sees: the surface's own, else the generic one.
    pub fn public_code(&self) -> &'static str {
        self.public_code.unwrap_or(self.code.as_str())
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The bad fields of a validation error.
    pub fn details(&self) -> &[FieldError] {
        &self.details
    }

    pub fn validation(errors: ValidationErrors) -> Self {
        Self { details: errors.into_fields(), ..Self::new(ErrorCode::ValidationError, "Invalid request data") }
    }

    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// A failure the client cannot fix. The cause is logged, the client sees only the request id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self { internal: Some(cause.to_string()), ..Self::new(ErrorCode::Internal, "Internal server error") }
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(cause.to_string()),
            ..Self::new(ErrorCode::Unavailable, "The service is temporarily unavailable")
        }
    }
}

/// The documented error body, for the OpenAPI document and for rendering.
#[derive(Debug, Serialize, ToSchema)]
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        // The request log line reports a 5xx's cause with its request id; the body never shows it.
        let cause = match self.internal {
            Some(cause) => Some(cause),
            None if self.code.status().is_server_error() => Some(self.message.to_string()),
            None => None,
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.public_code.unwrap_or(self.code.as_str()),
                message: self.message.into_owned(),
                details: self.details,
                request_id,
            },
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(cause) = cause {
            response.extensions_mut().insert(FailureCause(cause));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<crate::services::ServiceError> for ApiError {
    fn from(err: crate::services::ServiceError) -> Self {
        use crate::services::ServiceError as E;
        match err {
            E::Invalid(errors) => ApiError::validation(errors),
            E::Conflict(message) => ApiError::conflict(message),
            E::BadCredentials => ApiError::unauthorized("Invalid email or password"),
            E::NotFound(what) => ApiError::not_found(what),
            E::Store(e) => ApiError::internal(e),
            E::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(err: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as E;
        match err {
            E::Unauthorized(message) => ApiError::unauthorized(message),
            E::Forbidden(message) => ApiError::forbidden(message),
            E::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<crate::limits::auth::Refusal> for ApiError {
    fn from(refusal: crate::limits::auth::Refusal) -> Self {
        use crate::limits::auth::Refusal;
        match refusal {
            Refusal::RateLimited { message, retry_after } => {
                ApiError::new(ErrorCode::RateLimited, message).with_retry_after(retry_after)
            }
            Refusal::Busy { message, retry_after } => {
                ApiError::new(ErrorCode::Unavailable, message).with_retry_after(retry_after)
            }
        }
    }
}
