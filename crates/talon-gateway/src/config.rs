//! `[[providers]]` in the TOML file named by `TALON_CONFIG`.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible server: OpenAI, vLLM, Ollama, llama.cpp, …
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Models of this provider are named `<name>/<model>`.
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    /// The environment variable holding the API key, if the provider needs one.
    pub api_key_env: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("provider name `{0}` must be 1-64 letters, digits, `-` or `_`")]
    BadName(String),
    #[error("provider `{0}` is defined twice")]
    Duplicate(String),
    #[error("provider `test` is built in and cannot be redefined")]
    Reserved,
    #[error("provider `{name}`: base_url must start with http:// or https://")]
    BadUrl { name: String },
}

/// Checks a set of provider definitions.
pub fn validate(providers: &[ProviderConfig]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for p in providers {
        let valid = !p.name.is_empty()
            && p.name.len() <= 64
            && p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ConfigError::BadName(p.name.clone()));
        }
        if p.name == crate::providers::echo::PROVIDER {
            return Err(ConfigError::Reserved);
        }
        if !seen.insert(p.name.as_str()) {
            return Err(ConfigError::Duplicate(p.name.clone()));
        }
        if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
            return Err(ConfigError::BadUrl { name: p.name.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, url: &str) -> ProviderConfig {
        ProviderConfig { name: name.into(), kind: ProviderKind::Openai, base_url: url.into(), api_key_env: None }
    }

    #[test]
    fn validation() {
        assert!(validate(&[provider("local", "http://127.0.0.1:11434/v1")]).is_ok());
        assert_eq!(validate(&[provider("test", "http://x")]), Err(ConfigError::Reserved));
        assert!(matches!(validate(&[provider("a b", "http://x")]), Err(ConfigError::BadName(_))));
        assert!(matches!(
            validate(&[provider("a", "http://x"), provider("a", "http://y")]),
            Err(ConfigError::Duplicate(_))
        ));
        assert!(matches!(validate(&[provider("a", "ftp://x")]), Err(ConfigError::BadUrl { .. })));
    }
}
