//! Evaluations: an agent's datasets (cases and their checks), runs of a dataset against chosen versions
//! as runtime tasks (`runs`, worked by `driver`), and the gate a label move or a deployment may require
//! of a version (`gate`).

mod datasets;
mod driver;
mod gate;
mod runs;

use std::sync::Arc;

use talon_store::Store;

pub use datasets::DatasetInput;
pub(crate) use gate::admit;
pub use gate::refusal_message;
pub use runs::{EvaluationReport, StartEvaluation};

use super::registry::RegistryService;
use super::tasks::TaskService;
use super::{ServiceError, Signal};

/// Every task of an evaluation carries a dedupe key starting with this and the evaluation's id: a
/// driver that runs a step twice finds the task it created, and the runtime knows the task is an
/// evaluation's, which it answers whether or not the agent is deployed (versions are evaluated before
/// they are deployed).
pub const TASK_KEY_PREFIX: &str = "evaluation:";

pub struct EvaluationService {
    store: Arc<dyn Store>,
    registry: Arc<RegistryService>,
    tasks: Arc<TaskService>,
    outbox: Signal,
    /// Rings when an evaluation starts, so the driver takes it up at once.
    started: Signal,
}

impl EvaluationService {
    pub fn new(store: Arc<dyn Store>, registry: Arc<RegistryService>, tasks: Arc<TaskService>, outbox: Signal) -> Self {
        Self { store, registry, tasks, outbox, started: Signal::default() }
    }

    /// Rings when an evaluation starts on this replica.
    pub fn started_signal(&self) -> Signal {
        self.started.clone()
    }

    /// Rings when events are written, among them a task's settling: a running evaluation may move on.
    pub fn settled_signal(&self) -> Signal {
        self.outbox.clone()
    }

    /// Whether the runtime should answer `task` for an evaluation: its key names a running evaluation
    /// of the task's account.
    pub async fn runs_task(&self, task: &talon_domain::task::Task) -> Result<bool, ServiceError> {
        let Some(id) = task
            .dedupe_key
            .as_deref()
            .and_then(|key| key.strip_prefix(TASK_KEY_PREFIX))
            .and_then(|rest| rest.split(':').next())
            .and_then(|id| talon_domain::EvaluationId::parse(id).ok())
        else {
            return Ok(false);
        };
        let evaluation = self.store.evaluation(id).await?;
        Ok(evaluation
            .is_some_and(|e| e.owner == task.owner && e.status == talon_domain::evaluation::EvaluationStatus::Running))
    }
}
