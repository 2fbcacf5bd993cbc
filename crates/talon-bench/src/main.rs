//! `talon-load`: closed-loop load against a running Talon, for what a fixed-body load generator cannot
//! do: every request here carries a distinct body (new versions) or builds data (a fork tree).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod gigs;
mod queue_store;
mod seed;
mod tasks;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    /// Talon's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3901")]
    base: String,
    /// Bearer token or API key.
    #[arg(long)]
    token: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POST a new version (a distinct prompt each time) to one agent, from N concurrent clients.
    Versions {
        #[arg(long)]
        agent: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// create → claim → complete cycles over HTTP from N concurrent workers, on one agent: one task per
    /// call (`--batch 1`: POST /api/tasks, claim, PATCH), or `--batch N` tasks per call (POST
    /// /api/tasks/batch, claim with `limit` N (at most 100), POST /api/tasks/complete).
    Tasks {
        #[arg(long)]
        agent: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
    /// The same cycle through the queue store alone (no HTTP), against DATABASE_URL: one task per call
    /// (`--mode single`) or `--batch` tasks per call (`--mode batch`).
    #[command(alias = "store-tasks")]
    QueueStore {
        #[arg(long)]
        database_url: String,
        #[arg(long, value_enum, default_value = "single")]
        mode: queue_store::Mode,
        #[arg(long, alias = "concurrency", default_value_t = 8)]
        workers: usize,
        #[arg(long, value_parser = queue_store::parse_duration, default_value = "10s")]
        duration: Duration,
        /// Overrides `--duration` (the older flag).
        #[arg(long, hide = true)]
        seconds: Option<u64>,
        /// Tasks per call in batch mode.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Event-to-delivery latency: creates tasks one at a time and times each task.created webhook's
    /// arrival at a receiver in this process (the server needs TALON_WEBHOOK_ALLOW_PRIVATE=true).
    WebhookLatency {
        #[arg(long)]
        agent: String,
        #[arg(long, default_value_t = 500)]
        events: usize,
    },
    /// Cross-replica wake-up latency: for each sample, a worker long-polls a claim on `claim-base` (a
    /// second replica, or the same one for the baseline) and a task is then created on `base`; the time
    /// from the create's answer to the claim's.
    CrossClaim {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        claim_base: String,
        #[arg(long, default_value_t = 300)]
        samples: usize,
    },
    /// Runs the mock OpenAI-compatible upstream (see talon_gateway::testing) until killed.
    MockUpstream {
        #[arg(long, default_value = "127.0.0.1:3990")]
        listen: String,
    },
    /// Time to the first streamed event: N sequential streaming requests to `url` with `body`.
    FirstEvent {
        #[arg(long)]
        url: String,
        #[arg(long)]
        body: String,
        #[arg(long, default_value_t = 50)]
        requests: usize,
    },
    /// Loads COUNT made-up gigs of the account CLIENT (a `user_…` id) straight into DATABASE_URL, for
    /// the search benchmark.
    SeedGigs {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        client: String,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
    },
    /// Fills the account EMAIL (registered already) in DATABASE_URL through the store: AGENTS agents,
    /// TASKS tasks (half queued) and USAGE usage records over the last year, for bench/scale.sh. Prints
    /// the id of the agent the usage belongs to.
    Seed {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value_t = 1_000)]
        agents: usize,
        #[arg(long, default_value_t = 1_000)]
        tasks: usize,
        #[arg(long, default_value_t = 10_000)]
        usage: usize,
    },
    /// Builds a fork tree of N agents (each node forked from node (i-1)/branching) and prints its root id.
    ForkTree {
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        #[arg(long, default_value_t = 4)]
        branching: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    match cli.command {
        Command::Versions { agent, concurrency, seconds } => {
            versions(&client, &cli.base, &cli.token, &agent, concurrency, Duration::from_secs(seconds)).await
        }
        Command::ForkTree { nodes, branching, concurrency } => {
            fork_tree(&client, &cli.base, &cli.token, nodes, branching, concurrency).await
        }
        Command::MockUpstream { listen } => {
            let up = talon_gateway::testing::upstream_on(&listen).await;
            println!("mock upstream at {}", up.base);
            std::future::pending::<()>().await;
            Ok(())
        }
        Command::FirstEvent { url, body, requests } => first_event(&client, &url, &cli.token, &body, requests).await,
        Command::Tasks { agent, concurrency, seconds, batch } => {
            let duration = Duration::from_secs(seconds);
            if batch > 1 {
                tasks::batched_over_http(&client, &cli.base, &cli.token, &agent, concurrency, duration, batch).await
            } else {
                tasks::over_http(&client, &cli.base, &cli.token, &agent, concurrency, duration).await
            }
        }
        Command::QueueStore { database_url, mode, workers, duration, seconds, batch } => {
            let duration = seconds.map_or(duration, Duration::from_secs);
            queue_store::run(&database_url, mode, workers, duration, batch).await
        }
        Command::SeedGigs { database_url, client, count } => gigs::seed(&database_url, &client, count).await,
        Command::Seed { database_url, email, agents, tasks, usage } => {
            seed::run(&database_url, &email, agents, tasks, usage).await
        }
        Command::CrossClaim { agent, claim_base, samples } => {
            tasks::cross_claim(&client, &cli.base, &claim_base, &cli.token, &agent, samples).await
        }
        Command::WebhookLatency { agent, events } => {
            tasks::webhook_latency(&client, &cli.base, &cli.token, &agent, events).await
        }
    }
}

async fn versions(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    agent: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/api/agents/{agent}/versions");
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, url, token, counter) = (client.clone(), url.clone(), token.to_owned(), counter.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body =
                    json!({"prompt": format!("You are agent revision {n}."), "commitMessage": format!("load {n}")});
                let sent = Instant::now();
                match client.post(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(sent.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        })
    });
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in futures::future::join_all(workers).await {
        let (l, e) = worker?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("{}", report("versions", &mut latencies, elapsed, errors, concurrency));
    Ok(())
}

