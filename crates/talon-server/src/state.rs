use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use talon_store::Store;

use crate::api::middleware::metrics::prometheus;
use crate::auth::Authenticator;
use crate::auth::jwt::JwtKeys;
use crate::config::ServerConfig;
use crate::limits::{
    AuthGuard, ConcurrencyLimiter, FailoverConcurrency, FailoverLimiter, LimiterError, MemoryConcurrency,
    MemoryLimiter, Plans, RateLimiter, RedisConcurrency, RedisLimiter, RedisLink,
};
use crate::services::Signal;
use crate::services::accounts::AccountService;
use crate::services::api_keys::ApiKeyService;
use crate::services::audit::AuditService;
use crate::services::bus::{Bus, Topic};
use crate::services::cache::Caches;
use crate::services::chat::{ChatLimits, ChatService};
use crate::services::evaluations::EvaluationService;
use crate::services::marketplace::{Marketplace, MarketplaceDeps};
use crate::services::registry::RegistryService;
use crate::services::tasks::TaskService;
use crate::services::usage::UsageService;
use crate::services::webhooks::WebhookService;
use crate::services::webhooks::sealing::SecretBox;

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
    /// How long a Redis limiter call may take before the in-process fallback decides.
    pub redis_timeout: std::time::Duration,
    /// Take the client address from `X-Forwarded-For` (behind a trusted load balancer only).
    pub trust_proxy: bool,
    /// How long a connection may take to send a request's headers, and stay idle between requests.
    pub header_timeout: std::time::Duration,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// How long what grows without bound is kept.
    pub retention: crate::config::Retention,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Limiter(#[from] LimiterError),
    #[error(transparent)]
    WebhookClient(#[from] crate::services::webhooks::client::ClientError),
    #[error(transparent)]
    Bus(#[from] crate::services::bus::BusError),
}

/// Everything a request may need, cheap to clone into each handler and middleware: one shared
/// pointer. (As a struct of twenty shared pointers, each request's clones and drops of it took about 7 %
/// of the server's time on the chat path.)
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What `AppState` shares.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub authenticator: Arc<Authenticator>,
    /// Session tokens, and the dashboard's anti-forgery tokens derived from the same secret.
    pub jwt: Arc<JwtKeys>,
    pub accounts: Arc<AccountService>,
    pub api_keys: Arc<ApiKeyService>,
    /// The audit log, as an account reads it.
    pub audit: Arc<AuditService>,
    pub registry: Arc<RegistryService>,
    pub chat: Arc<ChatService>,
    pub tasks: Arc<TaskService>,
    /// Datasets, evaluation runs (driven by `workers::evaluations`) and the gate.
    pub evaluations: Arc<EvaluationService>,
    pub webhooks: Arc<WebhookService>,
    pub usage: Arc<UsageService>,
    pub marketplace: Arc<Marketplace>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Seals what is kept at rest under the server key (stored idempotent responses).
    pub sealer: Arc<SecretBox>,
    /// Limits on sign-in and registration, and the cap on concurrent password hashing.
    pub auth_guard: Arc<AuthGuard>,
    /// Redis, when limits are shared through it (`/readyz` reports whether it answers).
    pub redis: Option<RedisLink>,
    pub plans: Arc<Plans>,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
    /// What changed, told to every replica (wake-ups and cache invalidation).
    pub bus: Bus,
    /// API keys and agents as the hot paths read them, invalidated through `bus`.
    pub caches: Arc<Caches>,
}

impl AppState {
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, StartError> {
        let jwt = Arc::new(JwtKeys::new(&config.jwt_secret, config.jwt_ttl));
        let redis = match &config.redis_url {
            Some(url) => Some(RedisLink::connect(url, config.redis_timeout).await?),
            None => None,
        };
        let (limiter, concurrency): (Arc<dyn RateLimiter>, Arc<dyn ConcurrencyLimiter>) = match &redis {
            Some(link) => (
                Arc::new(FailoverLimiter::new(
                    RedisLimiter::new(link.clone(), &config.redis_namespace),
                    config.redis_timeout,
                )),
                Arc::new(FailoverConcurrency::new(
                    RedisConcurrency::new(link.clone(), &config.redis_namespace),
                    config.redis_timeout,
                )),
            ),
            None => (Arc::new(MemoryLimiter::default()), Arc::new(MemoryConcurrency::default())),
        };
        let auth_guard = Arc::new(AuthGuard::new(limiter.clone(), config.auth_limits));
        let plans = Arc::new(config.plans);
        let bus = Bus::for_deployment(
            store.as_ref(),
            config.redis_url.as_deref().zip(redis.as_ref()),
            &config.redis_namespace,
        )?;
        let outbox = Signal::on_bus(bus.clone(), Topic::EventsWritten);
        let queued = Signal::on_bus(bus.clone(), Topic::TasksQueued);
        let providers = std::iter::once(talon_gateway::providers::echo::PROVIDER.to_owned())
            .chain(config.providers.iter().map(|p| p.name.clone()))
            .collect();
        let caches = Caches::start(bus.clone());
        let registry = Arc::new(RegistryService::new(store.clone(), caches.clone(), outbox.clone(), providers));
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
            caches.clone(),
            config.agent_error_after,
        ));
        let sealer = Arc::new(SecretBox::new(&config.secret_key));
        let marketplace = Arc::new(Marketplace::new(MarketplaceDeps {
            store: store.clone(),
            outbox: outbox.clone(),
            sealer: sealer.clone(),
            settings: Arc::new(config.marketplace.clone()),
            caches: caches.clone(),
        }));
        let tasks = Arc::new(TaskService::new(store.clone(), registry.clone(), queued, outbox.clone()));
        let evaluations =
            Arc::new(EvaluationService::new(store.clone(), registry.clone(), tasks.clone(), outbox.clone()));
        Ok(Self(Arc::new(Services {
            chat,
            marketplace,
            tasks,
            evaluations,
            webhooks: Arc::new(WebhookService::new(
                store.clone(),
                &config.secret_key,
                config.webhooks.clone(),
                outbox,
            )?),
            audit: Arc::new(AuditService::new(store.clone(), registry.clone())),
            registry,
            authenticator: Arc::new(Authenticator::new(store.clone(), jwt.clone(), caches.clone())),
            accounts: Arc::new(AccountService::new(store.clone(), jwt.clone(), caches.clone())),
            jwt,
            api_keys: Arc::new(ApiKeyService::new(store.clone(), caches.clone())),
            caches,
            store,
            limiter,
            sealer,
            auth_guard,
            redis,
            usage,
            plans,
            settings: Arc::new(Settings {
                max_body_bytes: config.max_body_bytes,
                chat_timeout: config.chat_timeout,
                runtime_workers: config.runtime_workers,
                sse_keep_alive: config.sse_keep_alive,
                stream_write_timeout: config.stream_write_timeout,
                redis_timeout: config.redis_timeout,
                trust_proxy: config.trust_proxy,
                header_timeout: config.header_timeout,
                max_connections: config.max_connections,
                retention: config.retention,
            }),
            metrics: prometheus(),
            bus,
        })))
    }
}
