//! `ApiJson<T>`: a JSON body extractor whose every failure is an `ApiError` with a useful message: the
//! field path for a wrong type, 413 for a body over the limit, 415 for a body that is not JSON, and 400
//! naming the field for a NUL character anywhere (PostgreSQL text cannot hold one, so no body may carry it).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use talon_domain::ValidationErrors;

use crate::api::error::{ApiError, ErrorCode};

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
    // Raw control characters are invalid JSON, so a NUL can only arrive as the escape `\u0000`: bodies
    // without that text (almost all) skip the walk.
    if bytes.windows(6).any(|w| w == br"\u0000") {
        reject_nul(bytes)?;
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

/// 400 naming the first string or key that holds a NUL; malformed JSON is left to the typed parse.
fn reject_nul(bytes: &[u8]) -> Result<(), ApiError> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_path(&value) {
        Some(field) => {
            Err(ApiError::validation(ValidationErrors::single(field, "Must not contain the NUL character (\\u0000)")))
        }
        None => Ok(()),
    }
}

/// The path (`a.b[2].c`, or `body` for the top level) of the first string or object key containing NUL.
/// Iterative, so that deeply nested bodies cannot exhaust the stack.
pub fn nul_path(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let mut stack: Vec<(String, &Value)> = vec![(String::new(), value)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::String(s) if s.contains('\0') => return Some(if path.is_empty() { "body".into() } else { path }),
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().rev().map(|(i, item)| (format!("{path}[{i}]"), item)));
            }
            Value::Object(fields) => {
                let mut children = Vec::with_capacity(fields.len());
                for (key, item) in fields {
                    let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    if key.contains('\0') {
                        return Some(child.replace('\0', "\\u0000"));
                    }
                    children.push((child, item));
                }
                stack.extend(children.into_iter().rev());
            }
            _ => {}
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_is_found_in_strings_and_keys_at_any_depth() {
        assert_eq!(nul_path(&json!({"a": "ok", "b": [1, {"c": "x\u{0}y"}]})).as_deref(), Some("b[1].c"));
        assert_eq!(nul_path(&json!({"input": {"k\u{0}": 1}})).as_deref(), Some("input.k\\u0000"));
        assert_eq!(nul_path(&json!("\u{0}")).as_deref(), Some("body"));
        assert_eq!(nul_path(&json!({"a": "\\u0000 is only text here"})), None);
    }

    #[test]
    fn a_body_with_an_escaped_nul_is_a_validation_error() {
        let err = parse::<JsonObject>(br#"{"prompt": "a\u0000b"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
        // An escaped backslash followed by "u0000" is harmless text.
        assert!(parse::<JsonObject>(br#"{"prompt": "a\\u0000b"}"#).is_ok());
    }
}
