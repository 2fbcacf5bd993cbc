//! Task-queue and webhook benchmarks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::report;
use anyhow::{Context, Result};
use serde_json::{Value, json};

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

/// Batched cycles: each worker creates `batch` tasks in one call, claims up to `batch` (at most 100) in
/// one, and completes those in one. Prints tasks completed per second.
pub async fn batched_over_http(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
    concurrency: usize,
    duration: Duration,
    batch: usize,
) -> Result<()> {
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (client, base, token, agent) = (client.clone(), base.to_owned(), token.to_owned(), agent.to_owned());
    let counter = done.clone();
    let cycle = move || {
        let (client, base, token, agent, done) =
            (client.clone(), base.clone(), token.clone(), agent.clone(), counter.clone());
        async move {
            let tasks: Vec<Value> = (0..batch).map(|_| json!({"agentId": agent, "title": "no-op"})).collect();
            let created = client
                .post(format!("{base}/api/tasks/batch"))
                .bearer_auth(&token)
                .json(&json!({"tasks": tasks}))
                .send()
                .await?;
            anyhow::ensure!(created.status().as_u16() == 201, "create: {}", created.status());
            let claimed: Value = client
                .post(format!("{base}/api/tasks/claim"))
                .bearer_auth(&token)
                .json(&json!({"limit": batch.min(100), "leaseSeconds": 60}))
                .send()
                .await?
                .json()
                .await?;
            let items: Vec<Value> = claimed["data"]
                .as_array()
                .context("claimed nothing")?
                .iter()
                .map(|t| json!({"id": t["id"], "leaseToken": t["leaseToken"], "output": {"ok": true}}))
                .collect();
            anyhow::ensure!(!items.is_empty(), "claimed nothing");
            let finished: Value = client
                .post(format!("{base}/api/tasks/complete"))
                .bearer_auth(&token)
                .json(&json!({"tasks": items}))
                .send()
                .await?
                .json()
                .await?;
            let completed = finished["data"].as_array().map_or(0, |d| d.iter().filter(|o| o["ok"] == true).count());
            done.fetch_add(completed as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    };
    let (mut latencies, errors, elapsed) = drive(concurrency, duration, cycle).await;
    let tasks = done.load(std::sync::atomic::Ordering::Relaxed);
    let cycles = report("cycles", &mut latencies, elapsed, errors, concurrency);
    println!("{:.0} tasks/s ({batch} per call)  {cycles}", tasks as f64 / elapsed);
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
