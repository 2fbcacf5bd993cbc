use std::time::Duration;

/// Why an upstream call failed. Whether a fallback may follow depends on the kind (and on whether any
/// content was already sent, which the gateway tracks).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error("could not reach the provider: {0}")]
    Connect(String),
    #[error("the provider answered {status}: {message}")]
    Status { status: u16, message: String, retry_after: Option<Duration> },
    #[error("no first token within {0:?}")]
    FirstTokenTimeout(Duration),
    #[error("the stream stalled for {0:?}")]
    Stalled(Duration),
    #[error("the answer took longer than {0:?}")]
    Deadline(Duration),
    #[error("the provider sent a malformed chunk: {0}")]
    Malformed(String),
    #[error("the provider ended the stream without finishing")]
    Cut,
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    #[error("the provider's API key variable {0} is not set")]
    MissingKey(String),
}

impl ProviderError {
    /// Connect errors, 429, 5xx and a slow first token mean "try the fallback" (if nothing was sent yet).
    pub fn allows_fallback(&self) -> bool {
        match self {
            ProviderError::Connect(_) | ProviderError::FirstTokenTimeout(_) => true,
            ProviderError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_failures_fall_back() {
        let status = |s| ProviderError::Status { status: s, message: String::new(), retry_after: None };
        assert!(ProviderError::Connect("refused".into()).allows_fallback());
        assert!(ProviderError::FirstTokenTimeout(Duration::from_secs(1)).allows_fallback());
        assert!(status(429).allows_fallback());
        assert!(status(503).allows_fallback());
        assert!(!status(400).allows_fallback());
        assert!(!status(401).allows_fallback());
        assert!(!ProviderError::Cut.allows_fallback());
        assert!(!ProviderError::Malformed("x".into()).allows_fallback());
    }
}
