//! `talon eval` (start an evaluation and wait for its report) and `talon evals list|show|cancel`.

use std::time::Duration;

use serde_json::{Value, json};

use super::datasets::plural;
use super::{EvalArgs, EvalsCommand, percent, report};
use crate::client::segment;
use crate::commands::Session;
use crate::commands::agents::VersionPin;
use crate::error::CliError;
use crate::output::{self, DIM, Table, paint};

/// How often a running evaluation is asked for its report.
const POLL: Duration = Duration::from_secs(1);
/// Failed polls in a row (the server restarting, a network blip) tolerated before giving up.
const POLL_RETRIES: u32 = 5;

fn evaluations_path(agent: &str) -> String {
    format!("/api/agents/{}/evaluations", segment(agent))
}

fn evaluation_path(agent: &str, id: &str) -> String {
    format!("{}/{}", evaluations_path(agent), segment(id))
}

/// A version as a request names it: a number as a number, anything else (a label, an id) as text.
fn version_json(pin: &VersionPin) -> Value {
    match pin {
        VersionPin::Number(n) => json!(n),
        VersionPin::Name(name) => json!(name),
    }
}

pub async fn eval(session: &Session, args: EvalArgs) -> Result<(), CliError> {
    let agent = args.agent.agent.clone();
    let mut versions: Vec<Value> = args.agent.version.iter().chain(&args.versions).map(version_json).collect();
    if versions.is_empty() {
        let found: Value = session.client.get(&format!("/api/agents/{}", segment(&agent))).await?;
        versions.push(found["currentVersionId"].clone());
    }
    let mut body = json!({"dataset": args.dataset, "versions": versions});
    if let Some(concurrency) = args.concurrency {
        body["concurrency"] = json!(concurrency);
    }
    let started: Value = session.client.post(&evaluations_path(&agent), &body).await?;
    let id = output::cell(&started["id"]);
    if args.no_wait {
        if session.json {
            output::print_json(&started);
        } else {
            anstream::println!("{id}");
        }
        return Ok(());
    }
    if !session.json {
        anstream::eprintln!(
            "{}",
            paint(DIM, format!("evaluation {id} started; Ctrl-C stops waiting, not the evaluation"))
        );
    }
    let report = tokio::select! {
        report = wait(session, &agent, &id, &started) => report?,
        _ = tokio::signal::ctrl_c() => {
            return Err(CliError::Local(format!(
                "stopped waiting; evaluation {id} goes on: `talon evals show {agent} {id}` for its report, \
                 `talon evals cancel {agent} {id}` to stop it"
            )));
        }
    };
    print(session, &report);
    outcome(&report)
}

/// Polls the report until the evaluation is no longer running, with `settled/total` on a progress line
/// (standard error, only on a terminal).
async fn wait(session: &Session, agent: &str, id: &str, started: &Value) -> Result<Value, CliError> {
    let bar = indicatif::ProgressBar::new(started["total"].as_u64().unwrap_or(0));
    if let Ok(style) = indicatif::ProgressStyle::with_template("evaluating [{bar:30}] {pos}/{len} settled {elapsed}") {
        bar.set_style(style.progress_chars("#>-"));
    }
    let path = evaluation_path(agent, id);
    let mut report = started.clone();
    let mut failures = 0;
    while report["status"] == "running" {
        bar.set_length(report["total"].as_u64().unwrap_or(0));
        bar.set_position(report["settled"].as_u64().unwrap_or(0));
        tokio::time::sleep(POLL).await;
        match session.client.get::<Value>(&path).await {
            Ok(now) => {
                report = now;
                failures = 0;
            }
            Err(e) if transient(&e) && failures < POLL_RETRIES => failures += 1,
            Err(e) => {
                bar.finish_and_clear();
                return Err(e);
            }
        }
    }
    bar.finish_and_clear();
    Ok(report)
}

