//! Talon's HTTP server. Requests flow one way: `routes` (thin handlers) → `services` (domain rules) →
//! the store. `http` holds what every request passes through; `auth` and `limits` decide who may call
//! and how often.

pub mod auth;
pub mod config;
pub mod connections;
pub mod http;
pub mod limits;
pub mod routes;
pub mod runtime;
pub mod services;
pub mod state;
pub mod webhooks;

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use http::router;
pub use state::AppState;

const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);
const LEASE_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let maintenance = tokio::spawn(maintain(state.clone()));
    let deliveries = tokio::spawn(webhooks::run(state.clone()));
    let (stop_usage, usage_stopped) = tokio::sync::oneshot::channel::<()>();
    let usage = state.usage.clone();
    let usage_writer = tokio::spawn(async move {
        usage
            .run(async {
                let _ = usage_stopped.await;
            })
            .await;
    });
    let runtime = tokio::spawn(runtime::run(state.clone()));
    let limits = connections::ConnectionLimits {
        header_timeout: state.settings.header_timeout,
        max_connections: state.settings.max_connections,
    };
    let result = connections::serve_connections(listener, router(state), limits, shutdown).await;
    maintenance.abort();
    deliveries.abort();
    runtime.abort();
    // Answers finished before the shutdown are written before it completes.
    let _ = stop_usage.send(());
    let _ = usage_writer.await;
    result
}

/// Periodic housekeeping: return lapsed task leases to the queue every second; forget idempotency
/// records past their retention, and logged-out sessions whose tokens have expired, every hour.
async fn maintain(state: AppState) {
    let mut leases = tokio::time::interval(LEASE_SWEEP_EVERY);
    let mut purge = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        tokio::select! {
            _ = leases.tick() => {
                if let Err(e) = state.tasks.expire_leases().await {
                    tracing::warn!(error = %e, "could not expire task leases");
                }
            }
            _ = purge.tick() => {
                match state.store.purge_idempotency_keys(Utc::now() - http::idempotency::RETENTION).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired idempotency records removed"),
                    Err(e) => tracing::warn!(error = %e, "could not purge idempotency records"),
                }
                if let Err(e) = state.store.purge_revoked_sessions(Utc::now()).await {
                    tracing::warn!(error = %e, "could not purge revoked sessions");
                }
            }
        }
    }
}
