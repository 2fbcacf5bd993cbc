//! The bus over PostgreSQL `LISTEN/NOTIFY`, on the store's database with connections of its own: one
//! that listens (made anew for each subscription) and one that sends, so that neither waits behind the
//! store's queries nor takes one of its connections.

use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::{OnceCell, mpsc};

use super::link::{Subscription, Transport, TransportError};

/// How long making a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Notifications read ahead of the bus.
const READ_AHEAD: usize = 1024;

pub(super) struct PgTransport {
    options: PgConnectOptions,
    sender: PgPool,
    channel: OnceCell<String>,
}

impl PgTransport {
    pub(super) fn new(store: &PgPool, replica: &str) -> Self {
        let options = (*store.connect_options()).clone().application_name(&format!("talon-bus {replica}"));
        let sender = one_connection().connect_lazy_with(options.clone());
        Self { options, sender, channel: OnceCell::new() }
    }

    /// The channel of the store's schema (asked of the database once).
    async fn channel(&self) -> Result<&str, TransportError> {
        let channel = self
            .channel
            .get_or_try_init(|| async {
                let (schema,): (String,) =
                    sqlx::query_as("SELECT COALESCE(current_schema(), '')").fetch_one(&self.sender).await?;
                Ok::<_, sqlx::Error>(channel_for(&schema))
            })
            .await
            .map_err(failed)?;
        Ok(channel)
    }
}

fn one_connection() -> PgPoolOptions {
    PgPoolOptions::new().max_connections(1).min_connections(0).acquire_timeout(CONNECT_TIMEOUT)
}

/// `talon_bus_` and 16 hex digits of the schema name's SHA-256: within PostgreSQL's 63 bytes whatever
/// the schema is called, and the same on every replica and every build.
fn channel_for(schema: &str) -> String {
    format!("talon_bus_{}", &hex::encode(Sha256::digest(schema.as_bytes()))[..16])
}

fn failed(e: sqlx::Error) -> TransportError {
    TransportError(e.to_string())
}

#[async_trait]
impl Transport for PgTransport {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    async fn listen(&self) -> Result<Box<dyn Subscription>, TransportError> {
        let channel = self.channel().await?;
        // A pool of one for this subscription alone, dropped with it: a connection that was lost or gave
        // no sign of life is never handed out again.
        let pool = one_connection().max_lifetime(None).idle_timeout(None).connect_lazy_with(self.options.clone());
        let mut listener = PgListener::connect_with(&pool).await.map_err(failed)?;
        // A lost connection ends the subscription (the link makes a new one and moves the epoch).
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener.listen(channel).await.map_err(failed)?;
        let (frames, received) = mpsc::channel(READ_AHEAD);
        let reading = tokio::spawn(read(listener, frames));
        Ok(Box::new(PgSubscription { received, reading, _pool: pool }))
    }

    async fn send(&self, frames: &[String]) -> Result<(), TransportError> {
        let channel = self.channel().await?;
        sqlx::query("SELECT pg_notify($1, frame) FROM unnest($2::text[]) AS frame")
            .bind(channel)
            .bind(frames)
            .execute(&self.sender)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// Reads notifications into `frames` until the connection is lost (the last item is the error) or the
/// subscription is dropped. The reading runs in a task of its own because `PgListener` may not be
/// interrupted mid-read, while the link stops waiting for frames whenever it has something else to do.
async fn read(mut listener: PgListener, frames: mpsc::Sender<Result<String, TransportError>>) {
    loop {
        let item = match listener.try_recv().await {
            Ok(Some(notification)) => Ok(notification.payload().to_owned()),
            Ok(None) => Err(TransportError("the connection was lost".into())),
            Err(e) => Err(failed(e)),
        };
        let lost = item.is_err();
        if frames.send(item).await.is_err() || lost {
            return;
        }
    }
}

struct PgSubscription {
    received: mpsc::Receiver<Result<String, TransportError>>,
    reading: tokio::task::JoinHandle<()>,
    _pool: PgPool,
}

impl Drop for PgSubscription {
    fn drop(&mut self) {
        self.reading.abort();
    }
}

#[async_trait]
impl Subscription for PgSubscription {
    async fn next(&mut self) -> Result<String, TransportError> {
        self.received.recv().await.unwrap_or_else(|| Err(TransportError("the listening task ended".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::channel_for;

    #[test]
    fn channels_are_named_by_schema_within_postgres_limits() {
        let public = channel_for("public");
        assert_eq!(public, channel_for("public"));
        assert_ne!(public, channel_for("talon_test_1764500000_0190abcdef0123456789abcdef012345"));
        assert_eq!(public.len(), "talon_bus_".len() + 16);
        assert!(public.len() <= 63);
    }
}
