use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Talon: a self-hosted home for AI agents — a versioned agent registry, durable tasks, signed webhooks
/// and an OpenAI-compatible chat runtime, in one binary.
#[derive(Debug, Parser)]
#[command(name = "talon", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub client: talon_cli::Globals,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Database to use: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://<data-dir>/talon.db]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where Talon keeps its SQLite database and generated secrets (a directory it creates is 0700,
    /// the files in it 0600).
    #[arg(long, env = "TALON_DATA_DIR", default_value = "./talon-data", global = true)]
    pub data_dir: PathBuf,
    /// TOML file with rate-limit plans, sign-in and registration limits, and model providers.
    #[arg(long, env = "TALON_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format; the level comes from RUST_LOG (default `info`).
    #[arg(long, env = "TALON_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

impl Common {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("talon.db").display()))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The server's commands (serve and administration, with direct database access), then the client's
/// (talking to a server over its public API).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the HTTP API, the task runtime and webhook deliveries (migrating the database first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a demo account and print how to sign in with it on this server.
    Seed(SeedArgs),
    /// Move an account to a rate-limit plan defined in the config file.
    SetPlan {
        /// The account's email.
        email: String,
        /// A plan named in the config file (`[plans.NAME]`), or `default`.
        plan: String,
    },
    /// Give an account a role: `operator` resolves marketplace disputes, credits deposits and confirms
    /// withdrawals; `user` is everyone else.
    SetRole {
        /// The account's email.
        email: String,
        /// The role to give.
        role: Role,
    },
    /// Credit an account's marketplace wallet with money received outside Talon (an operator's deposit).
    Credit {
        /// The account's email.
        email: String,
        /// Decimal USDC, more than 0, at most 6 decimals (e.g. 250 or 12.5).
        amount: String,
        /// The outside reference (a bank or chain transaction); the same one is never credited twice.
        #[arg(long)]
        reference: String,
    },
    #[command(flatten)]
    Client(talon_cli::ClientCommand),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    Operator,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::User => "user",
        }
    }
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The demo account's email.
    #[arg(long, default_value = "demo@talon.local")]
    pub email: String,
    /// The demo account's password.
    #[arg(long, default_value = "talon-demo-password")]
    pub password: String,
    /// The address `serve` listens on, read as `serve` reads it; the printed call goes there.
    #[arg(long, env = "TALON_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// The server's base URL, when clients reach it otherwise (a proxy, a container port)
    /// [default: http://<listen>]
    #[arg(long, env = "TALON_URL")]
    pub url: Option<String>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "TALON_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Secret for session tokens (at least 32 bytes) [default: generated and kept in the data dir]
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Session token lifetime: seconds, or a duration such as 7d or 12h.
    #[arg(long, env = "JWT_EXPIRES_IN", default_value = "7d")]
    pub jwt_expires_in: String,
    /// Redis for rate limits shared by every replica [default: counted in this process]
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Key (64 hex digits) that seals webhook secrets and stored idempotent responses at rest; the
    /// same on every replica
    /// [default: generated and kept in the data dir]
    #[arg(long, env = "TALON_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Let webhooks target loopback and private addresses (local setups and tests only).
    #[arg(long, env = "TALON_WEBHOOK_ALLOW_PRIVATE", default_value_t = false)]
    pub webhook_allow_private: bool,
    /// Delays before webhook retries, in seconds, comma-separated [default: 5,300,1800,7200,21600,43200,86400,86400]
    #[arg(long, env = "TALON_WEBHOOK_RETRY_SCHEDULE")]
    pub webhook_retry_schedule: Option<String>,
    /// Timeout of one webhook request, in seconds.
    #[arg(long, env = "TALON_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 15)]
    pub webhook_timeout_seconds: u64,
    /// Webhook deliveries this server sends at once; 0 leaves sending to other replicas.
    #[arg(long, env = "TALON_WEBHOOK_WORKERS", default_value_t = talon_server::config::DEFAULT_WEBHOOK_WORKERS)]
    pub webhook_workers: usize,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "TALON_MAX_BODY_BYTES", default_value_t = talon_server::config::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// How long a JSON chat answer may take in all, and any answer to start, before it is 504 `timeout`, in seconds.
    #[arg(long, env = "TALON_CHAT_TIMEOUT_SECONDS", default_value_t = 130, value_parser = clap::value_parser!(u64).range(1..))]
    pub chat_timeout_seconds: u64,
    /// How long a model may take to send its first token before the fallback is tried, in seconds.
    #[arg(long, env = "TALON_FIRST_TOKEN_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub first_token_timeout_seconds: u64,
    /// Tasks with executor `runtime` this server answers at once; 0 leaves them to other replicas.
    #[arg(long, env = "TALON_RUNTIME_WORKERS", default_value_t = talon_server::config::DEFAULT_RUNTIME_WORKERS)]
    pub runtime_workers: usize,
    /// A chat stream waiting for its first token sends `: keep-alive` this often, in seconds.
    #[arg(long, env = "TALON_SSE_KEEP_ALIVE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub sse_keep_alive_seconds: u64,
    /// A streamed chunk the caller does not read within this ends the answer and frees its place, in seconds.
    #[arg(long, env = "TALON_STREAM_WRITE_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_write_timeout_seconds: u64,
    /// Answers in a row failing upstream before a deployed agent goes to `error`; 0: never.
    #[arg(long, env = "TALON_AGENT_ERROR_AFTER", default_value_t = talon_server::services::chat::DEFAULT_ERROR_AFTER)]
    pub agent_error_after: u32,
    /// Milliseconds one Redis limiter call may take before the request is counted in this process.
    #[arg(long, env = "TALON_REDIS_TIMEOUT_MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub redis_timeout_ms: u64,
    /// Take the client address (for sign-in and registration limits) from the right-most
    /// X-Forwarded-For entry. Only behind a load balancer that sets it: otherwise clients choose it.
    #[arg(long, env = "TALON_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// Seconds a connection has to send a request's headers, and may idle between requests.
    #[arg(long, env = "TALON_HEADER_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_seconds: u64,
    /// Connections served at once; more wait in the listen queue until one closes.
    #[arg(long, env = "TALON_MAX_CONNECTIONS", default_value_t = talon_server::config::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
    /// The marketplace's fee on each release, in basis points (1000 = 10 %).
    #[arg(long, env = "TALON_MARKETPLACE_FEE_BPS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub marketplace_fee_bps: u32,
    /// Hours after delivery before a contract the client has not answered is approved on its own.
    #[arg(long, env = "TALON_MARKETPLACE_AUTO_APPROVE_HOURS", default_value_t = 72.0)]
    pub marketplace_auto_approve_hours: f64,
    /// Let anyone credit their own wallet through `POST /api/v1/wallet/deposits` (trying out only).
    #[arg(long, env = "TALON_MARKETPLACE_SANDBOX", default_value_t = false)]
    pub marketplace_sandbox: bool,
    /// Where uploaded files are kept (default: `<data dir>/uploads`).
    #[arg(long, env = "TALON_UPLOADS_DIR")]
    pub uploads_dir: Option<PathBuf>,
    /// Uploads larger than this are refused (413).
    #[arg(long, env = "TALON_MAX_UPLOAD_BYTES", default_value_t = talon_server::services::marketplace::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: usize,
    /// The address users reach this server at, for the links it hands out (claim and delivery links).
    #[arg(long, env = "TALON_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// How long what grows without bound is kept (deleted in small batches by the maintenance worker).
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionArgs {
    /// Days chat usage records are kept; their hourly and daily summaries are kept for good.
    #[arg(long, env = "TALON_USAGE_RAW_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub usage_raw_retention_days: u32,
    /// Days finished tasks (completed, failed, cancelled) are kept; unset keeps them.
    #[arg(long, env = "TALON_TASK_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub task_retention_days: Option<u32>,
    /// Days events are kept once the webhook fan-out has handled them.
    #[arg(long, env = "TALON_EVENT_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_retention_days: u32,
    /// The newest deliveries kept of each webhook, whatever their outcome.
    #[arg(long, env = "TALON_DELIVERIES_KEPT_PER_WEBHOOK", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub deliveries_kept_per_webhook: u32,
    /// Days failed deliveries beyond those are kept.
    #[arg(long, env = "TALON_FAILED_DELIVERY_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub failed_delivery_retention_days: u32,
}

