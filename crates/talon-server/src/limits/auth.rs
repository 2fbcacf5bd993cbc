//! Limits on the endpoints anyone may call: sign-in attempts per client address and per email,
//! registrations per client address (counted like every other rate limit, in-process or in Redis),
//! and how many passwords are hashed at once. Argon2 takes ~19 MiB and tens of milliseconds of CPU per
//! hash, so without a cap a burst of logins costs gigabytes of memory.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{RateLimiter, Window, now_ms};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
/// Seconds a caller refused for want of a hashing place is told to wait.
const HASHING_RETRY_AFTER: u64 = 1;

/// `[auth_limits]` in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthLimits {
    /// Sign-in attempts for one email a minute, from anywhere.
    pub login_per_email_per_minute: u64,
    /// Sign-in attempts from one client address a minute, for any email.
    pub login_per_address_per_minute: u64,
    /// Registrations from one client address an hour.
    pub register_per_address_per_hour: u64,
    /// Passwords hashed or verified at once; 0 means twice the number of cores.
    pub concurrent_password_hashes: usize,
    /// How long a sign-in or registration may wait for a hashing place before it is 503.
    pub password_hash_wait_ms: u64,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            login_per_email_per_minute: 10,
            login_per_address_per_minute: 30,
            register_per_address_per_hour: 10,
            concurrent_password_hashes: 0,
            password_hash_wait_ms: 1_000,
        }
    }
}

impl AuthLimits {
    fn hashing_places(&self) -> usize {
        match self.concurrent_password_hashes {
            0 => 2 * std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

/// Admits sign-ins and registrations, and hands out places to hash a password.
/// Why a sign-in or registration was not admitted, and when to come back (whole seconds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{message}")]
    RateLimited { message: &'static str, retry_after: u64 },
    #[error("{message}")]
    Busy { message: &'static str, retry_after: u64 },
}

pub struct AuthGuard {
    limiter: Arc<dyn RateLimiter>,
    limits: AuthLimits,
    hashing: Arc<Semaphore>,
}

impl AuthGuard {
    pub fn new(limiter: Arc<dyn RateLimiter>, limits: AuthLimits) -> Self {
        let hashing = Arc::new(Semaphore::new(limits.hashing_places()));
        Self { limiter, limits, hashing }
    }

    /// Counts a sign-in attempt against the client's address and the email (when given).
    pub async fn admit_login(&self, client: IpAddr, email: Option<&str>) -> Result<(), Refusal> {
        let mut windows = vec![Window {
            key: format!("login:addr:{client}"),
            max: self.limits.login_per_address_per_minute,
            period: MINUTE,
        }];
        if let Some(email) = email {
            windows.push(Window {
                key: format!("login:email:{}", email_key(email)),
                max: self.limits.login_per_email_per_minute,
                period: MINUTE,
            });
        }
        self.admit(&windows, "Too many sign-in attempts; retry later").await
    }

    /// Counts a registration against the client's address.
    pub async fn admit_register(&self, client: IpAddr) -> Result<(), Refusal> {
        let windows = [Window {
            key: format!("register:addr:{client}"),
            max: self.limits.register_per_address_per_hour,
            period: HOUR,
        }];
        self.admit(&windows, "Too many registrations from this address; retry later").await
    }

    async fn admit(&self, windows: &[Window], refusal: &'static str) -> Result<(), Refusal> {
        match self.limiter.admit(windows, now_ms()).await {
            Ok(admission) if admission.allowed => Ok(()),
            Ok(admission) => {
                metrics::counter!("talon_auth_refused_total", "reason" => "rate_limited").increment(1);
                Err(Refusal::RateLimited { message: refusal, retry_after: admission.retry_after })
            }
            Err(e) => {
                // The limiters fall back to in-process counting themselves; this is a last resort.
                tracing::warn!(error = %e, "auth rate limiter failed; admitting the request");
                Ok(())
            }
        }
    }

    /// A place to hash one password, held until dropped; 503 if none frees up within the wait.
    pub async fn hashing_place(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        let wait = Duration::from_millis(self.limits.password_hash_wait_ms);
        match tokio::time::timeout(wait, self.hashing.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("talon_auth_refused_total", "reason" => "hashing_busy").increment(1);
                Err(Refusal::Busy {
                    message: "The server is busy signing others in; retry shortly",
                    retry_after: HASHING_RETRY_AFTER,
                })
            }
        }
    }
}

/// Emails are counted under a digest of their normalised form, so the limiter's keys (in Redis too)
/// hold no addresses.
fn email_key(email: &str) -> String {
    hex::encode(&Sha256::digest(email.trim().to_lowercase().as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MemoryLimiter;

    fn guard(limits: AuthLimits) -> AuthGuard {
        AuthGuard::new(Arc::new(MemoryLimiter::default()), limits)
    }

    #[test]
    fn email_keys_ignore_case_and_spaces() {
        assert_eq!(email_key(" Alice@Example.com"), email_key("alice@example.com"));
        assert_ne!(email_key("alice@example.com"), email_key("bob@example.com"));
    }

    #[test]
    fn hashing_places_default_to_twice_the_cores() {
        assert!(AuthLimits::default().hashing_places() >= 2);
        assert_eq!(AuthLimits { concurrent_password_hashes: 3, ..Default::default() }.hashing_places(), 3);
    }

    #[tokio::test]
    async fn one_email_is_refused_after_its_budget_from_any_address() {
        let guard = guard(AuthLimits { login_per_email_per_minute: 2, ..Default::default() });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(guard.admit_login(a, Some("x@example.com")).await.is_ok());
        assert!(guard.admit_login(b, Some("X@example.com")).await.is_ok());
        assert!(guard.admit_login(a, Some("x@example.com")).await.is_err());
        assert!(guard.admit_login(a, Some("y@example.com")).await.is_ok());
    }

    #[tokio::test]
    async fn no_hashing_place_within_the_wait_is_refused() {
        let guard =
            guard(AuthLimits { concurrent_password_hashes: 1, password_hash_wait_ms: 10, ..Default::default() });
        let held = guard.hashing_place().await.unwrap();
        assert!(guard.hashing_place().await.is_err());
        drop(held);
        assert!(guard.hashing_place().await.is_ok());
    }
}
