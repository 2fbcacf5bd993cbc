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

/// A body that may be left out: no body (or only whitespace) is `T::default()`.
pub struct MaybeJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            Ok(MaybeJson(T::default()))
        } else {
            parse(&bytes).map(MaybeJson)
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        parse(&body_bytes(request, state).await?).map(ApiJson)
    }
}

/// The body of a request that declares JSON (or nothing), within the size limit.
async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
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
    Ok(bytes)
}

/// Parses a JSON body into `T`, reporting every bad field at once: each wrong type, each missing
/// required field and, for request types that `deny_unknown_fields`, each unknown field, all as one
/// 400 `VALIDATION_ERROR` whose `details` name the fields.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::BadRequest, "Request body is empty; expected a JSON object"));
    }
    // Raw control characters are invalid JSON, so a NUL can only arrive as the escape `\u0000`: bodies
    // without that text (almost all) skip the walk.
    if bytes.windows(6).any(|w| w == br"\u0000") {
        reject_nul(bytes)?;
    }
    // serde would read a struct from an array too; a request body is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::validation(ValidationErrors::single("body", "Must be a JSON object"))),
            Err(e) => Err(ApiError::new(ErrorCode::BadRequest, format!("Malformed JSON: {e}"))),
        };
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let first = serde_path_to_error::deserialize::<_, T>(&mut deserializer);
    let first_error = match first {
        Ok(value) => {
            deserializer.end().map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("Malformed JSON: {e}")))?;
            return Ok(value);
        }
        Err(err) if err.inner().is_syntax() || err.inner().is_eof() => {
            return Err(ApiError::new(ErrorCode::BadRequest, format!("Malformed JSON: {}", err.into_inner())));
        }
        Err(err) => err,
    };
    // The body is JSON but not a valid `T`: find every bad field by taking each one out in turn.
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(ApiError::new(ErrorCode::BadRequest, "Malformed JSON"));
    };
    let mut errors = ValidationErrors::new();
    let mut next = Some(first_error);
    // Each round removes one field, so the body's size bounds the rounds; the cap bounds the work.
    for _ in 0..MAX_FIELD_ERRORS {
        let Some(err) = next.take() else { break };
        let fault = FieldFault::of(&err);
        let removed = fault.remove_from(&mut value);
        // A field taken out for its type is then missing; it is reported once.
        if !errors.fields().iter().any(|e| e.field == fault.field) {
            errors.add(fault.field, fault.message);
        }
        if !removed {
            break;
        }
        next = serde_path_to_error::deserialize::<_, T>(&value).err();
    }
    Err(ApiError::validation(errors))
}

/// How many field errors one response lists at most.
const MAX_FIELD_ERRORS: usize = 50;

/// One bad field: where it is (`a.b[2].c`, `body` for the top level) and what is wrong, in the words
/// every surface uses.
#[derive(Debug, PartialEq)]
struct FieldFault {
    field: String,
    /// The path's segments, to take the field out and look again.
    segments: Vec<Segment>,
    message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl FieldFault {
    fn of<E: std::fmt::Display>(err: &serde_path_to_error::Error<E>) -> Self {
        use serde_path_to_error::Segment as S;
        let mut segments: Vec<Segment> = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Enum { .. } | S::Unknown => None,
            })
            .collect();
        let raw = strip_position(&err.inner().to_string());
        let message = if let Some(name) = quoted_after(&raw, "unknown field `") {
            // The path may already end at the unknown key; name it once.
            if segments.last() != Some(&Segment::Key(name.clone())) {
                segments.push(Segment::Key(name));
            }
            "Unknown field".to_owned()
        } else if let Some(name) = quoted_after(&raw, "missing field `") {
            segments.push(Segment::Key(name));
            "Required field missing".to_owned()
        } else {
            plain_message(&raw)
        };
        let field = render_path(&segments);
        Self { field, segments, message }
    }

    /// Takes the field out of `value` so that the next look finds the next fault; for a missing field,
    /// the object that lacks it (a missing top-level field ends the search: serde reports those last);
    /// for an array item, the whole array, so that the paths of later faults keep their indexes.
    /// False when there is nothing to take out.
    fn remove_from(&self, value: &mut serde_json::Value) -> bool {
        let mut segments = match self.message.as_str() {
            "Required field missing" => &self.segments[..self.segments.len().saturating_sub(1)],
            _ => &self.segments[..],
        };
        while let Some((Segment::Index(_), rest)) = segments.split_last() {
            segments = rest;
        }
        let Some((last, parents)) = segments.split_last() else { return false };
        let mut node = value;
        for segment in parents {
            node = match (segment, node) {
                (Segment::Key(key), serde_json::Value::Object(map)) => match map.get_mut(key) {
                    Some(child) => child,
                    None => return false,
                },
                (Segment::Index(i), serde_json::Value::Array(items)) => match items.get_mut(*i) {
                    Some(child) => child,
                    None => return false,
                },
                _ => return false,
            };
        }
        match (last, node) {
            (Segment::Key(key), serde_json::Value::Object(map)) => map.remove(key).is_some(),
            _ => false,
        }
    }
}

