//! `talon keys ls|create|revoke`: the account's API keys. The server manages keys for a signed-in
//! session only, so these refuse to run with an API key (exit 3).

use std::io::{BufRead, IsTerminal, Write};

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use talon_domain::Scope;

use super::Session;
use crate::api::Agent;
use crate::client::segment;
use crate::error::CliError;
use crate::output::{self, ACCENT, Table, paint};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the account's API keys (their prefixes, never the keys).
    Ls,
    /// Create an API key, printed this once. Without --scope, asks on the terminal which scopes it
    /// carries.
    Create(CreateArgs),
    /// Revoke an API key: requests made with it are refused from then on.
    Revoke {
        /// The key's id (key_…, as `talon keys ls` shows it).
        key_id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// What the key is for (1 to 100 characters).
    pub name: String,
    /// A scope the key carries; repeat for more [default: asked on the terminal].
    #[arg(long = "scope", value_name = "SCOPE", value_parser = PossibleValuesParser::new(Scope::ALL.map(Scope::as_str)))]
    pub scopes: Vec<String>,
    /// Restrict the key to one agent (slug or id): it sees and changes that agent only.
    #[arg(long)]
    pub agent: Option<String>,
    /// Make the key stop working after this many days [default: never].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub expires_in: Option<u32>,
}

pub async fn keys(session: &Session, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::Ls => list(session).await,
        KeysCommand::Create(args) => create(session, args).await,
        KeysCommand::Revoke { key_id } => {
            session.client.delete(&format!("/api/api-keys/{}", segment(&key_id))).await?;
            anstream::println!("Revoked {key_id}");
            Ok(())
        }
    }
}

async fn list(session: &Session) -> Result<(), CliError> {
    let keys: Value = session.client.get("/api/api-keys").await?;
    if session.json {
        output::print_json(&keys);
        return Ok(());
    }
    let mut table = Table::new(["ID", "PREFIX", "NAME", "SCOPES", "AGENT", "EXPIRES", "LAST USED"]);
    for key in keys["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&key["id"]),
            output::cell(&key["keyPrefix"]),
            output::cell(&key["name"]),
            scopes_of(key).join(","),
            output::cell(&key["agentId"]),
            output::when(&key["expiresAt"]),
            output::when(&key["lastUsedAt"]),
        ]);
    }
    table.print();
    Ok(())
}

async fn create(session: &Session, args: CreateArgs) -> Result<(), CliError> {
    let scopes = if args.scopes.is_empty() { pick_scopes()? } else { args.scopes };
    let mut body = json!({"name": args.name, "scopes": scopes});
    if let Some(agent) = &args.agent {
        // The API takes the agent's id; a slug is what people type.
        let agent: Agent = session.client.get(&format!("/api/agents/{}", segment(agent))).await?;
        body["agentId"] = json!(agent.id);
    }
    if let Some(days) = args.expires_in {
        let expires_at = chrono::Utc::now() + chrono::Duration::days(i64::from(days));
        body["expiresAt"] = json!(expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let created: Value = session.client.post("/api/api-keys", &body).await?;
    if session.json {
        output::print_json(&created);
    } else {
        anstream::println!(
            "Created API key {} ({}) with {}",
            output::cell(&created["name"]),
            output::cell(&created["id"]),
            scopes_of(&created).join(", ")
        );
        anstream::println!("{}", output::cell(&created["key"]));
    }
    anstream::eprintln!("{}", paint(ACCENT, "Copy the key now: it will not be shown again."));
    Ok(())
}

fn scopes_of(key: &Value) -> Vec<&str> {
    key["scopes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// Asks on the terminal which scopes the key carries: the scopes numbered, one line of choices back.
fn pick_scopes() -> Result<Vec<String>, CliError> {
    let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "name the key's scopes with --scope (no terminal to ask on); scopes: {}",
            names.join(", ")
        )));
    }
    eprintln!("Scopes:");
    for (number, name) in names.iter().enumerate() {
        eprintln!("  {:>2}  {name}", number + 1);
    }
    eprint!("The key's scopes (numbers or names, separated by spaces or commas): ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CliError::io("reading standard input"))?;
    parse_selection(&line)
}

/// Scopes picked by number (from 1) or by name, each once, in the order given.
fn parse_selection(line: &str) -> Result<Vec<String>, CliError> {
    let mut picked: Vec<Scope> = Vec::new();
    for choice in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|c| !c.is_empty()) {
        let scope = match choice.parse::<usize>() {
            Ok(number) => number.checked_sub(1).and_then(|i| Scope::ALL.get(i).copied()),
            Err(_) => choice.parse::<Scope>().ok(),
        };
        let scope = scope.ok_or_else(|| {
            CliError::Usage(format!("`{choice}` is no scope: pick numbers from 1 to {}", Scope::ALL.len()))
        })?;
        if !picked.contains(&scope) {
            picked.push(scope);
        }
    }
    if picked.is_empty() {
        return Err(CliError::Usage("no scope picked: a key carries at least one".into()));
    }
    Ok(picked.iter().map(|s| s.as_str().to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_picked_by_number_or_name_once_each() {
        let picked = parse_selection("1, 7 tasks:read 1\n").unwrap();
        assert_eq!(picked, ["agents:read", "chat", "tasks:read"]);
    }

    #[test]
    fn an_empty_or_unknown_choice_is_a_usage_error() {
        for line in ["\n", "0", "10", "agents:delete"] {
            let error = parse_selection(line).unwrap_err();
            assert_eq!(error.exit_code(), crate::error::exit::USAGE, "{line:?}");
        }
    }
}
