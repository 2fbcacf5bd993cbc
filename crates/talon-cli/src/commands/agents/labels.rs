//! `talon agents labels|label|unlabel`: an agent's labels, the named pointers to its versions that
//! `AGENT@LABEL` names on the server, and what a version must have passed before a label names it.

use serde_json::{Value, json};

use crate::client::segment;
use crate::commands::Session;
use crate::commands::evaluations::{RequireEval, percent};
use crate::error::CliError;
use crate::output::{self, Table};

fn labels_path(agent: &str) -> String {
    format!("/api/agents/{}/labels", segment(agent))
}

pub async fn list(session: &Session, agent: &str) -> Result<(), CliError> {
    let labels: Value = session.client.get(&labels_path(agent)).await?;
    if session.json {
        output::print_json(&labels);
        return Ok(());
    }
    let mut table = Table::new(["LABEL", "VERSION", "MOVED", "REQUIRES"]);
    for label in labels["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&label["name"]),
            format!("v{}", output::cell(&label["version"])),
            output::when(&label["updatedAt"]),
            requirement(&label["requireEvaluation"]).unwrap_or_else(|| "-".into()),
        ]);
    }
    table.print();
    Ok(())
}

/// A label's requirement as shown: `smoke ≥ 90%`, or none.
fn requirement(gate: &Value) -> Option<String> {
    let dataset = gate["dataset"].as_str()?;
    Some(format!("{dataset} ≥ {}", percent(gate["minPassRate"].as_f64()?)))
}

/// Points `label` at `version`; `gate` changes its requirement (`Some(None)` removes it), else it stays.
pub async fn point(
    session: &Session,
    agent: &str,
    label: &str,
    version: &str,
    gate: Option<Option<RequireEval>>,
) -> Result<(), CliError> {
    // A number is sent as one; anything else (an id, another label) as text.
    let version_id = version.parse::<i64>().map_or_else(|_| json!(version), |n| json!(n));
    let mut body = json!({"versionId": version_id});
    match gate {
        Some(Some(gate)) => body["requireEvaluation"] = gate.json(),
        Some(None) => body["requireEvaluation"] = Value::Null,
        None => {}
    }
    let path = format!("{}/{}", labels_path(agent), segment(label));
    let moved: Value = session.client.put(&path, &body).await?;
    if session.json {
        output::print_json(&moved);
        return Ok(());
    }
    let requires = requirement(&moved["requireEvaluation"]).map(|r| format!(" (requires {r})")).unwrap_or_default();
    anstream::println!(
        "{agent}@{} now names v{}{requires}",
        output::cell(&moved["name"]),
        output::cell(&moved["version"])
    );
    Ok(())
}

pub async fn delete(session: &Session, agent: &str, label: &str) -> Result<(), CliError> {
    session.client.delete(&format!("{}/{}", labels_path(agent), segment(label))).await?;
    if !session.json {
        anstream::println!("{agent}@{label} deleted");
    }
    Ok(())
}
