use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use talon_store::Store;

use crate::auth::Authenticator;
use crate::auth::jwt::JwtKeys;
use crate::config::ServerConfig;
use crate::http::metrics::prometheus;
use crate::limits::{
    ConcurrencyLimiter, LimiterError, MemoryConcurrency, MemoryLimiter, Plans, RateLimiter, RedisConcurrency,
    RedisLimiter, connect_redis,
};
use crate::services::OutboxSignal;
use crate::services::accounts::AccountService;
use crate::services::api_keys::ApiKeyService;
use crate::services::chat::{ChatLimits, ChatService};
use crate::services::registry::RegistryService;
use crate::services::tasks::TaskService;
use crate::services::usage::UsageService;
use crate::services::webhooks::WebhookService;
use crate::webhooks::sealing::SecretBox;

/// Settings handlers, middleware and background loops read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_body_bytes: usize,
    /// How long a JSON chat answer may take in all.
    pub chat_timeout: std::time::Duration,
    /// Runtime tasks answered at once by this server (0: none).
    pub runtime_workers: usize,
    /// How often a stream waiting for its first token sends `: keep-alive`.
    pub sse_keep_alive: std::time::Duration,
    /// How long a streamed chunk may wait for the caller to take it.
    pub stream_write_timeout: std::time::Duration,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Limiter(#[from] LimiterError),
    #[error(transparent)]
    WebhookClient(#[from] crate::webhooks::client::ClientError),
}

/// Everything a request may need, cheap to clone into each handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub authenticator: Arc<Authenticator>,
    pub accounts: Arc<AccountService>,
    pub api_keys: Arc<ApiKeyService>,
    pub registry: Arc<RegistryService>,
    pub chat: Arc<ChatService>,
    pub tasks: Arc<TaskService>,
    pub webhooks: Arc<WebhookService>,
    pub usage: Arc<UsageService>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Seals what is kept at rest under the server key (stored idempotent responses).
    pub sealer: Arc<SecretBox>,
    pub plans: Arc<Plans>,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
}

impl AppState {
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, StartError> {
        let jwt = Arc::new(JwtKeys::new(&config.jwt_secret, config.jwt_ttl));
        let (limiter, concurrency): (Arc<dyn RateLimiter>, Arc<dyn ConcurrencyLimiter>) = match &config.redis_url {
            Some(url) => {
                let connection = connect_redis(url).await?;
                (
                    Arc::new(RedisLimiter::new(connection.clone(), &config.redis_namespace)),
                    Arc::new(RedisConcurrency::new(connection, &config.redis_namespace)),
                )
            }
            None => (Arc::new(MemoryLimiter::default()), Arc::new(MemoryConcurrency::default())),
        };
        let plans = Arc::new(config.plans);
        let outbox = OutboxSignal::default();
        let providers = std::iter::once(talon_gateway::providers::echo::PROVIDER.to_owned())
            .chain(config.providers.iter().map(|p| p.name.clone()))
            .collect();
        let registry = Arc::new(RegistryService::new(store.clone(), outbox.clone(), providers));
        let mut gateway = talon_gateway::Gateway::new(&config.providers, reqwest::Client::new());
        gateway.first_token_timeout = config.first_token_timeout;
        let usage = Arc::new(UsageService::new(store.clone(), registry.clone()));
        let limits = ChatLimits { plans: plans.clone(), rate: limiter.clone(), concurrency };
        let chat = Arc::new(ChatService::new(
            store.clone(),
            registry.clone(),
            Arc::new(gateway),
            limits,
            usage.clone(),
            config.agent_error_after,
        ));
        Ok(Self {
            chat,
            tasks: Arc::new(TaskService::new(store.clone(), registry.clone(), outbox.clone())),
            webhooks: Arc::new(WebhookService::new(
                store.clone(),
                &config.secret_key,
                config.webhooks.clone(),
                outbox,
            )?),
            registry,
            authenticator: Arc::new(Authenticator::new(store.clone(), jwt.clone())),
            accounts: Arc::new(AccountService::new(store.clone(), jwt)),
            api_keys: Arc::new(ApiKeyService::new(store.clone())),
            store,
            limiter,
            sealer: Arc::new(SecretBox::new(&config.secret_key)),
            usage,
            plans,
            settings: Arc::new(Settings {
                max_body_bytes: config.max_body_bytes,
                chat_timeout: config.chat_timeout,
                runtime_workers: config.runtime_workers,
                sse_keep_alive: config.sse_keep_alive,
                stream_write_timeout: config.stream_write_timeout,
            }),
            metrics: prometheus(),
        })
    }
}
