//! Between an agent folder and the server: `init` writes a folder, `pull` a version into one, `diff`
//! compares one with the agent's head, and `push` makes the difference a version.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use talon_domain::agent::diff::{DefinitionDiff, diff as definition_diff};
use talon_domain::agent::{Definition, ModelSpec};

use super::{AgentRef, DiffArgs, InitArgs, PullArgs, PushArgs, agent, slug_of, version_of};
use crate::api::{Agent, FunctionTool, Version};
use crate::commands::Session;
use crate::error::CliError;
use crate::folder::{AgentFolder, MANIFEST, Manifest};
use crate::output::{self, ACCENT, ADDED, HEADER, HUNK, REMOVED, paint};

pub fn init(args: InitArgs) -> Result<(), CliError> {
    let slug = args.slug.unwrap_or_else(|| slug_of(&args.name));
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&slug));
    if dir.join(MANIFEST).exists() {
        return Err(CliError::Local(format!("{} already holds an agent", dir.display())));
    }
    let folder = AgentFolder {
        manifest: Manifest {
            name: args.name,
            slug,
            description: String::new(),
            capabilities: Vec::new(),
            public: false,
            api_access: false,
            model: ModelSpec { primary: args.model, fallback: None },
            config: serde_json::Map::new(),
        },
        prompt: "You are a helpful assistant.\n".into(),
        tools: Vec::new(),
    };
    folder.write(&dir)?;
    anstream::println!(
        "Created {} (edit prompt.md, talon.toml and tools/, then `talon push {}`)",
        dir.display(),
        dir.display()
    );
    Ok(())
}

pub async fn pull(session: &Session, args: PullArgs) -> Result<(), CliError> {
    let agent = agent(session, &args.agent).await?;
    let version = version_of(session, &args.agent, &agent).await?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&agent.slug));
    AgentFolder::of(&agent, &version).write(&dir)?;
    anstream::println!("Pulled {} v{} into {}", agent.slug, version.version_number, dir.display());
    Ok(())
}

