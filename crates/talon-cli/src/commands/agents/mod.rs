//! Agents as code: the arguments of every agent command and how one is looked up. `folder.rs` holds
//! the commands between a folder and the server (`init`, `pull`, `diff`, `push`), `history.rs` those on
//! the server's versions and deployment (`log`, `show`, `rollback`, `fork`, `lineage`, `deploy`, `stop`,
//! `agents ls`), `release.rs` canary splits (`split`, `promote`, `abort`) and merging a fork back (`merge`).

mod folder;
mod history;
mod labels;
mod release;

pub(crate) use folder::{Plan, Progress, print_changes, push_plan, remote};
pub use folder::{diff, init, pull, push};
pub use history::{agents, deploy, fork, lineage, log, rollback, show, stop};
pub use release::{abort, merge, promote, split};

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Session;
use super::evaluations::RequireEval;
use crate::api::{Agent, Version};
use crate::client::segment;
use crate::error::CliError;

/// An agent named on the command line: its slug or id, and optionally `@N` or `@LABEL` for one version.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRef {
    pub agent: String,
    pub version: Option<VersionPin>,
}

/// The version after an agent's `@`: its number (`support-bot@3`), or a label of the agent
/// (`support-bot@production`) or a version id, which the server resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionPin {
    Number(i64),
    /// A label (`[a-z0-9-]{1,32}`, not only digits) or a version id (`ver_…`).
    Name(String),
}

impl VersionPin {
    /// The field a request body names this version with: `version` (a number) or `versionId` (an id
    /// or a label).
    pub(crate) fn body(&self) -> serde_json::Value {
        match self {
            VersionPin::Number(n) => serde_json::json!({"version": n}),
            VersionPin::Name(name) => serde_json::json!({"versionId": name}),
        }
    }
}

impl std::fmt::Display for VersionPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionPin::Number(n) => write!(f, "{n}"),
            VersionPin::Name(name) => f.write_str(name),
        }
    }
}

impl std::str::FromStr for VersionPin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        use talon_domain::agent::VersionRef;
        match VersionRef::parse(text) {
            Some(VersionRef::Number(n)) => Ok(VersionPin::Number(n)),
            Some(VersionRef::Id(_) | VersionRef::Label(_)) => Ok(VersionPin::Name(text.to_owned())),
            None if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() => {
                Err("version numbers start at 1".into())
            }
            None => Err(format!(
                "`{text}` names no version: AGENT@N or AGENT@LABEL (a label is 1 to 32 of a-z, 0-9 and -, \
                 not only digits), e.g. support-bot@3 or support-bot@production"
            )),
        }
    }
}

impl std::str::FromStr for AgentRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (agent, version) = match text.rsplit_once('@') {
            Some((agent, pin)) => (agent, Some(pin.parse::<VersionPin>()?)),
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
    /// AGENT (its head), AGENT@N or AGENT@LABEL (the version a label such as `production` names).
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
    /// The agent (slug or id).
    pub agent: AgentRef,
    /// How many versions.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// AGENT (its head), AGENT@N or AGENT@LABEL (the version a label such as `production` names).
    pub agent: AgentRef,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The agent (slug or id).
    pub agent: AgentRef,
    /// The version whose content becomes the new head.
    pub version: i64,
}

#[derive(Debug, Args)]
pub struct ForkArgs {
    /// AGENT (its head), AGENT@N or AGENT@LABEL: what to fork.
    pub agent: AgentRef,
    /// The fork's name [default: "<name> (fork)"].
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// AGENT (serve the head, following new versions), AGENT@N (pin version N) or AGENT@LABEL (pin the
    /// version the label, e.g. `production`, names now).
    pub agent: AgentRef,
    /// Refuse unless the version served passed a completed evaluation on the current revision of
    /// DATASET at RATE or more (e.g. `smoke:0.9`).
    #[arg(long, value_name = "DATASET:RATE")]
    pub require_eval: Option<RequireEval>,
}

/// One arm of a canary split on the command line: `VERSION=WEIGHT` (`2=10`, `production=90`).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitArm {
    pub version: VersionPin,
    pub weight: i64,
}

impl std::str::FromStr for SplitArm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((version, weight)) = text.rsplit_once('=') else {
            return Err(format!("`{text}` is no arm: VERSION=WEIGHT, e.g. 3=90 or production=90"));
        };
        let weight = weight.trim().parse::<i64>().map_err(|_| format!("`{weight}` is no weight: a whole percent"))?;
        Ok(SplitArm { version: version.trim().parse()?, weight })
    }
}

