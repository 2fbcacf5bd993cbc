//! WAL checkpoints off the request path. SQLite copies the write-ahead log back into the database
//! file when a commit finds the log over 1,000 pages, inside that commit: every hundred or so queue
//! claims one waited for the copy and its sync (claim p99 about 20 ms on a 2-core machine, with p50 at
//! 1.4 ms). A connection of its own checkpoints every 200 ms instead, without blocking the writer or
//! the readers (`PASSIVE`), so the log stays short and the commit-time checkpoint never comes.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{ConnectOptions, Connection};

const EVERY: Duration = Duration::from_millis(200);

/// Starts the checkpointer of the database `options` open; it stops when `writer` is closed.
pub(super) async fn start(options: SqliteConnectOptions, writer: SqlitePool) -> Result<(), sqlx::Error> {
    let mut connection = options.connect().await?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !writer.is_closed() {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut connection).await {
                tracing::warn!(error = %e, "WAL checkpoint failed; commits will checkpoint instead");
            }
        }
        let _ = connection.close().await;
    });
    Ok(())
}
