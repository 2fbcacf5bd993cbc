//! `AgentStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::agent::lineage::LineageEntry;
use talon_domain::agent::split::Split;
use talon_domain::agent::{Agent, Version};
use talon_domain::event::Event;
use talon_domain::{AgentId, UserId, VersionId};

use super::rows::{
    AGENT_COLUMNS, AGENT_WITH_VERSION, AgentHeadRow, AgentRow, EventRow, LineageRow, ON_CURRENT_VERSION,
    ON_SERVED_VERSION, VERSION_COLUMNS, VersionRow, bind_agent, bind_version, encode_capabilities, encode_split,
};
use crate::db::{Portable, Tx, outbox, placeholders, run};
use crate::page::{Order, Page, Window};
use crate::{
    AgentFilter, AgentLookup, AgentStore, AppendOutcome, DeleteOutcome, Deployment, LineageMark, MAX_BATCH,
    SEARCH_NOT_COUNTED, StoreError, StoredEvent,
};

/// A fork joins its parent's lineage; any other agent starts its own, named by its id.
pub(crate) const INSERT_AGENT: &str = "INSERT INTO agents (id, user_id, slug, name, description, capabilities, \
     public, status, current_version_id, deployed_version_id, deployed_at, fork_count, depth, parent_agent_id, \
     parent_version_id, fork_type, created_at, updated_at, api_access, lineage_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
     COALESCE((SELECT p.lineage_id FROM agents p WHERE p.id = $14), $1))";

/// The columns of `INSERT_AGENT`, for the multi-row insert of root agents, whose lineage is their own id.
const AGENT_INSERT_COLUMNS: &str = "id, user_id, slug, name, description, capabilities, public, status, \
     current_version_id, deployed_version_id, deployed_at, fork_count, depth, parent_agent_id, parent_version_id, \
     fork_type, created_at, updated_at, api_access, lineage_id";
const AGENT_INSERT_COLUMN_COUNT: usize = 20;
const VERSION_INSERT_COLUMNS: &str = "id, agent_id, number, parent_version_id, definition, content_hash, \
     commit_message, fork_type, created_by, created_at, merged_from_version_id";
const VERSION_INSERT_COLUMN_COUNT: usize = 11;
/// Rows per statement of a multi-row insert: 4,000 bound values at most, under either database's bound.
const ROWS_PER_INSERT: usize = 200;

pub(crate) const INSERT_VERSION: &str = "INSERT INTO agent_versions (id, agent_id, number, parent_version_id, \
     definition, content_hash, commit_message, fork_type, created_by, created_at, merged_from_version_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

const COUNT_FORK: &str = "UPDATE agents SET fork_count = fork_count + 1 WHERE id = $1";

const UNCOUNT_FORK: &str =
    "UPDATE agents SET fork_count = fork_count - 1 WHERE id = (SELECT parent_agent_id FROM agents WHERE id = $1)";

const UPDATE_PROFILE: &str = "UPDATE agents SET name = $1, description = $2, capabilities = $3, \
     public = $4, api_access = $5, updated_at = $6 WHERE id = $7";

/// A deployment change; the split changes only when `$5` is true (a stop or a health change keeps it).
const UPDATE_DEPLOYMENT: &str = "UPDATE agents SET status = $1, deployed_version_id = $2, \
     deployed_at = $3, updated_at = $4, deployed_split = CASE WHEN $5 THEN $6 ELSE deployed_split END \
     WHERE id = $7";

/// Moves the agent to its new version only if the expected parent is still current.
const ADVANCE_CURRENT_VERSION: &str =
    "UPDATE agents SET current_version_id = $1, updated_at = $2 WHERE id = $3 AND current_version_id = $4";

const FORK_COUNT: &str = "SELECT fork_count FROM agents WHERE id = $1";

const RUNNING_TASKS_OF_AGENT: &str = "SELECT COUNT(*) FROM tasks WHERE agent_id = $1 AND status = 'running'";

const DELETE_AGENT: &str = "DELETE FROM agents WHERE id = $1";

/// Counts a change of the lineage the agent belongs to. Run last in a transaction, after the agent's own
/// rows are written, so that every writer takes the lineage's row lock after its agents' (no deadlock).
const COUNT_LINEAGE_CHANGE_OF: &str = "INSERT INTO lineages (id, changes) \
     SELECT lineage_id, 1 FROM agents WHERE id = $1 AND lineage_id IS NOT NULL \
     ON CONFLICT (id) DO UPDATE SET changes = lineages.changes + 1";

