//! `talon agents labels|label|unlabel`: an agent's labels, the named pointers to its versions that
//! `AGENT@LABEL` names on the server.

use serde_json::{Value, json};

use crate::client::segment;
use crate::commands::Session;
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
    let mut table = Table::new(["LABEL", "VERSION", "MOVED"]);
    for label in labels["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&label["name"]),
            format!("v{}", output::cell(&label["version"])),
            output::when(&label["updatedAt"]),
        ]);
    }
    table.print();
    Ok(())
}

pub async fn point(session: &Session, agent: &str, label: &str, version: &str) -> Result<(), CliError> {
    // A number is sent as one; anything else (an id, another label) as text.
    let version_id = version.parse::<i64>().map_or_else(|_| json!(version), |n| json!(n));
    let path = format!("{}/{}", labels_path(agent), segment(label));
    let moved: Value = session.client.put(&path, &json!({"versionId": version_id})).await?;
    if session.json {
        output::print_json(&moved);
        return Ok(());
    }
    anstream::println!("{agent}@{} now names v{}", output::cell(&moved["name"]), output::cell(&moved["version"]));
    Ok(())
}

pub async fn delete(session: &Session, agent: &str, label: &str) -> Result<(), CliError> {
    session.client.delete(&format!("{}/{}", labels_path(agent), segment(label))).await?;
    if !session.json {
        anstream::println!("{agent}@{label} deleted");
    }
    Ok(())
}
