//! The client's one error type, and the exit code each kind ends the process with.

use thiserror::Error;

/// Exit codes, distinct per kind of failure so that scripts can tell them apart.
pub mod exit {
    /// The server refused the request (not found, conflict, invalid input) or a local file was wrong.
    pub const REFUSED: u8 = 1;
    /// The command line itself was wrong (clap uses the same code for its own errors).
    pub const USAGE: u8 = 2;
    /// No credentials, or the server did not accept them (401, 403).
    pub const AUTH: u8 = 3;
    /// The server failed (5xx) or could not be reached.
    pub const SERVER: u8 = 4;
}

#[derive(Debug, Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("not signed in: run `talon login` (or set TALON_API_KEY)")]
    NotSignedIn,
    /// An error answer from the server, with its envelope's code, message and request id, and the lines
    /// that list what it refused one by one (a gate's failing cases), each printed on a line of its own.
    #[error(
        "{message} ({code}, HTTP {status}{}){}",
        request_id.as_deref().map(|id| format!(", request {id}")).unwrap_or_default(),
        details.iter().map(|d| format!("\n  {d}")).collect::<String>()
    )]
    Api { status: u16, code: String, message: String, request_id: Option<String>, details: Vec<String> },
    #[error("cannot reach {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A local file or folder that cannot be used, naming it.
    #[error("{0}")]
    Local(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::NotSignedIn => exit::AUTH,
            CliError::Api { status: 401 | 403, .. } => exit::AUTH,
            CliError::Api { status, .. } if *status >= 500 => exit::SERVER,
            CliError::Api { .. } | CliError::Local(_) | CliError::Io { .. } => exit::REFUSED,
            CliError::Unreachable { .. } | CliError::Protocol(_) => exit::SERVER,
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }

    /// Whether the server answered with this status.
    pub fn is_status(&self, wanted: u16) -> bool {
        matches!(self, CliError::Api { status, .. } if *status == wanted)
    }
}