const COUNT_LINEAGE_CHANGE: &str = "INSERT INTO lineages (id, changes) VALUES ($1, 1) \
     ON CONFLICT (id) DO UPDATE SET changes = lineages.changes + 1";

const LINEAGE_OF: &str = "SELECT lineage_id FROM agents WHERE id = $1";

const LINEAGE_MARK: &str = "SELECT a.lineage_id, COALESCE(l.changes, 0) FROM agents a \
     LEFT JOIN lineages l ON l.id = a.lineage_id WHERE a.id = $1";

/// Up from the agent to its root, then down from the root to every descendant.
const LINEAGE: &str = "WITH RECURSIVE
    up (id, parent_agent_id) AS (
        SELECT id, parent_agent_id FROM agents WHERE id = $1
        UNION ALL
        SELECT a.id, a.parent_agent_id FROM agents a JOIN up ON a.id = up.parent_agent_id
    ),
    down (id) AS (
        SELECT id FROM up WHERE parent_agent_id IS NULL
        UNION ALL
        SELECT a.id FROM agents a JOIN down ON a.parent_agent_id = down.id
    )
    SELECT a.id, a.user_id, a.public, a.parent_agent_id, a.name, a.fork_type, a.parent_version_id, a.current_version_id, v.number
    FROM down
    JOIN agents a ON a.id = down.id
    JOIN agent_versions v ON v.id = a.current_version_id";

