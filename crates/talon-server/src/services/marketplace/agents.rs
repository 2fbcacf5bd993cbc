//! Marketplace agents: registration (a registry agent held by an unclaimed account, with its profile,
//! claim token and key, all in one transaction), claiming, and listing an account's own agent.
//! Profiles, readiness and email verification are in `profiles`, portfolios in `portfolio`.
//!
//! A registered agent's profile is `active` at once: what keeps it from bidding is readiness (name,
//! description, a skill, a category), not its status, so a complete registration can bid at once.

use std::sync::Arc;

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use talon_domain::account::DEFAULT_PLAN;
use talon_domain::agent::{Agent, AgentMetadata, Author, Definition, Version, slug_from_name};
use talon_domain::event::{self, Event};
use talon_domain::marketplace::Micros;
use talon_domain::marketplace::profile::{self as rules, AUTONOMOUS_DESCRIPTION_MIN_CHARS, DESCRIPTION_MAX_CHARS};
use talon_domain::time::now;
use talon_domain::{Account, AgentId, ApiKey, ApiKeyId, ApiKeySecret, Scope, UserId, ValidationErrors};
use talon_store::{MarketProfile, Registration, StoreError};

use super::MarketplaceDeps;
use super::mail::{LogMailSender, MailSender};
use crate::services::cache::Invalidation;
use crate::services::{Caller, ServiceError};

/// An unclaimed account's password hash: not a PHC string, so no password ever verifies against it.
const NO_PASSWORD: &str = "!unclaimed-marketplace-agent";
/// Unclaimed accounts get an address under a reserved domain (RFC 2606) that no mail reaches.
const UNCLAIMED_EMAIL_DOMAIN: &str = "agents.invalid";
const CLAIM_TOKEN_PREFIX: &str = "clm_";

pub struct AgentProfiles {
    pub(super) deps: MarketplaceDeps,
    pub(super) mail: Arc<dyn MailSender>,
}

/// Profile fields a registration, a listing or an edit may send; `None` leaves a field as it is, and an
/// empty string clears an optional text field.
#[derive(Debug, Default, Clone)]
pub struct ProfileFields {
    pub name: Option<String>,
    pub description: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub skills: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub specialties: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub hourly_rate_usdc: Option<f64>,
    pub contact_email: Option<String>,
}

impl ProfileFields {
    /// Validates every field given and writes it into `profile`, collecting every error.
    pub(super) fn apply(&self, profile: &mut MarketProfile, errors: &mut ValidationErrors) {
        if let Some(name) = &self.name {
            profile.name = rules::check_name(name, errors);
        }
        if let Some(text) = &self.description {
            profile.description = rules::check_text("description", text, 0, DESCRIPTION_MAX_CHARS, errors);
        }
        if let Some(text) = &self.bio {
            profile.bio = rules::check_text("bio", text, 0, rules::BIO_MAX_CHARS, errors);
        }
        if let Some(link) = &self.avatar_url {
            profile.avatar_url = rules::check_link("avatar_url", link, errors);
        }
        if let Some(skills) = &self.skills {
            profile.skills = rules::check_tags("skills", skills, rules::SKILLS_MAX, errors);
        }
        if let Some(categories) = &self.categories {
            profile.categories =
                rules::check_categories(categories, errors).into_iter().map(|c| c.as_str().to_owned()).collect();
        }
        if let Some(tags) = &self.specialties {
            profile.specialties = rules::check_tags("specialties", tags, rules::TAGS_MAX, errors);
        }
        if let Some(tags) = &self.languages {
            profile.languages = rules::check_tags("languages", tags, rules::TAGS_MAX, errors);
        }
        if let Some(rate) = self.hourly_rate_usdc {
            match Micros::from_usdc_f64(rate) {
                Ok(micros) if micros.is_positive() => profile.hourly_rate = Some(micros),
                _ => errors.add("hourly_rate_usdc", "Must be a positive USDC amount with at most 6 decimals"),
            }
        }
        if let Some(email) = &self.contact_email {
            let email = (!email.trim().is_empty()).then(|| rules::check_email("contact_email", email, errors));
            if email != profile.contact_email {
                // A new address is not verified yet.
                profile.verified_at = None;
            }
            profile.contact_email = email;
        }
    }
}

/// A registration as the request states it.
#[derive(Debug, Default)]
pub struct NewMarketAgent {
    /// Required, like the name, description, skills, categories and (unless autonomous) the webhook URL;
    /// `None` is reported missing with every other bad field.
    pub username: Option<String>,
    pub fields: ProfileFields,
    pub webhook_url: Option<String>,
    /// Set for an autonomous agent (its own wallet); such an agent has no claim token.
    pub wallet_address: Option<String>,
    pub autonomous: bool,
}

/// What a registration hands back once.
#[derive(Debug)]
pub struct RegisteredAgent {
    pub agent_id: AgentId,
    pub user_id: UserId,
    pub api_key: String,
    pub claim_token: Option<String>,
    pub wallet_address: Option<String>,
    /// The webhook URL as validated, for the agent's webhook.
    pub webhook_url: Option<String>,
}

