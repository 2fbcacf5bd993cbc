//! The driver: what moves a running evaluation on. Each pass leases the running evaluations no other
//! replica is driving, and for each one settles the cases whose tasks finished (asking their judges
//! where the case has judge checks), creates the tasks of pending cases while fewer than its
//! concurrency are in flight, and, once every case has settled, completes it with its report and the
//! `evaluation.completed` event. Everything it knows is in the database, so a replica that dies mid-pass
//! loses nothing: its lease lapses and another replica takes the evaluation up.

use std::time::Duration;

use serde_json::json;
use talon_domain::agent::{AgentRef, VersionRef};
use talon_domain::audit::Actor;
use talon_domain::evaluation::{CaseResult, CaseStatus, Check, Evaluation, EvaluationStatus, Report, judge_input};
use talon_domain::event::{self, Event};
use talon_domain::task::{Executor, NewTask, TaskDraft};
use talon_domain::time::now;
use talon_domain::{AgentId, TaskId, UserId, VersionId};

use super::{EvaluationService, TASK_KEY_PREFIX};
use crate::services::tasks::CreateTask;
use crate::services::{Caller, ServiceError};

/// How long one pass holds an evaluation: far longer than a pass takes.
const LEASE: Duration = Duration::from_secs(60);
/// The most evaluations one pass takes up.
const PER_PASS: i64 = 20;
const TITLE_MAX_CHARS: usize = 200;

impl EvaluationService {
    /// One pass over the running evaluations; returns how many it drove (the worker passes again soon
    /// while there are any).
    pub async fn drive(&self) -> Result<usize, ServiceError> {
        let at = now();
        let until = at + chrono::Duration::from_std(LEASE).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let leased = self.store.lease_evaluations(at, until, PER_PASS).await?;
        for evaluation in &leased {
            if let Err(e) = self.advance(evaluation).await {
                tracing::warn!(evaluation = %evaluation.id, error = %e, "could not advance an evaluation");
            }
            self.store.release_evaluation(evaluation.id).await?;
        }
        Ok(leased.len())
    }

    /// Talon acting for `owner`: the tasks an evaluation creates are the account's own.
    pub(super) async fn acting_for(&self, owner: UserId) -> Result<Caller, ServiceError> {
        let account = self.store.account_by_id(owner).await?.ok_or(ServiceError::NotFound("Account"))?;
        Ok(Caller { account, only_agent: None, actor: Actor::System })
    }

    async fn advance(&self, evaluation: &Evaluation) -> Result<(), ServiceError> {
        let caller = self.acting_for(evaluation.owner).await?;
        let mut results = self.store.case_results(evaluation.id).await?;
        let mut changed = Vec::new();
        for result in &mut results {
            let next = match result.status {
                CaseStatus::Running => self.settle_answer(&caller, evaluation, result).await?,
                CaseStatus::Judging => self.settle_judges(&caller, evaluation, result).await?,
                _ => None,
            };
            if let Some(next) = next {
                *result = next.clone();
                changed.push(next);
            }
        }
        let in_flight = results.iter().filter(|r| r.status.is_in_flight()).count();
        let room = (evaluation.concurrency as usize).saturating_sub(in_flight);
        for result in results.iter_mut().filter(|r| r.status == CaseStatus::Pending).take(room) {
            let next = self.start_case(&caller, evaluation, result).await;
            *result = next.clone();
            changed.push(next);
        }
        if !changed.is_empty() {
            self.store.save_case_results(&changed).await?;
        }
        if results.iter().all(|r| r.status.is_settled()) {
            self.complete(evaluation, &results).await?;
        }
        Ok(())
    }

    /// Creates a pending case's task; a case whose task cannot be created (its version is gone) errors.
    async fn start_case(&self, caller: &Caller, evaluation: &Evaluation, result: &CaseResult) -> CaseResult {
        let Some(case) = evaluation.case_of(result) else {
            return errored(result, "The case is missing from the evaluation");
        };
        let key = format!("{TASK_KEY_PREFIX}{}:{}:{}", evaluation.id, result.version_id, result.case_index);
        let title = format!("Evaluation on {}: {}", evaluation.dataset_name, case.name);
        let target = (evaluation.agent_id, result.version_id);
        match self.create_task(caller, target, title, case.input.clone(), key).await {
            Ok(task) => result.started(task),
            Err(e) => errored(result, &format!("Its task could not be created: {e}")),
        }
    }

    /// A running case whose task finished: answered, and its judges asked if it has judge checks.
    async fn settle_answer(
        &self,
        caller: &Caller,
        evaluation: &Evaluation,
        result: &CaseResult,
    ) -> Result<Option<CaseResult>, ServiceError> {
        let (Some(case), Some(task_id)) = (evaluation.case_of(result), result.task_id) else {
            return Ok(Some(errored(result, "The case lost its task")));
        };
        let Some(task) = self.store.task(task_id).await? else {
            return Ok(Some(errored(result, "Its task was deleted")));
        };
        if !task.status.is_terminal() {
            return Ok(None);
        }
        let answered = result.answered(case, &task);
        if answered.status != CaseStatus::Judging {
            return Ok(Some(answered));
        }
        Ok(Some(self.ask_judges(caller, evaluation, answered).await))
    }

