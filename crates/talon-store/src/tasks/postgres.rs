//! Task writes on PostgreSQL: each batch is one statement, bound as one array per column that
//! `unnest` turns back into rows, with its events written by the same statement (a data-modifying
//! `WITH`), so a batch of any size is one round trip and one commit. Claims lock with `FOR UPDATE SKIP
//! LOCKED`, so concurrent claimers on any replica skip the rows another claim holds; the `task.started`
//! and `task.failed` events of claims and lapsed leases are built from the changed rows by
//! `EVENT_DATA`, in the shape of `Task::event_data`.

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::postgres::PgPool;
use talon_domain::event::Event;
use talon_domain::task::{Lease, Task};
use talon_domain::{EventId, TaskId};
use uuid::Uuid;

use super::rows::{TASK_COLUMNS, TaskRow};
use super::sql::ClaimScope;
use super::{TaskChange, TaskInsert};
use crate::StoreError;

/// One array per column of `tasks`, in `TASK_COLUMNS` order.
const TASK_ARRAYS: &str = "$1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::int4[], \
     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int4[], $14::int4[], $15::timestamptz[], \
     $16::text[], $17::text[], $18::timestamptz[], $19::timestamptz[], $20::timestamptz[], $21::timestamptz[], \
     $22::timestamptz[]";

/// Inserts tasks, skipping those whose dedupe key a live task holds, and the events of those inserted.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH input AS (SELECT * FROM unnest({TASK_ARRAYS}) AS i({TASK_COLUMNS})),
         inserted AS (
             INSERT INTO tasks ({TASK_COLUMNS}) SELECT {TASK_COLUMNS} FROM input
             ON CONFLICT (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running')
             DO NOTHING
             RETURNING id),
         recorded AS ({})
         SELECT id FROM inserted",
        record_events_of("inserted", 23)
    )
});

/// The compare-and-swap of many tasks: each row is written if its task is still in the expected status
/// under the expected lease (an absent lease compares as '').
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::text[],
                 $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[],
                 $12::text[], $13::text[])
             AS i(id, status, output, error, attempts, lease_token, lease_expires_at, started_at, completed_at,
                  updated_at, run_at, expected_status, expected_lease)),
         changed AS (
             UPDATE tasks SET status = i.status, output = i.output, error = i.error, attempts = i.attempts,
                 lease_token = i.lease_token, lease_expires_at = i.lease_expires_at, started_at = i.started_at,
                 completed_at = i.completed_at, updated_at = i.updated_at, run_at = i.run_at
             FROM input i
             WHERE tasks.id = i.id AND tasks.status = i.expected_status
                 AND COALESCE(tasks.lease_token, '') = i.expected_lease
             RETURNING tasks.id),
         recorded AS ({})
         SELECT id FROM changed",
        record_events_of("changed", 14)
    )
});

