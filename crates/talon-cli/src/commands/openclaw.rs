//! OpenClaw setups in and out: `talon import openclaw PATH [--dry-run]` and
//! `talon export openclaw AGENT DIR`.
//!
//! An OpenClaw setup is `openclaw.json` (whose `agents.list[]` holds one entry per agent) and a workspace
//! folder per agent holding Markdown files that OpenClaw injects into the system prompt. The import makes
//! one Talon agent of each entry, created or updated exactly as `talon push` does with a folder:
//!
//! - The file is read as plain JSON. OpenClaw writes JSON5; comments, trailing commas and unquoted keys
//!   are refused with an error naming the file. PATH is the file or the folder holding `openclaw.json`.
//! - `slug`: the entry's `id`, lowercased, with runs of anything but `[a-z0-9]` as one `-`. Two entries
//!   with the same slug are an error, as are an entry without `id` and a missing workspace.
//! - `name`: `identity.name`, else the `id`.
//! - `model`: a string is the primary model; `{primary, fallbacks}` gives the primary and the first
//!   fallback (Talon keeps one fallback; the others are dropped). OpenClaw's `provider/model` names are
//!   kept as they are, so the server accepts them only when it has that provider. An entry without a
//!   model takes `agents.defaults.model`, else keeps the Talon agent's model (Talon's default model for
//!   a new agent).
//! - `prompt`: the workspace's `AGENTS.md`, `SOUL.md`, `TOOLS.md`, `IDENTITY.md` and `USER.md` (the order
//!   OpenClaw injects them in), the ones with text, each trimmed and under a `# FILE.md` heading line,
//!   separated by a blank line. Other workspace files (`MEMORY.md`, `BOOTSTRAP.md`, `memory/`, skills)
//!   are not part of an agent's definition and stay behind. An agent needs a prompt, so a workspace
//!   without any of these files is an error. The workspace is the entry's `workspace`, else
//!   `agents.defaults.workspace`, relative to the config file's folder, `~` meaning `$HOME`.
//! - `tools`: each name in `tools.allow` and `tools.alsoAllow` that is not in `tools.deny` becomes a Talon
//!   tool with that name, an empty object schema and a description saying it is OpenClaw's. Groups
//!   (`group:fs`), `*` and plugin tools (`plugin/tool`) are no tool names: they are not made tools, and
//!   `deny` removes exact names only. The tools OpenClaw allows replace the agent's tools.
//! - `config.openclaw`: the rest of the entry as it is (`tools` with `allow`/`deny`/`profile`, `identity`
//!   without its `name`, `sandbox`, `skills`, …), so that export writes it back exactly. The agent's other
//!   config keys stay as they are, and so do its description, capabilities and visibility.
//!
//! The dry run prints, per agent, `create SLUG` or `update SLUG` followed by the diff `talon diff` would
//! show, or `unchanged SLUG`.
//!
//! The export writes the reverse into DIR: `openclaw.json` with the agent's entry (added to, or replacing
//! the entry with the same `id` in, an `openclaw.json` already there) and its workspace
//! `workspace-SLUG/`, which the entry names relative to DIR. The entry is `config.openclaw` with `id` (the
//! slug), `workspace`, `model` (a string without a fallback, else `{primary, fallbacks: [fallback]}`) and
//! `identity.name` (when the name is not the slug); an agent that never came from OpenClaw but has tools
//! gets `tools.allow` with their names (their schemas have no place in OpenClaw). The prompt is split at
//! its `# FILE.md` heading lines back into the workspace files (text before the first one belongs to
//! `AGENTS.md`; a file holding a later file's heading line would be split there), and those files that
//! get no text are removed. Talon's other config keys have no OpenClaw equivalent and are not written.
//! Importing an export changes nothing.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Map, Value, json};
use talon_domain::agent::{ModelSpec, Tool};

