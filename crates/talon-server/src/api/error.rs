//! The one error type of the HTTP layer. Each variant of `ErrorCode` is a stable string that clients
//! match on and maps to exactly one status. An `ApiError` is rendered by the surface of the route it
//! happened on (`surface`): the REST envelope `{"error": {"code", "message", "details", "requestId"}}`,
//! OpenAI's shape on `/v1`, or the chat API's codes.

mod surface;

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use talon_domain::{FieldError, ValidationErrors};

pub use surface::{
    ChatApiError, ChatApiErrorBody, ErrorBody, ErrorEnvelope, ErrorSurface, OpenAiError, OpenAiErrorBody,
    RenderedError, chat_api_unauthorized_code,
};

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

#[derive(Debug, Clone)]
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

    /// The surface's own code, when one was given.
    pub fn surface_code(&self) -> Option<&'static str> {
        self.public_code
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The bad fields of a validation error.
    pub fn details(&self) -> &[FieldError] {
        &self.details
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// What the request log reports behind a 5xx: the cause, else the message.
    pub fn failure_cause(&self) -> Option<String> {
        match &self.internal {
            Some(cause) => Some(cause.clone()),
            None if self.status().is_server_error() => Some(self.message.to_string()),
            None => None,
        }
    }

    /// An error the framework answered without a body of Talon's (an unknown route, a wrong method, a
    /// body over the limit, a rejected path), by its status.
    pub fn for_status(status: StatusCode) -> Self {
        let code = ErrorCode::for_status(status);
        let message: Cow<'static, str> = match code {
            ErrorCode::NotFound => "No such resource".into(),
            ErrorCode::MethodNotAllowed => "Method not allowed on this path".into(),
            ErrorCode::PayloadTooLarge => "Request body is too large".into(),
            ErrorCode::Internal => "Internal server error".into(),
            _ => status.canonical_reason().unwrap_or("Request failed").into(),
        };
        Self::new(code, message)
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

impl IntoResponse for ApiError {
    /// The REST envelope; a route of another surface re-renders the error in its own shape.
    fn into_response(self) -> Response {
        ErrorSurface::Rest.render(self)
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
            E::NotFoundAt { what, field } => {
                let mut details = ValidationErrors::new();
                details.add(field, format!("{what} not found"));
                Self { details: details.into_fields(), ..ApiError::not_found(what) }
            }
            E::LabelNotFound(label) => {
                Self::new(ErrorCode::NotFound, format!("Label `{label}` not found; see GET /api/agents/{{id}}/labels"))
            }
            E::Forbidden(message) => ApiError::forbidden(message),
            E::EvaluationRequired { message, failing } => {
                let mut details = ValidationErrors::new();
                for case in failing {
                    details.add("requireEvaluation", format!("Case `{case}` did not pass"));
                }
                Self { details: details.into_fields(), ..ApiError::conflict(message) }
            }
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
