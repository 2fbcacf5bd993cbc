//! The `talon` binary end to end: its commands, the README's Quick Start, and crash recovery.

mod cli;
mod client;
mod readme_quick_start;
mod webhook_crash;
