//! Wake-ups from other replicas: when the bus brings word that another replica queued tasks or wrote
//! events, this replica's loops waiting for such work (task claims, the runtime, webhook delivery) look
//! at once, as they do for work written here.

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::services::bus::Topic;
use crate::state::AppState;

/// Rings this replica's signals on what the bus hears, until `stop` is cancelled.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut messages = state.bus.subscribe();
    let queued = state.tasks.queued_signal();
    let outbox = state.webhooks.wake_signal();
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = messages.recv() => received,
        };
        // `wake`, not `ring`: the word came from the bus and is not sent back on it.
        match received {
            Ok(message) if message.topic == Topic::TasksQueued => queued.wake(),
            Ok(message) if message.topic == Topic::EventsWritten => outbox.wake(),
            Ok(_) => {}
            // Messages were missed: whatever they said, looking once covers it.
            Err(RecvError::Lagged(_)) => {
                queued.wake();
                outbox.wake();
            }
            Err(RecvError::Closed) => return,
        }
    }
}