use super::Session;
use super::agents::{self, AgentRef, Plan, Progress};
use crate::api::{Agent, Version};
use crate::error::CliError;
use crate::folder::{AgentFolder, Manifest};
use crate::output::{ACCENT, DIM, HEADER, REMOVED, paint};

pub const CONFIG_FILE: &str = "openclaw.json";
/// The workspace files that make up the prompt, in the order they are composed.
pub const WORKSPACE_FILES: [&str; 5] = ["AGENTS.md", "SOUL.md", "TOOLS.md", "IDENTITY.md", "USER.md"];
/// The key of the agent's config that keeps the rest of its OpenClaw entry.
const CONFIG_KEY: &str = "openclaw";
const COMMIT_MESSAGE: &str = "Imported from OpenClaw";

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Create or update one agent per entry of an OpenClaw setup's `agents.list`.
    Openclaw {
        /// `openclaw.json`, or the folder holding it.
        path: PathBuf,
        /// Print what would be created or changed, with diffs, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write an agent as an OpenClaw setup: DIR/openclaw.json with its entry, and its workspace files.
    Openclaw {
        /// AGENT (its head), AGENT@N or AGENT@LABEL.
        agent: AgentRef,
        /// The folder to write into.
        dir: PathBuf,
    },
}

/// An entry of `agents.list` with its workspace read: what Talon makes of it.
#[derive(Debug, Clone, PartialEq)]
struct OpenclawAgent {
    slug: String,
    name: String,
    /// `None` when neither the entry nor `agents.defaults` names one.
    model: Option<ModelSpec>,
    prompt: String,
    tools: Vec<Tool>,
    /// What goes to `config.openclaw`.
    kept: Map<String, Value>,
}

impl OpenclawAgent {
    /// The agent as a folder to push over `remote`: what OpenClaw does not say stays as it is there.
    fn folder(&self, remote: Option<&(Agent, Version)>) -> AgentFolder {
        let mut folder = match remote {
            Some((agent, head)) => AgentFolder::of(agent, head),
            None => AgentFolder {
                manifest: Manifest {
                    name: String::new(),
                    slug: String::new(),
                    description: String::new(),
                    capabilities: Vec::new(),
                    public: false,
                    api_access: false,
                    model: ModelSpec::default(),
                    config: Map::new(),
                },
                prompt: String::new(),
                tools: Vec::new(),
            },
        };
        folder.manifest.name = self.name.clone();
        folder.manifest.slug = self.slug.clone();
        if let Some(model) = &self.model {
            folder.manifest.model = model.clone();
        }
        if self.kept.is_empty() {
            folder.manifest.config.remove(CONFIG_KEY);
        } else {
            folder.manifest.config.insert(CONFIG_KEY.to_owned(), Value::Object(self.kept.clone()));
        }
        folder.prompt = self.prompt.clone();
        folder.tools = self.tools.clone();
        folder
    }
}

pub async fn import(session: &Session, command: ImportCommand) -> Result<(), CliError> {
    let ImportCommand::Openclaw { path, dry_run } = command;
    let setup = read_setup(&path, std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from))?;
    if dry_run {
        for agent in &setup {
            let remote = agents::remote(session, &agent.slug).await?;
            print_plan(&Plan::new(agent.folder(remote.as_ref()), remote));
        }
        anstream::println!("{}", paint(DIM, "dry run: nothing was changed"));
        return Ok(());
    }
    let progress = Progress::new(setup.len());
    let mut failed = None;
    for agent in &setup {
        let line = match import_one(session, agent).await {
            Ok(line) => line,
            Err(e) => {
                let line = format!("{}: {} {e}", paint(HEADER, &agent.slug), paint(REMOVED, "error:"));
                failed = Some(e);
                line
            }
        };
        progress.line(&line);
    }
    progress.finish();
    // Each failure was printed in its agent's line.
    match failed {
        Some(e) => Err(CliError::Local(format!("not every agent was imported (last error: {e})"))),
        None => Ok(()),
    }
}

