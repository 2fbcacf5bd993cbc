//! `TaskStore` for every store: the reads, which both databases run alike, and the order of each write
//! (dedupe within a batch, the retry when a dedupe key's holder finishes mid-way), whose statements come
//! from `postgres` or `sqlite`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::task::{Executor, Lease, Task};
use talon_domain::{AgentId, TaskId, UserId};
use uuid::Uuid;

use super::rows::{ListedTaskRow, TASK_COLUMNS, TaskRow};
use super::{MAX_BATCH, TaskChange, TaskInsert, postgres, sqlite};
use crate::db::{Db, On, Portable, outbox, run};
use crate::page::{Order, Page, Window};
use crate::{InsertOutcome, ListedTask, StoreError, TaskFilter, TaskStore};

const TASK_HOLDING_DEDUPE_KEY: &str = "SELECT id, user_id, agent_id, version_id, title, description, \
     priority, status, executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, \
     lease_expires_at, created_at, updated_at, started_at, completed_at FROM tasks \
     WHERE user_id = $1 AND dedupe_key = $2 AND status IN ('queued', 'running')";

/// How often an insert is tried again when its dedupe key's holder finished mid-way.
const DEDUPE_INSERT_ATTEMPTS: usize = 8;

/// Which queued tasks a claim takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum ClaimScope {
    /// An external worker's claim: the account's tasks of this executor, optionally of one agent.
    Account { owner: UserId, agent: Option<AgentId>, executor: Executor },
    /// Talon's runtime: runtime tasks of every account.
    Runtime,
}