fn render_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) if out.is_empty() => out.push_str(key),
            Segment::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { "body".to_owned() } else { out }
}

/// The text between the first backticks after `prefix`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_owned())
}

/// serde's "invalid type: integer `5`, expected a string" as "Must be a string"; the messages of
/// Talon's own types (ranges, formats) pass through as written.
pub(super) fn plain_message(raw: &str) -> String {
    let expected = raw.split_once(", expected ").map(|(_, e)| e);
    match expected {
        Some(expected) if raw.starts_with("invalid type") || raw.starts_with("invalid value") => {
            format!("Must be {}", describe_expected(expected))
        }
        _ if raw.starts_with("unknown variant `") => match raw.split_once(", expected ") {
            Some((_, allowed)) => format!("Must be {}", allowed.replace('`', "\"").replace("one of ", "one of: ")),
            None => raw.to_owned(),
        },
        _ => raw.to_owned(),
    }
}

fn describe_expected(expected: &str) -> String {
    match expected {
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "an object".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        e if e.starts_with("struct ") => "an object".to_owned(),
        e => e.to_owned(),
    }
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

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Model {
        primary: String,
        fallback: Option<Vec<String>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        name: String,
        public: Option<bool>,
        limit: Option<u32>,
        model: Option<Model>,
        commit_message: Option<String>,
    }

    fn field_errors(body: serde_json::Value) -> Vec<(String, String)> {
        let err = parse::<Body>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
        let mut fields: Vec<_> = err.details().iter().map(|e| (e.field.clone(), e.message.clone())).collect();
        fields.sort();
        fields
    }

    #[test]
    fn every_unknown_field_and_wrong_type_is_reported_together() {
        let errors = field_errors(json!({
            "name": 5, "colour": "blue", "commitMesage": "typo", "public": "yes", "limit": -1,
            "model": {"primary": "openai/gpt", "fallbak": ["x"]}
        }));
        assert_eq!(
            errors,
            vec![
                ("colour".to_owned(), "Unknown field".to_owned()),
                ("commitMesage".to_owned(), "Unknown field".to_owned()),
                ("limit".to_owned(), "Must be an integer".to_owned()),
                ("model.fallbak".to_owned(), "Unknown field".to_owned()),
                ("name".to_owned(), "Must be a string".to_owned()),
                ("public".to_owned(), "Must be true or false".to_owned()),
            ]
        );
    }

    #[test]
    fn missing_fields_are_required_and_array_items_keep_their_index() {
        assert_eq!(field_errors(json!({})), vec![("name".to_owned(), "Required field missing".to_owned())]);
        let errors = field_errors(json!({"name": "x", "model": {"primary": "p", "fallback": ["a", 2, 3]}}));
        assert_eq!(errors, vec![("model.fallback[1]".to_owned(), "Must be a string".to_owned())]);
        let errors = field_errors(json!({"model": {"fallback": []}, "public": 1}));
        assert_eq!(
            errors,
            vec![
                ("model.primary".to_owned(), "Required field missing".to_owned()),
                ("name".to_owned(), "Required field missing".to_owned()),
                ("public".to_owned(), "Must be true or false".to_owned()),
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_one_error_about_the_body() {
        assert_eq!(field_errors(json!([1, 2])), vec![("body".to_owned(), "Must be a JSON object".to_owned())]);
        let malformed = parse::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(malformed.code(), ErrorCode::BadRequest);
    }

    #[test]
    fn a_body_with_an_escaped_nul_is_a_validation_error() {
        let err = parse::<serde_json::Map<String, serde_json::Value>>(br#"{"prompt": "a\u0000b"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
        // An escaped backslash followed by "u0000" is harmless text.
        assert!(parse::<serde_json::Map<String, serde_json::Value>>(br#"{"prompt": "a\\u0000b"}"#).is_ok());
    }
}
