//! Server configuration: what the binary resolves from the environment, flags and the config file.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rand::RngCore;
use serde::Deserialize;

use crate::limits::{AuthLimits, Plan, Plans};
use crate::services::marketplace::MarketplaceSettings;
use crate::services::webhooks::WebhookSettings;

/// Requests larger than this are refused with 413 (task inputs may be up to 1 MB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The chat API's documented upstream timeout.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(130);
pub const DEFAULT_RUNTIME_WORKERS: usize = 4;
/// Webhook deliveries one server sends at once.
pub const DEFAULT_WEBHOOK_WORKERS: usize = 32;
pub const DEFAULT_SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);
pub const DEFAULT_STREAM_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Hyper's own default for reading a request's headers; also how long a kept-alive connection may idle.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
pub const DEFAULT_JWT_TTL: Duration = Duration::from_secs(7 * 86_400);
const JWT_SECRET_FILE: &str = "jwt-secret";
const SECRET_KEY_FILE: &str = "secret-key";

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub jwt_secret: Vec<u8>,
    pub jwt_ttl: Duration,
    /// When set, rate limits are counted in Redis and shared by every replica.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this server writes.
    pub redis_namespace: String,
    /// How long one Redis limiter call may take before the request is counted in-process instead.
    pub redis_timeout: Duration,
    pub plans: Plans,
    pub max_body_bytes: usize,
    /// Seals webhook secrets at rest; every replica needs the same key.
    pub secret_key: [u8; 32],
    pub webhooks: WebhookSettings,
    pub marketplace: MarketplaceSettings,
    /// Upstream model providers (the built-in `test` provider is always there).
    pub providers: Vec<talon_gateway::ProviderConfig>,
    /// How long a model may take to start answering before the fallback is tried.
    pub first_token_timeout: std::time::Duration,
    /// How long a JSON chat answer may take in all before it is 504 `timeout`.
    pub chat_timeout: std::time::Duration,
    /// Runtime tasks this server answers at once; 0 leaves runtime tasks to other replicas.
    pub runtime_workers: usize,
    /// A stream waiting for its first token sends an SSE comment this often, so proxies and clients
    /// do not give up on a quiet connection.
    pub sse_keep_alive: std::time::Duration,
    /// A streamed chunk the caller does not take within this ends the answer and frees its place.
    pub stream_write_timeout: std::time::Duration,
    /// Answers in a row failing upstream before a deployed agent goes to `error` (0: never).
    pub agent_error_after: u32,
    /// Sign-in and registration limits and the password-hashing cap.
    pub auth_limits: AuthLimits,
    /// Take the client address from `X-Forwarded-For` (only behind a load balancer that sets it).
    pub trust_proxy: bool,
    /// How long a connection may take to send a request's headers (and idle between requests).
    pub header_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue.
    pub max_connections: usize,
    /// How long what grows without bound is kept.
    pub retention: Retention,
}

/// How long what grows without bound is kept; the maintenance worker deletes the rest in small
/// batches, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Chat usage records (`TALON_USAGE_RAW_RETENTION_DAYS`); their hourly and daily rollups stay.
    pub usage_records: chrono::Duration,
    /// Finished tasks (`TALON_TASK_RETENTION_DAYS`); `None` keeps them.
    pub finished_tasks: Option<chrono::Duration>,
    /// Events the webhook fan-out has handled (`TALON_EVENT_RETENTION_DAYS`).
    pub dispatched_events: chrono::Duration,
    /// The newest deliveries kept of each webhook (`TALON_DELIVERIES_KEPT_PER_WEBHOOK`)…
    pub deliveries_per_webhook: i64,
    /// …and failed ones beyond those for this long (`TALON_FAILED_DELIVERY_RETENTION_DAYS`).
    pub failed_deliveries: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            usage_records: chrono::Duration::days(30),
            finished_tasks: None,
            dispatched_events: chrono::Duration::days(30),
            deliveries_per_webhook: 1000,
            failed_deliveries: chrono::Duration::days(30),
        }
    }
}

impl ServerConfig {
    pub fn new(jwt_secret: Vec<u8>, secret_key: [u8; 32]) -> Self {
        Self {
            secret_key,
            webhooks: WebhookSettings::default(),
            marketplace: MarketplaceSettings::default(),
            providers: Vec::new(),
            first_token_timeout: std::time::Duration::from_secs(30),
            chat_timeout: DEFAULT_CHAT_TIMEOUT,
            runtime_workers: DEFAULT_RUNTIME_WORKERS,
            sse_keep_alive: DEFAULT_SSE_KEEP_ALIVE,
            stream_write_timeout: DEFAULT_STREAM_WRITE_TIMEOUT,
            agent_error_after: crate::services::chat::DEFAULT_ERROR_AFTER,
            jwt_secret,
            jwt_ttl: DEFAULT_JWT_TTL,
            redis_url: None,
            redis_namespace: "talon".to_owned(),
            redis_timeout: crate::limits::DEFAULT_LIMITER_BUDGET,
            plans: Plans::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            auth_limits: AuthLimits::default(),
            trust_proxy: false,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retention: Retention::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("JWT_SECRET must be at least 32 bytes")]
    WeakJwtSecret,
    #[error("TALON_SECRET_KEY must be 64 hex digits (32 bytes)")]
    BadSecretKey,
    #[error("cannot keep a secret in {path}: {source}")]
    SecretFile { path: String, source: std::io::Error },
}

/// The TOML file named by `TALON_CONFIG`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Rate-limit plans by name; `default` applies to every account not moved to another plan.
    #[serde(default)]
    pub plans: HashMap<String, Plan>,
    /// Upstream model providers; models are named `<provider>/<model>`.
    #[serde(default)]
    pub providers: Vec<talon_gateway::ProviderConfig>,
    /// Sign-in and registration limits and the password-hashing cap.
    #[serde(default)]
    pub auth_limits: AuthLimits,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let display = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: display.clone(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: display, source })
    }
}