    /// Creates a task for each judge check of the case, asking its judge about the answer.
    async fn ask_judges(&self, caller: &Caller, evaluation: &Evaluation, result: CaseResult) -> CaseResult {
        let Some(case) = evaluation.case_of(&result) else {
            return errored(&result, "The case is missing from the evaluation");
        };
        let answer = result.answer.clone().unwrap_or_default();
        let mut asked = Vec::new();
        let judges = case.checks.iter().filter_map(|check| match check {
            Check::Judge { agent, criteria } => Some((agent, criteria)),
            _ => None,
        });
        for (position, (judge, criteria)) in judges.enumerate() {
            let target = match self.judge_of(caller, judge).await {
                Ok((agent, version)) => (agent.id, version),
                Err(message) => return errored(&result, &format!("Judge `{judge}`: {message}")),
            };
            let key = format!(
                "{TASK_KEY_PREFIX}{}:{}:{}:judge{position}",
                evaluation.id, result.version_id, result.case_index
            );
            let title = format!("Judging {}: {}", evaluation.dataset_name, case.name);
            let input = judge_input(criteria, &case.input, &answer);
            match self.create_task(caller, target, title, input, key).await {
                Ok(task) => asked.push(task),
                Err(e) => return errored(&result, &format!("Judge `{judge}`'s task could not be created: {e}")),
            }
        }
        CaseResult { judge_task_ids: asked, ..result }
    }

    /// A judging case whose judges' tasks have all finished: its verdict.
    async fn settle_judges(
        &self,
        caller: &Caller,
        evaluation: &Evaluation,
        result: &CaseResult,
    ) -> Result<Option<CaseResult>, ServiceError> {
        let Some(case) = evaluation.case_of(result) else {
            return Ok(Some(errored(result, "The case is missing from the evaluation")));
        };
        if result.judge_task_ids.is_empty() {
            // The pass that answered it stopped before its judges were asked.
            return Ok(Some(self.ask_judges(caller, evaluation, result.clone()).await));
        }
        let mut judges = Vec::with_capacity(result.judge_task_ids.len());
        for id in &result.judge_task_ids {
            match self.store.task(*id).await? {
                Some(task) if task.status.is_terminal() => judges.push(task),
                Some(_) => return Ok(None),
                None => return Ok(Some(errored(result, "A judge's task was deleted"))),
            }
        }
        Ok(Some(result.judged(case, &judges)))
    }

    async fn create_task(
        &self,
        caller: &Caller,
        (agent, version): (AgentId, VersionId),
        title: String,
        input: serde_json::Value,
        key: String,
    ) -> Result<TaskId, ServiceError> {
        let title: String = title.chars().take(TITLE_MAX_CHARS).collect();
        let task = NewTask::new(TaskDraft {
            title,
            description: None,
            priority: None,
            input: Some(input),
            max_attempts: None,
            run_at: None,
            dedupe_key: Some(key),
        })?;
        let request = CreateTask {
            agent: AgentRef::Id(agent),
            version: Some(VersionRef::Id(version)),
            executor: Some(Executor::Runtime),
            task,
        };
        let (task, _) = self.tasks.create(caller, request).await?;
        Ok(task.id)
    }

    /// Every case settled: the report, kept with the evaluation and sent with `evaluation.completed`.
    async fn complete(&self, evaluation: &Evaluation, results: &[CaseResult]) -> Result<(), ServiceError> {
        let report = Report::of(&evaluation.versions, results);
        let numbers: std::collections::HashMap<_, _> =
            self.store.version_numbers(&evaluation.versions).await?.into_iter().collect();
        let completed = Evaluation {
            status: EvaluationStatus::Completed,
            summaries: report.summaries.clone(),
            completed_at: Some(now()),
            ..evaluation.clone()
        };
        let versions: Vec<_> = report
            .summaries
            .iter()
            .map(|s| {
                json!({
                    "versionId": s.version_id.to_string(),
                    "versionNumber": numbers.get(&s.version_id),
                    "passed": s.passed,
                    "failed": s.failed,
                    "errored": s.errored,
                    "total": s.total,
                    "passRate": s.pass_rate,
                })
            })
            .collect();
        let data = json!({
            "id": evaluation.id.to_string(),
            "agent": evaluation.agent_id.to_string(),
            "dataset": evaluation.dataset_name,
            "datasetRevision": evaluation.dataset_revision,
            "versions": versions,
            "differing": report.differing,
        });
        let event = Event::new(evaluation.owner, event::EVALUATION_COMPLETED, data);
        if self.store.complete_evaluation(&completed, &[event]).await? {
            self.outbox.ring();
        }
        Ok(())
    }
}

fn errored(result: &CaseResult, error: &str) -> CaseResult {
    CaseResult { status: CaseStatus::Errored, error: Some(error.to_owned()), ..result.clone() }
}
