//! Rate limits: fixed windows counted in-process or in Redis. A request passes only if every window it
//! counts against has room, and then it is counted in all of them in one atomic step, so N concurrent
//! requests against a budget of K admit exactly K.

pub mod auth;
pub mod concurrency;
mod failover;
mod link;
mod memory;
mod plans;
mod redis;
mod redis_concurrency;

use std::time::Duration;

use async_trait::async_trait;

pub use auth::{AuthGuard, AuthLimits};
pub use concurrency::{Acquired, ConcurrencyLimiter, MemoryConcurrency, Permit, Slot};
pub use failover::{DEFAULT_LIMITER_BUDGET, FailoverConcurrency, FailoverLimiter};
pub use link::RedisLink;
pub use memory::MemoryLimiter;
pub use plans::{Plan, Plans};
pub use redis::RedisLimiter;
pub use redis_concurrency::RedisConcurrency;

/// Milliseconds since the epoch: windows and permits are aligned to the wall clock, which replicas share.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// One budget: at most `max` requests per `period`, counted under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub key: String,
    pub max: u64,
    pub period: Duration,
}

impl Window {
    /// The start of the current window and its end, in milliseconds since the epoch.
    fn bounds(&self, now_ms: u64) -> (u64, u64) {
        let period = u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX).max(1);
        let start = now_ms - now_ms % period;
        (start, start.saturating_add(period))
    }
}

/// The verdict on one request, with what the rate-limit headers report: the window that refused it,
/// or else the window closest to running out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Epoch seconds at which the reported window resets.
    pub reset_at: u64,
    /// Seconds until the reported window resets (at least 1).
    pub retry_after: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct LimiterError(String);

#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn admit(&self, windows: &[Window], now_ms: u64) -> Result<Admission, LimiterError>;
}

/// Builds the verdict from the counts after the attempt: `counts[i]` is window i's count including this
/// request when `denied_by` is `None`, or its count unchanged when window `denied_by` was full.
fn verdict(windows: &[Window], counts: &[u64], denied_by: Option<usize>, now_ms: u64) -> Admission {
    let reported = denied_by
        .unwrap_or_else(|| (0..windows.len()).min_by_key(|&i| windows[i].max.saturating_sub(counts[i])).unwrap_or(0));
    let Some(window) = windows.get(reported) else {
        return Admission { allowed: true, limit: 0, remaining: 0, reset_at: now_ms / 1000, retry_after: 1 };
    };
    let (_, end) = window.bounds(now_ms);
    Admission {
        allowed: denied_by.is_none(),
        limit: window.max,
        remaining: window.max.saturating_sub(counts[reported]),
        reset_at: end.div_ceil(1000),
        retry_after: (end.saturating_sub(now_ms)).div_ceil(1000).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(key: &str, max: u64, secs: u64) -> Window {
        Window { key: key.into(), max, period: Duration::from_secs(secs) }
    }

    #[test]
    fn bounds_align_to_the_period() {
        let w = window("k", 1, 60);
        assert_eq!(w.bounds(125_000), (120_000, 180_000));
    }

    #[test]
    fn verdict_reports_the_tightest_window_when_allowed() {
        let windows = [window("minute", 100, 60), window("day", 10, 86_400)];
        let v = verdict(&windows, &[5, 9], None, 1_000);
        assert!(v.allowed);
        assert_eq!((v.limit, v.remaining), (10, 1));
    }

    #[test]
    fn verdict_reports_the_refusing_window() {
        let windows = [window("minute", 100, 60), window("day", 10, 86_400)];
        let v = verdict(&windows, &[100, 3], Some(0), 30_500);
        assert!(!v.allowed);
        assert_eq!((v.limit, v.remaining, v.reset_at, v.retry_after), (100, 0, 60, 30));
    }
}