async fn import_one(session: &Session, agent: &OpenclawAgent) -> Result<String, CliError> {
    let remote = agents::remote(session, &agent.slug).await?;
    let plan = Plan::new(agent.folder(remote.as_ref()), remote);
    agents::push_plan(session, &plan, Some(COMMIT_MESSAGE), None).await
}

fn print_plan(plan: &Plan) {
    let slug = &plan.folder.manifest.slug;
    match &plan.remote {
        None => anstream::println!("{}", paint(ACCENT, format!("create {slug}"))),
        Some(_) if plan.is_empty() => {
            anstream::println!("{}", paint(DIM, format!("unchanged {slug}")));
            return;
        }
        Some(_) => anstream::println!("{}", paint(HEADER, format!("update {slug}"))),
    }
    agents::print_changes(plan);
}

/// The agents of the setup at `path` (`openclaw.json` or its folder), every entry checked before any is
/// imported.
fn read_setup(path: &Path, home: Option<PathBuf>) -> Result<Vec<OpenclawAgent>, CliError> {
    let file = if path.is_dir() { path.join(CONFIG_FILE) } else { path.to_owned() };
    let config = read_config(&file)?;
    let invalid = |what: String| CliError::Local(format!("{}: {what}", file.display()));
    let Some(list) = config.pointer("/agents/list").and_then(Value::as_array) else {
        return Err(invalid("no `agents.list` (the array of agents)".into()));
    };
    let defaults = config.pointer("/agents/defaults").cloned().unwrap_or(Value::Null);
    let base = file.parent().unwrap_or(Path::new(""));
    let mut setup: Vec<OpenclawAgent> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let label = match entry.get("id").and_then(Value::as_str) {
            Some(id) => format!("agents.list[{i}] (`{id}`)"),
            None => format!("agents.list[{i}]"),
        };
        let agent =
            read_entry(entry, &defaults, base, home.as_deref()).map_err(|e| invalid(format!("{label}: {e}")))?;
        if let Some(j) = setup.iter().position(|a| a.slug == agent.slug) {
            return Err(invalid(format!(
                "{label}: duplicate id: agents.list[{j}] is the same agent (`{}`)",
                agent.slug
            )));
        }
        setup.push(agent);
    }
    Ok(setup)
}

fn read_config(file: &Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(file).map_err(CliError::io(format!("reading {}", file.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::Local(format!(
            "{}: not plain JSON ({e}); comments, trailing commas and unquoted keys (JSON5) are not read: \
             write it as JSON",
            file.display()
        ))
    })
}

/// One entry of `agents.list`; the error says what is wrong with it.
fn read_entry(entry: &Value, defaults: &Value, base: &Path, home: Option<&Path>) -> Result<OpenclawAgent, String> {
    let Some(fields) = entry.as_object() else {
        return Err("is no object".into());
    };
    let id = fields.get("id").and_then(Value::as_str).filter(|id| !id.trim().is_empty()).ok_or("has no `id`")?;
    let workspace = fields
        .get("workspace")
        .or_else(|| defaults.get("workspace"))
        .and_then(Value::as_str)
        .ok_or("has no `workspace` (nor is there an agents.defaults.workspace)")?;
    let workspace = resolve(workspace, base, home)?;
    if !workspace.is_dir() {
        return Err(format!("the workspace {} does not exist", workspace.display()));
    }
    let model = fields.get("model").or_else(|| defaults.get("model")).map(model_spec).transpose()?;
    let prompt = compose_prompt(&read_workspace(&workspace)?);
    if prompt.is_empty() {
        return Err(format!(
            "none of {} in {} has any text, and an agent needs a prompt",
            WORKSPACE_FILES.join(", "),
            workspace.display()
        ));
    }
    let tools = tools_of(fields.get("tools"));
    let mut kept = fields.clone();
    for mapped in ["id", "workspace", "model"] {
        kept.remove(mapped);
    }
    let mut name = id.to_owned();
    if let Some(Value::Object(identity)) = kept.get_mut("identity") {
        let given = identity.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()).map(str::to_owned);
        if let Some(given) = given {
            name = given;
            identity.remove("name");
        }
        if identity.is_empty() {
            kept.remove("identity");
        }
    }
    Ok(OpenclawAgent { slug: agents::slug_of(id), name, model, prompt, tools, kept })
}

