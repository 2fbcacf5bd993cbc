//! The evaluation driver's loop: a pass over the running evaluations (see
//! `services::evaluations::driver`), again as soon as a task settles while any are running, and at
//! least every `IDLE_POLL` otherwise (an evaluation started on another replica is found that way).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// With no running evaluation here, look again this often.
const IDLE_POLL: Duration = Duration::from_secs(2);
/// With some running, pass at least this often (a task settled on another replica rings nothing here).
const BUSY_POLL: Duration = Duration::from_secs(1);
/// Passes are at least this far apart, however often tasks settle.
const MIN_GAP: Duration = Duration::from_millis(100);

pub async fn run(state: AppState, stop: CancellationToken) {
    let started = state.evaluations.started_signal();
    let settled = state.evaluations.settled_signal();
    loop {
        let (started_rang, settled_rang) = (started.listen(), settled.listen());
        let busy = match state.evaluations.drive().await {
            Ok(driven) => driven > 0,
            Err(e) => {
                tracing::warn!(error = %e, "could not drive the running evaluations");
                false
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            _ = started_rang.wait(if busy { BUSY_POLL } else { IDLE_POLL }) => {}
            _ = settled_rang.wait(BUSY_POLL), if busy => {}
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(MIN_GAP) => {}
        }
    }
}
