//! Evaluations: an agent's datasets of cases (`talon datasets`), runs of a dataset against versions
//! (`talon eval`, `talon evals`), and the `--require-eval DATASET:RATE` gate that label moves, deploys
//! and promotes may carry. `datasets.rs` holds the dataset commands, `runs.rs` starting, waiting for,
//! listing and cancelling evaluations, `report.rs` how a report is printed.

mod datasets;
mod report;
mod runs;

pub use datasets::datasets;
pub use runs::{eval, evals};

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;
use talon_domain::evaluation::Gate;

use super::agents::{AgentRef, VersionPin};

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// An agent's datasets: name, cases, revision.
    #[command(alias = "ls")]
    List {
        /// The agent (slug or id).
        agent: String,
    },
    /// A dataset's cases: each input and its checks.
    Show {
        /// The agent (slug or id).
        agent: String,
        /// The dataset's name.
        name: String,
    },
    /// Create a dataset, or replace its cases (its next revision), from a JSON file
    /// `{"description"?, "cases": [{"name", "input", "checks": [{"type": "contains", …}]}]}`.
    Push {
        /// The agent (slug or id).
        agent: String,
        /// The dataset's name: 1 to 64 of a-z, 0-9, - and _.
        name: String,
        /// The JSON file (`-` for standard input); what `talon datasets show --json` prints is taken too.
        file: PathBuf,
    },
    /// Delete a dataset; evaluations already run on it keep their cases and results.
    Delete {
        /// The agent (slug or id).
        agent: String,
        /// The dataset's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The agent (slug or id); AGENT@N or AGENT@LABEL evaluates that version too.
    pub agent: AgentRef,
    /// The dataset whose cases are run.
    #[arg(long, short = 'd')]
    pub dataset: String,
    /// The versions to evaluate, 1 to 5 with AGENT@…: numbers, labels or ids [default: the head].
    pub versions: Vec<VersionPin>,
    /// How many of its tasks are queued at once, 1 to 16 [server's default: 4].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub concurrency: Option<u8>,
    /// Print the evaluation's id and return without waiting for its report.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum EvalsCommand {
    /// An agent's evaluations, newest first, with each version's pass rate once completed.
    #[command(alias = "ls")]
    List {
        /// The agent (slug or id).
        agent: String,
        /// How many, 1 to 100.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=100))]
        limit: u8,
        /// The evaluations older than this one (an `eval_…` id, as the previous page's last line names it).
        #[arg(long)]
        after: Option<String>,
    },
    /// An evaluation's report: each version's results, the differing cases, the failing ones.
    Show {
        /// The agent (slug or id).
        agent: String,
        /// The evaluation's id (eval_…).
        id: String,
    },
    /// Cancel a running evaluation: its queued and running tasks are cancelled; what settled stays.
    Cancel {
        /// The agent (slug or id).
        agent: String,
        /// The evaluation's id (eval_…).
        id: String,
    },
}

/// `--require-eval DATASET:RATE`: what a version must have passed before a label names it or a
/// deployment serves it, a completed evaluation on the dataset's current revision at this pass rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RequireEval(pub Gate);

impl RequireEval {
    /// The gate as a request body's `requireEvaluation`.
    pub fn json(&self) -> Value {
        serde_json::json!({"dataset": self.0.dataset, "minPassRate": self.0.min_pass_rate})
    }
}

impl std::fmt::Display for RequireEval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ≥ {}", self.0.dataset, percent(self.0.min_pass_rate))
    }
}

impl std::str::FromStr for RequireEval {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{text}` is no requirement: DATASET:RATE, the rate from 0 to 1 or a percent (smoke:0.9, smoke:90%)"
            )
        };
        let (dataset, rate) = text.rsplit_once(':').ok_or_else(usage)?;
        let rate = match rate.trim().strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
            None => rate.trim().parse::<f64>(),
        }
        .map_err(|_| usage())?;
        Gate::new(dataset.to_owned(), rate, "requireEvaluation").map(RequireEval).map_err(|errors| {
            let said: Vec<String> =
                errors.into_fields().into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            format!("{} ({})", usage(), said.join("; "))
        })
    }
}

/// A rate from 0 to 1 as a percent, without decimals unless it has some (`90%`, `87.5%`).
pub fn percent(rate: f64) -> String {
    let percent = rate * 100.0;
    if (percent - percent.round()).abs() < 0.05 { format!("{percent:.0}%") } else { format!("{percent:.1}%") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requirement_is_a_dataset_and_a_rate() {
        let gate = "smoke:0.9".parse::<RequireEval>().unwrap();
        assert_eq!(gate.json(), serde_json::json!({"dataset": "smoke", "minPassRate": 0.9}));
        assert_eq!(gate.to_string(), "smoke ≥ 90%");
        assert_eq!("smoke-2_x:90%".parse::<RequireEval>().unwrap().0.min_pass_rate, 0.9);
        assert_eq!("smoke:1".parse::<RequireEval>().unwrap().0.min_pass_rate, 1.0);
        assert_eq!("smoke:0".parse::<RequireEval>().unwrap().0.min_pass_rate, 0.0);
        for bad in ["smoke", "smoke:", ":0.9", "Smoke:0.9", "smoke:1.5", "smoke:-0.1", "smoke:high", "smoke:NaN"] {
            let err = bad.parse::<RequireEval>().unwrap_err();
            assert!(err.contains("DATASET:RATE"), "{bad}: {err}");
        }
        assert!("smoke:1.5".parse::<RequireEval>().unwrap_err().contains("minPassRate"));
    }

    #[test]
    fn rates_are_shown_as_percents() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(2.0 / 3.0), "66.7%");
        assert_eq!(percent(0.875), "87.5%");
    }
}