impl std::fmt::Display for SplitArm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            VersionPin::Number(n) => write!(f, "v{n} {}%", self.weight),
            VersionPin::Name(name) => write!(f, "{name} {}%", self.weight),
        }
    }
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The agent (slug or id).
    pub agent: AgentRef,
    /// The arms: VERSION=WEIGHT, at least two, the version a number or a label, the weights percents
    /// adding up to 100 (e.g. `3=90 4=10`).
    #[arg(required = true, num_args = 2..)]
    pub arms: Vec<SplitArm>,
    /// Refuse unless every arm passed a completed evaluation on the current revision of DATASET at RATE
    /// or more (e.g. `smoke:0.9`).
    #[arg(long, value_name = "DATASET:RATE")]
    pub require_eval: Option<RequireEval>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The agent (slug or id).
    pub agent: AgentRef,
    /// The arm to serve alone (pinned): a version number or a label.
    pub version: VersionPin,
    /// Refuse unless the version passed a completed evaluation on the current revision of DATASET at
    /// RATE or more (e.g. `smoke:0.9`).
    #[arg(long, value_name = "DATASET:RATE")]
    pub require_eval: Option<RequireEval>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The agent to merge into (slug or id): an agent the fork descends from.
    pub parent: AgentRef,
    /// The fork: FORK (its head) or FORK@N / FORK@LABEL (one of its versions).
    #[arg(long, value_name = "FORK[@N]")]
    pub from: AgentRef,
    /// The commit message [default: "Merge fork <name> at version <N>"].
    #[arg(short, long)]
    pub message: Option<String>,
    /// Show the merged prompt and the conflicts, and merge nothing (exit 1 when there are conflicts).
    #[arg(long)]
    pub preview: bool,
    /// Resolve the conflict at FIELD (as listed: prompt, config.KEY, tools.NAME, model) with this agent's side.
    #[arg(long, value_name = "FIELD")]
    pub ours: Vec<String>,
    /// Resolve the conflict at FIELD with the fork's side.
    #[arg(long, value_name = "FIELD")]
    pub theirs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AgentArg {
    /// The agent (slug or id).
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
    /// List an agent's labels and the versions they point at.
    Labels {
        /// The agent (slug or id).
        agent: String,
    },
    /// Point a label (`production`, `staging`, …) at a version: `talon agents label support-bot production 3`.
    Label {
        /// The agent (slug or id).
        agent: String,
        /// The label: 1 to 32 of a-z, 0-9 and -, not only digits.
        label: String,
        /// The version: its number, id, or another label.
        version: String,
        /// From now on (this move included) the label names only versions that passed a completed
        /// evaluation on the current revision of DATASET at RATE or more (e.g. `smoke:0.9`).
        #[arg(long, value_name = "DATASET:RATE")]
        require_eval: Option<RequireEval>,
        /// Remove the label's requirement (without either flag it stays as it is).
        #[arg(long, conflicts_with = "require_eval")]
        no_require_eval: bool,
    },
    /// Delete a label.
    Unlabel {
        /// The agent (slug or id).
        agent: String,
        /// The label to delete.
        label: String,
    },
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

/// The version `reference` names: its `@N` or `@LABEL`, else the agent's head.
pub(super) async fn version_of(session: &Session, reference: &AgentRef, agent: &Agent) -> Result<Version, CliError> {
    match (&reference.version, &agent.current_version) {
        (None, Some(head)) => Ok(head.clone()),
        (Some(pin), _) => {
            session.client.get(&format!("{}/versions/{}", reference.path(), segment(&pin.to_string()))).await
        }
        (None, None) => {
            session.client.get(&format!("{}/versions/{}", reference.path(), agent.current_version_id)).await
        }
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
            AgentRef { agent: "support-bot".into(), version: Some(VersionPin::Number(3)) }
        );
        assert!("x@0".parse::<AgentRef>().unwrap_err().contains("start at 1"));
        assert!("@2".parse::<AgentRef>().is_err());
    }

    #[test]
    fn agent_refs_name_a_version_by_label_or_id() {
        for label in ["production", "canary-2", "v2", "latest"] {
            assert_eq!(
                format!("support-bot@{label}").parse::<AgentRef>().unwrap(),
                AgentRef { agent: "support-bot".into(), version: Some(VersionPin::Name(label.into())) }
            );
        }
        let id = "ver_0193a4c1e5d27c3e8f1a2b3c4d5e6f70";
        assert_eq!(format!("bot@{id}").parse::<AgentRef>().unwrap().version, Some(VersionPin::Name(id.into())));
        // Not labels: upper case, other characters, too long, empty.
        for bad in ["Production", "prod_1", "a.b", &"x".repeat(33), ""] {
            let err = format!("bot@{bad}").parse::<AgentRef>().unwrap_err();
            assert!(err.contains("AGENT@LABEL"), "{bad}: {err}");
        }
        assert_eq!(VersionPin::Name("production".into()).body(), serde_json::json!({"versionId": "production"}));
        assert_eq!(VersionPin::Number(3).body(), serde_json::json!({"version": 3}));
        assert_eq!(VersionPin::Name("production".into()).to_string(), "production");
    }

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_of("Support Bot (EU)"), "support-bot-eu");
        assert_eq!(slug_of("  ¡Hola!  "), "hola");
        assert_eq!(slug_of("***"), "agent");
    }
}
