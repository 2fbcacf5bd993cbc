use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Admission, LimiterError, RateLimiter, Window, verdict};

/// Windows whose counters are swept once the map holds this many entries.
const SWEEP_AT: usize = 10_000;

/// Counters in this process: exact for one server, not shared between replicas (use Redis for that).
#[derive(Default)]
pub struct MemoryLimiter {
    counters: Mutex<HashMap<String, Counter>>,
}

struct Counter {
    window_start: u64,
    window_end: u64,
    count: u64,
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn admit(&self, windows: &[Window], now_ms: u64) -> Result<Admission, LimiterError> {
        // A poisoned lock only means another request panicked mid-update; the counts are still sound.
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        if counters.len() >= SWEEP_AT {
            counters.retain(|_, c| c.window_end > now_ms);
        }
        let mut counts = Vec::with_capacity(windows.len());
        for window in windows {
            let (start, _) = window.bounds(now_ms);
            let count = counters.get(&window.key).filter(|c| c.window_start == start).map_or(0, |c| c.count);
            counts.push(count);
        }
        if let Some(full) = windows.iter().zip(&counts).position(|(w, &c)| c >= w.max) {
            return Ok(verdict(windows, &counts, Some(full), now_ms));
        }
        for (window, count) in windows.iter().zip(counts.iter_mut()) {
            let (start, end) = window.bounds(now_ms);
            *count += 1;
            counters.insert(window.key.clone(), Counter { window_start: start, window_end: end, count: *count });
        }
        Ok(verdict(windows, &counts, None, now_ms))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn windows() -> Vec<Window> {
        vec![
            Window { key: "minute".into(), max: 3, period: Duration::from_secs(60) },
            Window { key: "day".into(), max: 5, period: Duration::from_secs(86_400) },
        ]
    }

    #[tokio::test]
    async fn admits_up_to_the_limit_then_refuses() {
        let limiter = MemoryLimiter::default();
        let w = windows();
        let remaining: Vec<u64> = {
            let mut out = Vec::new();
            for _ in 0..3 {
                out.push(limiter.admit(&w, 1_000).await.unwrap().remaining);
            }
            out
        };
        assert_eq!(remaining, [2, 1, 0]);
        assert!(!limiter.admit(&w, 1_000).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn a_new_window_starts_fresh_but_the_day_keeps_counting() {
        let limiter = MemoryLimiter::default();
        let w = windows();
        for _ in 0..3 {
            assert!(limiter.admit(&w, 1_000).await.unwrap().allowed);
        }
        let next_minute = 61_000;
        assert!(limiter.admit(&w, next_minute).await.unwrap().allowed);
        assert!(limiter.admit(&w, next_minute).await.unwrap().allowed);
        let refused = limiter.admit(&w, next_minute).await.unwrap();
        assert!(!refused.allowed, "the day's budget of 5 is spent");
        assert_eq!(refused.limit, 5);
    }

    #[tokio::test]
    async fn a_refusal_consumes_nothing() {
        let limiter = MemoryLimiter::default();
        let tight = vec![
            Window { key: "a".into(), max: 1, period: Duration::from_secs(60) },
            Window { key: "b".into(), max: 10, period: Duration::from_secs(60) },
        ];
        limiter.admit(&tight, 0).await.unwrap();
        for _ in 0..5 {
            assert!(!limiter.admit(&tight, 0).await.unwrap().allowed);
        }
        let only_b = vec![tight[1].clone()];
        assert_eq!(limiter.admit(&only_b, 0).await.unwrap().remaining, 8);
    }
}
