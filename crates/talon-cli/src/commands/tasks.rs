//! `talon tasks ls|show|create|cancel`, and `talon worker AGENT -- CMD…`, which works an agent's
//! external tasks with a local command.

use std::process::Stdio;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::Session;
use crate::client::segment;
use crate::error::CliError;
use crate::output::{self, DIM, REMOVED, Table, paint};

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List your tasks, newest first.
    Ls {
        /// Only tasks in this status.
        #[arg(long)]
        status: Option<Status>,
        /// Only this agent's (slug or id).
        #[arg(long)]
        agent: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One task: its input, output, attempts and error.
    Show {
        /// The task's id (task_…).
        id: String,
    },
    /// Queue a task for an agent.
    Create(CreateArgs),
    /// Cancel a queued or running task.
    Cancel {
        /// The task's id (task_…).
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Priority {
    Low,
    Normal,
    High,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Executor {
    Runtime,
    External,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The agent (slug or id).
    pub agent: String,
    /// What the task is, in a line.
    pub title: String,
    /// The task's input, JSON (an object).
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// How soon it is claimed relative to the others [default: normal].
    #[arg(long)]
    pub priority: Option<Priority>,
    /// Who works it [default: Talon's runtime when the agent is deployed, else an external worker].
    #[arg(long)]
    pub executor: Option<Executor>,
}

fn name<T: ValueEnum>(value: T) -> String {
    value.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
}

pub async fn tasks(session: &Session, command: TasksCommand) -> Result<(), CliError> {
    match command {
        TasksCommand::Ls { status, agent, limit } => {
            let query =
                [("limit", Some(limit.clamp(1, 100).to_string())), ("status", status.map(name)), ("agentId", agent)];
            let page: Value = session.client.get_query("/api/tasks", &query).await?;
            if session.json {
                output::print_json(&page);
                return Ok(());
            }
            let mut table = Table::new(["ID", "STATUS", "PRIORITY", "TITLE", "ATTEMPTS", "CREATED"]);
            for task in page["data"].as_array().into_iter().flatten() {
                table.row(vec![
                    output::cell(&task["id"]),
                    output::cell(&task["status"]),
                    output::cell(&task["priority"]),
                    output::cell(&task["title"]),
                    format!("{}/{}", output::cell(&task["attempts"]), output::cell(&task["maxAttempts"])),
                    output::when(&task["createdAt"]),
                ]);
            }
            table.print();
        }
        TasksCommand::Show { id } => {
            let task: Value = session.client.get(&format!("/api/tasks/{}", segment(&id))).await?;
            if session.json {
                output::print_json(&task);
                return Ok(());
            }
            for field in [
                "id",
                "title",
                "status",
                "priority",
                "executor",
                "agentId",
                "versionId",
                "attempts",
                "maxAttempts",
                "error",
            ] {
                anstream::println!("{:<12} {}", paint(DIM, field), output::cell(&task[field]));
            }
            for field in ["input", "output"] {
                let value = serde_json::to_string_pretty(&task[field]).unwrap_or_default();
                anstream::println!("{}\n{value}", paint(DIM, field));
            }
        }
        TasksCommand::Create(args) => {
            let input: Value =
                serde_json::from_str(&args.input).map_err(|e| CliError::Usage(format!("--input is not JSON: {e}")))?;
            let mut body = json!({"agentId": args.agent, "title": args.title, "input": input});
            if let Some(priority) = args.priority {
                body["priority"] = json!(name(priority));
            }
            if let Some(executor) = args.executor {
                body["executor"] = json!(name(executor));
            }
            let task: Value = session.client.post("/api/tasks", &body).await?;
            if session.json {
                output::print_json(&task);
            } else {
                anstream::println!("{} {}", output::cell(&task["id"]), output::cell(&task["status"]));
            }
        }
        TasksCommand::Cancel { id } => {
            let task: Value = session.client.post(&format!("/api/tasks/{}/cancel", segment(&id)), &json!({})).await?;
            if session.json {
                output::print_json(&task);
            } else {
                anstream::println!("{} {}", output::cell(&task["id"]), output::cell(&task["status"]));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The agent whose external tasks to work (slug or id).
    pub agent: String,
    /// The command to run for each task: the task's input (JSON) on its standard input; its standard
    /// output completes the task (as JSON when it parses, else as text), a non-zero exit fails it
    /// with its standard error.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
    /// How long a lease lasts; it is extended while the command runs.
    #[arg(long, default_value_t = 60)]
    pub lease_seconds: u32,
    /// Stop after this many tasks [default: run until interrupted].
    #[arg(long)]
    pub max_tasks: Option<u64>,
}

/// The wait before claiming again after the server failed or could not be reached, doubling up to the
/// last.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_LAST: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claimed {
    id: String,
    title: String,
    #[serde(default)]
    input: Value,
    lease_token: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    data: Vec<Claimed>,
}

/// Claims one task at a time (waiting for one when the queue is empty), runs the command, reports the
/// result. Ctrl-C stops claiming and lets the running command finish and be reported; a second
/// Ctrl-C stops the command and fails its task.
pub async fn worker(session: &Session, args: WorkerArgs) -> Result<(), CliError> {
    let lease_seconds = args.lease_seconds.clamp(5, 3600);
    let stop = interrupt::Stop::install();
    let mut done = 0_u64;
    anstream::eprintln!(
        "{}",
        paint(DIM, format!("Working {}'s tasks with `{}` (Ctrl-C stops)", args.agent, args.command.join(" ")))
    );
    let mut backoff = RETRY_FIRST;
    while !stop.requested() && args.max_tasks.is_none_or(|max| done < max) {
        let body = json!({"agentId": args.agent, "limit": 1, "leaseSeconds": lease_seconds, "waitSeconds": 5});
        let claimed: Result<Claims, CliError> = tokio::select! {
            claims = session.client.post("/api/tasks/claim", &body) => claims,
            () = stop.wait() => break,
        };
        let claims = match claimed {
            Ok(claims) => claims,
            // A server restarting or briefly unreachable is waited for; anything else is for the user.
            Err(e) if e.exit_code() == crate::error::exit::SERVER => {
                anstream::eprintln!("{} {e}; retrying in {} s", paint(REMOVED, "claim failed:"), backoff.as_secs());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.wait() => break,
                }
                backoff = (backoff * 2).min(RETRY_LAST);
                continue;
            }
            Err(e) => return Err(e),
        };
        backoff = RETRY_FIRST;
        let Some(task) = claims.data.into_iter().next() else { continue };
        let outcome = run_task(session, &args.command, &task, lease_seconds, &stop).await?;
        anstream::println!("{} {} {}", task.id, outcome, paint(DIM, &task.title));
        done += 1;
    }
    Ok(())
}

/// Runs the command for one task and completes or fails it; returns what happened.
async fn run_task(
    session: &Session,
    command: &[String],
    task: &Claimed,
    lease_seconds: u32,
    stop: &interrupt::Stop,
) -> Result<&'static str, CliError> {
    let mut process = tokio::process::Command::new(&command[0]);
    // Its own process group, so that the terminal's Ctrl-C reaches the worker alone, which lets the
    // command finish (or, at a second Ctrl-C, stops it).
    #[cfg(unix)]
    process.process_group(0);
    let mut child = process
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(CliError::io(format!("starting `{}`", command[0])))?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = serde_json::to_vec(&task.input).unwrap_or_default();
        // A command that does not read its input closes the pipe early: that is its business.
        let _ = stdin.write_all(&input).await;
    }
    let task_path = format!("/api/tasks/{}", segment(&task.id));
    let mut extend = tokio::time::interval(Duration::from_secs(u64::from(lease_seconds / 3).max(1)));
    extend.tick().await;
    let wait = child.wait_with_output();
    tokio::pin!(wait);
    let finished = loop {
        tokio::select! {
            out = &mut wait => break Some(out.map_err(CliError::io("running the command"))?),
            _ = extend.tick() => {
                let body = json!({"leaseToken": task.lease_token, "leaseSeconds": lease_seconds});
                let _: Value = session.client.patch(&task_path, &body).await?;
            }
            () = stop.wait_twice() => break None,
        }
    };
    let (body, outcome) = match finished {
        None => {
            let error = "the worker was stopped while the command ran";
            (json!({"status": "failed", "leaseToken": task.lease_token, "error": error}), "failed (stopped)")
        }
        Some(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            // Task output is a JSON object: other JSON values and plain text are wrapped in one.
            let output = match serde_json::from_str::<Value>(&text) {
                Ok(object @ Value::Object(_)) => object,
                Ok(other) => json!({"result": other}),
                Err(_) => json!({"text": text}),
            };
            (json!({"status": "completed", "leaseToken": task.lease_token, "output": output}), "completed")
        }
        Some(out) => {
            let code = out.status.code().map(|c| c.to_string()).unwrap_or_else(|| "a signal".into());
            let stderr = String::from_utf8_lossy(&out.stderr);
            let error = format!("exit {code}: {}", stderr.trim());
            (json!({"status": "failed", "leaseToken": task.lease_token, "error": error}), "failed")
        }
    };
    let _: Value = session.client.patch(&task_path, &body).await?;
    Ok(outcome)
}

/// Ctrl-C, counted: the first asks the worker to stop claiming, the second to stop the command.
mod interrupt {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::sync::Notify;

    #[derive(Clone)]
    pub struct Stop {
        presses: Arc<AtomicU32>,
        pressed: Arc<Notify>,
    }

    impl Stop {
        pub fn install() -> Self {
            let stop = Stop { presses: Arc::default(), pressed: Arc::default() };
            let counted = stop.clone();
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    counted.presses.fetch_add(1, Ordering::SeqCst);
                    counted.pressed.notify_waiters();
                }
            });
            stop
        }

        pub fn requested(&self) -> bool {
            self.presses.load(Ordering::SeqCst) > 0
        }

        pub async fn wait(&self) {
            self.wait_for(1).await
        }

        pub async fn wait_twice(&self) {
            self.wait_for(2).await
        }

        async fn wait_for(&self, presses: u32) {
            loop {
                let pressed = self.pressed.notified();
                if self.presses.load(Ordering::SeqCst) >= presses {
                    return;
                }
                pressed.await;
            }
        }
    }
}
