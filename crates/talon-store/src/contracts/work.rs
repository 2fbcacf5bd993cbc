//! Contracts an agent works itself (`auto_work` on its profile): which funded contracts still need a
//! runtime task for their current revision round, tying a task to a contract, and which contracts'
//! tasks have answered. A contract's task answers one round (`task_round` = the `revisions_used` it was
//! made for); a revision request raises `revisions_used`, so the contract needs a task again.

use async_trait::async_trait;
use serde_json::Value;
use talon_domain::{AgentId, ContractId, TaskId, UserId, VersionId};

use crate::StoreError;
use crate::db::{Portable, run};
use crate::error::corrupt;

/// A funded, active contract whose agent works its contracts and is deployed, with no task yet for
/// the current round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrder {
    pub contract: ContractId,
    pub agent: AgentId,
    /// The account holding the agent, which the task belongs to.
    pub holder: UserId,
    /// The version the agent serves (the pinned deployment, else its head), which answers the task.
    pub version: VersionId,
    pub round: i32,
}

/// A contract whose task for the current round has completed, with the task's output.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedWork {
    pub contract: ContractId,
    pub agent: AgentId,
    pub holder: UserId,
    pub task: TaskId,
    pub output: Value,
}

#[async_trait]
pub trait ContractWorkStore {
    /// Up to `limit` contracts waiting for a task, oldest first.
    async fn contracts_to_work(&self, limit: i64) -> Result<Vec<WorkOrder>, StoreError>;

    /// Ties `task` to the contract for `round`, if the contract is still active in that round and has
    /// no task for it; `false` otherwise (another replica got there first, or the contract moved on).
    async fn assign_contract_task(&self, contract: ContractId, task: TaskId, round: i32) -> Result<bool, StoreError>;

    /// Up to `limit` active contracts whose current round's task has completed, oldest first.
    async fn finished_work(&self, limit: i64) -> Result<Vec<FinishedWork>, StoreError>;
}

const TO_WORK: &str = "SELECT c.id, c.agent_id, c.agent_user_id,
            COALESCE(a.deployed_version_id, a.current_version_id) AS deployed_version_id, c.revisions_used
     FROM contracts c
     JOIN marketplace_profiles p ON p.agent_id = c.agent_id
     JOIN agents a ON a.id = c.agent_id
     WHERE c.status = 'active' AND c.funded = TRUE AND p.auto_work = TRUE
       AND a.status = 'deployed'
       AND (c.task_id IS NULL OR c.task_round IS NULL OR c.task_round <> c.revisions_used)
     ORDER BY c.id LIMIT $1";

const ASSIGN: &str = "UPDATE contracts SET task_id = $1, task_round = $2
     WHERE id = $3 AND status = 'active' AND revisions_used = $2
       AND (task_id IS NULL OR task_round IS NULL OR task_round <> $2)";

const FINISHED: &str = "SELECT c.id, c.agent_id, c.agent_user_id, t.id AS task_id, t.output
     FROM contracts c JOIN tasks t ON t.id = c.task_id
     WHERE c.status = 'active' AND c.funded = TRUE AND c.task_round = c.revisions_used
       AND t.status = 'completed'
     ORDER BY c.id LIMIT $1";

#[derive(sqlx::FromRow)]
struct WorkOrderRow {
    id: uuid::Uuid,
    agent_id: uuid::Uuid,
    agent_user_id: uuid::Uuid,
    deployed_version_id: uuid::Uuid,
    revisions_used: i32,
}

#[derive(sqlx::FromRow)]
struct FinishedRow {
    id: uuid::Uuid,
    agent_id: uuid::Uuid,
    agent_user_id: uuid::Uuid,
    task_id: uuid::Uuid,
    output: Option<String>,
}

#[async_trait]
impl<S: Portable> ContractWorkStore for S {
    async fn contracts_to_work(&self, limit: i64) -> Result<Vec<WorkOrder>, StoreError> {
        let rows: Vec<WorkOrderRow> =
            run!(self.db().reader(), |e| sqlx::query_as(TO_WORK).bind(limit).fetch_all(e).await)?;
        Ok(rows
            .into_iter()
            .map(|r| WorkOrder {
                contract: ContractId::from_uuid(r.id),
                agent: AgentId::from_uuid(r.agent_id),
                holder: UserId::from_uuid(r.agent_user_id),
                version: VersionId::from_uuid(r.deployed_version_id),
                round: r.revisions_used,
            })
            .collect())
    }

    async fn assign_contract_task(&self, contract: ContractId, task: TaskId, round: i32) -> Result<bool, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query(ASSIGN)
                .bind(*task.as_uuid())
                .bind(round)
                .bind(*contract.as_uuid())
                .execute(e)
                .await
                .map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }

    async fn finished_work(&self, limit: i64) -> Result<Vec<FinishedWork>, StoreError> {
        let rows: Vec<FinishedRow> =
            run!(self.db().reader(), |e| sqlx::query_as(FINISHED).bind(limit).fetch_all(e).await)?;
        rows.into_iter()
            .map(|r| {
                let output = match r.output {
                    Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("task output")(e.to_string()))?,
                    None => Value::Null,
                };
                Ok(FinishedWork {
                    contract: ContractId::from_uuid(r.id),
                    agent: AgentId::from_uuid(r.agent_id),
                    holder: UserId::from_uuid(r.agent_user_id),
                    task: TaskId::from_uuid(r.task_id),
                    output,
                })
            })
            .collect()
    }
}
