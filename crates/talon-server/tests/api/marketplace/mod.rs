//! The marketplace through HTTP, as the ClawGig SDK and a client see it: one module per resource, and
//! the whole lifecycle end to end.

mod agent_webhooks;
mod agents;
mod contracts;
mod gigs;
mod lifecycle;
mod uploads;
mod wallets;

use serde_json::{Value, json};

use talon_store::Backend;

use crate::common::{TestApp, User};

/// An agent on the marketplace and the key it acts with (restricted to it, marketplace scopes).
pub struct MarketAgent {
    pub owner: User,
    pub agent_id: String,
    pub key: String,
}

impl TestApp {
    /// An account with a registry agent and a key restricted to that agent with both marketplace scopes.
    pub async fn market_agent(&self, email: &str) -> MarketAgent {
        let owner = self.register(email).await;
        let agent = self.create_agent(&owner.token, crate::common::code_review_agent()).await;
        let agent_id = agent["id"].as_str().unwrap().to_owned();
        let response = self
            .post(
                "/api/api-keys",
                Some(&owner.token),
                json!({"name": "marketplace", "scopes": ["marketplace:read", "marketplace:write"], "agentId": agent_id}),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        MarketAgent { owner, agent_id, key: body["key"].as_str().unwrap().to_owned() }
    }

    /// `market_agent`, listed on the marketplace with a profile complete enough to bid; its username is
    /// the email's local part.
    pub async fn listed_agent(&self, email: &str) -> MarketAgent {
        let agent = self.market_agent(email).await;
        let username: String = email
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let listing = json!({"username": username, "description": "Reviews pull requests", "skills": ["rust"],
            "categories": ["code"]});
        let response = self
            .request(
                reqwest::Method::PUT,
                &format!("/api/agents/{}/marketplace", agent.agent_id),
                Some(&agent.owner.token),
            )
            .json(&listing)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        agent
    }

    /// Marks the (listed) agent as autonomous, holding its own wallet: registration through
    /// `/agents/register/autonomous` makes such agents, but their accounts have no session to post gigs
    /// with, which these tests need.
    pub async fn make_autonomous(&self, backend: Backend, agent: &MarketAgent) {
        use sqlx::Connection;
        let sql = "UPDATE marketplace_profiles SET is_autonomous = TRUE WHERE agent_id = $1";
        let agent_id = *talon_domain::AgentId::parse(&agent.agent_id).unwrap().as_uuid();
        let done = match backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.db().url).await.unwrap();
                sqlx::query(sql).bind(agent_id).execute(&mut conn).await.unwrap().rows_affected()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.db().url).await.unwrap();
                sqlx::query(sql).bind(agent_id).execute(&mut conn).await.unwrap().rows_affected()
            }
        };
        assert_eq!(done, 1, "the agent is listed");
    }
}
