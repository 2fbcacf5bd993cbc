//! Fills one account through the store with what the scale benchmark (bench/scale.sh) reads: agents,
//! tasks (half queued, the rest completed) and usage records spread over the last year, in the store's
//! batch paths, thousands of rows to a transaction.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Duration;
use serde_json::json;
use talon_domain::agent::{Agent, AgentMetadata, Author, Definition, ModelSpec, Version};
use talon_domain::task::{Executor, Priority, Task, TaskStatus};
use talon_domain::time::now;
use talon_domain::usage::{Outcome, Source, UsageRecord};
use talon_domain::{AgentId, TaskId, UserId, VersionId};
use talon_store::{MAX_BATCH, Store, TaskInsert};

/// Usage records per batch.
const USAGE_BATCH: usize = 5_000;

pub async fn run(database_url: &str, email: &str, agents: usize, tasks: usize, usage: usize) -> Result<()> {
    let store = talon_store::connect(database_url).await?;
    let (account, _) =
        store.account_by_email(email).await?.with_context(|| format!("no account {email}: register it first"))?;
    let started = Instant::now();
    let made = seed_agents(&store, account.id, &account.email, agents.max(1)).await?;
    eprintln!("{agents} agents in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let middle_task = seed_tasks(&store, account.id, &made, tasks).await?;
    eprintln!("{tasks} tasks in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    seed_usage(&store, account.id, &made, usage).await?;
    eprintln!("{usage} usage records in {:.1} s", started.elapsed().as_secs_f64());
    // As after any bulk load: the planner's statistics, so that the benchmark sees the plans a
    // database autovacuum keeps analyzed would choose.
    let started = Instant::now();
    store.refresh_statistics().await?;
    eprintln!("statistics in {:.1} s", started.elapsed().as_secs_f64());
    // The first agent (every usage record and half the tasks are its), and cursors halfway down the lists.
    let middle_agent = made[made.len() / 2].0;
    let middle_task = middle_task.map_or_else(String::new, |t| t.to_string());
    println!("{} {middle_agent} {middle_task}", made[0].0);
    Ok(())
}

async fn seed_agents(
    store: &Arc<dyn Store>,
    owner: UserId,
    email: &str,
    count: usize,
) -> Result<Vec<(AgentId, VersionId)>> {
    let mut made = Vec::with_capacity(count);
    let mut i = 0;
    while i < count {
        let n = MAX_BATCH.min(count - i);
        let at = now();
        let batch: Vec<(Agent, Version)> = (i..i + n)
            .map(|k| {
                let definition = Definition {
                    prompt: format!("You are agent {k}."),
                    tools: vec![],
                    config: Default::default(),
                    model: ModelSpec::default(),
                };
                let author = Author { id: owner, email: email.to_owned() };
                let version = Version::first(AgentId::new(), definition, "seed".into(), author, at);
                let metadata = AgentMetadata { name: format!("agent {k}"), ..Default::default() };
                (Agent::new(owner, format!("agent-{k}"), metadata, &version), version)
            })
            .collect();
        store.insert_root_agents(&batch).await?;
        made.extend(batch.iter().map(|(agent, version)| (agent.id, version.id)));
        i += n;
    }
    made.sort();
    Ok(made)
}

/// Returns the id of the task halfway through.
async fn seed_tasks(
    store: &Arc<dyn Store>,
    owner: UserId,
    agents: &[(AgentId, VersionId)],
    count: usize,
) -> Result<Option<TaskId>> {
    let at = now();
    let mut middle = None;
    let mut i = 0;
    while i < count {
        let n = MAX_BATCH.min(count - i);
        let tasks: Vec<Task> = (i..i + n)
            .map(|k| {
                // Half go to the first agent; the rest spread over every agent.
                let (agent, version) = if k % 2 == 0 { agents[0] } else { agents[k % agents.len()] };
                let done = k % 2 == 1;
                Task {
                    id: TaskId::new(),
                    owner,
                    agent_id: agent,
                    version_id: version,
                    title: format!("task {k}"),
                    description: String::new(),
                    priority: [Priority::Low, Priority::Normal, Priority::High][k % 3],
                    status: if done { TaskStatus::Completed } else { TaskStatus::Queued },
                    executor: Executor::External,
                    input: json!({"n": k}),
                    output: done.then(|| json!({"ok": true})),
                    error: None,
                    attempts: u32::from(done) as i32,
                    max_attempts: 3,
                    run_at: at,
                    dedupe_key: None,
                    lease: None,
                    created_at: at,
                    updated_at: at,
                    started_at: done.then_some(at),
                    completed_at: done.then_some(at),
                }
            })
            .collect();
        if (i..i + n).contains(&(count / 2)) {
            middle = Some(tasks[count / 2 - i].id);
        }
        let inserts: Vec<TaskInsert> = tasks.iter().map(|task| TaskInsert { task, events: &[] }).collect();
        store.insert_tasks(&inserts).await?;
        i += n;
    }
    Ok(middle)
}

async fn seed_usage(
    store: &Arc<dyn Store>,
    owner: UserId,
    agents: &[(AgentId, VersionId)],
    count: usize,
) -> Result<()> {
    let (agent, version) = agents[0];
    let end = now();
    let year = Duration::days(365).num_seconds();
    let mut i = 0;
    while i < count {
        let n = USAGE_BATCH.min(count - i);
        let records: Vec<UsageRecord> = (i..i + n)
            .map(|k| {
                // Spread evenly over the last year, oldest first.
                let offset = year - (k as i64 * year) / count.max(1) as i64;
                UsageRecord {
                    id: uuid::Uuid::now_v7(),
                    owner,
                    agent_id: agent,
                    version_id: version,
                    key_id: None,
                    source: Source::Chat,
                    model: "test/echo".into(),
                    fell_back: false,
                    prompt_tokens: 10,
                    completion_tokens: 20,
                    latency_us: 1_000 + (k as u64 % 1_000),
                    first_token_us: Some(500),
                    outcome: if k % 50 == 0 { Outcome::UpstreamError } else { Outcome::Ok },
                    created_at: end - Duration::seconds(offset),
                }
            })
            .collect();
        store.insert_usage(&records).await?;
        i += n;
    }
    Ok(())
}
