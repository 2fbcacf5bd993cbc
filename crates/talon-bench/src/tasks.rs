//! Task-queue and webhook benchmarks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use talon_domain::agent::{Agent, AgentMetadata, Author, Definition, ModelSpec, Version};
use talon_domain::task::{Executor, Lease, Priority, Task, TaskStatus};
use talon_domain::time::now;
use talon_domain::{Account, AgentId, TaskId, UserId};

use crate::report;

/// Runs `cycle` from `concurrency` workers for `duration`; returns per-cycle latencies, errors, seconds.
async fn drive<F, Fut>(concurrency: usize, duration: Duration, cycle: F) -> (Vec<Duration>, u64, f64)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let cycle = cycle.clone();
        tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                match cycle().await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        })
    });
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in futures::future::join_all(workers).await {
        let (l, e) = worker.unwrap_or_default();
        latencies.extend(l);
        errors += e;
    }
    (latencies, errors, started.elapsed().as_secs_f64())
}

pub async fn over_http(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<()> {
    let (client, base, token, agent) = (client.clone(), base.to_owned(), token.to_owned(), agent.to_owned());
    let cycle = move || {
        let (client, base, token, agent) = (client.clone(), base.clone(), token.clone(), agent.clone());
        async move {
            let created = client
                .post(format!("{base}/api/tasks"))
                .bearer_auth(&token)
                .json(&json!({"agentId": agent, "title": "no-op"}))
                .send()
                .await?;
            anyhow::ensure!(created.status().as_u16() == 201, "create: {}", created.status());
            let claimed: Value = client
                .post(format!("{base}/api/tasks/claim"))
                .bearer_auth(&token)
                .json(&json!({"limit": 1, "leaseSeconds": 60}))
                .send()
                .await?
                .json()
                .await?;
            let task = claimed["data"].get(0).context("claimed nothing")?;
            let done = client
                .patch(format!("{base}/api/tasks/{}", task["id"].as_str().unwrap_or_default()))
                .bearer_auth(&token)
                .json(&json!({"status": "completed", "leaseToken": task["leaseToken"], "output": {"ok": true}}))
                .send()
                .await?;
            anyhow::ensure!(done.status().is_success(), "complete: {}", done.status());
            Ok(())
        }
    };
    let (mut latencies, errors, elapsed) = drive(concurrency, duration, cycle).await;
    println!("{}", report("tasks", &mut latencies, elapsed, errors, concurrency));
    Ok(())
}

pub async fn through_store(database_url: &str, concurrency: usize, duration: Duration) -> Result<()> {
    let store = talon_store::connect(database_url).await?;
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
    let (owner, agent_id, version_id) = (account.id, agent.id, version.id);
    let cycle = move || {
        let store = store.clone();
        async move {
            let at = now();
            let task = Task {
                id: TaskId::new(),
                owner,
                agent_id,
                version_id,
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
            };
            let event = talon_domain::event::Event::new(owner, talon_domain::event::TASK_CREATED, task.event_data());
            store.insert_task(&task, &[event]).await?;
            let lease = Lease {
                token: format!("lease_{}", TaskId::new().as_uuid().simple()),
                expires_at: at + chrono::Duration::seconds(60),
            };
            let mut claimed = store.claim_tasks(owner, None, Executor::External, 1, &lease, now()).await?;
            let mut task = claimed.pop().context("claimed nothing")?;
            task.status = TaskStatus::Completed;
            task.completed_at = Some(now());
            task.lease = None;
            let event = talon_domain::event::Event::new(owner, talon_domain::event::TASK_COMPLETED, task.event_data());
            anyhow::ensure!(
                store.update_task(&task, TaskStatus::Running, Some(&lease.token), &[event]).await?,
                "lost the task"
            );
            Ok(())
        }
    };
    let (mut latencies, errors, elapsed) = drive(concurrency, duration, cycle).await;
    println!("{}", report("tasks", &mut latencies, elapsed, errors, concurrency));
    Ok(())
}

/// Task created on `base` → claimed by a worker long-polling on `claim_base`, one sample at a time.
pub async fn cross_claim(
    client: &reqwest::Client,
    base: &str,
    claim_base: &str,
    token: &str,
    agent: &str,
    samples: usize,
) -> Result<()> {
    let mut latencies = Vec::with_capacity(samples);
    let mut errors = 0;
    let started = Instant::now();
    for _ in 0..samples {
        let claim = {
            let request = client
                .post(format!("{claim_base}/api/tasks/claim"))
                .bearer_auth(token)
                .json(&json!({"limit": 1, "leaseSeconds": 60, "waitSeconds": 30}));
            tokio::spawn(async move {
                let response = request.send().await?;
                let answered = Instant::now();
                let body: Value = response.json().await?;
                Ok::<_, anyhow::Error>((body, answered))
            })
        };
        // The claim has looked once and waits when the task is created.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let created: Value = client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(token)
            .json(&json!({"agentId": agent, "title": "wake-up"}))
            .send()
            .await?
            .json()
            .await?;
        // The clock starts when the task is committed: when the API answers.
        let committed = Instant::now();
        match claim.await? {
            Ok((body, answered)) if body["data"][0]["id"] == created["id"] => {
                // The claim may answer before the create's answer is read; that counts as zero.
                latencies.push(answered.saturating_duration_since(committed))
            }
            _ => errors += 1,
        }
    }
    println!("{}", report("claims", &mut latencies, started.elapsed().as_secs_f64(), errors, 1));
    Ok(())
}

/// Arrival times of webhook payloads by task id, and a signal for each arrival.
#[derive(Default)]
struct Arrivals {
    at: Mutex<HashMap<String, Instant>>,
    signal: tokio::sync::Notify,
}

async fn receive(
    axum::extract::State(arrivals): axum::extract::State<Arc<Arrivals>>,
    body: axum::body::Bytes,
) -> &'static str {
    let now = Instant::now();
    if let Ok(event) = serde_json::from_slice::<Value>(&body) {
        let id = event["data"]["id"].as_str().unwrap_or_default().to_owned();
        if let Ok(mut at) = arrivals.at.lock() {
            at.insert(id, now);
        }
        arrivals.signal.notify_waiters();
    }
    "ok"
}