/// `path` from the config: `~` is `home`, and a relative path is relative to the config's folder.
fn resolve(path: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = home.ok_or_else(|| format!("`{path}` starts with `~`, but HOME is not set"))?;
            Ok(home.join(rest.trim_start_matches('/')))
        }
        _ => Ok(base.join(path)),
    }
}

fn model_spec(model: &Value) -> Result<ModelSpec, String> {
    match model {
        Value::String(primary) => Ok(ModelSpec { primary: primary.clone(), fallback: None }),
        Value::Object(fields) => {
            let primary = fields.get("primary").and_then(Value::as_str).ok_or("`model` has no `primary`")?;
            let fallback = fields
                .get("fallbacks")
                .and_then(Value::as_array)
                .and_then(|fallbacks| fallbacks.first())
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(ModelSpec { primary: primary.to_owned(), fallback })
        }
        _ => Err("`model` is neither a model name nor {primary, fallbacks}".into()),
    }
}

/// The workspace files with text, in `WORKSPACE_FILES` order, without surrounding blank lines.
fn read_workspace(dir: &Path) -> Result<Vec<(&'static str, String)>, String> {
    let mut files = Vec::new();
    for name in WORKSPACE_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let text = trimmed(&text);
        if !text.is_empty() {
            files.push((name, text.to_owned()));
        }
    }
    Ok(files)
}

/// `text` without blank lines before it and whitespace after it.
fn trimmed(text: &str) -> &str {
    let first = text.find(|c: char| !c.is_whitespace()).unwrap_or(text.len());
    let line_start = text[..first].rfind('\n').map_or(0, |newline| newline + 1);
    text[line_start..].trim_end()
}

fn compose_prompt(files: &[(&str, String)]) -> String {
    files.iter().map(|(name, text)| format!("# {name}\n\n{text}\n")).collect::<Vec<_>>().join("\n")
}

/// The workspace files a prompt was composed of: it is split at each heading line of a file that comes
/// later in `WORKSPACE_FILES` than the one being read.
fn split_prompt(prompt: &str) -> Vec<(&'static str, String)> {
    let mut texts: [String; WORKSPACE_FILES.len()] = Default::default();
    let mut current: Option<usize> = None;
    for line in prompt.split_inclusive('\n') {
        let heading = WORKSPACE_FILES
            .iter()
            .position(|name| line.trim_end().strip_prefix("# ") == Some(*name))
            .filter(|&i| current.is_none_or(|c| i > c));
        match heading {
            Some(i) => current = Some(i),
            None => texts[current.unwrap_or(0)].push_str(line),
        }
    }
    WORKSPACE_FILES
        .into_iter()
        .zip(texts)
        .map(|(name, text)| (name, trimmed(&text).to_owned()))
        .filter(|(_, text)| !text.is_empty())
        .collect()
}

/// The Talon tools OpenClaw's tool policy allows.
fn tools_of(policy: Option<&Value>) -> Vec<Tool> {
    let denied: Vec<&str> = names(policy, "deny").collect();
    let mut tools: Vec<Tool> = names(policy, "allow")
        .chain(names(policy, "alsoAllow"))
        .filter(|name| is_tool_name(name) && !denied.contains(name))
        .map(|name| Tool {
            name: name.to_owned(),
            description: format!("OpenClaw's `{name}` tool (allowed in {CONFIG_FILE})"),
            parameters: json!({"type": "object", "properties": {}}),
        })
        .collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    tools.dedup_by(|a, b| a.name == b.name);
    tools
}

