//! Labels of agents: named pointers to versions, moved and deleted with their events in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::agent::{Label, Version};
use talon_domain::evaluation::Gate;
use talon_domain::event::Event;
use talon_domain::{AgentId, UserId, VersionId};
use uuid::Uuid;

use super::rows::{VERSION_COLUMNS, VersionRow};
use crate::StoreError;
use crate::db::{Portable, outbox, run};
use crate::error::corrupt;

/// A move of a label to a version.
#[derive(Debug, Clone, Copy)]
pub struct LabelMove<'a> {
    pub agent: AgentId,
    pub name: &'a str,
    pub version: VersionId,
    pub moved_by: UserId,
    pub at: DateTime<Utc>,
    /// What becomes of the label's `required_evaluation`.
    pub gate: GateWrite<'a>,
}

/// How a move writes the gate of its label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GateWrite<'a> {
    /// Leaves it as it is (none, for a new label).
    Keep,
    Set(&'a Gate),
    Clear,
}

/// Builds a move's event from the version the label pointed at before (`None` for a new label), which
/// only the move's transaction knows.
pub type MoveEvent<'a> = &'a (dyn Fn(Option<VersionId>) -> Event + Send + Sync);

#[async_trait]
pub trait LabelStore {
    /// Points the label at `version` (creating it if need be), with the event `event` makes from the
    /// version it pointed at before, in one transaction; returns that previous version. `None` (and no
    /// write) when the agent no longer exists. Moves of one agent's labels are serialized by a lock on
    /// the agent's row, so each reports the version the one before it left.
    async fn move_label(
        &self,
        label: LabelMove<'_>,
        event: MoveEvent<'_>,
    ) -> Result<Option<Option<VersionId>>, StoreError>;

    /// Deletes the label with `event`, in one transaction; `false` (and no event) when there was none.
    async fn delete_label(&self, agent: AgentId, name: &str, event: &Event) -> Result<bool, StoreError>;

    /// The agent's labels by name.
    async fn labels(&self, agent: AgentId) -> Result<Vec<Label>, StoreError>;

    /// The agent's label `name`.
    async fn label(&self, agent: AgentId, name: &str) -> Result<Option<Label>, StoreError>;

    /// The version the agent's label `name` points at, in one query.
    async fn labeled_version(&self, agent: AgentId, name: &str) -> Result<Option<Version>, StoreError>;
}

const LOCK_AGENT: &str = "UPDATE agents SET updated_at = updated_at WHERE id = $1";
const LABEL_VERSION: &str = "SELECT version_id FROM agent_labels WHERE agent_id = $1 AND name = $2";
/// `$7` tells whether the move writes the gate (`$6`) over an existing label's, or keeps it.
const UPSERT_LABEL: &str = "INSERT INTO agent_labels (agent_id, name, version_id, updated_at, moved_by, \
     required_evaluation) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_id, name) DO UPDATE SET \
     version_id = excluded.version_id, updated_at = excluded.updated_at, moved_by = excluded.moved_by, \
     required_evaluation = CASE WHEN $7 THEN excluded.required_evaluation ELSE agent_labels.required_evaluation END";
const DELETE_LABEL: &str = "DELETE FROM agent_labels WHERE agent_id = $1 AND name = $2";
const SELECT_LABELS: &str = "SELECT l.agent_id, l.name, l.version_id, v.number, l.updated_at, l.moved_by, \
     l.required_evaluation FROM agent_labels l JOIN agent_versions v ON v.id = l.version_id";

#[derive(sqlx::FromRow)]
struct LabelRow {
    agent_id: Uuid,
    name: String,
    version_id: Uuid,
    number: i64,
    updated_at: DateTime<Utc>,
    moved_by: Uuid,
    required_evaluation: Option<String>,
}

impl TryFrom<LabelRow> for Label {
    type Error = StoreError;
    fn try_from(row: LabelRow) -> Result<Self, StoreError> {
        let required_evaluation = row
            .required_evaluation
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("label gate")(e.to_string()))?;
        Ok(Label {
            agent_id: AgentId::from_uuid(row.agent_id),
            name: row.name,
            version_id: VersionId::from_uuid(row.version_id),
            version_number: row.number,
            updated_at: row.updated_at,
            moved_by: UserId::from_uuid(row.moved_by),
            required_evaluation,
        })
    }
}

/// The gate a move stores (`None` for none), and whether it writes it over the label's.
fn gate_column(gate: GateWrite<'_>) -> Result<(Option<String>, bool), StoreError> {
    match gate {
        GateWrite::Keep => Ok((None, false)),
        GateWrite::Clear => Ok((None, true)),
        GateWrite::Set(gate) => serde_json::to_string(gate)
            .map(|text| (Some(text), true))
            .map_err(|e| StoreError::Corrupt(format!("label gate cannot be encoded: {e}"))),
    }
}

#[async_trait]
impl<S: Portable> LabelStore for S {
    async fn move_label(
        &self,
        label: LabelMove<'_>,
        event: MoveEvent<'_>,
    ) -> Result<Option<Option<VersionId>>, StoreError> {
        let (gate, write_gate) = gate_column(label.gate)?;
        let mut tx = self.db().begin().await?;
        let locked = run!(tx.conn(), |c| {
            sqlx::query(LOCK_AGENT).bind(*label.agent.as_uuid()).execute(c).await.map(|done| done.rows_affected())
        })?;
        if locked != 1 {
            return Ok(None);
        }
        let previous: Option<Uuid> = run!(tx.conn(), |c| {
            sqlx::query_scalar(LABEL_VERSION).bind(*label.agent.as_uuid()).bind(label.name).fetch_optional(c).await
        })?;
        let previous = previous.map(VersionId::from_uuid);
        run!(tx.conn(), |c| {
            sqlx::query(UPSERT_LABEL)
                .bind(*label.agent.as_uuid())
                .bind(label.name)
                .bind(*label.version.as_uuid())
                .bind(label.at)
                .bind(*label.moved_by.as_uuid())
                .bind(gate)
                .bind(write_gate)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        outbox::record(&mut tx, &[event(previous)]).await?;
        tx.commit().await?;
        Ok(Some(previous))
    }

    async fn delete_label(&self, agent: AgentId, name: &str, event: &Event) -> Result<bool, StoreError> {
        Ok(outbox::delete_named(self.db(), DELETE_LABEL, agent, name, event).await?)
    }

    async fn labels(&self, agent: AgentId) -> Result<Vec<Label>, StoreError> {
        let statement = format!("{SELECT_LABELS} WHERE l.agent_id = $1 ORDER BY l.name");
        let rows: Vec<LabelRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(*agent.as_uuid()).fetch_all(e).await)?;
        rows.into_iter().map(Label::try_from).collect()
    }

    async fn label(&self, agent: AgentId, name: &str) -> Result<Option<Label>, StoreError> {
        let statement = format!("{SELECT_LABELS} WHERE l.agent_id = $1 AND l.name = $2");
        let row: Option<LabelRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(*agent.as_uuid()).bind(name).fetch_optional(e).await
        })?;
        row.map(Label::try_from).transpose()
    }

    async fn labeled_version(&self, agent: AgentId, name: &str) -> Result<Option<Version>, StoreError> {
        let statement = format!(
            "SELECT {VERSION_COLUMNS} FROM agent_labels l JOIN agent_versions v ON v.id = l.version_id \
             JOIN users u ON u.id = v.created_by WHERE l.agent_id = $1 AND l.name = $2"
        );
        let row: Option<VersionRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(*agent.as_uuid()).bind(name).fetch_optional(e).await
        })?;
        row.map(TryInto::try_into).transpose()
    }
}
