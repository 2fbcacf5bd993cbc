//! In-process caches for the hot paths, so that a chat request or an agent read makes no database
//! round trip: API keys by hash (with their account and its plan), and agents with their current and
//! served versions.
//!
//! An entry is dropped by every change that affects it, on every replica: the service that made the
//! change calls `Caches::invalidate` once its write is committed, which drops the entry here at once
//! (before the response) and publishes an `Invalidate` message on the bus, which the other replicas'
//! listeners apply. Because a message can be lost while the bus's transport is down, an entry is
//! served only while the bus is trusted and in the epoch it was filled in; a listener that falls behind
//! drops everything; and no entry is served longer than `MAX_AGE`, which bounds what a change made
//! outside the server (`talon set-plan`, a manual SQL update) or a lost message can leave stale.

mod aged_map;
mod agents;
mod keys;

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use talon_domain::{AgentId, ApiKeyId, UserId};
use tokio::sync::broadcast::error::RecvError;

pub use aged_map::{AgedMap, Freshness, Ticket};
pub use agents::{AgentCache, AgentVersion};
pub use keys::{CachedKey, KeyCache};

use super::bus::{Bus, Topic};

/// The longest an entry is served after the read that filled it.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// Entries kept per cache at most.
pub const CAPACITY: usize = 10_000;

/// A change that makes cached entries stale. Its text form is the bus message's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// One API key changed (it was revoked).
    Key(ApiKeyId),
    /// The account changed (its plan): every one of its keys, which carry it.
    Account(UserId),
    /// The keys restricted to this agent (they moved with it to another account).
    AgentKeys(AgentId),
    /// The agent changed: status, deployment, head, profile, fork count, owner, or it was deleted.
    Agent(AgentId),
    /// The agent's forks changed (their parent was deleted, which cleared their link to it).
    Forks(AgentId),
    /// Anything may have changed.
    Everything,
}

impl fmt::Display for Invalidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalidation::Key(id) => write!(f, "key:{id}"),
            Invalidation::Account(id) => write!(f, "account:{id}"),
            Invalidation::AgentKeys(id) => write!(f, "agent-keys:{id}"),
            Invalidation::Agent(id) => write!(f, "agent:{id}"),
            Invalidation::Forks(id) => write!(f, "forks:{id}"),
            Invalidation::Everything => f.write_str("everything"),
        }
    }
}

impl Invalidation {
    /// Reads a payload; one this replica does not understand (sent by a newer version, say) drops
    /// everything, which is always safe.
    pub fn parse(payload: &str) -> Self {
        let parsed = match payload.split_once(':') {
            Some(("key", id)) => ApiKeyId::parse(id).ok().map(Invalidation::Key),
            Some(("account", id)) => UserId::parse(id).ok().map(Invalidation::Account),
            Some(("agent-keys", id)) => AgentId::parse(id).ok().map(Invalidation::AgentKeys),
            Some(("agent", id)) => AgentId::parse(id).ok().map(Invalidation::Agent),
            Some(("forks", id)) => AgentId::parse(id).ok().map(Invalidation::Forks),
            _ => None,
        };
        parsed.unwrap_or(Invalidation::Everything)
    }
}

pub struct Caches {
    pub keys: KeyCache,
    pub agents: AgentCache,
    bus: Bus,
}

impl Caches {
    /// The caches, with a listener applying the bus's invalidations for as long as they exist.
    /// Subscribes before anything can be filled, so no invalidation published after a fill is missed.
    pub fn start(bus: Bus) -> Arc<Self> {
        Self::start_with(bus, CAPACITY, MAX_AGE)
    }

    pub fn start_with(bus: Bus, capacity: usize, max_age: Duration) -> Arc<Self> {
        let caches = Arc::new(Self {
            keys: KeyCache::new(capacity, max_age, bus.clone()),
            agents: AgentCache::new(capacity, max_age, bus.clone()),
            bus,
        });
        let receiver = caches.bus.subscribe();
        tokio::spawn(listen(Arc::downgrade(&caches), receiver));
        caches
    }

    /// Drops what `change` makes stale here, at once, and tells every other replica. Call it after the
    /// change is committed: a read racing it then either sees the change or is not kept.
    pub fn invalidate(&self, change: Invalidation) {
        self.apply(change);
        self.bus.publish(Topic::Invalidate, change.to_string());
    }

    fn apply(&self, change: Invalidation) {
        match change {
            Invalidation::Key(id) => self.keys.remove_key(id),
            Invalidation::Account(id) => self.keys.remove_account(id),
            Invalidation::AgentKeys(id) => self.keys.remove_agent_keys(id),
            Invalidation::Agent(id) => self.agents.remove(id),
            Invalidation::Forks(id) => self.agents.remove_forks_of(id),
            Invalidation::Everything => self.clear(),
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.keys.clear();
        self.agents.clear();
    }
}

/// Applies invalidations from the bus until the caches are dropped or the bus closes. A listener that
/// fell behind has lost messages, so it drops everything.
async fn listen(caches: Weak<Caches>, mut receiver: tokio::sync::broadcast::Receiver<super::bus::Message>) {
    loop {
        let received = receiver.recv().await;
        let Some(caches) = caches.upgrade() else { return };
        match received {
            Ok(message) if message.topic == Topic::Invalidate => caches.apply(Invalidation::parse(&message.payload)),
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the cache listener fell behind the bus; dropping every cached entry");
                caches.clear();
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use talon_domain::{AgentId, ApiKeyId, UserId};

    use super::Invalidation;

    #[test]
    fn invalidations_read_back_what_they_write_and_unknown_ones_drop_everything() {
        for change in [
            Invalidation::Key(ApiKeyId::new()),
            Invalidation::Account(UserId::new()),
            Invalidation::AgentKeys(AgentId::new()),
            Invalidation::Agent(AgentId::new()),
            Invalidation::Forks(AgentId::new()),
            Invalidation::Everything,
        ] {
            assert_eq!(Invalidation::parse(&change.to_string()), change);
        }
        assert_eq!(Invalidation::parse("webhook:hook_1"), Invalidation::Everything);
        assert_eq!(Invalidation::parse("agent:not-an-id"), Invalidation::Everything);
    }
}