/// A listing of an account's own agent (`PUT /api/agents/{id}/marketplace`).
#[derive(Debug, Default)]
pub struct Listing {
    pub username: String,
    pub fields: ProfileFields,
    pub auto_work: Option<bool>,
}

/// A webhook URL as the marketplace takes it: at most 500 characters, and Talon's webhook target rules.
pub fn check_webhook_url(raw: &str, allow_private: bool, errors: &mut ValidationErrors) -> Option<String> {
    use talon_domain::webhook::{FORBIDDEN_TARGET, is_forbidden_target, literal_address, parse_endpoint};
    if raw.chars().count() > rules::URL_MAX_CHARS {
        errors.add("webhook_url", "Must be at most 500 characters");
        return None;
    }
    match parse_endpoint(raw) {
        Ok(url) if !allow_private && literal_address(&url).is_some_and(is_forbidden_target) => {
            errors.add("webhook_url", FORBIDDEN_TARGET);
            None
        }
        Ok(url) => Some(url.to_string()),
        Err(message) => {
            errors.add("webhook_url", message);
            None
        }
    }
}

pub(super) fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// A new empty profile for `agent`, held by `user`.
fn blank_profile(agent: AgentId, user: UserId, username: String, name: String) -> MarketProfile {
    let at = now();
    MarketProfile {
        agent_id: agent,
        user_id: user,
        username,
        name,
        description: None,
        bio: None,
        avatar_url: None,
        skills: Vec::new(),
        categories: Vec::new(),
        specialties: Vec::new(),
        languages: Vec::new(),
        hourly_rate: None,
        status: "active".to_owned(),
        is_autonomous: false,
        wallet_address: None,
        is_claimed: false,
        contact_email: None,
        verified_at: None,
        auto_work: false,
        stats_completed_gigs: 0,
        stats_rating_sum: 0,
        stats_total_reviews: 0,
        stats_total_earned: Micros::ZERO,
        last_active_at: None,
        created_at: at,
        updated_at: at,
    }
}

fn taken(username: &str) -> ServiceError {
    ServiceError::Conflict(format!("The username `{username}` is taken"))
}

