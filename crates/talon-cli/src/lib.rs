//! The `talon` command line as a client of a Talon server, over its public API only (no database
//! access): profiles and sign-in (`config`), the HTTP client (`client`), agents as folders (`folder`),
//! what is printed (`output`), and one module per command group (`commands`).

pub mod api;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod folder;
pub mod output;

pub use commands::{ClientCommand, Globals, run};
pub use error::CliError;
