//! The server's side of an agent: its versions (`log`, `show`, `rollback`), its forks (`fork`,
//! `lineage`), its deployment (`deploy`, `stop`) and the list of agents.

use serde_json::{Value, json};

use super::{AgentArg, AgentsCommand, DeployArgs, ForkArgs, LogArgs, RollbackArgs, ShowArgs, VersionPin, agent};
use crate::api::Version;
use crate::client::segment;
use crate::commands::Session;
use crate::error::CliError;
use crate::output::{self, ACCENT, DIM, HEADER, Table, paint};

pub async fn log(session: &Session, args: LogArgs) -> Result<(), CliError> {
    let path = format!("{}/versions?limit={}", args.agent.path(), args.limit.clamp(1, 100));
    let page: Value = session.client.get(&path).await?;
    if session.json {
        output::print_json(&page);
        return Ok(());
    }
    let agent = agent(session, &args.agent).await?;
    let mut versions: Vec<&Value> = page["data"].as_array().map(|v| v.iter().collect()).unwrap_or_default();
    versions.sort_by_key(|v| std::cmp::Reverse(v["versionNumber"].as_i64()));
    for version in versions {
        let id = version["id"].as_str().unwrap_or_default();
        let mut marks = Vec::new();
        if id == agent.current_version_id {
            marks.push("head");
        }
        let serving =
            agent.status != "idle" && agent.deployed_version_id.as_deref().unwrap_or(&agent.current_version_id) == id;
        if serving {
            marks.push("deployed");
        }
        let marks = if marks.is_empty() { String::new() } else { paint(ACCENT, format!(" ({})", marks.join(", "))) };
        anstream::println!(
            "{}{marks} {} {} {}",
            paint(ACCENT, format!("v{}", output::cell(&version["versionNumber"]))),
            paint(DIM, output::when(&version["createdAt"])),
            paint(DIM, output::cell(&version["createdBy"]["email"])),
            output::cell(&version["commitMessage"])
        );
    }
    Ok(())
}

pub async fn show(session: &Session, args: ShowArgs) -> Result<(), CliError> {
    let agent = agent(session, &args.agent).await?;
    let path = match &args.agent.version {
        Some(pin) => format!("{}/versions/{}", args.agent.path(), segment(&pin.to_string())),
        None => format!("{}/versions/{}", args.agent.path(), agent.current_version_id),
    };
    let raw: Value = session.client.get(&path).await?;
    if session.json {
        output::print_json(&raw);
        return Ok(());
    }
    let version: Version = serde_json::from_value(raw).map_err(|e| CliError::Protocol(e.to_string()))?;
    anstream::println!("{}", paint(ACCENT, format!("{} v{}  {}", agent.slug, version.version_number, version.id)));
    anstream::println!("Author: {}", version.created_by.email.as_deref().unwrap_or("-"));
    anstream::println!("Date:   {}", output::when(&json!(version.created_at)));
    anstream::println!(
        "Model:  {}{}",
        version.model.primary,
        version.model.fallback.as_deref().map(|f| format!(" (fallback {f})")).unwrap_or_default()
    );
    anstream::println!("\n    {}\n", version.commit_message);
    if !version.config.is_empty() {
        anstream::println!("{}", paint(HEADER, "config"));
        for (key, value) in &version.config {
            anstream::println!("  {key} = {value}");
        }
    }
    if !version.tools.is_empty() {
        anstream::println!("{}", paint(HEADER, "tools"));
        for tool in &version.tools {
            anstream::println!("  {}  {}", tool.name, paint(DIM, &tool.description));
        }
    }
    anstream::println!("{}\n{}", paint(HEADER, "prompt"), version.prompt);
    Ok(())
}

pub async fn rollback(session: &Session, args: RollbackArgs) -> Result<(), CliError> {
    let created: Value =
        session.client.post(&format!("{}/rollback", args.agent.path()), &json!({"version": args.version})).await?;
    if session.json {
        output::print_json(&created);
        return Ok(());
    }
    anstream::println!(
        "{}: v{} has the content of v{} ({})",
        args.agent.agent,
        output::cell(&created["versionNumber"]),
        args.version,
        output::cell(&created["commitMessage"])
    );
    Ok(())
}