/// Whether the secret came from the environment or the data directory, and whether it was just made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtSecretSource {
    Environment,
    DataDir { created: bool },
}

/// `JWT_SECRET` if given; otherwise the secret kept in `data_dir`, generated on first start.
pub fn resolve_jwt_secret(from_env: Option<&str>, data_dir: &Path) -> Result<(Vec<u8>, JwtSecretSource), ConfigError> {
    if let Some(secret) = from_env {
        if secret.len() < 32 {
            return Err(ConfigError::WeakJwtSecret);
        }
        return Ok((secret.as_bytes().to_vec(), JwtSecretSource::Environment));
    }
    let path = data_dir.join(JWT_SECRET_FILE);
    let io_err = |source| ConfigError::SecretFile { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= 32 => {
            return Ok((existing.trim().as_bytes().to_vec(), JwtSecretSource::DataDir { created: false }));
        }
        Ok(_) => return Err(ConfigError::WeakJwtSecret),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    talon_store::sqlite::create_private_dir(data_dir).map_err(io_err)?;
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut file = open_private(&path).map_err(io_err)?;
    file.write_all(secret.as_bytes()).map_err(io_err)?;
    Ok((secret.into_bytes(), JwtSecretSource::DataDir { created: true }))
}

/// `TALON_SECRET_KEY` (64 hex digits) if given; otherwise the key kept in `data_dir`, generated on first
/// start. Returns the key and whether it was just generated.
pub fn resolve_secret_key(from_env: Option<&str>, data_dir: &Path) -> Result<([u8; 32], bool), ConfigError> {
    let decode = |text: &str| -> Result<[u8; 32], ConfigError> {
        let bytes = hex::decode(text.trim()).map_err(|_| ConfigError::BadSecretKey)?;
        bytes.try_into().map_err(|_| ConfigError::BadSecretKey)
    };
    if let Some(key) = from_env {
        return Ok((decode(key)?, false));
    }
    let path = data_dir.join(SECRET_KEY_FILE);
    let io_err = |source| ConfigError::SecretFile { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(existing) => return Ok((decode(&existing)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    talon_store::sqlite::create_private_dir(data_dir).map_err(io_err)?;
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let mut file = open_private(&path).map_err(io_err)?;
    file.write_all(hex::encode(key).as_bytes()).map_err(io_err)?;
    Ok((key, true))
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("talon-cfg-{}", uuid::Uuid::now_v7().simple()));
        let (first, source) = resolve_jwt_secret(None, &dir).unwrap();
        assert_eq!(source, JwtSecretSource::DataDir { created: true });
        let (again, source) = resolve_jwt_secret(None, &dir).unwrap();
        assert_eq!(source, JwtSecretSource::DataDir { created: false });
        assert_eq!(first, again);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn short_env_secret_is_refused() {
        assert!(matches!(
            resolve_jwt_secret(Some("short"), Path::new("/nonexistent")),
            Err(ConfigError::WeakJwtSecret)
        ));
    }

    #[test]
    fn providers_parse_from_toml() {
        let config: FileConfig = toml::from_str(
            "[[providers]]\nname = \"local\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:11434/v1\"\napi_key_env = \"LOCAL_API_KEY\"\n",
        )
        .unwrap();
        assert_eq!(config.providers[0].name, "local");
        assert_eq!(config.providers[0].api_key_env.as_deref(), Some("LOCAL_API_KEY"));
    }

    #[test]
    fn plans_parse_from_toml() {
        let config: FileConfig =
            toml::from_str("[plans.enterprise]\nkey_requests_per_minute = 1000\naccount_requests_per_day = 1000000\n")
                .unwrap();
        assert_eq!(config.plans["enterprise"].key_requests_per_minute, 1000);
        assert!(toml::from_str::<FileConfig>("[plans.x]\nbogus = 1\n").is_err());
    }

    #[test]
    fn auth_limits_parse_from_toml_over_the_defaults() {
        let config: FileConfig = toml::from_str("[auth_limits]\nlogin_per_email_per_minute = 5\n").unwrap();
        assert_eq!(config.auth_limits.login_per_email_per_minute, 5);
        assert_eq!(
            config.auth_limits.register_per_address_per_hour,
            AuthLimits::default().register_per_address_per_hour
        );
        assert!(toml::from_str::<FileConfig>("[auth_limits]\nbogus = 1\n").is_err());
    }
}
