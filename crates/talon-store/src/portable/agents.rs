//! The AgentStore implementation both databases share: the statements are the same text for SQLite
//! and PostgreSQL (`$N` placeholders), so it is written once and instantiated per store by a macro.

/// Implements `AgentStore` for `$store`, writing through `self.$write` and reading through `self.$read`.
macro_rules! impl_agent_store {
    ($store:ty, write = $write:ident, read = $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use talon_domain::agent::lineage::LineageEntry;
            use talon_domain::agent::{Agent, Version};
            use talon_domain::event::Event;
            use talon_domain::{AgentId, UserId, VersionId};
            use $crate::bind::{bind_agent, bind_event, bind_version};
            use $crate::rows::{
                AGENT_COLUMNS, AGENT_WITH_VERSION, AgentHeadRow, ON_CURRENT_VERSION, ON_SERVED_VERSION, AgentRow, EventRow, LineageRow, VERSION_COLUMNS, VersionRow,
            };
            use $crate::sql;
            use $crate::{AgentFilter, AgentLookup, AgentStore, AppendOutcome, DeleteOutcome, Deployment, Page, StoreError, StoredEvent};

            #[async_trait]
            impl AgentStore for $store {
                async fn insert_agent(&self, agent: &Agent, first: &Version, events: &[Event]) -> Result<(), StoreError> {
                    let mut tx = self.$write.begin().await?;
                    bind_agent!(sqlx::query(sql::INSERT_AGENT), agent)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StoreError::unique(e, "slug"))?;
                    bind_version!(sqlx::query(sql::INSERT_VERSION), first).execute(&mut *tx).await?;
                    if let Some(parent) = agent.fork_origin.as_ref().and_then(|o| o.parent_agent_id) {
                        sqlx::query(sql::COUNT_FORK).bind(*parent.as_uuid()).execute(&mut *tx).await?;
                    }
                    for event in events {
                        bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn agent(&self, id: AgentId) -> Result<Option<Agent>, StoreError> {
                    let row: Option<AgentRow> = sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.$read)
                        .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn agent_head(&self, id: AgentId) -> Result<Option<(Agent, Version)>, StoreError> {
                    let row: Option<AgentHeadRow> =
                        sqlx::query_as(&format!("{AGENT_WITH_VERSION}{ON_CURRENT_VERSION} WHERE a.id = $1"))
                            .bind(id.as_uuid())
                            .fetch_optional(&self.$read)
                            .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn agent_serving(&self, agent: AgentLookup<'_>) -> Result<Option<(Agent, Version)>, StoreError> {
                    let select = format!("{AGENT_WITH_VERSION}{ON_SERVED_VERSION} WHERE ");
                    let row: Option<AgentHeadRow> = match agent {
                        AgentLookup::Id(id) => {
                            sqlx::query_as(&format!("{select}a.id = $1")).bind(*id.as_uuid()).fetch_optional(&self.$read).await?
                        }
                        AgentLookup::Slug { owner, slug } => {
                            sqlx::query_as(&format!("{select}a.user_id = $1 AND a.slug = $2"))
                                .bind(*owner.as_uuid())
                                .bind(slug)
                                .fetch_optional(&self.$read)
                                .await?
                        }
                    };
                    row.map(TryInto::try_into).transpose()
                }

                async fn agent_by_slug(&self, owner: UserId, slug: &str) -> Result<Option<Agent>, StoreError> {
                    let row: Option<AgentRow> =
                        sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents a WHERE a.user_id = $1 AND a.slug = $2"))
                            .bind(owner.as_uuid())
                            .bind(slug)
                            .fetch_optional(&self.$read)
                            .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn taken_slugs(&self, owner: UserId, base: &str) -> Result<Vec<String>, StoreError> {
                    let slugs: Vec<(String,)> =
                        sqlx::query_as("SELECT slug FROM agents WHERE user_id = $1 AND (slug = $2 OR slug LIKE $3)")
                            .bind(owner.as_uuid())
                            .bind(base)
                            .bind(talon_domain::agent::numbered_slug_pattern(base))
                            .fetch_all(&self.$read)
                            .await?;
                    Ok(slugs.into_iter().map(|(slug,)| slug).collect())
                }

                async fn list_agents(
                    &self,
                    owner: UserId,
                    filter: AgentFilter,
                    offset: i64,
                    limit: i64,
                ) -> Result<Page<Agent>, StoreError> {
                    let condition = "a.user_id = $1 AND ($2 = FALSE OR a.status <> 'idle') AND ($3 IS NULL OR a.id = $3)";
                    let only = filter.only.map(|a| *a.as_uuid());
                    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM agents a WHERE {condition}"))
                        .bind(owner.as_uuid())
                        .bind(filter.deployed_only)
                        .bind(only)
                        .fetch_one(&self.$read)
                        .await?;
                    let rows: Vec<AgentRow> = sqlx::query_as(&format!(
                        "SELECT {AGENT_COLUMNS} FROM agents a WHERE {condition} ORDER BY a.id LIMIT $4 OFFSET $5"
                    ))
                    .bind(owner.as_uuid())
                    .bind(filter.deployed_only)
                    .bind(only)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.$read)
                    .await?;
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
                    Ok(Page { items, total })
                }

                async fn update_agent_profile(&self, agent: &Agent, event: &Event) -> Result<(), StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let metadata = &agent.metadata;
                    sqlx::query(sql::UPDATE_PROFILE)
                        .bind(&metadata.name)
                        .bind(&metadata.description)
                        .bind(serde_json::to_string(&metadata.capabilities).unwrap_or_else(|_| "[]".to_owned()))
                        .bind(agent.public)
                        .bind(agent.api_access)
                        .bind(agent.updated_at)
                        .bind(agent.id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
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
                    let mut tx = self.$write.begin().await?;
                    sqlx::query(sql::UPDATE_DEPLOYMENT)
                        .bind(deployment.status.as_str())
                        .bind(deployment.deployed_version_id.map(|v| *v.as_uuid()))
                        .bind(deployment.deployed_at)
                        .bind(at)
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn delete_agent(&self, id: AgentId, force: bool, event: &Event) -> Result<DeleteOutcome, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let forks: Option<(i64,)> = sqlx::query_as(sql::FORK_COUNT).bind(id.as_uuid()).fetch_optional(&mut *tx).await?;
                    let Some((forks,)) = forks else {
                        return Ok(DeleteOutcome::NotFound);
                    };
                    if forks > 0 && !force {
                        return Ok(DeleteOutcome::HasForks(forks));
                    }
                    let (running,): (i64,) =
                        sqlx::query_as(sql::RUNNING_TASKS_OF_AGENT).bind(id.as_uuid()).fetch_one(&mut *tx).await?;
                    if running > 0 && !force {
                        return Ok(DeleteOutcome::HasRunningTasks(running));
                    }
                    sqlx::query(sql::UNCOUNT_FORK).bind(id.as_uuid()).execute(&mut *tx).await?;
                    sqlx::query(sql::DELETE_AGENT).bind(id.as_uuid()).execute(&mut *tx).await?;
                    bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(DeleteOutcome::Deleted)
                }

                async fn append_version(&self, version: &Version, events: &[Event]) -> Result<AppendOutcome, StoreError> {
                    let Some(parent) = version.parent_version_id else {
                        return Ok(AppendOutcome::Stale);
                    };
                    let mut tx = self.$write.begin().await?;
                    let advanced = sqlx::query(sql::ADVANCE_CURRENT_VERSION)
                        .bind(version.id.as_uuid())
                        .bind(version.created_at)
                        .bind(version.agent_id.as_uuid())
                        .bind(parent.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    if advanced.rows_affected() != 1 {
                        return Ok(AppendOutcome::Stale);
                    }
                    bind_version!(sqlx::query(sql::INSERT_VERSION), version).execute(&mut *tx).await?;
                    for event in events {
                        bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(AppendOutcome::Appended)
                }

                async fn version(&self, id: VersionId) -> Result<Option<Version>, StoreError> {
                    let row: Option<VersionRow> = sqlx::query_as(&format!(
                        "SELECT {VERSION_COLUMNS} FROM agent_versions v JOIN users u ON u.id = v.created_by WHERE v.id = $1"
                    ))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.$read)
                    .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn version_by_number(&self, agent: AgentId, number: i64) -> Result<Option<Version>, StoreError> {
                    let row: Option<VersionRow> = sqlx::query_as(&format!(
                        "SELECT {VERSION_COLUMNS} FROM agent_versions v JOIN users u ON u.id = v.created_by
                         WHERE v.agent_id = $1 AND v.number = $2"
                    ))
                    .bind(agent.as_uuid())
                    .bind(number)
                    .fetch_optional(&self.$read)
                    .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn list_versions(&self, agent: AgentId, offset: i64, limit: i64) -> Result<Page<Version>, StoreError> {
                    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM agent_versions WHERE agent_id = $1")
                        .bind(agent.as_uuid())
                        .fetch_one(&self.$read)
                        .await?;
                    let rows: Vec<VersionRow> = sqlx::query_as(&format!(
                        "SELECT {VERSION_COLUMNS} FROM agent_versions v JOIN users u ON u.id = v.created_by
                         WHERE v.agent_id = $1 ORDER BY v.number DESC LIMIT $2 OFFSET $3"
                    ))
                    .bind(agent.as_uuid())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.$read)
                    .await?;
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
                    Ok(Page { items, total })
                }

                async fn lineage(&self, id: AgentId) -> Result<Vec<LineageEntry>, StoreError> {
                    let rows: Vec<LineageRow> = sqlx::query_as(sql::LINEAGE).bind(id.as_uuid()).fetch_all(&self.$read).await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }

                async fn events_for(&self, account: UserId) -> Result<Vec<StoredEvent>, StoreError> {
                    let rows: Vec<EventRow> =
                        sqlx::query_as("SELECT id, kind, data, created_at FROM events WHERE user_id = $1 ORDER BY id")
                            .bind(account.as_uuid())
                            .fetch_all(&self.$read)
                            .await?;
                    rows.into_iter().map(TryInto::try_into).collect()
                }
            }
        };
    };
}

pub(crate) use impl_agent_store;
