//! The `talon` binary: the server and its administration commands.

mod allocator;
mod cli;

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use talon_server::config::{FileConfig, JwtSecretSource, resolve_jwt_secret, resolve_secret_key};
use talon_server::limits::Plans;
use talon_server::services::marketplace::MarketplaceSettings;
use talon_server::{AppState, ServerConfig};
use talon_store::Store;
use tokio::net::TcpListener;

use cli::{Cli, Command, Common, LogFormat, Role, SeedArgs, ServeArgs};

fn main() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    if let Command::Client(command) = cli.command {
        // A client command: a small runtime, no logging setup, its own exit codes.
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
        let mut definition = <Cli as clap::CommandFactory>::command();
        return Ok(runtime.block_on(talon_cli::run(&cli.client, command, &mut definition)));
    }
    allocator::limit_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(run(cli))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn run(cli: Cli) -> Result<()> {
    init_logging(cli.common.log_format);
    match cli.command {
        Command::Serve(args) => serve(&cli.common, *args).await,
        Command::Migrate => {
            let store = open_store(&cli.common).await?;
            tracing::info!(database = store.backend().as_str(), "migrations applied");
            store.close().await;
            Ok(())
        }
        Command::Seed(args) => seed(&cli.common, &args).await,
        Command::SetPlan { email, plan } => set_plan(&cli.common, &email, &plan).await,
        Command::SetRole { email, role } => set_role(&cli.common, &email, role).await,
        Command::Credit { email, amount, reference } => credit(&cli.common, &email, &amount, &reference).await,
        Command::Client(_) => unreachable!("client commands run before the server's runtime starts"),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn open_store(common: &Common) -> Result<Arc<dyn Store>> {
    let url = common.database_url();
    talon_store::connect(&url).await.with_context(|| format!("cannot open database {}", redact(&url)))
}

/// A database URL as it may appear in logs: without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn load_file_config(common: &Common) -> Result<FileConfig> {
    Ok(match &common.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    })
}

async fn build_state(common: &Common, args: &ServeArgs, store: Arc<dyn Store>) -> Result<AppState> {
    let file = load_file_config(common)?;
    let (secret, source) = resolve_jwt_secret(args.jwt_secret.as_deref(), &common.data_dir)?;
    match source {
        JwtSecretSource::Environment => {}
        JwtSecretSource::DataDir { created: true } => tracing::info!(
            path = %common.data_dir.join("jwt-secret").display(),
            "no JWT_SECRET set: generated one and saved it in the data directory"
        ),
        JwtSecretSource::DataDir { created: false } => {
            tracing::info!(path = %common.data_dir.join("jwt-secret").display(), "using the JWT secret saved in the data directory")
        }
    }
    let (secret_key, generated) = resolve_secret_key(args.secret_key.as_deref(), &common.data_dir)?;
    if generated {
        tracing::info!(
            path = %common.data_dir.join("secret-key").display(),
            "no TALON_SECRET_KEY set: generated the key that seals webhook secrets and saved it in the data directory"
        );
    }
    let mut config = ServerConfig::new(secret, secret_key);
    config.webhooks.allow_private = args.webhook_allow_private;
    config.webhooks.timeout = std::time::Duration::from_secs(args.webhook_timeout_seconds);
    config.webhooks.concurrency = args.webhook_workers;
    if let Some(schedule) = &args.webhook_retry_schedule {
        config.webhooks.retry_schedule = talon_domain::webhook::parse_schedule(schedule)
            .map_err(|e| anyhow::anyhow!("TALON_WEBHOOK_RETRY_SCHEDULE: {e}"))?;
    }
    config.jwt_ttl = talon_server::auth::jwt::parse_ttl(&args.jwt_expires_in).map_err(anyhow::Error::msg)?;
    config.redis_url = args.redis_url.clone();
    config.plans = Plans::new(file.plans);
    talon_gateway::config::validate(&file.providers).context("invalid [[providers]] in the config file")?;
    config.providers = file.providers;
    config.max_body_bytes = args.max_body_bytes;
    config.chat_timeout = std::time::Duration::from_secs(args.chat_timeout_seconds);
    config.first_token_timeout = std::time::Duration::from_secs(args.first_token_timeout_seconds);
    config.runtime_workers = args.runtime_workers;
    config.sse_keep_alive = std::time::Duration::from_secs(args.sse_keep_alive_seconds);
    config.stream_write_timeout = std::time::Duration::from_secs(args.stream_write_timeout_seconds);
    config.agent_error_after = args.agent_error_after;
    config.auth_limits = file.auth_limits;
    config.trust_proxy = args.trust_proxy;
    config.redis_timeout = std::time::Duration::from_millis(args.redis_timeout_ms);
    config.header_timeout = std::time::Duration::from_secs(args.header_timeout_seconds);
    config.max_connections = args.max_connections;
    config.retention = args.retention.settings();
    config.marketplace = marketplace_settings(common, args)?;
    AppState::new(store, config).await.context("cannot start the server")
}

