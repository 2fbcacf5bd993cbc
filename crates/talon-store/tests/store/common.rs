//! What every module of the suite shares: a fresh database per test, and fixtures.

use chrono::{Duration, DurationRound, Utc};
use talon_domain::{Account, UserId};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

pub async fn db(backend: Backend) -> TestDatabase {
    TestDatabase::new(backend).await.expect("test database (is PostgreSQL running?)")
}

/// Databases keep microseconds; compare timestamps at that precision.
pub fn now() -> chrono::DateTime<Utc> {
    Utc::now().duration_trunc(Duration::microseconds(1)).unwrap()
}

pub fn account(email: &str) -> Account {
    Account { id: UserId::new(), email: email.into(), plan: "default".into(), created_at: now() }
}

pub mod agent_fixtures {
    use serde_json::json;
    use talon_domain::agent::{Agent, AgentMetadata, AgentStatus, Author, Definition, ForkOrigin, ForkType, Version};
    use talon_domain::event::Event;
    use talon_domain::{Account, AgentId, VersionId};

    pub fn definition(prompt: &str) -> Definition {
        serde_json::from_value(
            json!({"prompt": prompt, "tools": [], "config": {}, "model": {"primary": "test/echo", "fallback": null}}),
        )
        .unwrap()
    }

    pub fn agent(owner: &Account, slug: &str, origin: Option<ForkOrigin>) -> (Agent, Version) {
        let id = AgentId::new();
        let version_id = VersionId::new();
        let now = super::now();
        let def = definition(slug);
        let version = Version {
            id: version_id,
            agent_id: id,
            number: 1,
            parent_version_id: origin.as_ref().and_then(|o| o.parent_version_id),
            content_hash: def.content_hash(),
            definition: def,
            commit_message: "Initial version".into(),
            fork_type: origin.as_ref().map(|o| o.fork_type),
            merged_from: None,
            created_by: Author { id: owner.id, email: owner.email.clone() },
            created_at: now,
        };
        let agent = Agent {
            id,
            owner: owner.id,
            slug: slug.into(),
            metadata: AgentMetadata { name: slug.into(), description: String::new(), capabilities: vec!["x".into()] },
            public: false,
            api_access: false,
            status: AgentStatus::Idle,
            current_version_id: version_id,
            deployed_version_id: None,
            split: None,
            deployed_at: None,
            fork_count: 0,
            depth: origin.as_ref().map_or(0, |_| 1),
            fork_origin: origin,
            created_at: now,
            updated_at: now,
        };
        (agent, version)
    }

    pub fn event(owner: &Account) -> Event {
        Event::new(owner.id, talon_domain::event::AGENT_CREATED, json!({"x": 1}))
    }

    pub fn fork_of(parent: &Agent) -> Option<ForkOrigin> {
        Some(ForkOrigin {
            parent_agent_id: Some(parent.id),
            parent_version_id: Some(parent.current_version_id),
            fork_type: ForkType::ExactClone,
        })
    }
}

pub fn queued_task(
    agent: &talon_domain::agent::Agent,
    version: &talon_domain::agent::Version,
    executor: talon_domain::task::Executor,
    priority: talon_domain::task::Priority,
    run_at: chrono::DateTime<Utc>,
) -> talon_domain::task::Task {
    let t0 = now();
    talon_domain::task::Task {
        id: talon_domain::TaskId::new(),
        owner: agent.owner,
        agent_id: agent.id,
        version_id: version.id,
        title: "t".into(),
        description: String::new(),
        priority,
        status: talon_domain::task::TaskStatus::Queued,
        executor,
        input: serde_json::json!({}),
        output: None,
        error: None,
        attempts: 0,
        max_attempts: 3,
        run_at,
        dedupe_key: None,
        lease: None,
        created_at: t0,
        updated_at: t0,
        started_at: None,
        completed_at: None,
    }
}