pub async fn webhook_latency(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
    events: usize,
) -> Result<()> {
    let arrivals = Arc::new(Arrivals::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().fallback(receive).with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let hook = client
        .post(format!("{base}/api/webhooks"))
        .bearer_auth(token)
        .json(&json!({"url": url, "events": ["task.created"]}))
        .send()
        .await?;
    anyhow::ensure!(hook.status().as_u16() == 201, "webhook: {}", hook.text().await?);
    let mut latencies = Vec::with_capacity(events);
    let mut errors = 0;
    let started = Instant::now();
    for _ in 0..events {
        // The clock starts when the task (and its event) is committed: when the API answers.
        let created: Value = client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(token)
            .json(&json!({"agentId": agent, "title": "event"}))
            .send()
            .await?
            .json()
            .await?;
        let committed = Instant::now();
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let deadline = committed + Duration::from_secs(10);
        loop {
            let signal = arrivals.signal.notified();
            tokio::pin!(signal);
            signal.as_mut().enable();
            let arrived = arrivals.at.lock().ok().and_then(|mut at| at.remove(&id));
            if let Some(arrived) = arrived {
                // Arrival may precede the client's reading of the answer by a hair; that counts as zero.
                latencies.push(arrived.saturating_duration_since(committed));
                break;
            }
            if Instant::now() > deadline {
                errors += 1;
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), signal).await;
        }
    }
    println!("{}", report("events", &mut latencies, started.elapsed().as_secs_f64(), errors, 1));
    Ok(())
}
