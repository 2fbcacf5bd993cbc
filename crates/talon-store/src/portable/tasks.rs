//! The TaskStore implementation both databases share: the statements are the same text for SQLite
//! and PostgreSQL (`$N` placeholders), so it is written once and instantiated per store by a macro.

/// Implements `TaskStore` for `$store`, writing through `self.$write` and reading through `self.$read`.
macro_rules! impl_task_store {
    ($store:ty, write = $write:ident, read = $read:ident, dialect = $dialect:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use talon_domain::event::Event;
            use talon_domain::task::{Executor, Lease, Task, TaskStatus};
            use talon_domain::{AgentId, TaskId, UserId};
            use $crate::bind::{bind_event, bind_task, bind_task_update};
            use $crate::rows::{ListedTaskRow, TASK_COLUMNS, TaskRow, claimed_in_order};
            use $crate::{InsertOutcome, ListedTask, Page, StoreError, TaskFilter, TaskStore, sql};

            /// How often an insert is tried again when its dedupe key's holder finished mid-way.
            const DEDUPE_INSERT_ATTEMPTS: usize = 8;

            #[async_trait]
            impl TaskStore for $store {
                async fn insert_task(&self, task: &Task, events: &[Event]) -> Result<InsertOutcome, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    // The key's holder may finish between the insert's conflict and the read of the holder
                    // (each statement sees the latest commits on PostgreSQL); the key is then free, so the
                    // insert is tried again, a bounded number of times.
                    let mut attempts = 0;
                    loop {
                        let inserted = bind_task!(sqlx::query(sql::INSERT_TASK), task).execute(&mut *tx).await?;
                        if inserted.rows_affected() == 1 {
                            break;
                        }
                        let existing: Option<TaskRow> = sqlx::query_as(sql::TASK_HOLDING_DEDUPE_KEY)
                            .bind(task.owner.as_uuid())
                            .bind(&task.dedupe_key)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some(existing) = existing {
                            return Ok(InsertOutcome::Existing(Box::new(existing.try_into()?)));
                        }
                        attempts += 1;
                        if attempts >= DEDUPE_INSERT_ATTEMPTS {
                            return Err(StoreError::Conflict("task dedupe key (its task kept changing)"));
                        }
                    }
                    for event in events {
                        bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(InsertOutcome::Created)
                }

                async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
                    let row: Option<TaskRow> = sqlx::query_as(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.$read)
                        .await?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn list_tasks(
                    &self,
                    owner: UserId,
                    filter: TaskFilter,
                    offset: i64,
                    limit: i64,
                ) -> Result<Page<ListedTask>, StoreError> {
                    let condition = "t.user_id = $1 AND ($2 IS NULL OR t.status = $2) AND ($3 IS NULL OR t.agent_id = $3) \
                                     AND ($4 IS NULL OR t.priority = $4)";
                    let status = filter.status.map(|s| s.as_str());
                    let agent = filter.agent.map(|a| *a.as_uuid());
                    let priority = filter.priority.map(|p| p.rank());
                    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM tasks t WHERE {condition}"))
                        .bind(owner.as_uuid())
                        .bind(status)
                        .bind(agent)
                        .bind(priority)
                        .fetch_one(&self.$read)
                        .await?;
                    let columns = TASK_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ");
                    let rows: Vec<ListedTaskRow> = sqlx::query_as(&format!(
                        "SELECT {columns}, a.name AS agent_name FROM tasks t JOIN agents a ON a.id = t.agent_id
                         WHERE {condition} ORDER BY t.id DESC LIMIT $5 OFFSET $6"
                    ))
                    .bind(owner.as_uuid())
                    .bind(status)
                    .bind(agent)
                    .bind(priority)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.$read)
                    .await?;
                    let items = rows
                        .into_iter()
                        .map(|r| Ok(ListedTask { agent_name: r.agent_name, task: r.task.try_into()? }))
                        .collect::<Result<_, StoreError>>()?;
                    Ok(Page { items, total })
                }

                async fn claim_tasks(
                    &self,
                    owner: UserId,
                    agent: Option<AgentId>,
                    executor: Executor,
                    limit: i64,
                    lease: &Lease,
                    now: DateTime<Utc>,
                ) -> Result<Vec<Task>, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let rows: Vec<TaskRow> = sqlx::query_as(&format!("{} RETURNING {}", $dialect::CLAIM_TASKS, $dialect::task_returning()))
                        .bind(owner.as_uuid())
                        .bind(now)
                        .bind(agent.map(|a| *a.as_uuid()))
                        .bind(limit)
                        .bind(&lease.token)
                        .bind(lease.expires_at)
                        .bind(executor.as_str())
                        .fetch_all(&mut *tx)
                        .await?;
                    let tasks = claimed_in_order(rows)?;
                    for task in &tasks {
                        let event = Event::new(task.owner, talon_domain::event::TASK_STARTED, task.event_data());
                        bind_event!(sqlx::query(sql::INSERT_EVENT), &event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(tasks)
                }

                async fn claim_runtime_tasks(
                    &self,
                    limit: i64,
                    lease: &Lease,
                    now: DateTime<Utc>,
                ) -> Result<Vec<Task>, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let rows: Vec<TaskRow> =
                        sqlx::query_as(&format!("{} RETURNING {}", $dialect::CLAIM_RUNTIME_TASKS, $dialect::task_returning()))
                            .bind(now)
                            .bind(limit)
                            .bind(&lease.token)
                            .bind(lease.expires_at)
                            .fetch_all(&mut *tx)
                            .await?;
                    let tasks = claimed_in_order(rows)?;
                    for task in &tasks {
                        let event = Event::new(task.owner, talon_domain::event::TASK_STARTED, task.event_data());
                        bind_event!(sqlx::query(sql::INSERT_EVENT), &event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(tasks)
                }

                async fn update_task(
                    &self,
                    task: &Task,
                    expected: TaskStatus,
                    expected_lease: Option<&str>,
                    events: &[Event],
                ) -> Result<bool, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let done =
                        bind_task_update!(sqlx::query(sql::UPDATE_TASK), task, expected, expected_lease).execute(&mut *tx).await?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    for event in events {
                        bind_event!(sqlx::query(sql::INSERT_EVENT), event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }

                async fn expire_leases(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError> {
                    let mut tx = self.$write.begin().await?;
                    let rows: Vec<TaskRow> = sqlx::query_as(&format!("{} RETURNING {}", $dialect::EXPIRE_LEASES, $dialect::task_returning()))
                        .bind(now)
                        .bind(limit)
                        .fetch_all(&mut *tx)
                        .await?;
                    let tasks = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Task>, _>>()?;
                    for task in tasks.iter().filter(|t| t.status == TaskStatus::Failed) {
                        let event = Event::new(task.owner, talon_domain::event::TASK_FAILED, task.event_data());
                        bind_event!(sqlx::query(sql::INSERT_EVENT), &event).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(tasks)
                }
            }
        };
    };
}

pub(crate) use impl_task_store;