#[async_trait]
impl<S: Portable> AgentStore for S {
    async fn insert_agent(&self, agent: &Agent, first: &Version, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| bind_agent(sqlx::query(INSERT_AGENT), agent).execute(c).await.map(|_| ()))
            .map_err(|e| StoreError::unique(e, "slug"))?;
        run!(tx.conn(), |c| bind_version(sqlx::query(INSERT_VERSION), first).execute(c).await.map(|_| ()))?;
        if let Some(parent) = agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
            run!(tx.conn(), |c| sqlx::query(COUNT_FORK).bind(*parent.as_uuid()).execute(c).await.map(|_| ()))?;
        }
        outbox::record(&mut tx, events).await?;
        count_lineage_change_of(&mut tx, agent.id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_root_agents(&self, agents: &[(Agent, Version)]) -> Result<(), StoreError> {
        if agents.len() > MAX_BATCH {
            return Err(StoreError::BatchTooLarge { len: agents.len(), max: MAX_BATCH });
        }
        if agents.iter().any(|(agent, first)| agent.fork_origin.is_some() || first.agent_id != agent.id) {
            return Err(StoreError::Corrupt("a batch of root agents holds a fork or a foreign version".into()));
        }
        let mut tx = self.db().begin().await?;
        for chunk in agents.chunks(ROWS_PER_INSERT) {
            let rows = placeholders(&tx.conn(), chunk.len(), AGENT_INSERT_COLUMN_COUNT);
            let statement = format!("INSERT INTO agents ({AGENT_INSERT_COLUMNS}) VALUES {rows}");
            run!(tx.conn(), |c| {
                let mut query = sqlx::query(&statement);
                for (agent, _) in chunk {
                    query = bind_agent(query, agent).bind(*agent.id.as_uuid());
                }
                query.execute(c).await.map(|_| ())
            })
            .map_err(|e| StoreError::unique(e, "slug"))?;
            let rows = placeholders(&tx.conn(), chunk.len(), VERSION_INSERT_COLUMN_COUNT);
            let statement = format!("INSERT INTO agent_versions ({VERSION_INSERT_COLUMNS}) VALUES {rows}");
            run!(tx.conn(), |c| {
                let mut query = sqlx::query(&statement);
                for (_, first) in chunk {
                    query = bind_version(query, first);
                }
                query.execute(c).await.map(|_| ())
            })?;
            // Each root starts its lineage, named by its id, with one change.
            let rows = placeholders(&tx.conn(), chunk.len(), 2);
            let statement = format!(
                "INSERT INTO lineages (id, changes) VALUES {rows} \
                 ON CONFLICT (id) DO UPDATE SET changes = lineages.changes + 1"
            );
            run!(tx.conn(), |c| {
                let mut query = sqlx::query(&statement);
                for (agent, _) in chunk {
                    query = query.bind(*agent.id.as_uuid()).bind(1_i64);
                }
                query.execute(c).await.map(|_| ())
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn agent(&self, id: AgentId) -> Result<Option<Agent>, StoreError> {
        let statement = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = $1");
        let row: Option<AgentRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn agent_head(&self, id: AgentId) -> Result<Option<(Agent, Version)>, StoreError> {
        let statement = format!("{AGENT_WITH_VERSION}{ON_CURRENT_VERSION} WHERE a.id = $1");
        let row: Option<AgentHeadRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn agent_serving(&self, agent: AgentLookup<'_>) -> Result<Option<(Agent, Version)>, StoreError> {
        let select = format!("{AGENT_WITH_VERSION}{ON_SERVED_VERSION} WHERE ");
        let row: Option<AgentHeadRow> = match agent {
            AgentLookup::Id(id) => {
                let statement = format!("{select}a.id = $1");
                run!(self.db().reader(), |e| {
                    sqlx::query_as(&statement).bind(*id.as_uuid()).fetch_optional(e).await
                })?
            }
            AgentLookup::Slug { owner, slug } => {
                let statement = format!("{select}a.user_id = $1 AND a.slug = $2");
                run!(self.db().reader(), |e| {
                    sqlx::query_as(&statement).bind(*owner.as_uuid()).bind(slug).fetch_optional(e).await
                })?
            }
        };
        row.map(TryInto::try_into).transpose()
    }

    async fn agent_by_slug(&self, owner: UserId, slug: &str) -> Result<Option<Agent>, StoreError> {
        let statement = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.user_id = $1 AND a.slug = $2");
        let row: Option<AgentRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(owner.as_uuid()).bind(slug).fetch_optional(e).await
        })?;
        row.map(TryInto::try_into).transpose()
    }

    async fn taken_slugs(&self, owner: UserId, base: &str) -> Result<Vec<String>, StoreError> {
        let slugs: Vec<(String,)> = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT slug FROM agents WHERE user_id = $1 AND (slug = $2 OR slug LIKE $3)")
                .bind(owner.as_uuid())
                .bind(base)
                .bind(talon_domain::agent::numbered_slug_pattern(base))
                .fetch_all(e)
                .await
        })?;
        Ok(slugs.into_iter().map(|(slug,)| slug).collect())
    }

    async fn list_agents(
        &self,
        owner: UserId,
        filter: AgentFilter<'_>,
        window: Window,
    ) -> Result<Page<Agent>, StoreError> {
        let mut condition = String::from("a.user_id = $1");
        let mut next_param = 2;
        if filter.deployed_only {
            condition.push_str(" AND a.status <> 'idle'");
        }
        if filter.only.is_some() {
            condition.push_str(&format!(" AND a.id = ${next_param}"));
            next_param += 1;
        }
        let search = filter.search.map(str::trim).filter(|s| !s.is_empty()).map(like_pattern);
        if search.is_some() {
            let p = next_param;
            condition.push_str(&format!(" AND (LOWER(a.name) LIKE ${p} ESCAPE '\\' OR a.slug LIKE ${p} ESCAPE '\\')"));
            next_param += 1;
        }
        let total: i64 = match (filter.only, &search) {
            (_, Some(_)) => SEARCH_NOT_COUNTED,
            // A key restricted to one agent lists at most that one: counting it is one index lookup.
            (Some(only), None) => {
                let count = format!("SELECT COUNT(*) FROM agents a WHERE {condition}");
                let (n,): (i64,) = run!(self.db().reader(), |e| {
                    sqlx::query_as(&count).bind(owner.as_uuid()).bind(only.as_uuid()).fetch_one(e).await
                })?;
                n
            }
            (None, None) => {
                let counted = if filter.deployed_only { " AND status <> 'idle'" } else { "" };
                let count =
                    format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM agent_counts WHERE user_id = $1{counted}");
                let (n,): (i64,) =
                    run!(self.db().reader(), |e| sqlx::query_as(&count).bind(owner.as_uuid()).fetch_one(e).await)?;
                n
            }
        };
        let sql = window.sql("a.id", Order::Ascending, next_param);
        if let Some(keyset) = &sql.condition {
            condition.push_str(" AND ");
            condition.push_str(keyset);
        }
        let select = format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE {condition} {}", sql.tail);
        let rows: Vec<AgentRow> = run!(self.db().reader(), |e| {
            let mut query = sqlx::query_as(&select).bind(owner.as_uuid());
            if let Some(only) = filter.only {
                query = query.bind(*only.as_uuid());
            }
            if let Some(pattern) = &search {
                query = query.bind(pattern.as_str());
            }
            window.bind(query).fetch_all(e).await
        })?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(window.page(items, total, sql.reversed))
    }

    async fn update_agent_profile(&self, agent: &Agent, event: &Event) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        let metadata = &agent.metadata;
        run!(tx.conn(), |c| {
            sqlx::query(UPDATE_PROFILE)
                .bind(&metadata.name)
                .bind(&metadata.description)
                .bind(encode_capabilities(agent))
                .bind(agent.public)
                .bind(agent.api_access)
                .bind(agent.updated_at)
                .bind(agent.id.as_uuid())
                .execute(c)
                .await
                .map(|_| ())
        })?;
        outbox::record(&mut tx, std::slice::from_ref(event)).await?;
        count_lineage_change_of(&mut tx, agent.id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_deployment(
        &self,
        id: AgentId,
        deployment: Deployment,
        at: DateTime<Utc>,
        event: &Event,
    ) -> Result<(), StoreError> {
        write_deployment(self, id, deployment, None, at, event).await
    }

    async fn set_deployment_with_split(
        &self,
        id: AgentId,
        deployment: Deployment,
        split: Option<&Split>,
        at: DateTime<Utc>,
        event: &Event,
    ) -> Result<(), StoreError> {
        write_deployment(self, id, deployment, Some(split), at, event).await
    }

    async fn delete_agent(&self, id: AgentId, force: bool, event: &Event) -> Result<DeleteOutcome, StoreError> {
        let mut tx = self.db().begin().await?;
        let forks: Option<(i64,)> =
            run!(tx.conn(), |c| sqlx::query_as(FORK_COUNT).bind(id.as_uuid()).fetch_optional(c).await)?;
        let Some((forks,)) = forks else {
            return Ok(DeleteOutcome::NotFound);
        };
        if forks > 0 && !force {
            return Ok(DeleteOutcome::HasForks(forks));
        }
        let (running,): (i64,) =
            run!(tx.conn(), |c| sqlx::query_as(RUNNING_TASKS_OF_AGENT).bind(id.as_uuid()).fetch_one(c).await)?;
        if running > 0 && !force {
            return Ok(DeleteOutcome::HasRunningTasks(running));
        }
        let lineage: Option<uuid::Uuid> =
            run!(tx.conn(), |c| sqlx::query_scalar(LINEAGE_OF).bind(id.as_uuid()).fetch_one(c).await)?;
        run!(tx.conn(), |c| sqlx::query(UNCOUNT_FORK).bind(id.as_uuid()).execute(c).await.map(|_| ()))?;
        run!(tx.conn(), |c| sqlx::query(DELETE_AGENT).bind(id.as_uuid()).execute(c).await.map(|_| ()))?;
        outbox::record(&mut tx, std::slice::from_ref(event)).await?;
        if let Some(lineage) = lineage {
            run!(tx.conn(), |c| sqlx::query(COUNT_LINEAGE_CHANGE).bind(lineage).execute(c).await.map(|_| ()))?;
        }
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted)
    }

    async fn append_versions(&self, versions: &[Version], events: &[Event]) -> Result<AppendOutcome, StoreError> {
        let (Some(first), Some(last)) = (versions.first(), versions.last()) else {
            return Ok(AppendOutcome::Appended);
        };
        let Some(parent) = first.parent_version_id else {
            return Ok(AppendOutcome::Stale);
        };
        let chained = versions
            .windows(2)
            .all(|pair| pair[1].agent_id == first.agent_id && pair[1].parent_version_id == Some(pair[0].id));
        if !chained {
            return Err(StoreError::Corrupt("versions appended together must form one chain".into()));
        }
        let mut tx = self.db().begin().await?;
        let advanced = run!(tx.conn(), |c| {
            sqlx::query(ADVANCE_CURRENT_VERSION)
                .bind(last.id.as_uuid())
                .bind(last.created_at)
                .bind(first.agent_id.as_uuid())
                .bind(parent.as_uuid())
                .execute(c)
                .await
                .map(|done| done.rows_affected())
        })?;
        if advanced != 1 {
            return Ok(AppendOutcome::Stale);
        }
        for version in versions {
            run!(tx.conn(), |c| bind_version(sqlx::query(INSERT_VERSION), version).execute(c).await.map(|_| ()))?;
        }
        outbox::record(&mut tx, events).await?;
        count_lineage_change_of(&mut tx, first.agent_id).await?;
        tx.commit().await?;
        Ok(AppendOutcome::Appended)
    }

    async fn version(&self, id: VersionId) -> Result<Option<Version>, StoreError> {
        let statement = format!(
            "SELECT {VERSION_COLUMNS} FROM agent_versions v JOIN users u ON u.id = v.created_by WHERE v.id = $1"
        );
        let row: Option<VersionRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn version_by_number(&self, agent: AgentId, number: i64) -> Result<Option<Version>, StoreError> {
        let statement = format!(
            "SELECT {VERSION_COLUMNS} FROM agent_versions v JOIN users u ON u.id = v.created_by
             WHERE v.agent_id = $1 AND v.number = $2"
        );
        let row: Option<VersionRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(agent.as_uuid()).bind(number).fetch_optional(e).await
        })?;
        row.map(TryInto::try_into).transpose()
    }

    async fn version_numbers(&self, ids: &[VersionId]) -> Result<Vec<(VersionId, i64)>, StoreError> {
        let mut numbers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH) {
            let reader = self.db().reader();
            let statement =
                format!("SELECT id, number FROM agent_versions WHERE id IN {}", placeholders(&reader, 1, chunk.len()));
            let rows: Vec<(uuid::Uuid, i64)> = run!(reader, |e| {
                let mut query = sqlx::query_as(&statement);
                for id in chunk {
                    query = query.bind(*id.as_uuid());
                }
                query.fetch_all(e).await
            })?;
            numbers.extend(rows.into_iter().map(|(id, number)| (VersionId::from_uuid(id), number)));
        }
        Ok(numbers)
    }

    async fn list_versions(&self, agent: AgentId, offset: i64, limit: i64) -> Result<Page<Version>, StoreError> {
        let (total,): (i64,) = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT COUNT(*) FROM agent_versions WHERE agent_id = $1")
                .bind(agent.as_uuid())
                .fetch_one(e)
                .await
        })?;
        let statement = format!(
            "SELECT {VERSION_COLUMNS} FROM agent_versions v JOIN users u ON u.id = v.created_by
             WHERE v.agent_id = $1 ORDER BY v.number DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<VersionRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(agent.as_uuid()).bind(limit).bind(offset).fetch_all(e).await
        })?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(Page::positioned(items, total, offset))
    }

    async fn lineage(&self, id: AgentId) -> Result<Vec<LineageEntry>, StoreError> {
        let rows: Vec<LineageRow> =
            run!(self.db().reader(), |e| sqlx::query_as(LINEAGE).bind(id.as_uuid()).fetch_all(e).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn lineage_mark(&self, id: AgentId) -> Result<Option<LineageMark>, StoreError> {
        let row: Option<(Option<uuid::Uuid>, i64)> =
            run!(self.db().reader(), |e| sqlx::query_as(LINEAGE_MARK).bind(id.as_uuid()).fetch_optional(e).await)?;
        Ok(row.and_then(|(lineage, changes)| lineage.map(|lineage| LineageMark { lineage, changes })))
    }

    async fn events_for(&self, account: UserId) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<EventRow> = run!(self.db().reader(), |e| {
            sqlx::query_as("SELECT id, kind, data, created_at FROM events WHERE user_id = $1 ORDER BY id")
                .bind(account.as_uuid())
                .fetch_all(e)
                .await
        })?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

/// A `LIKE` pattern (with `ESCAPE '\'`) matching lower-cased text that contains `search` lower-cased:
/// `%`, `_` and `\` in it match only themselves.
fn like_pattern(search: &str) -> String {
    let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Counts a change of the lineage `agent` belongs to, inside `tx`.
pub(crate) async fn count_lineage_change_of(tx: &mut Tx, agent: AgentId) -> Result<(), sqlx::Error> {
    run!(tx.conn(), |c| sqlx::query(COUNT_LINEAGE_CHANGE_OF).bind(*agent.as_uuid()).execute(c).await.map(|_| ()))
}

/// Writes a deployment with its event in one transaction; `split` is `None` to keep the stored split,
/// `Some(split)` to set it (`Some(None)` clears it).
async fn write_deployment<S: Portable>(
    store: &S,
    id: AgentId,
    deployment: Deployment,
    split: Option<Option<&Split>>,
    at: DateTime<Utc>,
    event: &Event,
) -> Result<(), StoreError> {
    let (set_split, split) = match split {
        Some(split) => (true, encode_split(split)),
        None => (false, None),
    };
    let mut tx = store.db().begin().await?;
    run!(tx.conn(), |c| {
        sqlx::query(UPDATE_DEPLOYMENT)
            .bind(deployment.status.as_str())
            .bind(deployment.deployed_version_id.map(|v| *v.as_uuid()))
            .bind(deployment.deployed_at)
            .bind(at)
            .bind(set_split)
            .bind(split.clone())
            .bind(id.as_uuid())
            .execute(c)
            .await
            .map(|_| ())
    })?;
    outbox::record(&mut tx, std::slice::from_ref(event)).await?;
    tx.commit().await?;
    Ok(())
}
