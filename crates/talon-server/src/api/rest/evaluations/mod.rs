//! `/api/agents/{id}/datasets` and `/api/agents/{id}/evaluations`: an agent's datasets of cases, and
//! evaluations running a dataset against versions of the agent, whose reports a label move or a
//! deployment can require (`requireEvaluation`).

pub mod datasets;
pub mod requests;
pub mod runs;
pub mod views;

pub use requests::RequireEvaluation;