#[async_trait]
impl<S: Portable> TaskStore for S {
    async fn insert_tasks(&self, items: &[TaskInsert<'_>]) -> Result<Vec<InsertOutcome>, StoreError> {
        check_batch(items.len())?;
        let plan = DedupePlan::of(items);
        let mut outcomes: Vec<Option<InsertOutcome>> = vec![None; items.len()];
        let keyed = plan.leaders.iter().any(|&i| items[i].task.dedupe_key.is_some());
        match self.db() {
            // Without dedupe keys nothing can conflict: one statement, atomic on its own.
            Db::Postgres(pool) if !keyed => {
                let batch: Vec<TaskInsert> = plan.leaders.iter().map(|&i| items[i]).collect();
                let inserted = postgres::insert(pool, &batch).await?;
                if inserted.len() != batch.len() {
                    return Err(StoreError::Corrupt("a task without a dedupe key was not inserted".into()));
                }
                plan.leaders.iter().for_each(|&i| outcomes[i] = Some(InsertOutcome::Created));
            }
            db => {
                let mut tx = db.begin().await?;
                // A key's holder may finish between the insert's conflict and the read of the holder
                // (each statement sees the latest commits on PostgreSQL); the key is then free, so
                // the insert is tried again, a bounded number of times.
                let mut pending = plan.leaders.clone();
                for attempt in 0.. {
                    let batch: Vec<TaskInsert> = pending.iter().map(|&i| items[i]).collect();
                    let inserted = match tx.conn() {
                        On::Postgres(c) => postgres::insert(&mut *c, &batch).await?,
                        On::Sqlite(c) => sqlite::insert(c, &batch).await?,
                    };
                    let mut conflicted = Vec::new();
                    for i in pending {
                        if inserted.contains(&items[i].task.id) {
                            outcomes[i] = Some(InsertOutcome::Created);
                        } else {
                            conflicted.push(i);
                        }
                    }
                    pending = Vec::new();
                    for i in conflicted {
                        let task = items[i].task;
                        let holder: Option<TaskRow> = run!(tx.conn(), |c| {
                            sqlx::query_as(TASK_HOLDING_DEDUPE_KEY)
                                .bind(task.owner.as_uuid())
                                .bind(&task.dedupe_key)
                                .fetch_optional(c)
                                .await
                        })?;
                        match holder {
                            Some(row) => outcomes[i] = Some(InsertOutcome::Existing(Box::new(row.try_into()?))),
                            None => pending.push(i),
                        }
                    }
                    if pending.is_empty() {
                        break;
                    }
                    if attempt + 1 >= DEDUPE_INSERT_ATTEMPTS {
                        return Err(StoreError::Conflict("task dedupe key (its task kept changing)"));
                    }
                }
                tx.commit().await?;
            }
        }
        for (follower, leader) in &plan.followers {
            let outcome = match &outcomes[*leader] {
                Some(InsertOutcome::Created) => InsertOutcome::Existing(Box::new(items[*leader].task.clone())),
                Some(existing) => existing.clone(),
                None => return Err(StoreError::Corrupt("a dedupe key's first task has no outcome".into())),
            };
            outcomes[*follower] = Some(outcome);
        }
        outcomes.into_iter().map(|o| o.ok_or_else(|| StoreError::Corrupt("a task has no outcome".into()))).collect()
    }

    async fn task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        let statement = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
        let row: Option<TaskRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn tasks_by_id(&self, ids: &[TaskId]) -> Result<Vec<Task>, StoreError> {
        check_batch(ids.len())?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = match self.db().reader() {
            On::Postgres(pool) => postgres::tasks_by_id(pool, ids).await?,
            On::Sqlite(pool) => sqlite::tasks_by_id(pool, ids).await?,
        };
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn list_tasks(
        &self,
        owner: UserId,
        filter: TaskFilter,
        window: Window,
    ) -> Result<Page<ListedTask>, StoreError> {
        let agent = filter.agent.map(|a| *a.as_uuid());
        let status = filter.status.map(|s| s.as_str());
        let priority = filter.priority.map(|p| p.rank());
        // The counters keep one row per agent and one, under the nil agent, for the whole account; the
        // page has only the filters given as conditions, so that each combination is its own statement
        // with a plan on the index made for it (`tasks_by_*`).
        let (count, select, reversed) = list_statements(&filter, &window);
        let (total,): (i64,) = run!(self.db().reader(), |e| {
            let mut query = sqlx::query_as(&count).bind(owner.as_uuid()).bind(agent.unwrap_or(Uuid::nil()));
            if let Some(status) = status {
                query = query.bind(status);
            }
            if let Some(priority) = priority {
                query = query.bind(priority);
            }
            query.fetch_one(e).await
        })?;
        let rows: Vec<ListedTaskRow> = run!(self.db().reader(), |e| {
            let mut query = sqlx::query_as(&select).bind(owner.as_uuid());
            if let Some(agent) = agent {
                query = query.bind(agent);
            }
            if let Some(status) = status {
                query = query.bind(status);
            }
            if let Some(priority) = priority {
                query = query.bind(priority);
            }
            window.bind(query).fetch_all(e).await
        })?;
        let items = rows
            .into_iter()
            .map(|r| Ok(ListedTask { agent_name: r.agent_name, task: r.task.try_into()? }))
            .collect::<Result<_, StoreError>>()?;
        Ok(window.page(items, total, reversed))
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
        claim(self.db(), ClaimScope::Account { owner, agent, executor }, limit, lease, now).await
    }

    async fn claim_runtime_tasks(
        &self,
        limit: i64,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Vec<Task>, StoreError> {
        claim(self.db(), ClaimScope::Runtime, limit, lease, now).await
    }

    async fn update_tasks(&self, changes: &[TaskChange<'_>]) -> Result<Vec<bool>, StoreError> {
        check_batch(changes.len())?;
        let mut seen = HashSet::with_capacity(changes.len());
        if !changes.iter().all(|c| seen.insert(c.task.id)) {
            return Err(StoreError::Corrupt("a batch of task changes names one task twice".into()));
        }
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let changed = match self.db() {
            Db::Postgres(pool) => postgres::update(pool, changes).await?,
            Db::Sqlite { .. } => {
                let mut tx = self.db().begin().await?;
                let On::Sqlite(c) = tx.conn() else { unreachable!("a SQLite store's transaction") };
                let changed = sqlite::update(c, changes).await?;
                let events: Vec<_> = changes
                    .iter()
                    .filter(|c| changed.contains(&c.task.id))
                    .flat_map(|c| c.events.iter())
                    .cloned()
                    .collect();
                outbox::record(&mut tx, &events).await?;
                tx.commit().await?;
                changed
            }
        };
        Ok(changes.iter().map(|c| changed.contains(&c.task.id)).collect())
    }

    async fn expire_leases(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError> {
        match self.db() {
            Db::Postgres(pool) => postgres::expire_leases(pool, now, limit).await,
            Db::Sqlite { .. } => {
                let mut tx = self.db().begin().await?;
                let On::Sqlite(c) = tx.conn() else { unreachable!("a SQLite store's transaction") };
                let (tasks, events) = sqlite::expire_leases(c, now, limit).await?;
                outbox::record(&mut tx, &events).await?;
                tx.commit().await?;
                Ok(tasks)
            }
        }
    }
}

fn check_batch(len: usize) -> Result<(), StoreError> {
    if len > MAX_BATCH {
        return Err(StoreError::BatchTooLarge { len, max: MAX_BATCH });
    }
    Ok(())
}

/// Claims through the database's own statement; the claimed tasks come back by priority, then age.
async fn claim(
    db: &Db,
    scope: ClaimScope,
    limit: i64,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<Vec<Task>, StoreError> {
    let limit = limit.min(MAX_BATCH as i64);
    match db {
        Db::Postgres(pool) => postgres::claim(pool, scope, limit, lease, now).await,
        Db::Sqlite { .. } => {
            let mut tx = db.begin().await?;
            let On::Sqlite(c) = tx.conn() else { unreachable!("a SQLite store's transaction") };
            let (tasks, events) = sqlite::claim(c, scope, limit, lease, now).await?;
            outbox::record(&mut tx, &events).await?;
            tx.commit().await?;
            Ok(tasks)
        }
    }
}

/// Which tasks of a batch are inserted and which take an earlier task's outcome: the first task with
/// a given (account, dedupe key) leads; later ones with the same follow it.
struct DedupePlan {
    leaders: Vec<usize>,
    followers: Vec<(usize, usize)>,
}

impl DedupePlan {
    fn of(items: &[TaskInsert<'_>]) -> Self {
        let mut first: HashMap<(UserId, &str), usize> = HashMap::new();
        let (mut leaders, mut followers) = (Vec::with_capacity(items.len()), Vec::new());
        for (i, item) in items.iter().enumerate() {
            match item.task.dedupe_key.as_deref() {
                Some(key) => match first.get(&(item.task.owner, key)) {
                    Some(&leader) => followers.push((i, leader)),
                    None => {
                        first.insert((item.task.owner, key), i);
                        leaders.push(i);
                    }
                },
                None => leaders.push(i),
            }
        }
        // Keyed inserts wait on a concurrent insert of the same key; taking keys in one order keeps two
        // batches from waiting on each other.
        leaders.sort_by(|&a, &b| {
            let key = |i: usize| (items[i].task.dedupe_key.is_none(), items[i].task.owner, &items[i].task.dedupe_key);
            key(a).cmp(&key(b)).then(a.cmp(&b))
        });
        Self { leaders, followers }
    }
}

/// The statements of a task list: the total from the counters (bound: owner, agent or nil, then the
/// status and priority given) and the window (bound: owner, then the agent, status and priority given,
/// then the window's own), and whether the window's rows come back reversed.
fn list_statements(filter: &TaskFilter, window: &Window) -> (String, String, bool) {
    let mut counted = vec!["user_id = $1", "agent_id = $2"].into_iter().map(String::from).collect::<Vec<_>>();
    let mut conditions = vec!["t.user_id = $1".to_owned()];
    if filter.agent.is_some() {
        conditions.push(format!("t.agent_id = ${}", conditions.len() + 1));
    }
    if filter.status.is_some() {
        counted.push(format!("status = ${}", counted.len() + 1));
        conditions.push(format!("t.status = ${}", conditions.len() + 1));
    }
    if filter.priority.is_some() {
        counted.push(format!("priority = ${}", counted.len() + 1));
        conditions.push(format!("t.priority = ${}", conditions.len() + 1));
    }
    let sql = window.sql("t.id", Order::Descending, conditions.len() + 1);
    conditions.extend(sql.condition);
    let columns = TASK_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ");
    let count = format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM task_counts WHERE {}", counted.join(" AND "));
    let select = format!(
        "SELECT {columns}, a.name AS agent_name FROM tasks t JOIN agents a ON a.id = t.agent_id WHERE {} {}",
        conditions.join(" AND "),
        sql.tail
    );
    (count, select, sql.reversed)
}