pub async fn fork(session: &Session, args: ForkArgs) -> Result<(), CliError> {
    let mut body = json!({"forkType": "exact_clone"});
    if let Some(pin) = &args.agent.version {
        match pin {
            VersionPin::Number(n) => body["version"] = json!(n),
            VersionPin::Name(name) => body["versionId"] = json!(name),
        }
    }
    if let Some(name) = &args.name {
        body["name"] = json!(name);
    }
    let created: Value = session.client.post(&format!("{}/fork", args.agent.path()), &body).await?;
    if session.json {
        output::print_json(&created);
        return Ok(());
    }
    anstream::println!(
        "Forked {} into {} ({})",
        args.agent.agent,
        output::cell(&created["slug"]),
        output::cell(&created["id"])
    );
    Ok(())
}

pub async fn lineage(session: &Session, args: AgentArg) -> Result<(), CliError> {
    let tree: Value = session.client.get(&format!("{}/lineage", args.agent.path())).await?;
    if session.json {
        output::print_json(&tree);
        return Ok(());
    }
    let mut lines = Vec::new();
    draw(&tree["root"], "", "", &mut lines);
    anstream::println!("{}", lines.join("\n"));
    Ok(())
}

/// The tree under `node`, one line per agent, with box-drawing branches.
fn draw(node: &Value, lead: &str, child_lead: &str, lines: &mut Vec<String>) {
    let fork = node["forkType"].as_str().map(|f| paint(DIM, format!(" [{f}]"))).unwrap_or_default();
    lines.push(format!(
        "{lead}{} {}{fork}",
        paint(HEADER, output::cell(&node["name"])),
        paint(ACCENT, format!("v{}", output::cell(&node["versionNumber"])))
    ));
    let children = node["children"].as_array().cloned().unwrap_or_default();
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, rest) = if last { ("└── ", "    ") } else { ("├── ", "│   ") };
        draw(child, &format!("{child_lead}{branch}"), &format!("{child_lead}{rest}"), lines);
    }
}

pub async fn deploy(session: &Session, args: DeployArgs) -> Result<(), CliError> {
    let mut body = match &args.agent.version {
        Some(pin) => pin.body(),
        None => json!({}),
    };
    if let Some(gate) = &args.require_eval {
        body["requireEvaluation"] = gate.json();
    }
    let agent: Value = session.client.post(&format!("{}/deploy", args.agent.path()), &body).await?;
    if session.json {
        output::print_json(&agent);
        return Ok(());
    }
    let serving = match &args.agent.version {
        Some(VersionPin::Number(n)) => format!("v{n} (pinned)"),
        Some(VersionPin::Name(name)) => format!("{name} (pinned)"),
        None => "its head".into(),
    };
    anstream::println!("{} serves {serving}", output::cell(&agent["slug"]));
    Ok(())
}

pub async fn stop(session: &Session, args: AgentArg) -> Result<(), CliError> {
    let agent: Value = session.client.post(&format!("{}/stop", args.agent.path()), &json!({})).await?;
    if session.json {
        output::print_json(&agent);
        return Ok(());
    }
    anstream::println!("{} stopped", output::cell(&agent["slug"]));
    Ok(())
}

pub async fn agents(session: &Session, command: AgentsCommand) -> Result<(), CliError> {
    let limit = match command {
        AgentsCommand::Ls { limit } => limit,
        AgentsCommand::Labels { agent } => return super::labels::list(session, &agent).await,
        AgentsCommand::Label { agent, label, version, require_eval, no_require_eval } => {
            let gate = if no_require_eval { Some(None) } else { require_eval.map(Some) };
            return super::labels::point(session, &agent, &label, &version, gate).await;
        }
        AgentsCommand::Unlabel { agent, label } => return super::labels::delete(session, &agent, &label).await,
    };
    let path = format!("/api/agents?limit={}", limit.clamp(1, 100));
    let page: Value = session.client.get(&path).await?;
    if session.json {
        output::print_json(&page);
        return Ok(());
    }
    let mut table = Table::new(["SLUG", "NAME", "STATUS", "FORKS", "UPDATED"]);
    for agent in page["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&agent["slug"]),
            output::cell(&agent["name"]),
            output::cell(&agent["status"]),
            output::cell(&agent["forkCount"]),
            output::when(&agent["updatedAt"]),
        ]);
    }
    table.print();
    Ok(())
}
