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
//! trusted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::broadcast;

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

    /// The channel's name on the transport.
    pub fn channel(self) -> &'static str {
        match self {
            Topic::TasksQueued => "talon_tasks_queued",
            Topic::EventsWritten => "talon_events_written",
            Topic::Invalidate => "talon_invalidate",
        }
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

struct Inner {
    local: broadcast::Sender<Message>,
    /// Whether messages from other replicas are arriving (always true for a local bus).
    trusted: AtomicBool,
    /// Moves each time the transport (re)connects.
    epoch: AtomicU64,
}

#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

impl Bus {
    /// A bus for a single replica: in-process delivery only, always trusted.
    pub fn local() -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        Self { inner: Arc::new(Inner { local, trusted: AtomicBool::new(true), epoch: AtomicU64::new(0) }) }
    }

    /// Delivers `payload` on `topic` to this replica's subscribers and to every other replica's.
    pub fn publish(&self, topic: Topic, payload: impl Into<String>) {
        // No subscriber is not an error: nobody needs to hear it.
        let _ = self.inner.local.send(Message { topic, payload: payload.into() });
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
    }
}
