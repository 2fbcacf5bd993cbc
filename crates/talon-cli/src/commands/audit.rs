//! `talon audit`: the account's audit log, newest first: who changed what, and when.

use clap::Args;
use serde_json::Value;

use super::Session;
use crate::error::CliError;
use crate::output::{self, DIM, Table, paint};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this agent's entries (slug or id; a deleted agent's by its id).
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this actor's entries: `system`, a session (`sess_…`) or an API key (`key_…`).
    #[arg(long)]
    pub actor: Option<String>,
    /// Entries recorded at or after this, RFC 3339.
    #[arg(long, value_parser = rfc3339)]
    pub from: Option<String>,
    /// Entries recorded before this, RFC 3339.
    #[arg(long, value_parser = rfc3339)]
    pub to: Option<String>,
    /// How many entries, 1 to 100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub limit: u8,
    /// The entries older than this one (an `aud_…` id, as the previous page's last line names it).
    #[arg(long)]
    pub after: Option<String>,
}

fn rfc3339(text: &str) -> Result<String, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("not an RFC 3339 timestamp such as 2026-11-01T00:00:00Z ({e})"))
}

pub async fn audit(session: &Session, args: AuditArgs) -> Result<(), CliError> {
    let limit = args.limit.to_string();
    let query = [
        ("agentId", args.agent.as_deref()),
        ("actor", args.actor.as_deref()),
        ("from", args.from.as_deref()),
        ("to", args.to.as_deref()),
        ("limit", Some(limit.as_str())),
        ("startingAfter", args.after.as_deref()),
    ];
    let page: Value = session.client.get_query("/api/audit", &query).await?;
    if session.json {
        output::print_json(&page);
        return Ok(());
    }
    let mut table = Table::new(["WHEN (UTC)", "WHO", "ACTION", "RESOURCE", "ID"]);
    for entry in page["data"].as_array().into_iter().flatten() {
        let who = match entry["actor"]["id"].as_str() {
            Some(id) => id.to_owned(),
            None => output::cell(&entry["actor"]["type"]),
        };
        let resource =
            format!("{} {}", output::cell(&entry["resource"]["type"]), output::cell(&entry["resource"]["id"]));
        table.row(vec![
            output::when(&entry["at"]),
            who,
            output::cell(&entry["action"]),
            resource,
            output::cell(&entry["id"]),
        ]);
    }
    table.print();
    if let Some(next) = page["pagination"]["nextCursor"].as_str() {
        anstream::println!("{}", paint(DIM, format!("older entries: the same command with --after {next}")));
    }
    Ok(())
}
