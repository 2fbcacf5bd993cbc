//! `talon datasets list|show|push|delete`: an agent's datasets, the named cases an evaluation runs.

use std::io::Read;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use super::DatasetsCommand;
use crate::client::segment;
use crate::commands::Session;
use crate::error::CliError;
use crate::output::{self, ACCENT, DIM, Table, paint};

/// What a dataset as the API shows it has beside its content: left out of a file before it is pushed,
/// so that `datasets show --json` edited and pushed back is a new revision.
const READ_ONLY: [&str; 5] = ["id", "agentId", "revision", "createdAt", "updatedAt"];

fn datasets_path(agent: &str) -> String {
    format!("/api/agents/{}/datasets", segment(agent))
}

fn dataset_path(agent: &str, name: &str) -> String {
    format!("{}/{}", datasets_path(agent), segment(name))
}

pub async fn datasets(session: &Session, command: DatasetsCommand) -> Result<(), CliError> {
    match command {
        DatasetsCommand::List { agent } => list(session, &agent).await,
        DatasetsCommand::Show { agent, name } => show(session, &agent, &name).await,
        DatasetsCommand::Push { agent, name, file } => push(session, &agent, &name, &file).await,
        DatasetsCommand::Delete { agent, name } => {
            session.client.delete(&dataset_path(&agent, &name)).await?;
            if !session.json {
                anstream::println!("deleted dataset {name}");
            }
            Ok(())
        }
    }
}

async fn list(session: &Session, agent: &str) -> Result<(), CliError> {
    let list: Value = session.client.get(&datasets_path(agent)).await?;
    if session.json {
        output::print_json(&list);
        return Ok(());
    }
    let mut table = Table::new(["NAME", "CASES", "REVISION", "UPDATED", "DESCRIPTION"]);
    for dataset in list["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&dataset["name"]),
            output::cell(&dataset["caseCount"]),
            output::cell(&dataset["revision"]),
            output::when(&dataset["updatedAt"]),
            one_line(dataset["description"].as_str().unwrap_or_default(), 60),
        ]);
    }
    table.print();
    Ok(())
}

async fn show(session: &Session, agent: &str, name: &str) -> Result<(), CliError> {
    let dataset: Value = session.client.get(&dataset_path(agent, name)).await?;
    if session.json {
        output::print_json(&dataset);
        return Ok(());
    }
    let cases = dataset["cases"].as_array().cloned().unwrap_or_default();
    anstream::println!(
        "{} {}",
        paint(ACCENT, output::cell(&dataset["name"])),
        paint(
            DIM,
            format!("revision {}, {} case{}", output::cell(&dataset["revision"]), cases.len(), plural(cases.len()))
        )
    );
    if let Some(description) = dataset["description"].as_str().filter(|d| !d.is_empty()) {
        anstream::println!("{description}");
    }
    anstream::println!();
    let mut table = Table::new(["CASE", "INPUT", "CHECKS"]);
    for case in &cases {
        let checks: Vec<String> = case["checks"].as_array().into_iter().flatten().map(check).collect();
        table.row(vec![output::cell(&case["name"]), one_line(&input(&case["input"]), 50), checks.join(", ")]);
    }
    table.print();
    Ok(())
}

async fn push(session: &Session, agent: &str, name: &str, file: &Path) -> Result<(), CliError> {
    let body = content(name, &read(file)?, file)?;
    let request = session.client.authed(Method::PUT, &dataset_path(agent, name))?.json(&body);
    let response = session.client.send(request).await?;
    let created = response.status() == StatusCode::CREATED;
    let dataset: Value = response.json().await.map_err(|e| CliError::Protocol(e.to_string()))?;
    if session.json {
        output::print_json(&dataset);
        return Ok(());
    }
    let count = dataset["cases"].as_array().map_or(0, Vec::len);
    let done = if created {
        "created".to_owned()
    } else {
        format!("replaced, revision {}", output::cell(&dataset["revision"]))
    };
    anstream::println!("dataset {name}: {done} ({count} case{})", plural(count));
    Ok(())
}

fn read(file: &Path) -> Result<String, CliError> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(CliError::io("reading standard input"))?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(CliError::io(format!("reading {}", file.display())))
}

