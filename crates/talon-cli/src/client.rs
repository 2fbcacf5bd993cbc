//! The HTTP client of a Talon server's public API: bearer credentials, JSON in and out, and the
//! server's error envelope turned into `CliError::Api` with its code, message and request id.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Target;
use crate::error::CliError;

#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    credential: Option<String>,
}

impl ApiClient {
    pub fn new(target: &Target) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("talon-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| CliError::Protocol(format!("building the HTTP client: {e}")))?;
        Ok(ApiClient { http, base: target.url.clone(), credential: target.credential.clone() })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A request to `path` (starting with `/`), with the credential when there is one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.credential {
            Some(credential) => request.bearer_auth(credential),
            None => request,
        }
    }

    /// Like `request`, refusing to go on without a credential.
    pub fn authed(&self, method: Method, path: &str) -> Result<RequestBuilder, CliError> {
        if self.credential.is_none() {
            return Err(CliError::NotSignedIn);
        }
        Ok(self.request(method, path))
    }

    /// Sends `request`; a non-2xx answer becomes `CliError::Api`.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, CliError> {
        let response =
            request.send().await.map_err(|source| CliError::Unreachable { url: self.base.clone(), source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(error_of(response).await)
    }

    /// Sends `request` and reads the answer as `T`.
    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, CliError> {
        let response = self.send(request).await?;
        let bytes =
            response.bytes().await.map_err(|source| CliError::Unreachable { url: self.base.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|e| CliError::Protocol(format!("{e}")))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.json(self.authed(Method::GET, path)?).await
    }

    /// `get` with a query string made from `query` (pairs whose value is `None` are left out).
    pub async fn get_query<Q: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, CliError> {
        self.json(self.authed(Method::GET, path)?.query(query)).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.json(self.authed(Method::POST, path)?.json(body)).await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.json(self.authed(Method::PATCH, path)?.json(body)).await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.json(self.authed(Method::PUT, path)?.json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), CliError> {
        self.send(self.authed(Method::DELETE, path)?).await.map(|_| ())
    }
}

/// The error envelope (`{"error": {"code", "message", "requestId"}}`), or the status alone when the body
/// is something else (a proxy's page).
async fn error_of(response: Response) -> CliError {
    let status = response.status().as_u16();
    let header_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let error = &body["error"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let mut message = text(&error["message"])
        .or_else(|| text(&body["error"]))
        .unwrap_or_else(|| StatusCode::from_u16(status).map(|s| s.to_string()).unwrap_or_default());
    // Validation errors name each field that was wrong: those are what the user must fix. A refused
    // `requireEvaluation` gate names each failing case instead, possibly hundreds: one a line.
    let mut fields = Vec::new();
    let mut details = Vec::new();
    for detail in error["details"].as_array().into_iter().flatten() {
        let (Some(field), Some(said)) = (text(&detail["field"]), text(&detail["message"])) else { continue };
        if status == 409 && field == GATE_FIELD {
            details.push(said);
        } else {
            fields.push(format!("{field}: {said}"));
        }
    }
    if !fields.is_empty() {
        message = format!("{message}: {}", fields.join("; "));
    }
    CliError::Api {
        status,
        code: text(&error["code"]).unwrap_or_else(|| format!("HTTP_{status}")),
        message,
        request_id: text(&error["requestId"]).or(header_id),
        details,
    }
}

/// The field a refused evaluation gate's details name, one per failing case.
const GATE_FIELD: &str = "requireEvaluation";

/// What a path segment leaves as it is: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `text` escaped for one path segment (slugs and ids need none, but names typed by hand might).
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn a_segment_escapes_all_but_the_unreserved_characters() {
        assert_eq!(segment("support-bot_2.x~"), "support-bot_2.x~");
        assert_eq!(segment("a b/c?d#é"), "a%20b%2Fc%3Fd%23%C3%A9");
    }
}