fn marketplace_settings(common: &Common, args: &ServeArgs) -> Result<MarketplaceSettings> {
    let hours = args.marketplace_auto_approve_hours;
    if !(hours.is_finite() && hours > 0.0 && hours <= 24.0 * 365.0) {
        anyhow::bail!("TALON_MARKETPLACE_AUTO_APPROVE_HOURS must be more than 0 and at most 8760, not {hours}");
    }
    let fee = talon_domain::marketplace::FeeRate::from_basis_points(args.marketplace_fee_bps)
        .map_err(|e| anyhow::anyhow!("TALON_MARKETPLACE_FEE_BPS: {e}"))?;
    if args.marketplace_sandbox {
        tracing::warn!(
            "MARKETPLACE SANDBOX MODE: anyone can credit their own wallet with POST /api/v1/wallet/deposits; \
             never use this with real money"
        );
    }
    let listen = args.listen.clone();
    Ok(MarketplaceSettings {
        fee,
        auto_approve_after: std::time::Duration::from_secs_f64(hours * 3600.0),
        sandbox: args.marketplace_sandbox,
        uploads_dir: args.uploads_dir.clone().unwrap_or_else(|| common.data_dir.join("uploads")),
        max_upload_bytes: args.max_upload_bytes,
        public_url: args.public_url.clone().unwrap_or_else(|| format!("http://{listen}")),
    })
}

async fn serve(common: &Common, args: ServeArgs) -> Result<()> {
    let store = open_store(common).await?;
    match talon_server::connections::raise_open_files_limit() {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
    let state = build_state(common, &args, store.clone()).await?;
    allocator::spawn_trimmer();
    let listener =
        TcpListener::bind(&args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(
        database = store.backend().as_str(),
        rate_limits = if args.redis_url.is_some() { "redis" } else { "in-process" },
        "talon listening on http://{address}"
    );
    talon_server::serve(listener, state, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn seed(common: &Common, args: &SeedArgs) -> Result<()> {
    let (email, password) = (args.email.as_str(), args.password.as_str());
    let store = open_store(common).await?;
    let state = build_state(common, &ServeArgs::default(), store.clone()).await?;
    // Registration answers alike whether or not the account existed; the operator may know which.
    let existed = store.account_by_email(&email.trim().to_lowercase()).await?.is_some();
    match state.accounts.register(Some(email), Some(password)).await {
        Ok(_) if existed => println!("The demo account {email} already exists; its password is unchanged."),
        Ok(_) => println!("Created the demo account {email}."),
        Err(e) => return Err(anyhow::anyhow!("cannot create the demo account: {e}")),
    }
    println!(
        "Sign in with:\n  curl -X POST {}/api/auth/login -H 'Content-Type: application/json' \\\n    -d '{}'",
        args.base_url(),
        serde_json::json!({ "email": email, "password": password })
    );
    store.close().await;
    Ok(())
}

async fn set_plan(common: &Common, email: &str, plan: &str) -> Result<()> {
    let plans = Plans::new(load_file_config(common)?.plans);
    anyhow::ensure!(plans.contains(plan), "no plan named `{plan}` in the config file");
    let store = open_store(common).await?;
    let found = store.set_account_plan(&email.trim().to_lowercase(), plan).await?;
    store.close().await;
    anyhow::ensure!(found, "no account with email {email}");
    println!("{email} is now on the `{plan}` plan.");
    Ok(())
}

async fn set_role(common: &Common, email: &str, role: Role) -> Result<()> {
    let store = open_store(common).await?;
    let found = store.set_account_role(&email.trim().to_lowercase(), role.as_str()).await?;
    store.close().await;
    anyhow::ensure!(found, "no account with email {email}");
    println!("{email} is now {}.", role.as_str());
    Ok(())
}

async fn credit(common: &Common, email: &str, amount: &str, reference: &str) -> Result<()> {
    use talon_domain::marketplace::{LedgerAccount, Micros, Transaction};
    let micros = Micros::parse_usdc(amount.trim()).map_err(|e| anyhow::anyhow!("invalid amount `{amount}`: {e}"))?;
    let reference = reference.trim();
    anyhow::ensure!(!reference.is_empty(), "the reference must not be empty");
    let store = open_store(common).await?;
    let result = async {
        let (account, _) = store
            .account_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| anyhow::anyhow!("no account with email {email}"))?;
        let deposit = Transaction::deposit(account.id, micros).map_err(|e| anyhow::anyhow!("invalid amount: {e}"))?;
        match store.append_covered(&deposit, Some(reference)).await {
            Ok(_) => {}
            Err(talon_store::StoreError::Conflict(_)) => {
                anyhow::bail!("the reference `{reference}` was already credited")
            }
            Err(e) => return Err(e.into()),
        }
        let balance = store.balance(&LedgerAccount::Wallet(account.id)).await?;
        Ok(balance)
    }
    .await;
    store.close().await;
    let balance = result?;
    println!("Credited {} USDC to {email}; the balance is {} USDC.", micros.to_usdc_string(), balance.to_usdc_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_never_reach_the_log() {
        assert_eq!(redact("postgres://talon:s3cret@db/talon"), "postgres://talon:***@db/talon");
        assert_eq!(redact("postgres://talon@db/talon"), "postgres://talon@db/talon");
        assert_eq!(redact("sqlite://./talon-data/talon.db"), "sqlite://./talon-data/talon.db");
    }
}
