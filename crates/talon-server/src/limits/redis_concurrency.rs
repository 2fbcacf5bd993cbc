//! Concurrency limits shared by every replica: each budget is a Redis sorted set of the permits in
//! flight, scored by when each lapses. A permit is refreshed while held and removed when dropped; a
//! replica that dies mid-answer leaves permits that lapse after `PERMIT_TTL`.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::concurrency::{Acquired, ConcurrencyLimiter, Permit, Slot};
use super::link::RedisLink;
use super::{LimiterError, now_ms};

/// How long a permit outlives its last refresh.
const PERMIT_TTL: Duration = Duration::from_secs(60);
const REFRESH_EVERY: Duration = Duration::from_secs(20);

/// Drops lapsed permits, then takes a place in every set only if all have room.
/// ARGV: now, lapses-at, member, key TTL, then each set's max. Returns the 1-based full set, or 0.
const ACQUIRE: &str = r"
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[4 + i]) then return i end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return 0
";

/// Moves a held permit's lapse time forward. ARGV: lapses-at, member, key TTL.
const REFRESH: &str = r"
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return 0
";

pub struct RedisConcurrency {
    link: RedisLink,
    acquire: Script,
    refresh: Script,
    namespace: String,
}

impl RedisConcurrency {
    pub fn new(link: RedisLink, namespace: &str) -> Self {
        Self { link, acquire: Script::new(ACQUIRE), refresh: Script::new(REFRESH), namespace: namespace.to_owned() }
    }
}

const TTL_MS: u64 = PERMIT_TTL.as_millis() as u64;

#[async_trait]
impl ConcurrencyLimiter for RedisConcurrency {
    async fn acquire(&self, slots: &[Slot]) -> Result<Acquired, LimiterError> {
        let keys: Vec<String> = slots.iter().map(|s| format!("{}:cc:{}", self.namespace, s.key)).collect();
        let member = uuid::Uuid::now_v7().simple().to_string();
        let now = now_ms();
        let mut invocation = self.acquire.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation.arg(now).arg(now + TTL_MS).arg(&member).arg(TTL_MS);
        for slot in slots {
            invocation.arg(slot.max);
        }
        let mut connection = self.link.connection()?;
        let full: u64 = invocation.invoke_async(&mut connection).await.map_err(|e| LimiterError(e.to_string()))?;
        if full > 0 {
            return Ok(Acquired::Refused { index: (full - 1) as usize });
        }
        let refresher =
            tokio::spawn(keep_alive(connection.clone(), self.refresh.clone(), keys.clone(), member.clone()));
        Ok(Acquired::Granted(Permit::new(move || {
            refresher.abort();
            // Dropped outside a runtime only at process exit, when the permit lapses by itself.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let mut pipe = redis::pipe();
                    for key in &keys {
                        pipe.zrem(key, &member).ignore();
                    }
                    if let Err(e) = pipe.query_async::<()>(&mut connection).await {
                        tracing::warn!(error = %e, "could not release a concurrency permit; it lapses by itself");
                    }
                });
            }
        })))
    }
}

async fn keep_alive(mut connection: ConnectionManager, refresh: Script, keys: Vec<String>, member: String) {
    let mut every = tokio::time::interval(REFRESH_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let mut invocation = refresh.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation.arg(now_ms() + TTL_MS).arg(&member).arg(TTL_MS);
        if let Err(e) = invocation.invoke_async::<()>(&mut connection).await {
            tracing::warn!(error = %e, "could not refresh a concurrency permit");
        }
    }
}
