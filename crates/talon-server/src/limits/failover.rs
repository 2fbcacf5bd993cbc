//! The Redis limiters behind a budget. Each call has `budget` (`DEFAULT_LIMITER_BUDGET` unless
//! configured); when Redis fails or is slower,
//! the request is counted in this process instead (fail-open to per-replica limits, never to no
//! limits), the failure is counted in `/metrics` (`talon_redis_errors_total{op}`,
//! `talon_limiter_fallback_total{limiter}`) and logged at warn at most once every `LOG_EVERY_MS`.
//! After a failure Redis is left alone for `RESTING_MS`, so that during an outage requests are not
//! each held up by the budget; the first call after that tries Redis again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::concurrency::{Acquired, ConcurrencyLimiter, MemoryConcurrency, Slot};
use super::{Admission, LimiterError, MemoryLimiter, RateLimiter, Window, now_ms};

/// What one limiter call may add to a request before the in-process fallback decides instead.
pub const DEFAULT_LIMITER_BUDGET: Duration = Duration::from_millis(100);
const LOG_EVERY_MS: u64 = 10_000;
const RESTING_MS: u64 = 1_000;

/// When Redis may next be asked, in milliseconds since the epoch (0: now).
#[derive(Default)]
struct Resting {
    until_ms: AtomicU64,
}

impl Resting {
    fn is_resting(&self) -> bool {
        now_ms() < self.until_ms.load(Ordering::Relaxed)
    }

    fn start(&self) {
        self.until_ms.store(now_ms() + RESTING_MS, Ordering::Relaxed);
    }
}

/// Warn lines about one kind of failure, at most one every `LOG_EVERY_MS`, each saying how many
/// failures it stands for.
#[derive(Default)]
struct ThrottledWarning {
    last_logged_ms: AtomicU64,
    unlogged: AtomicU64,
}

impl ThrottledWarning {
    fn warn(&self, op: &'static str, error: &str) {
        let now = now_ms();
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LOG_EVERY_MS;
        if due && self.last_logged_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let failures = self.unlogged.swap(0, Ordering::Relaxed) + 1;
            tracing::warn!(
                op,
                error,
                failures,
                "Redis limiter unavailable; counting in this process (limits are per replica until Redis answers)"
            );
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn record_failure(op: &'static str, warning: &ThrottledWarning, resting: &Resting, error: &str) {
    metrics::counter!("talon_redis_errors_total", "op" => op).increment(1);
    warning.warn(op, error);
    resting.start();
}

fn record_fallback(op: &'static str) {
    metrics::counter!("talon_limiter_fallback_total", "limiter" => op).increment(1);
}

/// Rate limits in Redis, or in this process while Redis cannot answer in time.
pub struct FailoverLimiter {
    primary: Box<dyn RateLimiter>,
    budget: Duration,
    fallback: MemoryLimiter,
    warning: ThrottledWarning,
    resting: Resting,
}

impl FailoverLimiter {
    pub fn new(primary: impl RateLimiter + 'static, budget: Duration) -> Self {
        Self {
            primary: Box::new(primary),
            budget,
            fallback: MemoryLimiter::default(),
            warning: ThrottledWarning::default(),
            resting: Resting::default(),
        }
    }
}

#[async_trait]
impl RateLimiter for FailoverLimiter {
    async fn admit(&self, windows: &[Window], now_ms: u64) -> Result<Admission, LimiterError> {
        if !self.resting.is_resting() {
            let error = match tokio::time::timeout(self.budget, self.primary.admit(windows, now_ms)).await {
                Ok(Ok(admission)) => return Ok(admission),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} ms", self.budget.as_millis()),
            };
            record_failure("rate_limit", &self.warning, &self.resting, &error);
        }
        record_fallback("rate_limit");
        self.fallback.admit(windows, now_ms).await
    }
}

/// Concurrency permits in Redis, or in this process while Redis cannot answer in time. A permit Redis
/// granted after the budget ran out is never released by us; it lapses by itself (`PERMIT_TTL`).
pub struct FailoverConcurrency {
    primary: Box<dyn ConcurrencyLimiter>,
    budget: Duration,
    fallback: MemoryConcurrency,
    warning: ThrottledWarning,
    resting: Resting,
}

impl FailoverConcurrency {
    pub fn new(primary: impl ConcurrencyLimiter + 'static, budget: Duration) -> Self {
        Self {
            primary: Box::new(primary),
            budget,
            fallback: MemoryConcurrency::default(),
            warning: ThrottledWarning::default(),
            resting: Resting::default(),
        }
    }
}

#[async_trait]
impl ConcurrencyLimiter for FailoverConcurrency {
    async fn acquire(&self, slots: &[Slot]) -> Result<Acquired, LimiterError> {
        if !self.resting.is_resting() {
            let error = match tokio::time::timeout(self.budget, self.primary.acquire(slots)).await {
                Ok(Ok(acquired)) => return Ok(acquired),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} ms", self.budget.as_millis()),
            };
            record_failure("concurrency", &self.warning, &self.resting, &error);
        }
        record_fallback("concurrency");
        self.fallback.acquire(slots).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stalled;

    #[async_trait]
    impl RateLimiter for Stalled {
        async fn admit(&self, _: &[Window], _: u64) -> Result<Admission, LimiterError> {
            std::future::pending().await
        }
    }

    #[async_trait]
    impl ConcurrencyLimiter for Stalled {
        async fn acquire(&self, _: &[Slot]) -> Result<Acquired, LimiterError> {
            Err(LimiterError("connection refused".into()))
        }
    }

    #[tokio::test]
    async fn a_stalled_backend_is_replaced_by_in_process_counting() {
        let limiter = FailoverLimiter::new(Stalled, DEFAULT_LIMITER_BUDGET);
        let windows = [Window { key: "k".into(), max: 2, period: Duration::from_secs(60) }];
        let verdicts: Vec<bool> = {
            let mut out = Vec::new();
            for _ in 0..3 {
                out.push(limiter.admit(&windows, 1_000).await.unwrap().allowed);
            }
            out
        };
        assert_eq!(verdicts, [true, true, false], "the fallback still limits");
    }

    #[tokio::test]
    async fn a_failing_backend_is_replaced_for_permits_too() {
        let limiter = FailoverConcurrency::new(Stalled, DEFAULT_LIMITER_BUDGET);
        let slots = [Slot { key: "agent".into(), max: 1 }];
        let held = limiter.acquire(&slots).await.unwrap();
        assert!(matches!(held, Acquired::Granted(_)));
        assert!(matches!(limiter.acquire(&slots).await.unwrap(), Acquired::Refused { index: 0 }));
    }
}
