//! Agents as code: `init`, `pull`, `diff`, `push`, `log`, `show`, `rollback`, `fork`, `lineage`,
//! `deploy`, `stop` and `agents ls`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use talon_domain::agent::diff::{DefinitionDiff, diff as definition_diff};
use talon_domain::agent::{Definition, ModelSpec};

use super::Session;
use crate::api::{Agent, FunctionTool, Version};
use crate::client::segment;
use crate::error::CliError;
use crate::folder::{AgentFolder, MANIFEST, Manifest};
use crate::output::{self, ACCENT, ADDED, DIM, HEADER, HUNK, REMOVED, Table, paint};

/// An agent named on the command line: its slug or id, and optionally `@N` for one version.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRef {
    pub agent: String,
    pub version: Option<i64>,
}

impl std::str::FromStr for AgentRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (agent, version) = match text.rsplit_once('@') {
            Some((agent, n)) => {
                let n: i64 =
                    n.parse().map_err(|_| format!("`{n}` is no version number (AGENT@N, e.g. support-bot@3)"))?;
                if n < 1 {
                    return Err("version numbers start at 1".into());
                }
                (agent, Some(n))
            }
            None => (text, None),
        };
        if agent.is_empty() {
            return Err("name an agent by its slug or id".into());
        }
        Ok(AgentRef { agent: agent.to_owned(), version })
    }
}

impl AgentRef {
    fn path(&self) -> String {
        format!("/api/agents/{}", segment(&self.agent))
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to create [default: the slug].
    pub dir: Option<PathBuf>,
    /// The agent's name.
    #[arg(long)]
    pub name: String,
    /// Its slug [default: from the name].
    #[arg(long)]
    pub slug: Option<String>,
    /// The model answering for it.
    #[arg(long, default_value = talon_domain::agent::definition::DEFAULT_MODEL)]
    pub model: String,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// AGENT or AGENT@N.
    pub agent: AgentRef,
    /// The folder to write [default: the agent's slug].
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The agent folder [default: the current folder].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Agent folders [default: the current folder].
    #[arg(default_value = ".")]
    pub dirs: Vec<PathBuf>,
    /// The commit message [default: "Update <what changed>"].
    #[arg(short, long)]
    pub message: Option<String>,
    /// Push only if the head is still version N (one folder only).
    #[arg(long)]
    pub expect: Option<i64>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    pub agent: AgentRef,
    /// How many versions.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// AGENT (its head) or AGENT@N.
    pub agent: AgentRef,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub agent: AgentRef,
    /// The version whose content becomes the new head.
    pub version: i64,
}

#[derive(Debug, Args)]
pub struct ForkArgs {
    /// AGENT (its head) or AGENT@N: what to fork.
    pub agent: AgentRef,
    /// The fork's name [default: "<name> (fork)"].
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// AGENT (serve the head, following new versions) or AGENT@N (pin version N).
    pub agent: AgentRef,
}

#[derive(Debug, Args)]
pub struct AgentArg {
    pub agent: AgentRef,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List your agents.
    Ls {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

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

/// A slug from a name: lowercase letters and digits, runs of anything else as one `-`.
pub(super) fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() { "agent".into() } else { slug }
}

pub(super) async fn agent(session: &Session, reference: &AgentRef) -> Result<Agent, CliError> {
    session.client.get(&reference.path()).await
}

/// The version `reference` names: its `@N`, else the agent's head.
pub(super) async fn version_of(session: &Session, reference: &AgentRef, agent: &Agent) -> Result<Version, CliError> {
    match (reference.version, &agent.current_version) {
        (None, Some(head)) => Ok(head.clone()),
        (Some(n), _) => session.client.get(&format!("{}/versions/{n}", reference.path())).await,
        (None, None) => {
            session.client.get(&format!("{}/versions/{}", reference.path(), agent.current_version_id)).await
        }
    }
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
pub(super) struct Plan {
    pub(super) folder: AgentFolder,
    /// The agent and its head, when it exists.
    pub(super) remote: Option<(Agent, Version)>,
    definition: DefinitionDiff,
    profile: Vec<(&'static str, Value, Value)>,
}

/// The agent with this slug and its head, or `None` when there is none yet.
pub(super) async fn remote(session: &Session, slug: &str) -> Result<Option<(Agent, Version)>, CliError> {
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
    pub(super) fn new(folder: AgentFolder, remote: Option<(Agent, Version)>) -> Self {
        let local = folder.definition();
        let (definition, profile) = match &remote {
            Some((agent, head)) => {
                (definition_diff(&head.definition(), &local), profile_changes(agent, &folder.manifest))
            }
            None => {
                (definition_diff(&Definition { prompt: String::new(), ..Definition::default() }, &local), Vec::new())
            }
        };
        Plan { folder, remote, definition, profile }
    }

    pub(super) fn is_empty(&self) -> bool {
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
pub(super) fn print_changes(plan: &Plan) {
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
pub(super) async fn push_plan(
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
    }
}

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
    let path = match args.agent.version {
        Some(n) => format!("{}/versions/{n}", args.agent.path()),
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
    if let Some(n) = args.agent.version {
        body["version"] = json!(n);
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
    let body = match args.agent.version {
        Some(n) => json!({"version": n}),
        None => json!({}),
    };
    let agent: Value = session.client.post(&format!("{}/deploy", args.agent.path()), &body).await?;
    if session.json {
        output::print_json(&agent);
        return Ok(());
    }
    let serving = match args.agent.version {
        Some(n) => format!("v{n} (pinned)"),
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
    let AgentsCommand::Ls { limit } = command;
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

/// A progress bar on standard error for pushes of many folders, with each folder's line above it;
/// with one folder, or no terminal, just the lines.
pub(super) struct Progress(indicatif::ProgressBar);

impl Progress {
    pub(super) fn new(total: usize) -> Self {
        let bar = if total > 1 { indicatif::ProgressBar::new(total as u64) } else { indicatif::ProgressBar::hidden() };
        if let Ok(style) = indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {elapsed}") {
            bar.set_style(style.progress_chars("#>-"));
        }
        Progress(bar)
    }

    pub(super) fn line(&self, text: &str) {
        self.0.suspend(|| anstream::println!("{text}"));
        self.0.inc(1);
    }

    pub(super) fn finish(&self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_refs_name_an_agent_and_maybe_a_version() {
        assert_eq!("support-bot".parse::<AgentRef>().unwrap(), AgentRef { agent: "support-bot".into(), version: None });
        assert_eq!(
            "support-bot@3".parse::<AgentRef>().unwrap(),
            AgentRef { agent: "support-bot".into(), version: Some(3) }
        );
        assert!("support-bot@latest".parse::<AgentRef>().unwrap_err().contains("no version number"));
        assert!("x@0".parse::<AgentRef>().is_err());
        assert!("@2".parse::<AgentRef>().is_err());
    }

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_of("Support Bot (EU)"), "support-bot-eu");
        assert_eq!(slug_of("  ¡Hola!  "), "hola");
        assert_eq!(slug_of("***"), "agent");
    }
}
