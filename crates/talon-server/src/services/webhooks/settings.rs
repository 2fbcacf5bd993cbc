//! How webhook deliveries go out: the target policy, the retry schedule, timeouts and concurrency.

use std::time::Duration;

/// How deliveries go out.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Allow loopback and private targets (local setups and tests).
    pub allow_private: bool,
    /// Delays before each retry; attempts stop when it runs out.
    pub retry_schedule: Vec<Duration>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How often an idle dispatcher looks for events written by other replicas while it cannot hear
    /// them on the bus (changes on this replica, its retries falling due, and other replicas' changes
    /// through the bus wake it at once; see `Signal::poll_every`).
    pub poll_every: Duration,
    /// Deliveries in flight at once, per server (0: this server sends none; other replicas do).
    pub concurrency: usize,
    /// Deliveries in flight at once to one webhook (across replicas).
    pub per_webhook_in_flight: usize,
    /// Deliveries in flight at once for one account (across replicas), so one account's slow
    /// endpoints cannot hold every slot.
    pub per_account_in_flight: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_schedule: talon_domain::webhook::DEFAULT_RETRY_SCHEDULE.to_vec(),
            timeout: Duration::from_secs(15),
            poll_every: Duration::from_millis(200),
            concurrency: crate::config::DEFAULT_WEBHOOK_WORKERS,
            per_webhook_in_flight: 2,
            per_account_in_flight: 8,
        }
    }
}
