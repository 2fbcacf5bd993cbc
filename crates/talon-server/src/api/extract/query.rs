//! `ApiQuery<T>`: the query string as a typed struct, every bad parameter reported at once in the same
//! words as a body's fields. Parameters `T` does not name are ignored, as HTTP caches and proxies may
//! add their own.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use talon_domain::ValidationErrors;
use url::form_urlencoded;

use super::json::plain_message;
use crate::api::error::ApiError;

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut errors = ValidationErrors::new();
    // Each round drops the parameter at fault, so the rounds are bounded by the parameters.
    loop {
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(value) if errors.is_empty() => return Ok(value),
            Ok(_) => return Err(ApiError::validation(errors)),
            Err(err) => {
                let name = err.path().iter().find_map(|segment| match segment {
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    _ => None,
                });
                let raw = err.into_inner().to_string();
                let name = name.or_else(|| quoted(&raw, "missing field `")).unwrap_or_else(|| "query".to_owned());
                let message = if raw.starts_with("missing field") {
                    "Required field missing".to_owned()
                } else {
                    plain_message(&raw)
                };
                if !errors.fields().iter().any(|e| e.field == name) {
                    errors.add(name.clone(), message);
                }
                let before = pairs.len();
                pairs.retain(|(key, _)| *key != name);
                if pairs.len() == before {
                    return Err(ApiError::validation(errors));
                }
            }
        }
    }
}

fn quoted(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_owned())
}

/// An integer from `MIN` to `MAX`, refused with one message that states the range (which the OpenAPI
/// document states too: give the field `minimum` and `maximum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bounded<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<const MIN: i64, const MAX: i64>;
        impl<const MIN: i64, const MAX: i64> Visitor<MIN, MAX> {
            fn check<E: de::Error>(n: Option<i64>) -> Result<Bounded<MIN, MAX>, E> {
                match n {
                    Some(n) if (MIN..=MAX).contains(&n) => Ok(Bounded(n)),
                    _ => Err(E::custom(format!("Must be an integer from {MIN} to {MAX}"))),
                }
            }
        }
        impl<const MIN: i64, const MAX: i64> de::Visitor<'_> for Visitor<MIN, MAX> {
            type Value = Bounded<MIN, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an integer from {MIN} to {MAX}")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Self::check(Some(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Self::check(i64::try_from(n).ok())
            }
            // JSON does not tell 3 from 3.0, and JSON Schema counts both as integers.
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                let whole = n.fract() == 0.0 && n >= i64::MIN as f64 && n <= i64::MAX as f64;
                Self::check(whole.then_some(n as i64))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Self::check(s.parse().ok())
            }
        }
        // Asking for an integer lets a query string's text (parsed by its deserializer) and a body's JSON
        // number in, and keeps a body's string out, as the document's `integer` says. Every refusal reads
        // the same, whichever deserializer refused.
        deserializer
            .deserialize_i64(Visitor::<MIN, MAX>)
            .map_err(|_| de::Error::custom(format!("Must be an integer from {MIN} to {MAX}")))
    }
}

/// Any integer, written as JSON Schema counts integers (`3` or `3.0`), for fields whose range the domain
/// checks together with the body's other rules (so every bad field is reported at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer(pub i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Bounded::<{ i64::MIN }, { i64::MAX }>::deserialize(deserializer)
            .map(|n| Integer(n.get()))
            .map_err(|_| de::Error::custom("Must be an integer"))
    }
}

/// `true` or `false` only, in a query string or a body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(b))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Flag, E> {
                match s {
                    "true" => Ok(Flag(true)),
                    "false" => Ok(Flag(false)),
                    _ => Err(E::custom("Must be true or false")),
                }
            }
        }
        deserializer.deserialize_bool(Visitor).map_err(|_| de::Error::custom("Must be true or false"))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::api::error::ErrorCode;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Listing {
        page: Option<Bounded<1, 2147483647>>,
        limit: Option<Bounded<1, 100>>,
        force: Option<Flag>,
    }

    fn errors(query: &str) -> Vec<(String, String)> {
        let err = parse::<Listing>(query).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
        err.details().iter().map(|e| (e.field.clone(), e.message.clone())).collect()
    }

    #[test]
    fn ranges_and_flags_are_checked_and_every_bad_parameter_reported() {
        let ok = parse::<Listing>("page=2&limit=100&force=true&cachebuster=1").unwrap();
        assert_eq!(
            (ok.page.map(Bounded::get), ok.limit.map(Bounded::get), ok.force),
            (Some(2), Some(100), Some(Flag(true)))
        );
        assert_eq!(
            errors("page=0&limit=abc&force=yes"),
            vec![
                ("page".to_owned(), "Must be an integer from 1 to 2147483647".to_owned()),
                ("limit".to_owned(), "Must be an integer from 1 to 100".to_owned()),
                ("force".to_owned(), "Must be true or false".to_owned()),
            ]
        );
        assert_eq!(errors("limit=101"), vec![("limit".to_owned(), "Must be an integer from 1 to 100".to_owned())]);
        assert_eq!(errors("limit=2.5"), vec![("limit".to_owned(), "Must be an integer from 1 to 100".to_owned())]);
        let whole: Bounded<1, 100> = serde_json::from_str("94.0").unwrap();
        assert_eq!(whole.get(), 94);
        assert!(serde_json::from_str::<Bounded<1, 100>>("94.5").is_err());
        // In a body, a number is a JSON number: "5" is text.
        assert!(serde_json::from_str::<Bounded<1, 100>>("\"5\"").is_err());
        assert_eq!(serde_json::from_str::<Flag>("true").ok(), Some(Flag(true)));
        assert!(serde_json::from_str::<Flag>("\"true\"").is_err());
    }
}
