//! The client commands: their arguments (clap) and what each does. Every command reads its server and
//! credential from the profile (`config`), talks to the API through `ApiClient`, and prints a table or,
//! with `--json`, the API's JSON.

mod agents;
mod audit;
mod auth;
mod chat;
mod evaluations;
mod keys;
mod openclaw;
mod tasks;
mod usage;
mod webhooks;

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::client::ApiClient;
use crate::config::{DEFAULT_PROFILE, Settings};
use crate::error::CliError;

/// Options of every client command.
#[derive(Debug, Clone, Args)]
pub struct Globals {
    /// The profile (server and credentials) in the client's config file.
    #[arg(long, env = "TALON_PROFILE", default_value = DEFAULT_PROFILE, global = true)]
    pub profile: String,
    /// Print the API's JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Sign in to a server and keep the credential in the profile (email and password, or an API key).
    Login(auth::LoginArgs),
    /// Sign out: revoke the session (an API key stays valid) and forget the credential.
    Logout,
    /// Show the account and server the profile signs in to.
    Whoami,
    /// Write a new agent folder (talon.toml, prompt.md, tools/).
    Init(agents::InitArgs),
    /// Write an agent's head (or AGENT@N, or AGENT@LABEL such as bot@production) into a folder.
    Pull(agents::PullArgs),
    /// Show what `push` would change against the agent's head, like `git diff`.
    Diff(agents::DiffArgs),
    /// Create a version from each folder (and the agent, the first time); nothing when nothing changed.
    Push(agents::PushArgs),
    /// List an agent's versions, newest first, one line each.
    Log(agents::LogArgs),
    /// Show one version: AGENT (the head), AGENT@N or AGENT@LABEL (e.g. bot@production).
    Show(agents::ShowArgs),
    /// Make a new head with the content of an earlier version.
    Rollback(agents::RollbackArgs),
    /// Fork an agent (an exact clone of its head, of AGENT@N or of AGENT@LABEL) into a new agent of yours.
    Fork(agents::ForkArgs),
    /// Draw the fork tree an agent belongs to.
    Lineage(agents::AgentArg),
    /// Serve an agent's head, or pin AGENT@N or AGENT@LABEL (e.g. bot@production).
    Deploy(agents::DeployArgs),
    /// Stop serving an agent.
    Stop(agents::AgentArg),
    /// Serve a canary split between versions: `talon split bot 3=90 4=10` (versions by number or label).
    Split(agents::SplitArgs),
    /// End a canary split by serving one of its arms alone (pinned).
    Promote(agents::PromoteArgs),
    /// End a canary split by serving again the version served before it.
    Abort(agents::AgentArg),
    /// Merge a fork back into an agent it descends from; conflicts are listed (exit 1) until resolved
    /// with --ours FIELD / --theirs FIELD.
    Merge(agents::MergeArgs),
    /// Your agents.
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
    /// Create or update agents from another platform's setup: `talon import openclaw PATH`.
    #[command(subcommand)]
    Import(openclaw::ImportCommand),
    /// Write an agent in another platform's format: `talon export openclaw AGENT DIR`.
    #[command(subcommand)]
    Export(openclaw::ExportCommand),
    /// An agent's datasets of cases for evaluations: list, show, push (create or replace), delete.
    #[command(subcommand)]
    Datasets(evaluations::DatasetsCommand),
    /// Run a dataset against versions of an agent and print the report: `talon eval bot --dataset smoke 3 4`.
    /// Exits 1 when a case errored (no answer) or the evaluation was cancelled.
    Eval(evaluations::EvalArgs),
    /// An agent's evaluations: list, show a report, cancel.
    #[command(subcommand)]
    Evals(evaluations::EvalsCommand),
    /// Chat with a deployed agent, the answer streamed as it is written (one message from standard
    /// input when it is no terminal).
    Chat(chat::ChatArgs),
    /// Your tasks: list, show, create, cancel.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// Work an agent's external tasks with a local command: `talon worker AGENT -- CMD ARGS…`.
    Worker(tasks::WorkerArgs),
    /// Webhooks: receive events on this machine (`listen`), list webhooks and their deliveries,
    /// redeliver, send a test ping, delete.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Your API keys: list, create (the key is shown once), revoke.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// An agent's chat usage per version over a period: requests, outcomes, tokens and latency.
    Usage(usage::UsageArgs),
    /// The audit log, newest first: who (a session, an API key, Talon) changed what, and when.
    Audit(audit::AuditArgs),
    /// Print a shell completion script: `talon completions bash > /etc/bash_completion.d/talon`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// Runs a client command; prints the error (with the server's request id) and returns its exit code.
pub async fn run(globals: &Globals, command: ClientCommand, cli: &mut clap::Command) -> ExitCode {
    match dispatch(globals, command, cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            anstream::eprintln!("{} {e}", crate::output::paint(crate::output::REMOVED, "error:"));
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(globals: &Globals, command: ClientCommand, cli: &mut clap::Command) -> Result<(), CliError> {
    let session = Session::new(globals)?;
    match command {
        ClientCommand::Login(args) => auth::login(&session, args).await,
        ClientCommand::Logout => auth::logout(&session).await,
        ClientCommand::Whoami => auth::whoami(&session).await,
        ClientCommand::Init(args) => agents::init(args),
        ClientCommand::Pull(args) => agents::pull(&session, args).await,
        ClientCommand::Diff(args) => agents::diff(&session, args).await,
        ClientCommand::Push(args) => agents::push(&session, args).await,
        ClientCommand::Log(args) => agents::log(&session, args).await,
        ClientCommand::Show(args) => agents::show(&session, args).await,
        ClientCommand::Rollback(args) => agents::rollback(&session, args).await,
        ClientCommand::Fork(args) => agents::fork(&session, args).await,
        ClientCommand::Lineage(args) => agents::lineage(&session, args).await,
        ClientCommand::Deploy(args) => agents::deploy(&session, args).await,
        ClientCommand::Stop(args) => agents::stop(&session, args).await,
        ClientCommand::Split(args) => agents::split(&session, args).await,
        ClientCommand::Promote(args) => agents::promote(&session, args).await,
        ClientCommand::Abort(args) => agents::abort(&session, args).await,
        ClientCommand::Merge(args) => agents::merge(&session, args).await,
        ClientCommand::Agents(command) => agents::agents(&session, command).await,
        ClientCommand::Import(command) => openclaw::import(&session, command).await,
        ClientCommand::Export(command) => openclaw::export(&session, command).await,
        ClientCommand::Datasets(command) => evaluations::datasets(&session, command).await,
        ClientCommand::Eval(args) => evaluations::eval(&session, args).await,
        ClientCommand::Evals(command) => evaluations::evals(&session, command).await,
        ClientCommand::Chat(args) => chat::chat(&session, args).await,
        ClientCommand::Tasks(command) => tasks::tasks(&session, command).await,
        ClientCommand::Worker(args) => tasks::worker(&session, args).await,
        ClientCommand::Webhooks(command) => webhooks::webhooks(&session, command).await,
        ClientCommand::Keys(command) => keys::keys(&session, command).await,
        ClientCommand::Usage(args) => usage::usage(&session, args).await,
        ClientCommand::Audit(args) => audit::audit(&session, args).await,
        ClientCommand::Completions { shell } => {
            clap_complete::generate(shell, cli, "talon", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// What a command runs with: the settings, the client for the profile's server, and the output mode.
pub(crate) struct Session {
    pub settings: Settings,
    pub client: ApiClient,
    pub json: bool,
}

impl Session {
    fn new(globals: &Globals) -> Result<Self, CliError> {
        let settings = Settings {
            path: Settings::default_path()?,
            profile: globals.profile.clone(),
            url_override: std::env::var("TALON_URL").ok().filter(|v| !v.is_empty()),
            api_key_override: std::env::var("TALON_API_KEY").ok().filter(|v| !v.is_empty()),
        };
        let client = ApiClient::new(&settings.target()?)?;
        Ok(Session { settings, client, json: globals.json })
    }
}
