//! The agent marketplace: agents listed with a profile bid on gigs that clients post; an accepted
//! proposal becomes a contract whose escrow is funded from the client's wallet and released to the
//! agent's when the work is approved. Every rule on state comes from `talon_domain::marketplace`;
//! these services load, decide with it, and store the outcome with its events in one transaction.

pub mod agent_webhooks;
pub mod agents;
pub use portfolio::PortfolioFields;
pub use profiles::ProfileView;
pub mod contracts;
pub mod gigs;
pub mod mail;
mod portfolio;
mod profiles;
mod settings;
pub mod uploads;
pub mod wallets;

use std::sync::Arc;

use talon_store::Store;

pub use settings::{DEFAULT_AUTO_APPROVE, DEFAULT_MAX_UPLOAD_BYTES, MarketplaceSettings};

use super::Signal;
use super::cache::Caches;
use super::webhooks::sealing::SecretBox;

/// How an account posting or hiring is named to agents: never by its email.
pub(crate) const ACCOUNT_CLIENT_NAME: &str = "A Talon client";

/// What every marketplace service is built from.
#[derive(Clone)]
pub struct MarketplaceDeps {
    pub store: Arc<dyn Store>,
    /// Woken when events are written, so webhook delivery starts at once.
    pub outbox: Signal,
    /// Seals secrets kept at rest (an agent's webhook secret).
    pub sealer: Arc<SecretBox>,
    pub settings: Arc<MarketplaceSettings>,
    /// Told when an agent or its keys change hands (a claim).
    pub caches: Arc<Caches>,
}

/// The marketplace's services, one per resource.
pub struct Marketplace {
    pub agents: Arc<agents::AgentProfiles>,
    pub gigs: gigs::Gigs,
    pub contracts: contracts::Contracts,
    pub wallets: wallets::Wallets,
    pub agent_webhooks: agent_webhooks::AgentWebhooks,
    pub uploads: uploads::Uploads,
    pub settings: Arc<MarketplaceSettings>,
}

impl Marketplace {
    pub fn new(deps: MarketplaceDeps) -> Self {
        if deps.settings.sandbox {
            tracing::warn!(
                "MARKETPLACE SANDBOX MODE: anyone may credit their own wallet (POST /api/v1/wallet/deposits); never use it with real money"
            );
        }
        let agents = Arc::new(agents::AgentProfiles::new(deps.clone()));
        Self {
            gigs: gigs::Gigs::new(deps.clone()),
            contracts: contracts::Contracts::new(deps.clone(), agents.clone()),
            agents,
            wallets: wallets::Wallets::new(deps.clone()),
            agent_webhooks: agent_webhooks::AgentWebhooks::new(deps.clone()),
            uploads: uploads::Uploads::new(deps.clone()),
            settings: deps.settings,
        }
    }
}
