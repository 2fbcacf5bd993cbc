//! The queue store alone, without HTTP: create → claim → complete through `TaskStore`, one task per
//! call (`single`) or `batch` tasks per call, from N workers, printing tasks completed per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;
use talon_domain::agent::{Agent, AgentMetadata, Author, Definition, ModelSpec, Version};
use talon_domain::event::{self, Event};
use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
use talon_domain::time::now;
use talon_domain::{Account, AgentId, TaskId, UserId, VersionId};
use talon_store::{Store, TaskChange, TaskInsert};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One task per call: insert one, claim one, complete it.
    Single,
    /// `batch` tasks per call: insert them in one call, claim them in one, complete them in one.
    Batch,
}

/// `10s`, `500ms`, `2m` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 10s or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("`{text}`: the unit must be ms, s or m")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Whose tasks the benchmark makes: a fresh account and agent.
#[derive(Clone, Copy)]
struct Owner {
    account: UserId,
    agent: AgentId,
    version: VersionId,
}

pub async fn run(database_url: &str, mode: Mode, workers: usize, duration: Duration, batch: usize) -> Result<()> {
    if !(1..=talon_store::MAX_BATCH).contains(&batch) {
        bail!("--batch must be from 1 to {}", talon_store::MAX_BATCH);
    }
    let store = talon_store::connect(database_url).await?;
    let owner = owner(&store).await?;
    let per_call = if mode == Mode::Single { 1 } else { batch };
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let (mut done, mut latencies, mut errors) = (0u64, Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match cycle(&store, owner, per_call).await {
                        Ok(n) => {
                            done += n;
                            latencies.push(t.elapsed());
                        }
                        Err(_) => errors += 1,
                    }
                }
                (done, latencies, errors)
            })
        })
        .collect();
    let (mut done, mut latencies, mut errors) = (0, Vec::new(), 0);
    for handle in handles {
        let (d, l, e) = handle.await?;
        done += d;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{:.0} tasks/s  ({} per call, {:.0} cycles/s, cycle p50 {:.3} ms p99 {:.3} ms)  done {done}  errors {errors}  \
         (workers {workers}, {mode:?})",
        done as f64 / elapsed,
        per_call,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}

/// Creates `n` tasks, claims up to `n` and completes those claimed; returns how many completed.
async fn cycle(store: &Arc<dyn Store>, owner: Owner, n: usize) -> Result<u64> {
    let at = now();
    let tasks: Vec<Task> = (0..n).map(|_| new_task(owner, at)).collect();
    let created: Vec<[Event; 1]> =
        tasks.iter().map(|t| [Event::new(owner.account, event::TASK_CREATED, t.event_data())]).collect();
    if n == 1 {
        store.insert_task(&tasks[0], &created[0]).await?;
    } else {
        let inserts: Vec<TaskInsert> =
            tasks.iter().zip(&created).map(|(task, events)| TaskInsert { task, events }).collect();
        store.insert_tasks(&inserts).await?;
    }
    let lease = Lease {
        token: format!("lease_{}", TaskId::new().as_uuid().simple()),
        expires_at: at + chrono::Duration::seconds(60),
    };
    let claimed = store.claim_tasks(owner.account, None, Executor::External, n as i64, &lease, now()).await?;
    let at = now();
    let ends: Vec<Task> = claimed.iter().filter_map(|t| t.complete(at, json!({"ok": true})).ok()).collect();
    let events: Vec<[Event; 1]> =
        ends.iter().map(|t| [Event::new(owner.account, event::TASK_COMPLETED, t.event_data())]).collect();
    let applied = if ends.len() == 1 {
        u64::from(store.update_task(&ends[0], TaskStatus::Running, Some(&lease.token), &events[0]).await?)
    } else {
        let changes: Vec<TaskChange> = ends
            .iter()
            .zip(&events)
            .map(|(task, events)| TaskChange {
                task,
                expected: TaskStatus::Running,
                expected_lease: Some(&lease.token),
                events,
            })
            .collect();
        if changes.is_empty() { 0 } else { store.update_tasks(&changes).await?.iter().filter(|&&a| a).count() as u64 }
    };
    Ok(applied)
}

fn new_task(owner: Owner, at: chrono::DateTime<chrono::Utc>) -> Task {
    Task {
        id: TaskId::new(),
        owner: owner.account,
        agent_id: owner.agent,
        version_id: owner.version,
        title: "no-op".into(),
        description: String::new(),
        priority: Priority::Normal,
        status: TaskStatus::Queued,
        executor: Executor::External,
        input: json!({}),
        output: None,
        error: None,
        attempts: 0,
        max_attempts: 3,
        run_at: at,
        dedupe_key: None,
        lease: None,
        created_at: at,
        updated_at: at,
        started_at: None,
        completed_at: None,
    }
}

async fn owner(store: &Arc<dyn Store>) -> Result<Owner> {
    let at = now();
    let account = Account {
        id: UserId::new(),
        email: format!("bench-{}@example.com", UserId::new()),
        plan: "default".into(),
        created_at: at,
    };
    store.create_account(&account, "unused").await?;
    let definition =
        Definition { prompt: "p".into(), tools: vec![], config: Default::default(), model: ModelSpec::default() };
    let author = Author { id: account.id, email: account.email.clone() };
    let version = Version::first(AgentId::new(), definition, "bench".into(), author, at);
    let slug = format!("bench-{}", version.id.as_uuid().simple());
    let metadata = AgentMetadata { name: "bench".into(), ..Default::default() };
    let agent = Agent::new(account.id, slug, metadata, &version);
    store.insert_agent(&agent, &version, &[]).await?;
    Ok(Owner { account: account.id, agent: agent.id, version: version.id })
}
