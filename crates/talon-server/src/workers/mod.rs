//! The background loops of one server: Talon's runtime (tasks whose executor is `runtime`), webhook
//! delivery, periodic maintenance, and the usage writer.

pub mod maintenance;
pub mod runtime;
pub mod webhook_delivery;

use tokio::task::JoinHandle;

use crate::state::AppState;

/// The running workers, stopped together when the server shuts down.
pub struct Workers {
    maintenance: JoinHandle<()>,
    deliveries: JoinHandle<()>,
    runtime: JoinHandle<()>,
    usage_writer: JoinHandle<()>,
    stop_usage: tokio::sync::oneshot::Sender<()>,
}

impl Workers {
    pub fn start(state: AppState) -> Self {
        let (stop_usage, usage_stopped) = tokio::sync::oneshot::channel::<()>();
        let usage = state.usage.clone();
        Self {
            maintenance: tokio::spawn(maintenance::run(state.clone())),
            deliveries: tokio::spawn(webhook_delivery::run(state.clone())),
            runtime: tokio::spawn(runtime::run(state)),
            usage_writer: tokio::spawn(async move {
                usage
                    .run(async {
                        let _ = usage_stopped.await;
                    })
                    .await;
            }),
            stop_usage,
        }
    }

    pub async fn stop(self) {
        self.maintenance.abort();
        self.deliveries.abort();
        self.runtime.abort();
        // Answers finished before the shutdown are written before it completes.
        let _ = self.stop_usage.send(());
        let _ = self.usage_writer.await;
    }
}