fn names<'a>(policy: Option<&'a Value>, key: &str) -> impl Iterator<Item = &'a str> {
    policy.and_then(|p| p.get(key)).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// Whether Talon takes `name` as a tool's name.
fn is_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub async fn export(session: &Session, command: ExportCommand) -> Result<(), CliError> {
    let ExportCommand::Openclaw { agent: reference, dir } = command;
    let agent = agents::agent(session, &reference).await?;
    let version = agents::version_of(session, &reference, &agent).await?;
    let folder = AgentFolder::of(&agent, &version);
    let workspace = format!("workspace-{}", folder.manifest.slug);
    let (entry, files) = to_openclaw(&folder, &workspace);
    write_export(&dir, entry, &workspace, &files)?;
    let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    anstream::println!(
        "Exported {} v{} into {} ({CONFIG_FILE}, {workspace}/: {})",
        agent.slug,
        version.version_number,
        dir.display(),
        names.join(", ")
    );
    Ok(())
}

/// The `agents.list` entry for `folder`, its workspace at `workspace`, and the workspace files.
fn to_openclaw(folder: &AgentFolder, workspace: &str) -> (Map<String, Value>, Vec<(&'static str, String)>) {
    let manifest = &folder.manifest;
    let mut entry = match manifest.config.get(CONFIG_KEY) {
        Some(Value::Object(kept)) => kept.clone(),
        _ => Map::new(),
    };
    entry.insert("id".into(), json!(manifest.slug));
    entry.insert("workspace".into(), json!(workspace));
    let model = match &manifest.model.fallback {
        None => json!(manifest.model.primary),
        Some(fallback) => json!({"primary": manifest.model.primary, "fallbacks": [fallback]}),
    };
    entry.insert("model".into(), model);
    if manifest.name != manifest.slug {
        let identity = entry.entry("identity").or_insert_with(|| json!({}));
        if let Value::Object(identity) = identity {
            identity.insert("name".into(), json!(manifest.name));
        }
    }
    if !entry.contains_key("tools") && !folder.tools.is_empty() {
        let allow: Vec<&str> = folder.tools.iter().map(|t| t.name.as_str()).collect();
        entry.insert("tools".into(), json!({"allow": allow}));
    }
    (entry, split_prompt(&folder.prompt))
}

/// Writes the workspace and puts `entry` into `dir/openclaw.json`, in place of the entry with its id.
fn write_export(
    dir: &Path,
    entry: Map<String, Value>,
    workspace: &str,
    files: &[(&'static str, String)],
) -> Result<(), CliError> {
    let workspace = dir.join(workspace);
    std::fs::create_dir_all(&workspace).map_err(CliError::io(format!("creating {}", workspace.display())))?;
    for name in WORKSPACE_FILES {
        let path = workspace.join(name);
        match files.iter().find(|(file, _)| *file == name) {
            Some((_, text)) => std::fs::write(&path, format!("{text}\n"))
                .map_err(CliError::io(format!("writing {}", path.display())))?,
            None if path.exists() => {
                std::fs::remove_file(&path).map_err(CliError::io(format!("removing {}", path.display())))?
            }
            None => {}
        }
    }
    let file = dir.join(CONFIG_FILE);
    let mut config = if file.exists() { read_config(&file)? } else { json!({}) };
    let Some(list) = list_of(&mut config) else {
        return Err(CliError::Local(format!("{}: `agents.list` is no array", file.display())));
    };
    match list.iter_mut().find(|e| e.get("id") == entry.get("id")) {
        Some(existing) => *existing = Value::Object(entry),
        None => list.push(Value::Object(entry)),
    }
    let text = serde_json::to_string_pretty(&config).map_err(|e| CliError::Local(format!("{CONFIG_FILE}: {e}")))?;
    std::fs::write(&file, format!("{text}\n")).map_err(CliError::io(format!("writing {}", file.display())))
}

/// `agents.list` of `config`, made when missing; `None` when something else is in its place.
fn list_of(config: &mut Value) -> Option<&mut Vec<Value>> {
    let agents = config.as_object_mut()?.entry("agents").or_insert_with(|| json!({}));
    agents.as_object_mut()?.entry("list").or_insert_with(|| json!([])).as_array_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("talon-openclaw-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn error_of(dir: &Path, config: &str) -> String {
        write(&dir.join(CONFIG_FILE), config);
        read_setup(dir, None).unwrap_err().to_string()
    }

    #[test]
    fn a_prompt_is_composed_in_order_and_splits_back() {
        let files = vec![
            ("AGENTS.md", "Rules.\n\n# Not a file\nMore rules.".to_owned()),
            ("SOUL.md", "Calm.".to_owned()),
            ("USER.md", "# USER.md - About you\nAda.".to_owned()),
        ];
        let prompt = compose_prompt(&files);
        assert_eq!(
            prompt,
            "# AGENTS.md\n\nRules.\n\n# Not a file\nMore rules.\n\n# SOUL.md\n\nCalm.\n\n# USER.md\n\n# USER.md - About you\nAda.\n"
        );
        assert_eq!(split_prompt(&prompt), files);
        // A heading of an earlier file is text; one of a later file starts it.
        assert_eq!(
            split_prompt("# SOUL.md\n\nx\n# AGENTS.md\ny\n# USER.md\nz"),
            vec![("SOUL.md", "x\n# AGENTS.md\ny".to_owned()), ("USER.md", "z".to_owned())]
        );
        // A prompt written in Talon is the operating instructions, text before the first heading too.
        assert_eq!(split_prompt("Be brief.\n"), vec![("AGENTS.md", "Be brief.".to_owned())]);
        assert_eq!(split_prompt("Hi.\n# AGENTS.md\nRules."), vec![("AGENTS.md", "Hi.\nRules.".to_owned())]);
        assert_eq!(trimmed("\n  \n  indented\n\n"), "  indented");
    }

    #[test]
    fn models_are_a_name_or_a_primary_and_its_first_fallback() {
        assert_eq!(
            model_spec(&json!("anthropic/claude-opus-4-6")).unwrap(),
            ModelSpec { primary: "anthropic/claude-opus-4-6".into(), fallback: None }
        );
        assert_eq!(
            model_spec(&json!({"primary": "test/echo", "fallbacks": ["openai/gpt-4o-mini", "ollama/llama3.3"]}))
                .unwrap(),
            ModelSpec { primary: "test/echo".into(), fallback: Some("openai/gpt-4o-mini".into()) }
        );
        assert_eq!(model_spec(&json!({"primary": "test/echo", "fallbacks": []})).unwrap().fallback, None);
        assert!(model_spec(&json!({"fallbacks": ["x/y"]})).unwrap_err().contains("no `primary`"));
        assert!(model_spec(&json!(3)).is_err());
    }

    #[test]
    fn allowed_tool_names_become_tools_and_the_rest_is_left_to_openclaw() {
        let tools = tools_of(Some(&json!({
            "allow": ["read", "exec", "group:fs", "*", "lobster/run", "read"],
            "alsoAllow": ["web_search"],
            "deny": ["exec", "group:runtime"],
        })));
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["read", "web_search"]);
        assert_eq!(tools[0].parameters, json!({"type": "object", "properties": {}}));
        assert!(tools[0].description.contains("OpenClaw"));
        assert!(tools_of(None).is_empty());
        assert!(tools_of(Some(&json!({"profile": "coding"}))).is_empty());
    }

    #[test]
    fn paths_are_relative_to_the_config_or_home() {
        let (base, home) = (Path::new("/setup"), Some(Path::new("/home/ada")));
        assert_eq!(resolve("ws", base, home).unwrap(), PathBuf::from("/setup/ws"));
        assert_eq!(resolve("/abs/ws", base, home).unwrap(), PathBuf::from("/abs/ws"));
        assert_eq!(resolve("~/.openclaw/ws", base, home).unwrap(), PathBuf::from("/home/ada/.openclaw/ws"));
        assert_eq!(resolve("~", base, home).unwrap(), PathBuf::from("/home/ada"));
        assert_eq!(resolve("~ws", base, home).unwrap(), PathBuf::from("/setup/~ws"));
        assert!(resolve("~/ws", base, None).unwrap_err().contains("HOME"));
    }

    #[test]
    fn a_setup_maps_to_agents_and_exports_back_the_same() {
        let dir = scratch("setup");
        write(&dir.join("main/AGENTS.md"), "\nOperate.\n\n");
        write(&dir.join("main/SOUL.md"), "Kind.\n");
        write(&dir.join("main/TOOLS.md"), "  \n");
        write(&dir.join("main/MEMORY.md"), "Not the prompt.\n");
        write(&dir.join("home/ops/IDENTITY.md"), "Ops.\n");
        let config = json!({"agents": {
            "defaults": {"model": {"primary": "test/echo", "fallbacks": ["test/slow"]}},
            "list": [
                {"id": "Main_Bot", "default": true, "workspace": "main", "model": "openai/gpt-4o-mini",
                 "identity": {"name": "Main", "emoji": "🦞"}, "tools": {"allow": ["read", "group:fs"], "deny": ["exec"]}},
                {"id": "ops", "workspace": "~/ops", "identity": {"name": ""}},
            ],
        }});
        write(&dir.join(CONFIG_FILE), &config.to_string());
        let setup = read_setup(&dir.join(CONFIG_FILE), Some(dir.join("home"))).unwrap();
        let [main, ops] = setup.as_slice() else { panic!("{setup:?}") };
        assert_eq!((main.slug.as_str(), main.name.as_str()), ("main-bot", "Main"));
        assert_eq!(main.model, Some(ModelSpec { primary: "openai/gpt-4o-mini".into(), fallback: None }));
        assert_eq!(main.prompt, "# AGENTS.md\n\nOperate.\n\n# SOUL.md\n\nKind.\n");
        assert_eq!(main.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["read"]);
        assert_eq!(
            Value::Object(main.kept.clone()),
            json!({"default": true, "identity": {"emoji": "🦞"}, "tools": {"allow": ["read", "group:fs"], "deny": ["exec"]}})
        );
        assert_eq!((ops.slug.as_str(), ops.name.as_str()), ("ops", "ops"));
        assert_eq!(ops.model, Some(ModelSpec { primary: "test/echo".into(), fallback: Some("test/slow".into()) }));
        assert_eq!(Value::Object(ops.kept.clone()), json!({"identity": {"name": ""}}));

        let new = main.folder(None);
        assert_eq!(new.manifest.config[CONFIG_KEY], Value::Object(main.kept.clone()));
        assert!(new.manifest.description.is_empty() && !new.manifest.public);

        // Exported into a folder of their own, both read back as they were.
        let out = dir.join("out");
        for agent in &setup {
            let workspace = format!("workspace-{}", agent.slug);
            let (entry, files) = to_openclaw(&agent.folder(None), &workspace);
            write_export(&out, entry, &workspace, &files).unwrap();
        }
        assert_eq!(read_setup(&out, None).unwrap(), setup);
        let written: Value = serde_json::from_str(&std::fs::read_to_string(out.join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(written["agents"]["list"][0]["identity"], json!({"emoji": "🦞", "name": "Main"}));
        assert_eq!(written["agents"]["list"][1]["model"], json!({"primary": "test/echo", "fallbacks": ["test/slow"]}));
        assert_eq!(std::fs::read_to_string(out.join("workspace-main-bot/SOUL.md")).unwrap(), "Kind.\n");

        // A second export replaces the entry and drops the files whose text is gone.
        let mut changed = main.folder(None);
        changed.prompt = "# SOUL.md\n\nCalmer.\n".into();
        let (entry, files) = to_openclaw(&changed, "workspace-main-bot");
        write_export(&out, entry, "workspace-main-bot", &files).unwrap();
        assert!(!out.join("workspace-main-bot/AGENTS.md").exists());
        let again = read_setup(&out, None).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0].prompt, "# SOUL.md\n\nCalmer.\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_agent_from_talon_exports_its_tools_and_name() {
        let folder = AgentFolder {
            manifest: Manifest {
                name: "Support Bot".into(),
                slug: "support-bot".into(),
                description: String::new(),
                capabilities: Vec::new(),
                public: false,
                api_access: false,
                model: ModelSpec::default(),
                config: json!({"temperature": 0.2}).as_object().cloned().unwrap(),
            },
            prompt: "Help.\n".into(),
            tools: vec![Tool { name: "lookup".into(), description: "Finds".into(), parameters: json!({}) }],
        };
        let (entry, files) = to_openclaw(&folder, "workspace-support-bot");
        assert_eq!(
            Value::Object(entry),
            json!({"id": "support-bot", "workspace": "workspace-support-bot", "model": "test/echo",
                   "identity": {"name": "Support Bot"}, "tools": {"allow": ["lookup"]}})
        );
        assert_eq!(files, vec![("AGENTS.md", "Help.".to_owned())]);
    }

    #[test]
    fn bad_setups_name_the_file_and_the_entry() {
        let dir = scratch("bad");
        std::fs::create_dir_all(dir.join("ws")).unwrap();
        write(&dir.join("ws/AGENTS.md"), "Rules.");
        let err = error_of(&dir, "{agents: {list: []}, // JSON5\n}");
        assert!(err.contains("openclaw.json: not plain JSON") && err.contains("JSON5"), "{err}");
        let err = error_of(&dir, r#"{"agents": {}}"#);
        assert!(err.contains("openclaw.json: no `agents.list`"), "{err}");
        let err = error_of(&dir, r#"{"agents": {"list": [{"workspace": "ws"}]}}"#);
        assert!(err.ends_with("openclaw.json: agents.list[0]: has no `id`"), "{err}");
        let err = error_of(&dir, r#"{"agents": {"list": [{"id": "a"}]}}"#);
        assert!(err.contains("agents.list[0] (`a`): has no `workspace`"), "{err}");
        let err = error_of(&dir, r#"{"agents": {"list": [{"id": "a", "workspace": "gone"}]}}"#);
        assert!(err.contains("agents.list[0] (`a`): the workspace") && err.contains("gone does not exist"), "{err}");
        let err =
            error_of(&dir, r#"{"agents": {"list": [{"id": "a", "workspace": "ws"}, {"id": "A", "workspace": "ws"}]}}"#);
        assert!(err.contains("agents.list[1] (`A`): duplicate id: agents.list[0] is the same agent (`a`)"), "{err}");
        let err = error_of(&dir, r#"{"agents": {"list": [{"id": "a", "workspace": "ws", "model": 1}]}}"#);
        assert!(err.contains("agents.list[0] (`a`): `model`"), "{err}");
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let err = error_of(&dir, r#"{"agents": {"list": [{"id": "a", "workspace": "empty"}]}}"#);
        assert!(err.contains("needs a prompt"), "{err}");
        write(&dir.join(CONFIG_FILE), r#"{"agents": {"defaults": {"workspace": "ws"}, "list": [{"id": "a"}]}}"#);
        assert_eq!(read_setup(&dir, None).unwrap()[0].prompt, "# AGENTS.md\n\nRules.\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
