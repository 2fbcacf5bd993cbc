//! When a deployed agent goes to `error`: after `threshold` answers in a row failed upstream (every
//! model tried failed, or the answer was cut, stalled or timed out). Client-side outcomes never count:
//! a caller going away, a limit, a bad request, and an upstream 4xx (429 included), which depends on
//! the request or on the provider's quota rather than on the agent. A successful answer resets the
//! count; a redeploy clears the status and starts a new count (failures are counted per deployment).
//!
//! The count is kept in this process, per agent: a success costs a map lookup, never a database write;
//! only the transition to `error` is written (with an `agent.updated` event). With several replicas each
//! counts its own answers, so an agent goes to `error` once one replica sees `threshold` in a row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use serde_json::json;
use talon_domain::AgentId;
use talon_domain::agent::AgentStatus;
use talon_domain::event::{self, Event};
use talon_gateway::{GatewayError, ProviderError};
use talon_store::{Deployment, Store};

use crate::services::cache::{Caches, Invalidation};

pub const DEFAULT_ERROR_AFTER: u32 = 5;

pub struct AgentHealth {
    store: Arc<dyn Store>,
    caches: Arc<Caches>,
    threshold: u32,
    failures: Mutex<HashMap<AgentId, Streak>>,
}

/// An agent's failures in a row, in one deployment (named by its `deployed_at`).
struct Streak {
    deployed_at: Option<DateTime<Utc>>,
    failures: u32,
}

/// The deployment an answer came from.
#[derive(Debug, Clone, Copy)]
pub struct Deployed {
    pub agent: AgentId,
    pub at: Option<DateTime<Utc>>,
}

/// Whether a failure to open an answer is the agent's upstream failing (rather than the request).
pub fn counts(error: &GatewayError) -> bool {
    error.last().is_some_and(|e| !matches!(e, ProviderError::Status { status: 400..=499, .. }))
}

impl AgentHealth {
    /// `threshold` 0 never marks an agent `error`.
    pub fn new(store: Arc<dyn Store>, caches: Arc<Caches>, threshold: u32) -> Self {
        Self { store, caches, threshold, failures: Mutex::default() }
    }

    pub fn succeeded(&self, agent: AgentId) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&agent);
        }
    }

    /// Counts one failed answer; the one that reaches the threshold marks the agent `error`.
    pub fn failed(self: &Arc<Self>, deployed: Deployed) {
        if self.threshold == 0 {
            return;
        }
        let reached = match self.failures.lock() {
            Ok(mut failures) => {
                let streak = failures.entry(deployed.agent).or_insert(Streak { deployed_at: deployed.at, failures: 0 });
                if streak.deployed_at != deployed.at {
                    *streak = Streak { deployed_at: deployed.at, failures: 0 };
                }
                streak.failures += 1;
                let reached = streak.failures >= self.threshold;
                if reached {
                    failures.remove(&deployed.agent);
                }
                reached
            }
            Err(_) => false,
        };
        if reached {
            let health = self.clone();
            tokio::spawn(async move {
                if let Err(e) = health.mark_error(deployed).await {
                    tracing::warn!(agent = %deployed.agent, error = %e, "could not mark the agent as in error");
                }
            });
        }
    }

    async fn mark_error(&self, deployed: Deployed) -> Result<(), talon_store::StoreError> {
        let Some(agent) = self.store.agent(deployed.agent).await? else { return Ok(()) };
        // Stopped, redeployed or already in error meanwhile: nothing to change.
        if agent.status != AgentStatus::Deployed || agent.deployed_at != deployed.at {
            return Ok(());
        }
        let at = talon_domain::time::now();
        let data = json!({
            "id": agent.id.to_string(),
            "name": agent.metadata.name,
            "slug": agent.slug,
            "status": AgentStatus::Error.as_str(),
            "currentVersionId": agent.current_version_id.to_string(),
        });
        let event = Event::new(agent.owner, event::AGENT_UPDATED, data);
        let deployment = Deployment {
            status: AgentStatus::Error,
            deployed_version_id: agent.deployed_version_id,
            deployed_at: agent.deployed_at,
        };
        self.store.set_deployment(agent.id, deployment, at, &event).await?;
        self.caches.invalidate(Invalidation::Agent(agent.id));
        tracing::warn!(agent = %agent.id, failures = self.threshold, "agent marked as in error after failed answers");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn upstream_client_errors_do_not_count() {
        let gateway = |e| GatewayError { attempts: vec![("up/m".into(), e)] };
        let status = |status| ProviderError::Status { status, message: String::new(), retry_after: None };
        assert!(counts(&gateway(status(503))));
        assert!(counts(&gateway(ProviderError::Connect("refused".into()))));
        assert!(counts(&gateway(ProviderError::FirstTokenTimeout(Duration::from_secs(1)))));
        assert!(!counts(&gateway(status(400))));
        assert!(!counts(&gateway(status(429))));
        assert!(!counts(&GatewayError { attempts: vec![] }));
    }
}