impl AgentProfiles {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps, mail: Arc::new(LogMailSender) }
    }

    /// Replaces how mail (verification codes) is sent.
    pub fn with_mail_sender(mut self, mail: Arc<dyn MailSender>) -> Self {
        self.mail = mail;
        self
    }

    /// Registers a new marketplace agent: an account nobody can sign in to holds it until someone claims
    /// it (or, autonomous, for good: its account is its own wallet).
    pub async fn register(&self, input: NewMarketAgent, allow_private: bool) -> Result<RegisteredAgent, ServiceError> {
        const REQUIRED: &str = "Required field missing";
        let mut errors = ValidationErrors::new();
        let username = input.username.clone().unwrap_or_default();
        match &input.username {
            Some(username) => rules::check_username(username, &mut errors),
            None => errors.add("username", REQUIRED),
        }
        let (agent_id, user_id) = (AgentId::new(), UserId::new());
        let mut profile = blank_profile(agent_id, user_id, username.clone(), String::new());
        input.fields.apply(&mut profile, &mut errors);
        let f = &input.fields;
        for (field, given) in [
            ("name", f.name.is_some()),
            ("description", f.description.is_some()),
            ("skills", f.skills.is_some()),
            ("categories", f.categories.is_some()),
            ("webhook_url", input.autonomous || input.webhook_url.is_some()),
            ("wallet_address", !input.autonomous || input.wallet_address.is_some()),
        ] {
            if !given {
                errors.add(field, REQUIRED);
            }
        }
        let min = if input.autonomous { AUTONOMOUS_DESCRIPTION_MIN_CHARS } else { 1 };
        if f.description.is_some() && profile.description.as_deref().is_none_or(|d| d.chars().count() < min) {
            errors.add("description", format!("Must be {min} to {DESCRIPTION_MAX_CHARS} characters"));
        }
        if f.skills.as_ref().is_some_and(Vec::is_empty) {
            errors.add("skills", "Must name at least one skill");
        }
        if f.categories.as_ref().is_some_and(Vec::is_empty) {
            errors.add("categories", "Must name at least one category");
        }
        let webhook_url =
            input.webhook_url.as_deref().and_then(|raw| check_webhook_url(raw, allow_private, &mut errors));
        if input.autonomous {
            match input.wallet_address.as_deref().map(str::trim) {
                Some(address) if (1..=200).contains(&address.chars().count()) => {
                    profile.wallet_address = Some(address.to_owned());
                }
                Some(_) => errors.add("wallet_address", "Must be a wallet address of 1 to 200 characters"),
                None => {}
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        profile.is_autonomous = input.autonomous;

        let at = now();
        let account = Account {
            id: user_id,
            email: format!("{username}@{UNCLAIMED_EMAIL_DOMAIN}"),
            plan: DEFAULT_PLAN.to_owned(),
            created_at: at,
        };
        let metadata = AgentMetadata {
            name: profile.name.clone(),
            description: profile.description.clone().unwrap_or_default(),
            capabilities: profile.skills.clone(),
        };
        let author = Author { id: user_id, email: account.email.clone() };
        let version =
            Version::first(agent_id, Definition::default(), "Registered on the marketplace".into(), author, at);
        let agent = Agent::new(user_id, slug_from_name(&username), metadata, &version);
        let events = [
            Event::new(
                user_id,
                event::AGENT_CREATED,
                json!({"id": agent_id.to_string(), "name": agent.metadata.name,
                "slug": agent.slug, "status": agent.status.as_str(), "currentVersionId": version.id.to_string()}),
            ),
            Event::new(
                user_id,
                event::VERSION_CREATED,
                json!({"id": version.id.to_string(),
                "agentId": agent_id.to_string(), "versionNumber": 1, "parentVersionId": null,
                "commitMessage": version.commit_message}),
            ),
        ];
        let claim_token = (!input.autonomous).then(|| {
            let mut bytes = [0u8; 24];
            rand::thread_rng().fill_bytes(&mut bytes);
            format!("{CLAIM_TOKEN_PREFIX}{}", hex::encode(bytes))
        });
        let claim_hash = claim_token.as_deref().map(|t| sha256(t.as_bytes()));
        let secret = ApiKeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::new(),
            user_id,
            name: format!("marketplace agent {username}"),
            key_prefix: secret.display_prefix(),
            scopes: vec![Scope::MarketplaceRead, Scope::MarketplaceWrite],
            agent_id: Some(agent_id),
            expires_at: None,
            last_used_at: None,
            created_at: at,
            revoked_at: None,
        };
        let registration = Registration {
            account: &account,
            password_hash: NO_PASSWORD,
            agent: &agent,
            version: &version,
            events: &events,
            profile: &profile,
            claim_token_hash: claim_hash.as_deref(),
            key: &key,
            key_hash: &secret.hash(),
        };
        match self.deps.store.register_marketplace_agent(&registration).await {
            Ok(()) => {}
            Err(StoreError::Conflict("username")) => return Err(taken(&username)),
            Err(e) => return Err(e.into()),
        }
        self.deps.outbox.ring();
        Ok(RegisteredAgent {
            agent_id,
            user_id,
            api_key: secret.expose().to_owned(),
            claim_token,
            wallet_address: profile.wallet_address,
            webhook_url,
        })
    }

    /// Moves the agent holding `token` into the caller's account (with its profile and keys); the
    /// token then stops working. Money the unclaimed account earned stays in that account's wallet.
    pub async fn claim(&self, caller: &Caller, token: &str) -> Result<AgentId, ServiceError> {
        let hash = sha256(token.trim().as_bytes());
        match self.deps.store.claim_market_agent(&hash, caller.account.id, now()).await {
            Ok(Some(agent)) => {
                // The agent and the keys restricted to it now belong to the caller's account.
                self.deps.caches.invalidate(Invalidation::Agent(agent));
                self.deps.caches.invalidate(Invalidation::AgentKeys(agent));
                Ok(agent)
            }
            Ok(None) => Err(ServiceError::NotFound("claim token")),
            Err(StoreError::Conflict(_)) => Err(ServiceError::Conflict(
                "You already have an agent with this agent's slug; rename or delete yours first".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Lists one of the caller's registry agents on the marketplace, or updates its listing.
    pub async fn list_agent(
        &self,
        caller: &Caller,
        agent: AgentId,
        listing: Listing,
    ) -> Result<MarketProfile, ServiceError> {
        let found = self.deps.store.agent(agent).await?;
        let agent = match found {
            Some(a) if a.owner == caller.account.id && caller.reaches(a.id) => a,
            _ => return Err(ServiceError::NotFound("agent")),
        };
        let mut errors = ValidationErrors::new();
        rules::check_username(&listing.username, &mut errors);
        let mut profile = match self.deps.store.market_profile(agent.id).await? {
            Some(existing) => existing,
            None => {
                let name: String = agent.metadata.name.chars().take(rules::NAME_MAX_CHARS).collect();
                let mut fresh = blank_profile(agent.id, caller.account.id, String::new(), name);
                // Its holder is a real account already: there is nothing to claim.
                fresh.is_claimed = true;
                fresh
            }
        };
        profile.username = listing.username.clone();
        listing.fields.apply(&mut profile, &mut errors);
        if profile.name.chars().count() < rules::NAME_MIN_CHARS {
            errors.add("name", "Must be 2 to 50 characters");
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if let Some(auto_work) = listing.auto_work {
            profile.auto_work = auto_work;
        }
        profile.updated_at = now();
        match self.deps.store.save_market_profile(&profile).await {
            Ok(()) => Ok(profile),
            Err(StoreError::Conflict(_)) => Err(taken(&listing.username)),
            Err(e) => Err(e.into()),
        }
    }
}
