//! The one connection to Redis that the rate and concurrency limiters share. It is made in the
//! background, so a server starts and serves while Redis is down, and every command it carries is
//! bounded: a Redis that refuses connections or stops answering costs a request milliseconds, never
//! minutes.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

use super::LimiterError;

/// How long one connection attempt and one command may take at least. Limiter calls have a budget of
/// their own (`redis_timeout`, usually tighter); these keep the connection itself from waiting on a
/// dead peer, and never cut a command short before its caller's budget is spent.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// One quick retry per reconnection: the next command starts another attempt, so a Redis that comes
/// back is used again within moments rather than after a long backoff.
const RECONNECT_RETRIES: usize = 1;
const RECONNECT_DELAY_FACTOR_MS: u64 = 50;
const RECONNECT_MAX_DELAY_MS: u64 = 250;
/// Between attempts to make the first connection.
const FIRST_CONNECT_RETRY: Duration = Duration::from_secs(1);
/// How long start-up waits for Redis before serving with in-process limits until it answers.
const STARTUP_WAIT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RedisLink {
    connection: watch::Receiver<Option<ConnectionManager>>,
}

impl RedisLink {
    /// Validates `url` and connects in the background; waits at most `STARTUP_WAIT` for the first
    /// connection, logging at warn if Redis is not reachable by then. Callers give a command at most
    /// `budget` (the limiters' `redis_timeout`).
    pub async fn connect(url: &str, budget: Duration) -> Result<Self, LimiterError> {
        let client = redis::Client::open(url).map_err(|e| LimiterError(e.to_string()))?;
        let (publish, connection) = watch::channel(None);
        tokio::spawn(connect_until_up(client, manager_config(budget.max(RESPONSE_TIMEOUT)), publish));
        let mut waiting = connection.clone();
        let up = tokio::time::timeout(STARTUP_WAIT, waiting.wait_for(Option::is_some)).await;
        if !matches!(up, Ok(Ok(_))) {
            tracing::warn!(
                "Redis is not reachable; limits are counted in this process until it answers (still trying)"
            );
        }
        Ok(Self { connection })
    }

    /// The shared connection, or an error at once while the first connection is still being made.
    pub fn connection(&self) -> Result<ConnectionManager, LimiterError> {
        self.connection.borrow().clone().ok_or_else(|| LimiterError("not connected to Redis yet".into()))
    }

    /// Whether Redis answers a PING within `budget`.
    pub async fn ping(&self, budget: Duration) -> bool {
        let Ok(mut connection) = self.connection() else { return false };
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        matches!(tokio::time::timeout(budget, ping).await, Ok(Ok(_)))
    }
}

fn manager_config(response_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response_timeout)
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_factor(RECONNECT_DELAY_FACTOR_MS)
        .set_max_delay(RECONNECT_MAX_DELAY_MS)
}

/// Makes the first connection, however long Redis takes to appear; the manager reconnects by itself
/// after that.
async fn connect_until_up(
    client: redis::Client,
    config: ConnectionManagerConfig,
    publish: watch::Sender<Option<ConnectionManager>>,
) {
    let mut failures = 0u64;
    loop {
        match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
            Ok(manager) => {
                if failures > 0 {
                    tracing::info!("connected to Redis; limits are shared between replicas again");
                }
                let _ = publish.send(Some(manager));
                return;
            }
            Err(e) => {
                failures += 1;
                // The first failure is reported by `connect`; after that, one line a minute.
                if failures.is_multiple_of(60) {
                    tracing::warn!(error = %e, "Redis is still not reachable; limits are counted in this process");
                }
            }
        }
        if publish.is_closed() {
            return;
        }
        tokio::time::sleep(FIRST_CONNECT_RETRY).await;
    }
}
