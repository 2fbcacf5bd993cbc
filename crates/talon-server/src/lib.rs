//! Talon's server. Requests flow one way: `api` (HTTP: typed requests in, typed responses out) →
//! `services` (domain rules) → the store. `auth` and `limits` decide who may call and how often;
//! `workers` are the background loops (runtime, webhook delivery, maintenance, usage writer).

pub mod api;
pub mod auth;
pub mod config;
pub mod connections;
pub mod limits;
pub mod services;
pub mod state;
pub mod web;
pub mod workers;

use std::future::Future;
use tokio::net::TcpListener;

pub use api::router;
pub use config::ServerConfig;
pub use state::AppState;

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish and stops the
/// background workers.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = workers::Workers::start(state.clone());
    let limits = connections::ConnectionLimits {
        header_timeout: state.settings.header_timeout,
        max_connections: state.settings.max_connections,
    };
    let result = connections::serve_connections(listener, router(state), limits, shutdown).await;
    workers.stop().await;
    result
}