/// Writes the events bound as arrays from `$first` (id, account, agent, kind, data, time, and the task
/// each belongs to) whose task is in `written`.
fn record_events_of(written: &str, first: usize) -> String {
    let p = |n: usize| format!("${}", first + n);
    format!(
        "INSERT INTO events (id, user_id, agent_id, kind, data, created_at)
         SELECT e.id, e.user_id, e.agent_id, e.kind, e.data, e.created_at
         FROM unnest({}::uuid[], {}::uuid[], {}::uuid[], {}::text[], {}::text[], {}::timestamptz[], {}::uuid[])
             AS e(id, user_id, agent_id, kind, data, created_at, task_id)
         JOIN {written} ON {written}.id = e.task_id",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

/// A changed task row's event `data`, as `Task::event_data` writes it.
fn event_data(row: &str) -> String {
    format!(
        "json_build_object('id', 'task_' || replace({row}.id::text, '-', ''), \
         'agentId', 'agent_' || replace({row}.agent_id::text, '-', ''), \
         'versionId', 'ver_' || replace({row}.version_id::text, '-', ''), \
         'title', {row}.title, 'status', {row}.status, 'attempts', {row}.attempts, \
         'output', {row}.output::json, 'error', {row}.error)::text"
    )
}

/// A claim: the rows `picked` chooses (and locks) go to `running` under the lease, and each gets its
/// `task.started` event with an id from the array `$events`, in the order claims hand tasks out.
fn claim_statement(picked: &str, at: &str, token: &str, expires: &str, events: &str) -> String {
    let qualified = TASK_COLUMNS.split(", ").map(|c| format!("tasks.{c}")).collect::<Vec<_>>().join(", ");
    format!(
        "WITH picked AS ({picked}),
         claimed AS (
             UPDATE tasks SET status = 'running', attempts = tasks.attempts + 1, lease_token = {token},
                 lease_expires_at = {expires}, started_at = COALESCE(tasks.started_at, {at}), updated_at = {at}
             FROM picked WHERE tasks.id = picked.id
             RETURNING {qualified}),
         numbered AS (SELECT claimed.*, row_number() OVER (ORDER BY priority DESC, id) AS n FROM claimed),
         recorded AS (
             INSERT INTO events (id, user_id, kind, data, created_at)
             SELECT ({events}::uuid[])[n], user_id, 'task.started', {}, {at} FROM numbered)
         SELECT {TASK_COLUMNS} FROM numbered ORDER BY n",
        event_data("numbered")
    )
}

/// An account's queued tasks: $1 owner, $2 now, $3 agent or null, $4 limit, $5 lease token, $6 lease
/// expiry, $7 executor, $8 event ids.
static CLAIM_TASKS: LazyLock<String> = LazyLock::new(|| {
    claim_statement(
        "SELECT id FROM tasks WHERE user_id = $1 AND status = 'queued' AND run_at <= $2
             AND ($3::uuid IS NULL OR agent_id = $3) AND executor = $7
         ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED",
        "$2",
        "$5",
        "$6",
        "$8",
    )
});

/// Every account's runtime tasks (the literal `executor = 'runtime'` lets the partial index serve it):
/// $1 now, $2 limit, $3 lease token, $4 lease expiry, $5 event ids.
static CLAIM_RUNTIME_TASKS: LazyLock<String> = LazyLock::new(|| {
    claim_statement(
        "SELECT id FROM tasks WHERE status = 'queued' AND executor = 'runtime' AND run_at <= $1
         ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        "$1",
        "$3",
        "$4",
        "$5",
    )
});

/// Lapsed leases: back to the queue, or failed (with `task.failed`) once the attempts are spent. $1 now,
/// $2 limit, $3 event ids.
static EXPIRE_LEASES: LazyLock<String> = LazyLock::new(|| {
    let qualified = TASK_COLUMNS.split(", ").map(|c| format!("tasks.{c}")).collect::<Vec<_>>().join(", ");
    format!(
        "WITH lapsed AS (
             SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED),
         changed AS (
             UPDATE tasks SET
                 status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                 error = CASE WHEN attempts >= max_attempts
                              THEN 'Lease expired on attempt ' || attempts || ' of ' || max_attempts ELSE error END,
                 completed_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE completed_at END,
                 lease_token = NULL, lease_expires_at = NULL, updated_at = $1
             FROM lapsed WHERE tasks.id = lapsed.id
             RETURNING {qualified}),
         numbered AS (SELECT changed.*, row_number() OVER (ORDER BY id) AS n FROM changed),
         recorded AS (
             INSERT INTO events (id, user_id, kind, data, created_at)
             SELECT ($3::uuid[])[n], user_id, 'task.failed', {}, $1 FROM numbered WHERE status = 'failed')
         SELECT {TASK_COLUMNS} FROM numbered",
        event_data("numbered")
    )
});

/// Inserts `items` (skipping those whose dedupe key is held) with the events of those inserted; returns
/// the ids inserted.
pub(super) async fn insert<'c>(
    executor: impl PgExecutor<'c>,
    items: &[TaskInsert<'_>],
) -> Result<HashSet<TaskId>, StoreError> {
    let tasks = TaskArrays::of(items.iter().map(|i| i.task));
    let events = EventArrays::of(items.iter().flat_map(|i| i.events.iter().map(|e| (i.task.id, e))));
    let ids: Vec<(Uuid,)> = events.bind(tasks.bind(sqlx::query_as(&INSERT))).fetch_all(executor).await?;
    Ok(ids.into_iter().map(|(id,)| TaskId::from_uuid(id)).collect())
}

/// Applies the compare-and-swaps that still hold, with their events; returns the ids changed.
pub(super) async fn update(pool: &PgPool, changes: &[TaskChange<'_>]) -> Result<HashSet<TaskId>, StoreError> {
    // Rows are locked in the order they are listed; one order for every batch keeps two from deadlocking.
    let mut sorted: Vec<&TaskChange> = changes.iter().collect();
    sorted.sort_by_key(|c| c.task.id);
    let n = sorted.len();
    let (mut id, mut status, mut output, mut error, mut attempts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut lease_token, mut lease_expires_at, mut started_at, mut completed_at) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut updated_at, mut run_at, mut expected_status, mut expected_lease) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for change in &sorted {
        let task = change.task;
        id.push(*task.id.as_uuid());
        status.push(task.status.as_str());
        output.push(task.output.as_ref().map(|o| o.to_string()));
        error.push(task.error.clone());
        attempts.push(task.attempts);
        lease_token.push(task.lease.as_ref().map(|l| l.token.clone()));
        lease_expires_at.push(task.lease.as_ref().map(|l| l.expires_at));
        started_at.push(task.started_at);
        completed_at.push(task.completed_at);
        updated_at.push(task.updated_at);
        run_at.push(task.run_at);
        expected_status.push(change.expected.as_str());
        expected_lease.push(change.expected_lease.unwrap_or(""));
    }
    let events = EventArrays::of(sorted.iter().flat_map(|c| c.events.iter().map(|e| (c.task.id, e))));
    let query = sqlx::query_as(&UPDATE)
        .bind(id)
        .bind(status)
        .bind(output)
        .bind(error)
        .bind(attempts)
        .bind(lease_token)
        .bind(lease_expires_at)
        .bind(started_at)
        .bind(completed_at)
        .bind(updated_at)
        .bind(run_at)
        .bind(expected_status)
        .bind(expected_lease);
    let ids: Vec<(Uuid,)> = events.bind(query).fetch_all(pool).await?;
    Ok(ids.into_iter().map(|(id,)| TaskId::from_uuid(id)).collect())
}

/// The claimed tasks, by priority then age (their events are written by the same statement).
pub(super) async fn claim(
    pool: &PgPool,
    scope: ClaimScope,
    limit: i64,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<Vec<Task>, StoreError> {
    let event_ids = event_ids(limit);
    let rows: Vec<TaskRow> = match scope {
        ClaimScope::Account { owner, agent, executor } => {
            sqlx::query_as(&CLAIM_TASKS)
                .bind(owner.as_uuid())
                .bind(now)
                .bind(agent.map(|a| *a.as_uuid()))
                .bind(limit)
                .bind(&lease.token)
                .bind(lease.expires_at)
                .bind(executor.as_str())
                .bind(event_ids)
                .fetch_all(pool)
                .await?
        }
        ClaimScope::Runtime => {
            sqlx::query_as(&CLAIM_RUNTIME_TASKS)
                .bind(now)
                .bind(limit)
                .bind(&lease.token)
                .bind(lease.expires_at)
                .bind(event_ids)
                .fetch_all(pool)
                .await?
        }
    };
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The tasks whose lapsed lease put them back in the queue or failed them (with their events).
pub(super) async fn expire_leases(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> Result<Vec<Task>, StoreError> {
    let rows: Vec<TaskRow> =
        sqlx::query_as(&EXPIRE_LEASES).bind(now).bind(limit).bind(event_ids(limit)).fetch_all(pool).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

pub(super) async fn tasks_by_id(pool: &PgPool, ids: &[TaskId]) -> Result<Vec<TaskRow>, StoreError> {
    let statement = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ANY($1)");
    let ids: Vec<Uuid> = ids.iter().map(|id| *id.as_uuid()).collect();
    Ok(sqlx::query_as(&statement).bind(ids).fetch_all(pool).await?)
}

/// Ids for the events of up to `limit` changed rows, in creation order.
fn event_ids(limit: i64) -> Vec<Uuid> {
    (0..limit.clamp(0, super::MAX_BATCH as i64)).map(|_| *EventId::new().as_uuid()).collect()
}

/// Tasks as one array per column, bound in `TASK_COLUMNS` order.
struct TaskArrays {
    id: Vec<Uuid>,
    user_id: Vec<Uuid>,
    agent_id: Vec<Uuid>,
    version_id: Vec<Uuid>,
    title: Vec<String>,
    description: Vec<String>,
    priority: Vec<i32>,
    status: Vec<&'static str>,
    executor: Vec<&'static str>,
    input: Vec<String>,
    output: Vec<Option<String>>,
    error: Vec<Option<String>>,
    attempts: Vec<i32>,
    max_attempts: Vec<i32>,
    run_at: Vec<DateTime<Utc>>,
    dedupe_key: Vec<Option<String>>,
    lease_token: Vec<Option<String>>,
    lease_expires_at: Vec<Option<DateTime<Utc>>>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    started_at: Vec<Option<DateTime<Utc>>>,
    completed_at: Vec<Option<DateTime<Utc>>>,
}

impl TaskArrays {
    fn of<'a>(tasks: impl Iterator<Item = &'a Task>) -> Self {
        let mut a = TaskArrays {
            id: Vec::new(),
            user_id: Vec::new(),
            agent_id: Vec::new(),
            version_id: Vec::new(),
            title: Vec::new(),
            description: Vec::new(),
            priority: Vec::new(),
            status: Vec::new(),
            executor: Vec::new(),
            input: Vec::new(),
            output: Vec::new(),
            error: Vec::new(),
            attempts: Vec::new(),
            max_attempts: Vec::new(),
            run_at: Vec::new(),
            dedupe_key: Vec::new(),
            lease_token: Vec::new(),
            lease_expires_at: Vec::new(),
            created_at: Vec::new(),
            updated_at: Vec::new(),
            started_at: Vec::new(),
            completed_at: Vec::new(),
        };
        for t in tasks {
            a.id.push(*t.id.as_uuid());
            a.user_id.push(*t.owner.as_uuid());
            a.agent_id.push(*t.agent_id.as_uuid());
            a.version_id.push(*t.version_id.as_uuid());
            a.title.push(t.title.clone());
            a.description.push(t.description.clone());
            a.priority.push(t.priority.rank());
            a.status.push(t.status.as_str());
            a.executor.push(t.executor.as_str());
            a.input.push(t.input.to_string());
            a.output.push(t.output.as_ref().map(|o| o.to_string()));
            a.error.push(t.error.clone());
            a.attempts.push(t.attempts);
            a.max_attempts.push(t.max_attempts);
            a.run_at.push(t.run_at);
            a.dedupe_key.push(t.dedupe_key.clone());
            a.lease_token.push(t.lease.as_ref().map(|l| l.token.clone()));
            a.lease_expires_at.push(t.lease.as_ref().map(|l| l.expires_at));
            a.created_at.push(t.created_at);
            a.updated_at.push(t.updated_at);
            a.started_at.push(t.started_at);
            a.completed_at.push(t.completed_at);
        }
        a
    }

    fn bind<'q, O>(
        self,
        query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(self.id)
            .bind(self.user_id)
            .bind(self.agent_id)
            .bind(self.version_id)
            .bind(self.title)
            .bind(self.description)
            .bind(self.priority)
            .bind(self.status)
            .bind(self.executor)
            .bind(self.input)
            .bind(self.output)
            .bind(self.error)
            .bind(self.attempts)
            .bind(self.max_attempts)
            .bind(self.run_at)
            .bind(self.dedupe_key)
            .bind(self.lease_token)
            .bind(self.lease_expires_at)
            .bind(self.created_at)
            .bind(self.updated_at)
            .bind(self.started_at)
            .bind(self.completed_at)
    }
}

/// Events as one array per column, each with the task it belongs to.
struct EventArrays {
    id: Vec<Uuid>,
    user_id: Vec<Uuid>,
    agent_id: Vec<Option<Uuid>>,
    kind: Vec<&'static str>,
    data: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
    task_id: Vec<Uuid>,
}

impl EventArrays {
    fn of<'a>(events: impl Iterator<Item = (TaskId, &'a Event)>) -> Self {
        let mut a = EventArrays {
            id: Vec::new(),
            user_id: Vec::new(),
            agent_id: Vec::new(),
            kind: Vec::new(),
            data: Vec::new(),
            created_at: Vec::new(),
            task_id: Vec::new(),
        };
        for (task, e) in events {
            a.id.push(*e.id.as_uuid());
            a.user_id.push(*e.account.as_uuid());
            a.agent_id.push(e.agent.map(|agent| *agent.as_uuid()));
            a.kind.push(e.kind);
            a.data.push(e.data.to_string());
            a.created_at.push(e.created_at);
            a.task_id.push(*task.as_uuid());
        }
        a
    }

    fn bind<'q, O>(
        self,
        query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(self.id)
            .bind(self.user_id)
            .bind(self.agent_id)
            .bind(self.kind)
            .bind(self.data)
            .bind(self.created_at)
            .bind(self.task_id)
    }
}
