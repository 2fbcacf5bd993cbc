//! `Bus`: tells every replica what just changed. A message published here reaches this replica's
//! subscribers at once and, through the cross-replica transport (PostgreSQL `LISTEN/NOTIFY`, or Redis
//! pub/sub when Redis is configured), every other replica's.
//!
//! Two kinds of readers depend on it:
//! - loops waiting for work (task claimers, the runtime, webhook delivery) wake on `TasksQueued` and
//!   `EventsWritten` instead of waiting for their next poll;
//! - in-process caches drop an entry on `Invalidate`. Messages can be lost while the transport is down,
//!   so a cache serves an entry only while `trusted()` holds and the entry was filled in the current
//!   `epoch()` (the epoch moves each time the transport reconnects).
//!
//! With a single replica (`Bus::local`) there is no transport: delivery is in-process and always
//! trusted. With a transport, `run` (started with the background workers) keeps the link: one
//! connection listening, reconnected with backoff, and the sends (see `link`).

mod frame;
mod link;
mod outbox;
mod postgres;
mod redis;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::limits::RedisLink;
use link::Transport;
use outbox::{Outbox, Queued};

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Tasks were queued (payload: empty).
    TasksQueued,
    /// Events were written to the outbox (payload: empty).
    EventsWritten,
    /// A cached entry changed (payload: the entry's cache key, e.g. `key:<hash>`, `agent:<id>`).
    Invalidate,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::TasksQueued, Topic::EventsWritten, Topic::Invalidate];

    /// The topic's name on the transport (every message carries it).
    pub fn channel(self) -> &'static str {
        match self {
            Topic::TasksQueued => "talon_tasks_queued",
            Topic::EventsWritten => "talon_events_written",
            Topic::Invalidate => "talon_invalidate",
        }
    }

    fn from_channel(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| topic.channel() == name)
    }
}

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: Topic,
    pub payload: String,
}

/// Subscribers that fall this far behind lose messages (and see `RecvError::Lagged`, after which a
/// cache must drop everything).
const CAPACITY: usize = 1024;

/// Why a bus could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the bus: {0}")]
pub struct BusError(String);

struct Inner {
    local: broadcast::Sender<Message>,
    /// Whether messages from other replicas are arriving (always true for a local bus).
    trusted: AtomicBool,
    /// Moves each time the transport (re)connects.
    epoch: AtomicU64,
    /// Tags this process's messages, so that it skips them when the transport echoes them back.
    replica: String,
    /// How messages reach other replicas; `None` for a single replica.
    transport: Option<Arc<dyn Transport>>,
    /// What waits to be sent to other replicas.
    outbox: Outbox,
}

#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