fn transient(error: &CliError) -> bool {
    match error {
        CliError::Unreachable { .. } => true,
        CliError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

fn print(session: &Session, report: &Value) {
    if session.json {
        output::print_json(report);
    } else {
        anstream::println!("{}", report::render(report));
    }
}

/// Success for a completed evaluation whose every case was answered; failed checks are what the report
/// is for, but an errored case (no answer: the model or the task failed) or a cancelled run is not a
/// verdict.
fn outcome(report: &Value) -> Result<(), CliError> {
    let id = output::cell(&report["id"]);
    if report["status"] != "completed" {
        return Err(CliError::Local(format!("evaluation {id} is {}, not completed", output::cell(&report["status"]))));
    }
    let errored: i64 = report["summaries"].as_array().into_iter().flatten().filter_map(|s| s["errored"].as_i64()).sum();
    if errored > 0 {
        let n = errored as usize;
        return Err(CliError::Local(format!(
            "evaluation {id}: {n} case result{} errored (no answer to check), see above",
            plural(n)
        )));
    }
    Ok(())
}

pub async fn evals(session: &Session, command: EvalsCommand) -> Result<(), CliError> {
    match command {
        EvalsCommand::List { agent, limit, after } => list(session, &agent, limit, after.as_deref()).await,
        EvalsCommand::Show { agent, id } => {
            let report: Value = session.client.get(&evaluation_path(&agent, &id)).await?;
            print(session, &report);
            Ok(())
        }
        EvalsCommand::Cancel { agent, id } => {
            let path = format!("{}/cancel", evaluation_path(&agent, &id));
            let report: Value = session.client.post(&path, &json!({})).await?;
            if session.json {
                output::print_json(&report);
            } else {
                anstream::println!(
                    "cancelled evaluation {} ({}/{} settled)",
                    output::cell(&report["id"]),
                    output::cell(&report["settled"]),
                    output::cell(&report["total"])
                );
            }
            Ok(())
        }
    }
}

async fn list(session: &Session, agent: &str, limit: u8, after: Option<&str>) -> Result<(), CliError> {
    let limit = limit.to_string();
    let query = [("limit", Some(limit.as_str())), ("startingAfter", after)];
    let page: Value = session.client.get_query(&evaluations_path(agent), &query).await?;
    if session.json {
        output::print_json(&page);
        return Ok(());
    }
    let mut table = Table::new(["ID", "DATASET", "STATUS", "VERSIONS", "STARTED"]);
    for evaluation in page["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&evaluation["id"]),
            format!("{}@{}", output::cell(&evaluation["dataset"]), output::cell(&evaluation["datasetRevision"])),
            output::cell(&evaluation["status"]),
            versions(evaluation),
            output::when(&evaluation["createdAt"]),
        ]);
    }
    table.print();
    if let Some(next) = page["pagination"]["nextCursor"].as_str() {
        anstream::println!("{}", paint(DIM, format!("older evaluations: the same command with --after {next}")));
    }
    Ok(())
}

/// The versions evaluated, each with its pass rate once there is a summary: `v1 100%, v2 50%`.
fn versions(evaluation: &Value) -> String {
    let summaries = evaluation["summaries"].as_array().cloned().unwrap_or_default();
    let shown: Vec<String> = evaluation["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let name = v["versionNumber"].as_i64().map_or_else(|| output::cell(&v["versionId"]), |n| format!("v{n}"));
            let rate = summaries
                .iter()
                .find(|s| s["versionId"] == v["versionId"])
                .and_then(|s| s["passRate"].as_f64())
                .map(|r| format!(" {}", percent(r)))
                .unwrap_or_default();
            format!("{name}{rate}")
        })
        .collect();
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_completed_evaluation_with_every_case_answered_succeeds() {
        let report = |status: &str, errored: i64| json!({"id": "eval_1", "status": status, "summaries": [{"errored": 0}, {"errored": errored}]});
        assert!(outcome(&report("completed", 0)).is_ok());
        assert!(outcome(&report("completed", 2)).unwrap_err().to_string().contains("2 case results errored"));
        assert!(outcome(&report("cancelled", 0)).unwrap_err().to_string().contains("is cancelled"));
    }

    #[test]
    fn a_listed_evaluation_shows_its_versions_rates_once_completed() {
        let evaluation = json!({"versions": [{"versionId": "ver_a", "versionNumber": 1}, {"versionId": "ver_b"}],
            "summaries": [{"versionId": "ver_a", "passRate": 0.5}]});
        assert_eq!(versions(&evaluation), "v1 50%, ver_b");
    }
}
