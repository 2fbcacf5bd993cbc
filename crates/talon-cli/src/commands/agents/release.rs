//! Releasing safely: `talon split` (a canary split between versions), `promote` (serve one arm alone),
//! `abort` (serve again what was served before the split), and `talon merge` (merge a fork back into an
//! agent it descends from, its conflicts listed and resolved with `--ours`/`--theirs`).

use serde_json::{Value, json};

use super::{AgentArg, MergeArgs, PromoteArgs, SplitArgs, SplitArm, VersionPin};
use crate::commands::Session;
use crate::error::CliError;
use crate::output::{self, ACCENT, ADDED, DIM, HEADER, REMOVED, paint};

/// A version as a request names it: a number as a number, anything else (a label, an id) as text.
fn version_json(pin: &VersionPin) -> Value {
    match pin {
        VersionPin::Number(n) => json!(n),
        VersionPin::Name(name) => json!(name),
    }
}

pub async fn split(session: &Session, args: SplitArgs) -> Result<(), CliError> {
    let arms: Vec<Value> =
        args.arms.iter().map(|a| json!({"versionId": version_json(&a.version), "weight": a.weight})).collect();
    let path = format!("{}/deploy", args.agent.path());
    let mut body = json!({"split": arms});
    if let Some(gate) = &args.require_eval {
        body["requireEvaluation"] = gate.json();
    }
    let agent: Value = session.client.post(&path, &body).await?;
    if session.json {
        output::print_json(&agent);
        return Ok(());
    }
    let described: Vec<String> = args.arms.iter().map(SplitArm::to_string).collect();
    anstream::println!("{} serves a canary split: {}", output::cell(&agent["slug"]), described.join(", "));
    Ok(())
}

pub async fn promote(session: &Session, args: PromoteArgs) -> Result<(), CliError> {
    let path = format!("{}/deploy/promote", args.agent.path());
    let mut body = json!({"versionId": version_json(&args.version)});
    if let Some(gate) = &args.require_eval {
        body["requireEvaluation"] = gate.json();
    }
    let agent: Value = session.client.post(&path, &body).await?;
    if session.json {
        output::print_json(&agent);
        return Ok(());
    }
    let shown = match &args.version {
        VersionPin::Number(n) => format!("v{n}"),
        VersionPin::Name(name) => name.clone(),
    };
    anstream::println!("{} serves {shown} alone (pinned); the split is over", output::cell(&agent["slug"]));
    Ok(())
}

pub async fn abort(session: &Session, args: AgentArg) -> Result<(), CliError> {
    let path = format!("{}/deploy/abort", args.agent.path());
    let agent: Value = session.client.post(&path, &json!({})).await?;
    if session.json {
        output::print_json(&agent);
        return Ok(());
    }
    anstream::println!(
        "{} split aborted: serving {} again (pinned)",
        output::cell(&agent["slug"]),
        output::cell(&agent["deployedVersionId"])
    );
    Ok(())
}

pub async fn merge(session: &Session, args: MergeArgs) -> Result<(), CliError> {
    let parent = args.parent.path();
    let mut query = vec![("fromAgentId", args.from.agent.clone())];
    if let Some(pin) = &args.from.version {
        query.push(("fromVersionId", pin.to_string()));
    }
    let preview: Value = session.client.get_query(&format!("{parent}/merge-preview"), &query).await?;
    let conflicts = preview["conflicts"].as_array().cloned().unwrap_or_default();
    let field = |c: &Value| c["field"].as_str().unwrap_or_default().to_owned();
    let resolved = |c: &Value| {
        let f = field(c);
        args.ours.contains(&f) || args.theirs.contains(&f)
    };
    let unresolved: Vec<&Value> = conflicts.iter().filter(|c| !resolved(c)).collect();

    if args.preview {
        if session.json {
            output::print_json(&preview);
        } else {
            print_preview(&preview, &conflicts);
        }
        return match conflicts.len() {
            0 => Ok(()),
            n => Err(CliError::Local(format!("the merge has {n} conflict{}", plural(n)))),
        };
    }
    if !unresolved.is_empty() {
        if !session.json {
            print_conflicts(&conflicts);
        }
        let fields: Vec<String> = unresolved.iter().map(|c| field(c)).collect();
        return Err(CliError::Local(format!(
            "{} unresolved conflict{} ({}): resolve each with --ours FIELD or --theirs FIELD, or see `--preview`",
            fields.len(),
            plural(fields.len()),
            fields.join(", ")
        )));
    }

    let mut resolutions: Vec<Value> = Vec::new();
    resolutions.extend(args.ours.iter().map(|f| json!({"field": f, "choice": "ours"})));
    resolutions.extend(args.theirs.iter().map(|f| json!({"field": f, "choice": "theirs"})));
    let mut body = json!({
        "fromAgentId": args.from.agent,
        "expectedVersionId": preview["ours"]["id"],
    });
    if let Some(pin) = &args.from.version {
        body["fromVersionId"] = version_json(pin);
    }
    if let Some(message) = &args.message {
        body["commitMessage"] = json!(message);
    }
    if !resolutions.is_empty() {
        body["resolutions"] = json!(resolutions);
    }
    let merged: Value = session.client.post(&format!("{parent}/merge"), &body).await?;
    if session.json {
        output::print_json(&merged);
        return Ok(());
    }
    let theirs = output::cell(&preview["theirs"]["versionNumber"]);
    let number = output::cell(&merged["versionNumber"]);
    if merged["versionNumber"] == preview["ours"]["versionNumber"] {
        anstream::println!("nothing to merge: {} v{number} already has the fork's changes", args.parent.agent);
    } else {
        anstream::println!("merged {} v{theirs} into {} v{number}", args.from.agent, args.parent.agent);
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_preview(preview: &Value, conflicts: &[Value]) {
    anstream::println!(
        "{} v{} into v{} (common ancestor v{})",
        paint(HEADER, "merge"),
        output::cell(&preview["theirs"]["versionNumber"]),
        output::cell(&preview["ours"]["versionNumber"]),
        output::cell(&preview["base"]["versionNumber"])
    );
    anstream::println!();
    anstream::println!("{}", paint(HEADER, "merged prompt:"));
    for line in preview["merged"]["prompt"].as_str().unwrap_or_default().lines() {
        anstream::println!("  {line}");
    }
    anstream::println!();
    if conflicts.is_empty() {
        anstream::println!("no conflicts");
    } else {
        print_conflicts(conflicts);
    }
}

/// Each conflict: its field, then base, ours and theirs, indented.
fn print_conflicts(conflicts: &[Value]) {
    anstream::println!("{}", paint(HEADER, format!("{} conflict{}:", conflicts.len(), plural(conflicts.len()))));
    for conflict in conflicts {
        anstream::println!("  {}", paint(ACCENT, output::cell(&conflict["field"])));
        for (side, style) in [("base", DIM), ("ours", REMOVED), ("theirs", ADDED)] {
            let shown = shown(&conflict[side]);
            let mut lines = shown.lines();
            let label = format!("{:<8}", format!("{side}:"));
            anstream::println!("    {}{}", paint(style, label), lines.next().unwrap_or_default());
            for line in lines {
                anstream::println!("            {line}");
            }
        }
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "(none)".into(),
        Value::String(text) if text.is_empty() => "(empty)".into(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
