use async_trait::async_trait;
use redis::Script;

use super::link::RedisLink;
use super::{Admission, LimiterError, RateLimiter, Window, verdict};

/// Checks every window, and only if all have room counts the request in all of them, in one script so
/// that concurrent requests from any number of replicas are admitted exactly.
/// Returns `{denied_by (1-based, 0 = admitted), count_1, …, count_n}`.
const ADMIT: &str = r"
local n = #KEYS
local counts = {}
for i = 1, n do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  if c >= tonumber(ARGV[i]) then
    local out = {i}
    for j = 1, n do out[j + 1] = tonumber(redis.call('GET', KEYS[j]) or '0') end
    return out
  end
end
local out = {0}
for i = 1, n do
  local c = redis.call('INCR', KEYS[i])
  if c == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[n + i]) end
  out[i + 1] = c
end
return out
";

/// Counters in Redis, shared by every replica pointed at it.
pub struct RedisLimiter {
    link: RedisLink,
    script: Script,
    namespace: String,
}

impl RedisLimiter {
    /// `namespace` prefixes every key, so several deployments (or test runs) can share one Redis.
    pub fn new(link: RedisLink, namespace: &str) -> Self {
        Self { link, script: Script::new(ADMIT), namespace: namespace.to_owned() }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn admit(&self, windows: &[Window], now_ms: u64) -> Result<Admission, LimiterError> {
        let mut invocation = self.script.prepare_invoke();
        for window in windows {
            let (start, _) = window.bounds(now_ms);
            invocation.key(format!("{}:rl:{}:{}", self.namespace, window.key, start));
        }
        for window in windows {
            invocation.arg(window.max);
        }
        for window in windows {
            let (_, end) = window.bounds(now_ms);
            // Kept a little past the window's end so clock skew between replicas cannot reopen it.
            invocation.arg(end.saturating_sub(now_ms) + 1_000);
        }
        let mut connection = self.link.connection()?;
        let reply: Vec<u64> =
            invocation.invoke_async(&mut connection).await.map_err(|e| LimiterError(e.to_string()))?;
        let (denied, counts) = reply.split_first().ok_or_else(|| LimiterError("empty reply".into()))?;
        let denied_by = usize::try_from(*denied).ok().filter(|&d| d > 0).map(|d| d - 1);
        Ok(verdict(windows, counts, denied_by, now_ms))
    }
}