impl Default for RetentionArgs {
    fn default() -> Self {
        Self {
            usage_raw_retention_days: 30,
            task_retention_days: None,
            event_retention_days: 30,
            deliveries_kept_per_webhook: 1000,
            failed_delivery_retention_days: 30,
        }
    }
}

impl RetentionArgs {
    pub fn settings(&self) -> talon_server::config::Retention {
        let days = |n: u32| chrono::Duration::days(i64::from(n));
        talon_server::config::Retention {
            usage_records: days(self.usage_raw_retention_days),
            finished_tasks: self.task_retention_days.map(days),
            dispatched_events: days(self.event_retention_days),
            deliveries_per_webhook: i64::from(self.deliveries_kept_per_webhook),
            failed_deliveries: days(self.failed_delivery_retention_days),
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            jwt_secret: std::env::var("JWT_SECRET").ok(),
            jwt_expires_in: std::env::var("JWT_EXPIRES_IN").unwrap_or_else(|_| "7d".into()),
            redis_url: None,
            secret_key: std::env::var("TALON_SECRET_KEY").ok(),
            webhook_allow_private: false,
            webhook_retry_schedule: None,
            webhook_timeout_seconds: 15,
            webhook_workers: talon_server::config::DEFAULT_WEBHOOK_WORKERS,
            marketplace_fee_bps: 1000,
            marketplace_auto_approve_hours: 72.0,
            marketplace_sandbox: false,
            uploads_dir: None,
            max_upload_bytes: talon_server::services::marketplace::DEFAULT_MAX_UPLOAD_BYTES,
            public_url: None,
            retention: RetentionArgs::default(),
            max_body_bytes: talon_server::config::DEFAULT_MAX_BODY_BYTES,
            chat_timeout_seconds: 130,
            first_token_timeout_seconds: 30,
            runtime_workers: talon_server::config::DEFAULT_RUNTIME_WORKERS,
            sse_keep_alive_seconds: 15,
            stream_write_timeout_seconds: 30,
            agent_error_after: talon_server::services::chat::DEFAULT_ERROR_AFTER,
            redis_timeout_ms: 100,
            trust_proxy: false,
            header_timeout_seconds: 30,
            max_connections: talon_server::config::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl SeedArgs {
    /// Where clients reach the server: `--url` as given, else `http://` and the listen address, with an
    /// unspecified address (`0.0.0.0`, `[::]`) as loopback since no client connects to it.
    pub fn base_url(&self) -> String {
        if let Some(url) = &self.url {
            return url.trim_end_matches('/').to_owned();
        }
        match self.listen.parse::<std::net::SocketAddr>() {
            Ok(mut address) => {
                if address.ip().is_unspecified() {
                    address.set_ip(match address {
                        std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                format!("http://{address}")
            }
            // A host name (`localhost:3000`) is reachable as it is written.
            Err(_) => format!("http://{}", self.listen),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cli, SeedArgs};

    /// Every command and every argument it takes say what they are in `--help`.
    #[test]
    fn every_command_and_argument_has_help() {
        fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            if command.get_about().is_none() && path != " talon" {
                missing.push(path.clone());
            }
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} <{}>", arg.get_id()));
                }
            }
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                undocumented(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        undocumented(&<Cli as clap::CommandFactory>::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }

    fn seed(listen: &str, url: Option<&str>) -> SeedArgs {
        SeedArgs { email: String::new(), password: String::new(), listen: listen.into(), url: url.map(Into::into) }
    }

    #[test]
    fn seed_prints_calls_for_the_address_the_server_uses() {
        assert_eq!(seed("127.0.0.1:3000", None).base_url(), "http://127.0.0.1:3000");
        assert_eq!(seed("127.0.0.1:8080", None).base_url(), "http://127.0.0.1:8080");
        assert_eq!(seed("0.0.0.0:4000", None).base_url(), "http://127.0.0.1:4000");
        assert_eq!(seed("[::]:4000", None).base_url(), "http://[::1]:4000");
        assert_eq!(seed("localhost:5000", None).base_url(), "http://localhost:5000");
        assert_eq!(seed("0.0.0.0:3000", Some("https://talon.example.com/")).base_url(), "https://talon.example.com");
    }
}
