use std::collections::HashMap;

use serde::Deserialize;
use talon_domain::account::DEFAULT_PLAN;

/// The limits of one plan. Operators define plans in the config file; accounts name theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub key_requests_per_minute: u64,
    pub account_requests_per_day: u64,
    /// Chat answers one agent may start per minute, whoever asks.
    #[serde(default = "defaults::agent_chats_per_minute")]
    pub agent_chats_per_minute: u64,
    /// Chat answers in flight at once, across the account's agents.
    #[serde(default = "defaults::account_concurrent_chats")]
    pub account_concurrent_chats: u64,
    /// Chat answers in flight at once for one agent.
    #[serde(default = "defaults::agent_concurrent_chats")]
    pub agent_concurrent_chats: u64,
    /// Marketplace requests per hour per key, on top of the per-minute budget.
    #[serde(default = "defaults::marketplace_requests_per_hour")]
    pub marketplace_requests_per_hour: u64,
    /// Proposal submissions per minute per key.
    #[serde(default = "defaults::proposals_per_minute")]
    pub proposals_per_minute: u64,
}

mod defaults {
    pub fn agent_chats_per_minute() -> u64 {
        600
    }
    pub fn account_concurrent_chats() -> u64 {
        20
    }
    pub fn agent_concurrent_chats() -> u64 {
        10
    }
    pub fn marketplace_requests_per_hour() -> u64 {
        1_000
    }
    pub fn proposals_per_minute() -> u64 {
        10
    }
}

impl Default for Plan {
    /// The documented defaults: 100 requests a minute per key, 10,000 a day per account, and on the
    /// marketplace 1,000 an hour and 10 proposals a minute per key; chat limits of our own choosing.
    fn default() -> Self {
        Plan {
            key_requests_per_minute: 100,
            account_requests_per_day: 10_000,
            agent_chats_per_minute: defaults::agent_chats_per_minute(),
            account_concurrent_chats: defaults::account_concurrent_chats(),
            agent_concurrent_chats: defaults::agent_concurrent_chats(),
            marketplace_requests_per_hour: defaults::marketplace_requests_per_hour(),
            proposals_per_minute: defaults::proposals_per_minute(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Plans {
    by_name: HashMap<String, Plan>,
}

impl Plans {
    /// `configured` may redefine `default`; an account on a plan no longer configured gets `default`.
    pub fn new(configured: HashMap<String, Plan>) -> Self {
        let mut by_name = configured;
        by_name.entry(DEFAULT_PLAN.to_owned()).or_default();
        Self { by_name }
    }

    pub fn get(&self, name: &str) -> Plan {
        self.by_name.get(name).or_else(|| self.by_name.get(DEFAULT_PLAN)).copied().unwrap_or_default()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

impl Default for Plans {
    fn default() -> Self {
        Self::new(HashMap::new())
    }
}