/// What a push of a folder would do to its agent.
pub(crate) struct Plan {
    pub(crate) folder: AgentFolder,
    /// The agent and its head, when it exists.
    pub(crate) remote: Option<(Agent, Version)>,
    definition: DefinitionDiff,
    profile: Vec<(&'static str, Value, Value)>,
}

/// The agent with this slug and its head, or `None` when there is none yet.
pub(crate) async fn remote(session: &Session, slug: &str) -> Result<Option<(Agent, Version)>, CliError> {
    let reference = AgentRef { agent: slug.to_owned(), version: None };
    match agent(session, &reference).await {
        Ok(agent) => {
            let head = version_of(session, &reference, &agent).await?;
            Ok(Some((agent, head)))
        }
        Err(e) if e.is_status(404) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Plan {
    async fn of(session: &Session, dir: &Path) -> Result<Self, CliError> {
        let folder = AgentFolder::read(dir)?;
        let remote = remote(session, &folder.manifest.slug).await?;
        Ok(Plan::new(folder, remote))
    }

    /// The plan for a folder (read from disk or built in memory) against its agent as `remote` found it.
    pub(crate) fn new(folder: AgentFolder, remote: Option<(Agent, Version)>) -> Self {
        let local = folder.definition();
        let (definition, profile) = match &remote {
            Some((agent, head)) => {
                (definition_diff(&head.definition(), &local), profile_changes(agent, &folder.manifest))
            }
            None => (definition_diff(&Definition::default(), &local), Vec::new()),
        };
        Plan { folder, remote, definition, profile }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remote.is_some() && self.definition.is_empty() && self.profile.is_empty()
    }
}

/// The profile fields of the manifest that differ from the agent's: (field, remote, local).
fn profile_changes(agent: &Agent, manifest: &Manifest) -> Vec<(&'static str, Value, Value)> {
    let pairs = [
        ("name", json!(agent.name), json!(manifest.name)),
        ("description", json!(agent.description), json!(manifest.description)),
        ("capabilities", json!(agent.capabilities), json!(manifest.capabilities)),
        ("public", json!(agent.public), json!(manifest.public)),
        ("apiAccess", json!(agent.api_access), json!(manifest.api_access)),
    ];
    pairs.into_iter().filter(|(_, remote, local)| remote != local).collect()
}

pub async fn diff(session: &Session, args: DiffArgs) -> Result<(), CliError> {
    let plan = Plan::of(session, &args.dir).await?;
    if session.json {
        output::print_json(&json!({
            "slug": plan.folder.manifest.slug,
            "exists": plan.remote.is_some(),
            "head": plan.remote.as_ref().map(|(_, head)| head.version_number),
            "diff": plan.definition,
            "profile": plan.profile.iter().map(|(field, from, to)| (field.to_string(), json!({"from": from, "to": to}))).collect::<serde_json::Map<_, _>>(),
        }));
        return Ok(());
    }
    match &plan.remote {
        None => {
            anstream::println!("{}", paint(ACCENT, format!("{} is new: a push creates it", plan.folder.manifest.slug)))
        }
        Some(_) if plan.is_empty() => {}
        Some((agent, head)) => {
            anstream::println!("{}", paint(HEADER, format!("{} v{} → local", agent.slug, head.version_number)))
        }
    }
    if plan.is_empty() {
        let head = plan.remote.as_ref().map(|(_, head)| head.version_number).unwrap_or_default();
        anstream::println!("No changes against v{head}");
        return Ok(());
    }
    print_changes(&plan);
    Ok(())
}

/// The profile fields and the definition a push of `plan` would change, coloured like `git diff`.
pub(crate) fn print_changes(plan: &Plan) {
    for (field, from, to) in &plan.profile {
        anstream::println!("{}", paint(REMOVED, format!("-{field}: {from}")));
        anstream::println!("{}", paint(ADDED, format!("+{field}: {to}")));
    }
    let from =
        plan.remote.as_ref().map(|(_, head)| format!("v{}", head.version_number)).unwrap_or_else(|| "new".into());
    print_definition_diff(&plan.definition, &from);
}

/// A definition diff as `git diff` shows one: removed lines red, added green, hunk headers cyan; `from`
/// names the version the folder is compared with.
fn print_definition_diff(diff: &DefinitionDiff, from: &str) {
    if let Some(model) = &diff.model {
        for (part, change) in [("model.primary", &model.primary), ("model.fallback", &model.fallback)] {
            if let Some(change) = change {
                anstream::println!("{}", paint(REMOVED, format!("-{part}: {}", output::cell(&change.from))));
                anstream::println!("{}", paint(ADDED, format!("+{part}: {}", output::cell(&change.to))));
            }
        }
    }
    if let Some(config) = &diff.config {
        for (key, change) in &config.changed {
            anstream::println!("{}", paint(REMOVED, format!("-config.{key}: {}", change.from)));
            anstream::println!("{}", paint(ADDED, format!("+config.{key}: {}", change.to)));
        }
        for (key, value) in &config.removed {
            anstream::println!("{}", paint(REMOVED, format!("-config.{key}: {value}")));
        }
        for (key, value) in &config.added {
            anstream::println!("{}", paint(ADDED, format!("+config.{key}: {value}")));
        }
    }
    if let Some(tools) = &diff.tools {
        for name in &tools.removed {
            anstream::println!("{}", paint(REMOVED, format!("-tool {name}")));
        }
        for name in &tools.added {
            anstream::println!("{}", paint(ADDED, format!("+tool {name}")));
        }
        for (name, change) in &tools.changed {
            let mut parts = Vec::new();
            if change.description.is_some() {
                parts.push("description");
            }
            if change.parameters.is_some() {
                parts.push("parameters");
            }
            anstream::println!("{}", paint(ACCENT, format!("~tool {name}: {} changed", parts.join(" and "))));
        }
    }
    if let Some(prompt) = &diff.prompt {
        for line in prompt.unified.lines() {
            let line = match line {
                _ if line.starts_with("--- ") => format!("--- a/prompt.md ({from})"),
                _ if line.starts_with("+++ ") => "+++ b/prompt.md (local)".to_owned(),
                _ => line.to_owned(),
            };
            let style = if line.starts_with("+++") || line.starts_with("---") {
                HEADER
            } else if line.starts_with("@@") {
                HUNK
            } else if line.starts_with('+') {
                ADDED
            } else if line.starts_with('-') {
                REMOVED
            } else {
                anstyle::Style::new()
            };
            anstream::println!("{}", paint(style, &line));
        }
    }
}

pub async fn push(session: &Session, args: PushArgs) -> Result<(), CliError> {
    if args.expect.is_some() && args.dirs.len() > 1 {
        return Err(CliError::Usage("--expect applies to one folder at a time".into()));
    }
    if let [dir] = args.dirs.as_slice() {
        let line = push_one(session, dir, args.message.as_deref(), args.expect).await?;
        anstream::println!("{line}");
        return Ok(());
    }
    let progress = Progress::new(args.dirs.len());
    let mut failed = None;
    for dir in &args.dirs {
        let line = match push_one(session, dir, args.message.as_deref(), args.expect).await {
            Ok(line) => line,
            Err(e) => {
                let line = format!("{}: {} {e}", dir.display(), paint(REMOVED, "error:"));
                failed = Some(e);
                line
            }
        };
        progress.line(&line);
    }
    progress.finish();
    // Each failure was printed in its folder's line; the exit code is the last one's.
    match failed {
        Some(e) => Err(CliError::Local(format!("not every folder was pushed (last error: {e})"))),
        None => Ok(()),
    }
}

/// Pushes one folder; returns the line that says what happened.
async fn push_one(
    session: &Session,
    dir: &Path,
    message: Option<&str>,
    expect: Option<i64>,
) -> Result<String, CliError> {
    push_plan(session, &Plan::of(session, dir).await?, message, expect).await
}

/// Carries out `plan`; returns the line that says what happened.
pub(crate) async fn push_plan(
    session: &Session,
    plan: &Plan,
    message: Option<&str>,
    expect: Option<i64>,
) -> Result<String, CliError> {
    let manifest = &plan.folder.manifest;
    let tools: Vec<FunctionTool> = plan.folder.tools.iter().map(FunctionTool::from).collect();
    let Some((agent, head)) = &plan.remote else {
        let created: Agent = session
            .client
            .post(
                "/api/agents",
                &json!({
                    "name": manifest.name, "slug": manifest.slug, "description": manifest.description,
                    "capabilities": manifest.capabilities, "public": manifest.public,
                    "prompt": plan.folder.prompt, "tools": tools, "config": manifest.config, "model": manifest.model,
                    "commitMessage": message.unwrap_or("Initial version"),
                }),
            )
            .await?;
        if manifest.api_access {
            let _: Value =
                session.client.patch(&format!("/api/agents/{}", created.id), &json!({"apiAccess": true})).await?;
        }
        return Ok(format!("{}: created, v1", paint(HEADER, &manifest.slug)));
    };
    if let Some(expected) = expect.filter(|n| *n != head.version_number) {
        return Err(conflict(&agent.slug, head, expected));
    }
    if plan.is_empty() {
        return Ok(format!("{}: nothing to push (at v{})", paint(HEADER, &agent.slug), head.version_number));
    }
    if !plan.profile.is_empty() {
        let changes: serde_json::Map<String, Value> =
            plan.profile.iter().map(|(f, _, to)| (f.to_string(), to.clone())).collect();
        let _: Value = session.client.patch(&format!("/api/agents/{}", agent.id), &changes).await?;
    }
    if plan.definition.is_empty() {
        let fields: Vec<&str> = plan.profile.iter().map(|(f, _, _)| *f).collect();
        return Ok(format!(
            "{}: updated {} (still v{})",
            paint(HEADER, &agent.slug),
            fields.join(", "),
            head.version_number
        ));
    }
    let mut body = json!({
        "prompt": plan.folder.prompt, "tools": tools, "config": manifest.config, "model": manifest.model,
        // Conditional on the head the diff was computed against: a push in between is a conflict, not lost.
        "expectedVersionId": head.id,
    });
    if let Some(message) = message {
        body["commitMessage"] = json!(message);
    }
    let path = format!("/api/agents/{}/versions", agent.id);
    match session.client.post::<_, Value>(&path, &body).await {
        Ok(created) => Ok(format!(
            "{}: v{} → v{} ({})",
            paint(HEADER, &agent.slug),
            head.version_number,
            output::cell(&created["versionNumber"]),
            plan.definition.changed_parts().join(", ")
        )),
        Err(e) if e.is_status(409) => {
            let now = AgentRef { agent: agent.id.clone(), version: None };
            let current = self::agent(session, &now).await?;
            let latest = version_of(session, &now, &current).await?;
            Err(conflict(&agent.slug, &latest, head.version_number))
        }
        Err(e) => Err(e),
    }
}

/// The head moved past what was expected: who moved it, when and why.
fn conflict(slug: &str, head: &Version, expected: i64) -> CliError {
    CliError::Api {
        status: 409,
        code: "CONFLICT".into(),
        message: format!(
            "{slug} is at v{} (by {} at {}: \"{}\"), not v{expected}: pull it, merge your change and push again",
            head.version_number,
            head.created_by.email.as_deref().unwrap_or("someone"),
            output::when(&json!(head.created_at)),
            head.commit_message
        ),
        request_id: None,
        details: Vec::new(),
    }
}
/// A progress bar on standard error for pushes of many folders, with each folder's line above it;
/// with one folder, or no terminal, just the lines.
pub(crate) struct Progress(indicatif::ProgressBar);

impl Progress {
    pub(crate) fn new(total: usize) -> Self {
        let bar = if total > 1 { indicatif::ProgressBar::new(total as u64) } else { indicatif::ProgressBar::hidden() };
        if let Ok(style) = indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {elapsed}") {
            bar.set_style(style.progress_chars("#>-"));
        }
        Progress(bar)
    }

    pub(crate) fn line(&self, text: &str) {
        self.0.suspend(|| anstream::println!("{text}"));
        self.0.inc(1);
    }

    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}