impl Bus {
    /// A bus for a single replica: in-process delivery only, always trusted.
    pub fn local() -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        Self {
            inner: Arc::new(Inner {
                local,
                trusted: AtomicBool::new(true),
                epoch: AtomicU64::new(0),
                replica: frame::replica_id(),
                transport: None,
                outbox: Outbox::default(),
            }),
        }
    }

    /// A bus over PostgreSQL `LISTEN/NOTIFY` on the store's database: its own connections (one
    /// listening, one sending), named `talon-bus <replica id>` in `pg_stat_activity`, on a channel of
    /// the store's schema (`talon_bus_` and a hash of the schema's name), so that installations sharing
    /// a database in different schemas do not hear each other.
    pub fn postgres(pool: &sqlx::PgPool) -> Self {
        Self::with_transport(|replica| Arc::new(postgres::PgTransport::new(pool, replica)))
    }

    /// A bus over Redis pub/sub: a connection of its own subscribed to `<namespace>:bus`, and
    /// messages sent through the shared Redis connection.
    pub fn redis(url: &str, link: RedisLink, namespace: &str) -> Result<Self, BusError> {
        let transport = redis::RedisTransport::new(url, link, namespace).map_err(|e| BusError(e.to_string()))?;
        Ok(Self::with_transport(|_| Arc::new(transport)))
    }

    /// The transport a deployment calls for: Redis pub/sub when Redis is configured, else PostgreSQL's
    /// `LISTEN/NOTIFY` when the store is on PostgreSQL, else none (a single SQLite replica).
    pub fn for_deployment(
        store: &dyn talon_store::Store,
        redis: Option<(&str, &RedisLink)>,
        namespace: &str,
    ) -> Result<Self, BusError> {
        match (redis, store.postgres_pool()) {
            (Some((url, link)), _) => Self::redis(url, link.clone(), namespace),
            (None, Some(pool)) => Ok(Self::postgres(&pool)),
            (None, None) => Ok(Self::local()),
        }
    }

    fn with_transport(make: impl FnOnce(&str) -> Arc<dyn Transport>) -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        let replica = frame::replica_id();
        let transport = make(&replica);
        Self {
            inner: Arc::new(Inner {
                local,
                // Nothing from other replicas is heard until the transport listens.
                trusted: AtomicBool::new(false),
                epoch: AtomicU64::new(0),
                replica,
                transport: Some(transport),
                outbox: Outbox::default(),
            }),
        }
    }

    /// Delivers `payload` on `topic` to this replica's subscribers and to every other replica's.
    /// A payload too long for the transport (see `frame::MAX_FRAME`) reaches this replica only.
    pub fn publish(&self, topic: Topic, payload: impl Into<String>) {
        let payload = payload.into();
        self.inner.send_to_others(topic.channel(), &payload);
        // No subscriber is not an error: nobody needs to hear it.
        let _ = self.inner.local.send(Message { topic, payload });
    }

    /// Tells the other replicas (only them) that there is work on `topic`: this replica's loops were
    /// woken directly (see `Signal`). Repeats coalesce while one is on its way.
    pub(crate) fn tell_others(&self, topic: Topic) {
        self.inner.send_to_others(topic.channel(), "");
    }

    /// Every message from now on, on every topic; filter by `Message::topic`.
    pub fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.inner.local.subscribe()
    }

    /// Whether a cache may serve entries now: false while other replicas' messages may be missed.
    pub fn trusted(&self) -> bool {
        self.inner.trusted.load(Ordering::Acquire)
    }

    /// The transport's connection generation: an entry filled in an earlier epoch may have missed its
    /// invalidation.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Whether other replicas' messages arrive now (a transport, listening): loops waiting for work
    /// may then poll slowly, as a safety net only.
    pub fn hears_other_replicas(&self) -> bool {
        self.inner.transport.is_some() && self.trusted()
    }

    /// This process's id on the transport (PostgreSQL's `application_name` is `talon-bus <id>`).
    pub fn replica_id(&self) -> &str {
        &self.inner.replica
    }

    /// Keeps the link to the other replicas until `stop` is cancelled, then sends what waits (briefly)
    /// and returns. Returns at once for a local bus.
    pub async fn run(&self, stop: CancellationToken) {
        if let Some(transport) = self.inner.transport.clone() {
            link::run(self.inner.clone(), transport, stop, link::Timing::DEFAULT).await;
        }
    }
}

impl Inner {
    fn send_to_others(&self, name: &str, payload: &str) {
        if self.transport.is_none() {
            return;
        }
        let Some(frame) = frame::encode(&self.replica, name, payload) else {
            tracing::warn!(
                channel = name,
                bytes = payload.len(),
                "a bus message is too long for the transport; only this replica hears it"
            );
            return;
        };
        if self.outbox.push(frame) == Queued::Full {
            tracing::warn!(channel = name, "too many bus messages wait to be sent; this one is dropped");
        }
    }

    /// Hands a received frame to this replica's subscribers; true when it was this replica's own.
    fn receive(&self, frame: &str) -> bool {
        match frame::decode(frame, &self.replica) {
            frame::Incoming::Own { .. } => true,
            frame::Incoming::Other { name, payload } => {
                if let Some(topic) = Topic::from_channel(name) {
                    let _ = self.local.send(Message { topic, payload: payload.to_owned() });
                }
                false
            }
            frame::Incoming::Malformed => {
                tracing::debug!("ignored a message on the bus channel that Talon did not send");
                false
            }
        }
    }

    /// The transport listens again: entries filled before may have missed invalidations (a new epoch),
    /// and work may have been announced meanwhile (the waiting loops look once).
    fn connected(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.trusted.store(true, Ordering::Release);
        metrics::gauge!("talon_bus_connected").set(1.0);
        metrics::counter!("talon_bus_connects_total").increment(1);
        for topic in [Topic::TasksQueued, Topic::EventsWritten] {
            let _ = self.local.send(Message { topic, payload: String::new() });
        }
    }

    fn disconnected(&self) {
        self.trusted.store(false, Ordering::Release);
        metrics::gauge!("talon_bus_connected").set(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::{Bus, Topic};

    #[tokio::test]
    async fn a_local_bus_delivers_to_its_subscribers_and_is_trusted() {
        let bus = Bus::local();
        let mut rx = bus.subscribe();
        bus.publish(Topic::Invalidate, "key:abc");
        let message = rx.recv().await.unwrap();
        assert_eq!((message.topic, message.payload.as_str()), (Topic::Invalidate, "key:abc"));
        assert!(bus.trusted());
        assert_eq!(bus.epoch(), 0);
        assert!(!bus.hears_other_replicas());
    }

    #[test]
    fn topics_are_known_by_their_channel_names() {
        for topic in Topic::ALL {
            assert_eq!(Topic::from_channel(topic.channel()), Some(topic));
        }
        assert_eq!(Topic::from_channel("talon_heartbeat"), None);
    }
}
