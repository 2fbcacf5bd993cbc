//! `talon usage AGENT`: what each of an agent's versions served over a period, and the total.

use clap::Args;
use serde_json::Value;

use super::Session;
use crate::client::segment;
use crate::error::CliError;
use crate::output::{self, DIM, Table, paint};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The agent (slug or id).
    pub agent: String,
    /// The period's start, RFC 3339, inclusive [default: 30 days before --to].
    #[arg(long, value_parser = rfc3339)]
    pub from: Option<String>,
    /// The period's end, RFC 3339, exclusive [default: now].
    #[arg(long, value_parser = rfc3339)]
    pub to: Option<String>,
}

fn rfc3339(text: &str) -> Result<String, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("not an RFC 3339 timestamp such as 2026-11-01T00:00:00Z ({e})"))
}

pub async fn usage(session: &Session, args: UsageArgs) -> Result<(), CliError> {
    let path = format!("/api/agents/{}/usage", segment(&args.agent));
    let report: Value = session.client.get_query(&path, &[("from", &args.from), ("to", &args.to)]).await?;
    if session.json {
        output::print_json(&report);
        return Ok(());
    }
    anstream::println!(
        "{}",
        paint(
            DIM,
            format!("{} from {} to {} (UTC)", args.agent, output::when(&report["from"]), output::when(&report["to"]))
        )
    );
    let mut table = Table::new([
        "VERSION",
        "REQUESTS",
        "SUCCEEDED",
        "FAILED",
        "CLIENT CLOSED",
        "FALLBACKS",
        "PROMPT TOKENS",
        "COMPLETION TOKENS",
        "TOTAL TOKENS",
        "AVG MS",
        "MAX MS",
        "AVG FIRST TOKEN MS",
    ]);
    for version in report["versions"].as_array().into_iter().flatten() {
        table.row(figures(format!("v{}", output::cell(&version["version"])), version));
    }
    table.row(figures("total".to_owned(), &report["total"]));
    table.print();
    Ok(())
}

/// One row: `label`, then the counts and latencies of `usage`.
fn figures(label: String, usage: &Value) -> Vec<String> {
    let count = |field: &str| output::cell(&usage[field]);
    let ms = |field: &str| usage[field].as_f64().map(|ms| format!("{ms:.1}")).unwrap_or_else(|| "-".to_owned());
    vec![
        label,
        count("requests"),
        count("succeeded"),
        count("failed"),
        count("clientClosed"),
        count("fallbacks"),
        count("promptTokens"),
        count("completionTokens"),
        count("totalTokens"),
        ms("avgLatencyMs"),
        ms("maxLatencyMs"),
        ms("avgTimeToFirstTokenMs"),
    ]
}
