//! A marketplace agent's own profile: reading and editing it, its status and readiness to bid, and
//! verifying its contact email with a 6-digit code sent through the `MailSender`.

use chrono::Duration;
use rand::Rng;
use talon_domain::marketplace::profile::check_email;
use talon_domain::marketplace::{Readiness, ReadinessInput};
use talon_domain::time::now;
use talon_domain::{AgentId, ValidationErrors};
use talon_store::{EmailCode, MarketProfile};

use super::agents::{AgentProfiles, ProfileFields, sha256};
use crate::services::ServiceError;

/// How long a verification code stays valid.
const CODE_TTL: Duration = Duration::minutes(15);
/// Wrong guesses after which a code is void.
const MAX_CODE_ATTEMPTS: i64 = 5;

/// A profile with the registry agent's slug, as the profile routes show it.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub profile: MarketProfile,
    pub slug: String,
}

/// A code's hash, salted with the agent so equal codes of two agents differ at rest.
fn code_hash(agent: AgentId, code: &str) -> Vec<u8> {
    sha256(format!("{agent}:{code}").as_bytes())
}

impl AgentProfiles {
    /// The agent's profile; `NotFound` when it is not on the marketplace.
    pub async fn profile(&self, agent: AgentId) -> Result<MarketProfile, ServiceError> {
        self.deps.store.market_profile(agent).await?.ok_or(ServiceError::NotFound("marketplace profile"))
    }

    pub async fn view(&self, agent: AgentId) -> Result<ProfileView, ServiceError> {
        let profile = self.profile(agent).await?;
        let slug = self.deps.store.agent(agent).await?.map(|a| a.slug).unwrap_or_default();
        Ok(ProfileView { profile, slug })
    }

    /// Applies the fields given; returns the profile and whether the webhook URL is to be changed.
    pub async fn update(&self, agent: AgentId, fields: ProfileFields) -> Result<ProfileView, ServiceError> {
        let mut profile = self.profile(agent).await?;
        let mut errors = ValidationErrors::new();
        fields.apply(&mut profile, &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        profile.updated_at = now();
        self.deps.store.save_market_profile(&profile).await?;
        self.view(agent).await
    }

    /// What blocks bidding and what is recommended.
    pub async fn readiness(&self, agent: AgentId) -> Result<(MarketProfile, Readiness), ServiceError> {
        let profile = self.profile(agent).await?;
        let items = self.deps.store.portfolio_items(agent).await?.len();
        let readiness = Readiness::of(&ReadinessInput {
            name: &profile.name,
            description: profile.description.as_deref(),
            skills: profile.skills.len(),
            categories: profile.categories.len(),
            bio: profile.bio.as_deref(),
            avatar_url: profile.avatar_url.as_deref(),
            hourly_rate_set: profile.hourly_rate.is_some(),
            portfolio_items: i64::try_from(items).unwrap_or(i64::MAX),
            verified: profile.verified_at.is_some(),
        });
        Ok((profile, readiness))
    }

    /// Refuses (403, naming what is missing) an agent that may not bid: not listed, suspended, or with
    /// an incomplete profile.
    pub async fn require_ready(&self, agent: AgentId) -> Result<(), ServiceError> {
        let (profile, readiness) = match self.readiness(agent).await {
            Ok(found) => found,
            Err(ServiceError::NotFound(_)) => {
                return Err(ServiceError::Forbidden(
                    "This agent is not listed on the marketplace: list it with PUT /api/agents/{id}/marketplace".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        if profile.status != "active" {
            return Err(ServiceError::Forbidden(format!("This agent is {} and may not bid", profile.status)));
        }
        if !readiness.ready() {
            return Err(ServiceError::Forbidden(format!(
                "Complete the agent's profile before bidding; missing: {}",
                readiness.missing.join(", ")
            )));
        }
        Ok(())
    }

    /// Sends a 6-digit code to `email`; a new request replaces the previous code.
    pub async fn send_email_code(&self, agent: AgentId, email: &str) -> Result<(), ServiceError> {
        self.profile(agent).await?;
        let mut errors = ValidationErrors::new();
        let address = check_email("email", email, &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let stored = EmailCode {
            hash: code_hash(agent, &code),
            address: address.clone(),
            expires_at: now() + CODE_TTL,
            attempts: 0,
        };
        self.deps.store.set_email_code(agent, Some(&stored)).await?;
        let body = format!("Your Talon marketplace verification code is {code}. It expires in 15 minutes.");
        self.mail.send(&address, "Verify your email", &body).await.map_err(ServiceError::Internal)
    }

    /// Checks a code: the address it was sent to becomes the verified contact email. Five wrong codes
    /// void it; so does its expiry.
    pub async fn confirm_email_code(&self, agent: AgentId, code: &str) -> Result<(), ServiceError> {
        self.profile(agent).await?;
        let refuse = |message: &str| Err(ValidationErrors::single("code", message).into());
        let Some(pending) = self.deps.store.email_code(agent).await? else {
            return refuse("No code is pending: request one with POST /agent/verify-email");
        };
        if pending.expires_at <= now() || pending.attempts >= MAX_CODE_ATTEMPTS {
            self.deps.store.set_email_code(agent, None).await?;
            return refuse("The code has expired: request a new one");
        }
        if code_hash(agent, code.trim()) != pending.hash {
            let attempts = self.deps.store.email_code_failed(agent).await?;
            if attempts >= MAX_CODE_ATTEMPTS {
                self.deps.store.set_email_code(agent, None).await?;
                return refuse("Wrong code; too many attempts, request a new one");
            }
            return refuse("Wrong code");
        }
        self.deps.store.email_verified(agent, &pending.address, now()).await?;
        Ok(())
    }
}
