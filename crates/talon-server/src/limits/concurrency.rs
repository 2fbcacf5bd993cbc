//! Concurrency limits: how many answers may be in flight at once per account and per agent. A request
//! takes a slot in every budget it counts against, all at once or none, and holds them in a `Permit`
//! until the answer ends or the caller goes away (the permit is dropped with the response body).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::LimiterError;

/// One budget: at most `max` answers in flight under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub key: String,
    pub max: u64,
}

/// Held slots; dropping it gives them back.
pub struct Permit {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Permit {
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self { release: Some(Box::new(release)) }
    }

    /// A permit that holds nothing (when the limiter could not be asked).
    pub fn unlimited() -> Self {
        Self { release: None }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("holds", &self.release.is_some()).finish()
    }
}

#[derive(Debug)]
pub enum Acquired {
    Granted(Permit),
    /// `slots[index]` was full; nothing was taken.
    Refused {
        index: usize,
    },
}

#[async_trait]
pub trait ConcurrencyLimiter: Send + Sync {
    async fn acquire(&self, slots: &[Slot]) -> Result<Acquired, LimiterError>;
}

/// Counts in this process: exact for one server, not shared between replicas (use Redis for that).
#[derive(Default)]
pub struct MemoryConcurrency {
    in_flight: Arc<Mutex<HashMap<String, u64>>>,
}

#[cfg(test)]
impl MemoryConcurrency {
    /// Answers in flight under `key` right now.
    pub fn in_flight(&self, key: &str) -> u64 {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).get(key).copied().unwrap_or(0)
    }
}

#[async_trait]
impl ConcurrencyLimiter for MemoryConcurrency {
    async fn acquire(&self, slots: &[Slot]) -> Result<Acquired, LimiterError> {
        // A poisoned lock only means another request panicked mid-update; the counts are still sound.
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = slots.iter().position(|s| in_flight.get(&s.key).copied().unwrap_or(0) >= s.max) {
            return Ok(Acquired::Refused { index });
        }
        for slot in slots {
            *in_flight.entry(slot.key.clone()).or_default() += 1;
        }
        let counts = self.in_flight.clone();
        let keys: Vec<String> = slots.iter().map(|s| s.key.clone()).collect();
        Ok(Acquired::Granted(Permit::new(move || {
            let mut in_flight = counts.lock().unwrap_or_else(|p| p.into_inner());
            for key in keys {
                if let Some(n) = in_flight.get_mut(&key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        in_flight.remove(&key);
                    }
                }
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots() -> Vec<Slot> {
        vec![Slot { key: "account".into(), max: 3 }, Slot { key: "agent".into(), max: 2 }]
    }

    #[tokio::test]
    async fn admits_up_to_the_tightest_slot_and_releases_on_drop() {
        let limiter = MemoryConcurrency::default();
        let first = limiter.acquire(&slots()).await.unwrap();
        let second = limiter.acquire(&slots()).await.unwrap();
        assert!(matches!(first, Acquired::Granted(_)) && matches!(second, Acquired::Granted(_)));
        assert!(matches!(limiter.acquire(&slots()).await.unwrap(), Acquired::Refused { index: 1 }));
        assert_eq!(limiter.in_flight("account"), 2, "a refusal takes nothing");
        drop(first);
        assert_eq!((limiter.in_flight("account"), limiter.in_flight("agent")), (1, 1));
        assert!(matches!(limiter.acquire(&slots()).await.unwrap(), Acquired::Granted(_)));
    }

    #[tokio::test]
    async fn a_full_account_refuses_any_agent() {
        let limiter = MemoryConcurrency::default();
        let one = vec![Slot { key: "account".into(), max: 1 }, Slot { key: "agent-a".into(), max: 5 }];
        let other = vec![Slot { key: "account".into(), max: 1 }, Slot { key: "agent-b".into(), max: 5 }];
        let _held = limiter.acquire(&one).await.unwrap();
        assert!(matches!(limiter.acquire(&other).await.unwrap(), Acquired::Refused { index: 0 }));
        assert_eq!(limiter.in_flight("agent-b"), 0);
    }
}