/// The request body from a file's text: a JSON object, without the fields the server sets; a `name`
/// must be the one pushed to. Anything else is left for the server to judge.
fn content(name: &str, text: &str, file: &Path) -> Result<Value, CliError> {
    let wrong = |why: String| CliError::Local(format!("{}: {why}", file.display()));
    let value: Value = serde_json::from_str(text).map_err(|e| wrong(format!("not JSON ({e})")))?;
    let Value::Object(mut fields) = value else {
        return Err(wrong(r#"not a dataset: a JSON object {"description"?, "cases": [...]}"#.into()));
    };
    if let Some(named) = fields.remove("name")
        && named.as_str() != Some(name)
    {
        return Err(wrong(format!("it names dataset {named}, not `{name}`")));
    }
    for field in READ_ONLY {
        fields.remove(field);
    }
    Ok(Value::Object(fields))
}

/// A case's input in a line: a string or `prompt`/`message` as their text, anything else as JSON.
fn input(value: &Value) -> String {
    let text = value.as_str().or_else(|| value["prompt"].as_str()).or_else(|| value["message"].as_str());
    match text {
        Some(text) if !value.is_object() || only_key(value.as_object()) => text.to_owned(),
        _ => value.to_string(),
    }
}

fn only_key(object: Option<&Map<String, Value>>) -> bool {
    object.is_some_and(|o| o.len() == 1)
}

/// A check, briefly: `contains "hello"`, `regex /…/`, `numeric $.total = 42 ± 0.5`, `judge bot`.
fn check(check: &Value) -> String {
    let kind = output::cell(&check["type"]);
    let detail = match kind.as_str() {
        "exact" | "contains" => {
            let case = if check["ignoreCase"] == Value::Bool(true) { " (any case)" } else { "" };
            format!(" {}{case}", check["value"])
        }
        "regex" => format!(" /{}/", output::cell(&check["pattern"])),
        "numeric" => {
            format!(
                " {} = {} ± {}",
                output::cell(&check["path"]),
                number(&check["expected"]),
                number(&check["tolerance"])
            )
        }
        "judge" => format!(" {}", output::cell(&check["agent"])),
        _ => String::new(),
    };
    format!("{kind}{detail}")
}

/// A number as written by hand: `42` rather than the `42.0` a float is sent back as.
fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        _ => output::cell(value),
    }
}

/// `text` on one line, cut to `max` characters with `…`.
pub(super) fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_file_is_sent_without_what_the_server_sets() {
        let file = Path::new("smoke.json");
        let shown = json!({"id": "ds_1", "agentId": "agent_1", "name": "smoke", "revision": 3, "description": "d",
            "cases": [], "createdAt": "t", "updatedAt": "t"});
        assert_eq!(content("smoke", &shown.to_string(), file).unwrap(), json!({"description": "d", "cases": []}));
        // Unknown fields are the server's to refuse; another dataset's name or no object is ours.
        assert_eq!(content("smoke", r#"{"cases": [], "extra": 1}"#, file).unwrap(), json!({"cases": [], "extra": 1}));
        assert!(content("other", &shown.to_string(), file).unwrap_err().to_string().contains("names dataset"));
        assert!(content("smoke", "[1]", file).unwrap_err().to_string().contains("smoke.json: not a dataset"));
        assert!(content("smoke", "{", file).unwrap_err().to_string().contains("not JSON"));
    }

    #[test]
    fn inputs_and_checks_fit_on_a_line() {
        assert_eq!(input(&json!("Say hello")), "Say hello");
        assert_eq!(input(&json!({"prompt": "Sum"})), "Sum");
        assert_eq!(input(&json!({"prompt": "Sum", "x": 1})), r#"{"prompt":"Sum","x":1}"#);
        assert_eq!(
            check(&json!({"type": "contains", "value": "hi", "ignoreCase": true})),
            r#"contains "hi" (any case)"#
        );
        assert_eq!(
            check(&json!({"type": "numeric", "path": "$.t", "expected": 42, "tolerance": 0})),
            "numeric $.t = 42 ± 0"
        );
        assert_eq!(
            check(&json!({"type": "numeric", "path": "$.t", "expected": 4.0, "tolerance": 0.5})),
            "numeric $.t = 4 ± 0.5"
        );
        assert_eq!(check(&json!({"type": "jsonSchema", "schema": {}})), "jsonSchema");
        assert_eq!(one_line("a\n b   c", 10), "a b c");
        assert_eq!(one_line("abcdefghijk", 5), "abcd…");
    }
}
