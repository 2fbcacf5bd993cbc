//! The dashboard's one error type: what a page could not do, rendered as a page (or, for scripts, as
//! text) with the status the API would give for the same fault.

use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout;
use crate::api::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No signed-in session: to the sign-in page, and back to `back_to` afterwards.
    #[error("sign in first")]
    SignIn { back_to: Option<String> },
    /// A state-changing request without this session's anti-forgery token, or from another site.
    #[error("the form has expired or came from another site; reload the page and try again")]
    Forgery,
    /// What the services or the API rules refused, with the API's status and message.
    #[error("{}", .0.message())]
    Api(ApiError),
}

impl WebError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        WebError::Api(ApiError::internal(cause))
    }

    pub fn not_found(what: &str) -> Self {
        WebError::Api(ApiError::not_found(what))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        WebError::Api(ApiError::new(crate::api::error::ErrorCode::BadRequest, message.into()))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } => StatusCode::SEE_OTHER,
            WebError::Forgery => StatusCode::FORBIDDEN,
            WebError::Api(e) => e.status(),
        }
    }

    /// The message a person reads, with each bad field's own message.
    pub fn message(&self) -> String {
        match self {
            WebError::Api(e) if !e.details().is_empty() => {
                let fields: Vec<String> = e.details().iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
                format!("{} ({})", e.message(), fields.join("; "))
            }
            other => other.to_string(),
        }
    }
}

impl<E: Into<ApiError>> From<E> for WebError {
    fn from(e: E) -> Self {
        WebError::Api(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::SignIn { back_to } = &self {
            let target = match back_to {
                Some(path) if path != "/" => {
                    let encoded = percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC);
                    format!("/login?next={encoded}")
                }
                _ => "/login".to_owned(),
            };
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(&target) {
                response.headers_mut().insert(LOCATION, value);
            }
            return response;
        }
        let status = self.status();
        if let WebError::Api(e) = &self
            && let Some(cause) = e.failure_cause()
        {
            tracing::error!(status = status.as_u16(), cause = %cause, "dashboard request failed");
        }
        let message = self.message();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = layout::bare(
            title,
            html! {
                main.narrow {
                    h1 { (status.as_u16()) " " (title) }
                    p role="alert" { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                }
            },
        );
        let mut response = (status, body).into_response();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        response
    }
}