/// `N units/s  p50 … ms  p99 … ms  done N  errors N  (concurrency N)`.
pub(crate) fn report(unit: &str, latencies: &mut [Duration], elapsed: f64, errors: u64, concurrency: usize) -> String {
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    format!(
        "{:.0} {unit}/s  p50 {:.3} ms  p99 {:.3} ms  done {}  errors {errors}  (concurrency {concurrency})",
        latencies.len() as f64 / elapsed,
        ms(pct(0.50)),
        ms(pct(0.99)),
        latencies.len(),
    )
}

async fn fork_tree(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    nodes: usize,
    branching: usize,
    concurrency: usize,
) -> Result<()> {
    let root: Value = client
        .post(format!("{base}/api/agents"))
        .bearer_auth(token)
        .json(&json!({"name": "Tree root", "prompt": "You are the root."}))
        .send()
        .await?
        .json()
        .await?;
    let root_id = root["id"].as_str().context("root id")?.to_owned();
    let mut ids = vec![root_id.clone()];
    // Level by level, so every parent exists before its children are forked.
    while ids.len() < nodes {
        let level_start = ids.len();
        let level_end = (level_start * branching + 1).min(nodes);
        let jobs: Vec<(usize, String)> =
            (level_start..level_end).map(|i| (i, ids[(i - 1) / branching].clone())).collect();
        let mut made = vec![String::new(); jobs.len()];
        for chunk in jobs.chunks(concurrency) {
            let requests = chunk.iter().map(|(i, parent)| {
                let client = client.clone();
                let url = format!("{base}/api/agents/{parent}/fork");
                let token = token.to_owned();
                let i = *i;
                async move {
                    let body = json!({"forkType": "prompt_mutation", "name": format!("node {i}"), "prompt": format!("You are node {i}.")});
                    let response = client.post(url).bearer_auth(token).json(&body).send().await?;
                    if response.status().as_u16() != 201 {
                        bail!("fork {i} failed: {}", response.text().await.unwrap_or_default());
                    }
                    let fork: Value = response.json().await?;
                    Ok((i, fork["id"].as_str().unwrap_or_default().to_owned()))
                }
            });
            for result in futures::future::join_all(requests).await {
                let (i, id) = result?;
                made[i - level_start] = id;
            }
        }
        ids.extend(made);
    }
    println!("{root_id}");
    Ok(())
}

async fn first_event(client: &reqwest::Client, url: &str, token: &str, body: &str, requests: usize) -> Result<()> {
    let body: Value = serde_json::from_str(body)?;
    let mut latencies = Vec::with_capacity(requests);
    let started = Instant::now();
    for _ in 0..requests {
        let sent = Instant::now();
        let mut response = client.post(url).bearer_auth(token).json(&body).send().await?;
        loop {
            match response.chunk().await? {
                Some(chunk) if chunk.windows(5).any(|w| w == b"data:") => {
                    latencies.push(sent.elapsed());
                    break;
                }
                Some(_) => continue,
                None => bail!("the stream ended without an event"),
            }
        }
        drop(response);
    }
    println!("{}", report("requests", &mut latencies, started.elapsed().as_secs_f64(), 0, 1));
    Ok(())
}
