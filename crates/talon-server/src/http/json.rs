//! `ApiJson<T>`: a JSON body extractor whose every failure is an `ApiError` with a useful message: the
//! field path for a wrong type, 413 for a body over the limit, 415 for a body that is not JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use talon_domain::ValidationErrors;

use super::error::{ApiError, ErrorCode};

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let declared = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if let Some(content_type) = declared {
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if !(essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")) {
                return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "Content-Type must be application/json"));
            }
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "Request body is too large")
            } else {
                ApiError::new(ErrorCode::BadRequest, "Could not read the request body")
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::BadRequest, "Request body is empty; expected a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(ErrorCode::BadRequest, format!("Malformed JSON: {inner}"))
        } else {
            let field = if field == "." { "body".to_owned() } else { field };
            ApiError::validation(ValidationErrors::single(field, strip_position(&inner.to_string())))
        }
    })?;
    deserializer.end().map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("Malformed JSON: {e}")))?;
    Ok(value)
}

/// serde_json appends " at line 1 column 12"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A JSON object body, kept loose so that handlers can report every bad field at once.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// An optional JSON object body: empty means `{}`.
pub fn optional_object(bytes: &[u8]) -> Result<JsonObject, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) { Ok(JsonObject::new()) } else { parse(bytes) }
}

/// An optional string field: absent or null is `None`, anything but a string is a validation error.
pub fn optional_string(body: &JsonObject, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::validation(ValidationErrors::single(field, "Must be a string"))),
    }
}

/// An optional boolean field: absent or null is `None`; anything but a boolean is reported in `errors`.
pub fn optional_bool(body: &JsonObject, field: &str, errors: &mut ValidationErrors) -> Option<bool> {
    match body.get(field) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.add(field, "Must be true or false");
            None
        }
    }
}
