use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};

use crate::ProviderError;
use crate::config::{ProviderConfig, ProviderKind};
use crate::providers::echo::{self, Echo};
use crate::providers::openai::OpenAiCompatible;
use crate::providers::{ChunkStream, Provider};
use crate::types::ChatRequest;

/// The providers Talon can reach, and the timeouts it holds them to.
pub struct Gateway {
    providers: HashMap<String, Arc<dyn Provider>>,
    /// How long a model may take to send its first chunk before the fallback is tried.
    pub first_token_timeout: Duration,
    /// How long a started stream may go quiet before it is ended as stalled.
    pub idle_timeout: Duration,
}

/// A stream that has produced its first chunk, and where it came from.
pub struct Opened {
    /// The `provider/model` that is answering.
    pub model: String,
    pub fell_back: bool,
    pub test_provider: bool,
    /// When the first chunk arrived.
    pub first_chunk_at: Instant,
    /// Every chunk, the first included; ends with an error if the upstream fails part-way.
    pub stream: ChunkStream,
}

/// Every model tried failed before sending anything.
#[derive(Debug, thiserror::Error)]
#[error("{}", .attempts.last().map_or_else(|| "no model to try".to_owned(), |(m, e)| format!("{m}: {e}")))]
pub struct GatewayError {
    pub attempts: Vec<(String, ProviderError)>,
}

impl GatewayError {
    pub fn last(&self) -> Option<&ProviderError> {
        self.attempts.last().map(|(_, e)| e)
    }
}

impl Gateway {
    /// The configured providers plus the built-in `test` provider. Keys are read from the environment
    /// variables the configuration names.
    pub fn new(configs: &[ProviderConfig], client: reqwest::Client) -> Self {
        let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        providers.insert(echo::PROVIDER.to_owned(), Arc::new(Echo));
        for config in configs {
            let key = config.api_key_env.as_deref().and_then(|var| std::env::var(var).ok());
            let provider: Arc<dyn Provider> = match config.kind {
                ProviderKind::Openai => Arc::new(OpenAiCompatible::new(client.clone(), &config.base_url, key)),
                ProviderKind::Anthropic => {
                    Arc::new(crate::providers::anthropic::Anthropic::new(client.clone(), &config.base_url, key))
                }
            };
            providers.insert(config.name.clone(), provider);
        }
        Self { providers, first_token_timeout: Duration::from_secs(30), idle_timeout: Duration::from_secs(60) }
    }

    /// Whether `model` names a known provider (`provider/model`).
    pub fn knows(&self, model: &str) -> bool {
        model.split_once('/').is_some_and(|(provider, name)| !name.is_empty() && self.providers.contains_key(provider))
    }

    /// Opens a stream from the first of `models` that answers. A model that fails before its first
    /// chunk in a way that allows it (connect error, 429, 5xx, slow first chunk) hands over to the next.
    pub async fn open(&self, models: &[&str], request: &ChatRequest) -> Result<Opened, GatewayError> {
        let mut attempts = Vec::new();
        for (i, model) in models.iter().enumerate() {
            let last = i + 1 == models.len();
            match self.try_model(model, request).await {
                Ok(mut opened) => {
                    opened.fell_back = i > 0;
                    return Ok(opened);
                }
                Err(e) => {
                    let retry = e.allows_fallback() && !last;
                    tracing::warn!(model, error = %e, fallback = retry, "model failed before answering");
                    attempts.push((model.to_string(), e));
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(GatewayError { attempts })
    }

    async fn try_model(&self, model: &str, request: &ChatRequest) -> Result<Opened, ProviderError> {
        let (provider_name, name) =
            model.split_once('/').ok_or_else(|| ProviderError::UnknownModel(model.to_owned()))?;
        let provider =
            self.providers.get(provider_name).ok_or_else(|| ProviderError::UnknownModel(model.to_owned()))?;
        let timeout = self.first_token_timeout;
        let mut upstream = tokio::time::timeout(timeout, provider.stream(name, request))
            .await
            .map_err(|_| ProviderError::FirstTokenTimeout(timeout))??;
        let first = tokio::time::timeout(timeout, upstream.next())
            .await
            .map_err(|_| ProviderError::FirstTokenTimeout(timeout))?
            .unwrap_or(Err(ProviderError::Cut))?;
        let first_chunk_at = Instant::now();
        let idle = self.idle_timeout;
        let rest = stream::unfold((upstream, false), move |(mut upstream, ended)| async move {
            if ended {
                return None;
            }
            match tokio::time::timeout(idle, upstream.next()).await {
                Err(_) => Some((Err(ProviderError::Stalled(idle)), (upstream, true))),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((Err(e), (upstream, true))),
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), (upstream, false))),
            }
        });
        Ok(Opened {
            model: model.to_owned(),
            fell_back: false,
            test_provider: provider.is_test(),
            first_chunk_at,
            stream: Box::pin(stream::once(async move { Ok(first) }).chain(rest)),
        })
    }
}
