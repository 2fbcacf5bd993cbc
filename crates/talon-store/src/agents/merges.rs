//! Merges recorded on versions: which versions of an agent merged a fork's version back (their second
//! parent, written with the version by `append_versions`).

use async_trait::async_trait;
use talon_domain::agent::MergedFrom;
use talon_domain::{AgentId, VersionId};
use uuid::Uuid;

use crate::db::{Portable, placeholders, run};
use crate::{MAX_BATCH, StoreError};

/// A version that merged another agent's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeRecord {
    pub agent_id: AgentId,
    pub version_id: VersionId,
    pub number: i64,
    pub from: MergedFrom,
}

#[async_trait]
pub trait MergeStore {
    /// The merges into any of `agents` whose merged version still exists, by agent and version number.
    async fn merges_into(&self, agents: &[AgentId]) -> Result<Vec<MergeRecord>, StoreError>;
}

#[async_trait]
impl<S: Portable> MergeStore for S {
    async fn merges_into(&self, agents: &[AgentId]) -> Result<Vec<MergeRecord>, StoreError> {
        let mut merges = Vec::new();
        for chunk in agents.chunks(MAX_BATCH) {
            let reader = self.db().reader();
            let statement = format!(
                "SELECT v.agent_id, v.id, v.number, m.agent_id, m.id, m.number FROM agent_versions v \
                 JOIN agent_versions m ON m.id = v.merged_from_version_id \
                 WHERE v.merged_from_version_id IS NOT NULL AND v.agent_id IN {} ORDER BY v.agent_id, v.number",
                placeholders(&reader, 1, chunk.len())
            );
            let rows: Vec<(Uuid, Uuid, i64, Uuid, Uuid, i64)> = run!(reader, |e| {
                let mut query = sqlx::query_as(&statement);
                for id in chunk {
                    query = query.bind(*id.as_uuid());
                }
                query.fetch_all(e).await
            })?;
            merges.extend(rows.into_iter().map(|(agent, version, number, from_agent, from_version, from_number)| {
                MergeRecord {
                    agent_id: AgentId::from_uuid(agent),
                    version_id: VersionId::from_uuid(version),
                    number,
                    from: MergedFrom {
                        agent_id: AgentId::from_uuid(from_agent),
                        version_id: VersionId::from_uuid(from_version),
                        number: from_number,
                    },
                }
            }));
        }
        Ok(merges)
    }
}
