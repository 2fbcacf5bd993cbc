//! `UsageStore` for every store, in SQL both databases run: every sum and average is cast so both
//! databases return the same types. Records are written with their minute, hourly and daily rollups in
//! one transaction; a summary reads the rollups, and the records only where its range cuts a minute.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::AgentId;
use talon_domain::usage::{Period, ReadPlan, UsageRange, UsageRecord, UsageRollup, VersionUsage, roll_up};
use uuid::Uuid;

use super::UsageBucket;
use super::rows::{UsageBucketRow, VersionUsageRow};
use crate::db::{Portable, Tx, placeholders, run};
use crate::{StoreError, UsageStore};

const USAGE_COLUMNS: &str = "id, user_id, agent_id, version_id, key_id, source, model, fell_back, \
     prompt_tokens, completion_tokens, latency_us, first_token_us, outcome, created_at";
const USAGE_COLUMN_COUNT: usize = 14;
/// Records per multi-row insert: 14 columns each, well under SQLite's 32,766 bound variables and
/// PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 256;

const ROLLUP_COLUMNS: &str = "agent_id, period_start, version_id, key_id, outcome, user_id, requests, fallbacks, \
     prompt_tokens, completion_tokens, latency_sum_us, latency_max_us, first_tokens, first_token_sum_us";
const ROLLUP_COLUMN_COUNT: usize = 14;

/// Adds a rollup row's sums to the stored row's (the larger maximum wins).
const ADD_ROLLUP: &str = "ON CONFLICT (agent_id, period_start, version_id, key_id, outcome) DO UPDATE SET
     requests = r.requests + excluded.requests, fallbacks = r.fallbacks + excluded.fallbacks,
     prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
     completion_tokens = r.completion_tokens + excluded.completion_tokens,
     latency_sum_us = r.latency_sum_us + excluded.latency_sum_us,
     latency_max_us = CASE WHEN excluded.latency_max_us > r.latency_max_us
                           THEN excluded.latency_max_us ELSE r.latency_max_us END,
     first_tokens = r.first_tokens + excluded.first_tokens,
     first_token_sum_us = r.first_token_sum_us + excluded.first_token_sum_us";

/// One source's figures in the shape every source of a summary is summed in.
const RECORD_FIGURES: &str = "version_id, 1 AS requests,
     CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END AS succeeded,
     CASE WHEN outcome IN ('upstream_error', 'timeout') THEN 1 ELSE 0 END AS failed,
     CASE WHEN outcome = 'client_closed' THEN 1 ELSE 0 END AS client_closed,
     CASE WHEN fell_back THEN 1 ELSE 0 END AS fallbacks, prompt_tokens, completion_tokens,
     latency_us AS latency_sum_us, latency_us AS latency_max_us,
     CASE WHEN first_token_us IS NULL THEN 0 ELSE 1 END AS first_tokens,
     COALESCE(first_token_us, 0) AS first_token_sum_us";
const ROLLUP_FIGURES: &str = "version_id, requests,
     CASE WHEN outcome = 'ok' THEN requests ELSE 0 END AS succeeded,
     CASE WHEN outcome IN ('upstream_error', 'timeout') THEN requests ELSE 0 END AS failed,
     CASE WHEN outcome = 'client_closed' THEN requests ELSE 0 END AS client_closed,
     fallbacks, prompt_tokens, completion_tokens, latency_sum_us, latency_max_us, first_tokens,
     first_token_sum_us";

#[async_trait]
impl<S: Portable> UsageStore for S {
    async fn insert_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        for chunk in records.chunks(ROWS_PER_INSERT) {
            insert_records(&mut tx, chunk).await?;
        }
        for period in Period::ALL {
            let table = rollup_table(period);
            for chunk in roll_up(records, period).chunks(ROWS_PER_INSERT) {
                add_rollups(&mut tx, table, chunk).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn usage_by_version(
        &self,
        agent: AgentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VersionUsage>, StoreError> {
        let plan = UsageRange { from, to }.read_plan();
        if plan == ReadPlan::default() {
            return Ok(Vec::new());
        }
        let statement = summary_statement(&plan);
        let rows: Vec<VersionUsageRow> = run!(self.db().reader(), |e| {
            let mut query = sqlx::query_as(&statement).bind(*agent.as_uuid());
            for span in plan.records.iter().chain(&plan.minutes).chain(&plan.hours).chain(&plan.days) {
                query = query.bind(span.from).bind(span.to);
            }
            query.fetch_all(e).await
        })?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn usage_series(
        &self,
        agent: AgentId,
        period: Period,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UsageBucket>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let statement = series_statement(rollup_table(period));
        let rows: Vec<UsageBucketRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(&statement).bind(*agent.as_uuid()).bind(from).bind(to).fetch_all(e).await
        })?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

async fn insert_records(tx: &mut Tx, chunk: &[UsageRecord]) -> Result<(), StoreError> {
    let statement = format!(
        "INSERT INTO chat_usage ({USAGE_COLUMNS}) VALUES {}",
        placeholders(&tx.conn(), chunk.len(), USAGE_COLUMN_COUNT)
    );
    run!(tx.conn(), |c| {
        let mut query = sqlx::query(&statement);
        for r in chunk {
            query = query
                .bind(r.id)
                .bind(*r.owner.as_uuid())
                .bind(*r.agent_id.as_uuid())
                .bind(*r.version_id.as_uuid())
                .bind(r.key_id.map(|k| *k.as_uuid()))
                .bind(r.source.as_str())
                .bind(&r.model)
                .bind(r.fell_back)
                .bind(clamp(r.prompt_tokens))
                .bind(clamp(r.completion_tokens))
                .bind(clamp(r.latency_us))
                .bind(r.first_token_us.map(clamp))
                .bind(r.outcome.as_str())
                .bind(r.created_at);
        }
        query.execute(c).await.map(|_| ())
    })?;
    Ok(())
}

async fn add_rollups(tx: &mut Tx, table: &str, chunk: &[UsageRollup]) -> Result<(), StoreError> {
    let statement = format!(
        "INSERT INTO {table} AS r ({ROLLUP_COLUMNS}) VALUES {} {ADD_ROLLUP}",
        placeholders(&tx.conn(), chunk.len(), ROLLUP_COLUMN_COUNT)
    );
    run!(tx.conn(), |c| {
        let mut query = sqlx::query(&statement);
        for r in chunk {
            let (key, sums) = (&r.key, &r.sums);
            query = query
                .bind(*key.agent_id.as_uuid())
                .bind(key.period_start)
                .bind(*key.version_id.as_uuid())
                .bind(key.key_id.map_or(Uuid::nil(), |k| *k.as_uuid()))
                .bind(key.outcome.outcome().as_str())
                .bind(*r.owner.as_uuid())
                .bind(clamp(sums.requests))
                .bind(clamp(sums.fallbacks))
                .bind(clamp(sums.prompt_tokens))
                .bind(clamp(sums.completion_tokens))
                .bind(clamp(sums.latency_sum_us))
                .bind(clamp(sums.latency_max_us))
                .bind(clamp(sums.first_tokens))
                .bind(clamp(sums.first_token_sum_us));
        }
        query.execute(c).await.map(|_| ())
    })?;
    Ok(())
}

pub(crate) fn rollup_table(period: Period) -> &'static str {
    match period {
        Period::Minute => "usage_minutely",
        Period::Hour => "usage_hourly",
        Period::Day => "usage_daily",
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The summary of a plan: its sources' figures (bound: the agent, then each span's from and to, records
/// first, then hours, then days) summed per version. Each span is a query of its own, so that each
/// reads its index by range (two ranges joined by OR read every row of the agent on SQLite).
fn summary_statement(plan: &ReadPlan) -> String {
    let mut sources = Vec::new();
    let mut n = 1;
    let mut source = |figures: &str, table: &str, column: &str| {
        sources.push(format!(
            "SELECT {figures} FROM {table} WHERE agent_id = $1 AND {column} >= ${} AND {column} < ${}",
            n + 1,
            n + 2
        ));
        n += 2;
    };
    for _ in &plan.records {
        source(RECORD_FIGURES, "chat_usage", "created_at");
    }
    for (spans, period) in [(&plan.minutes, Period::Minute), (&plan.hours, Period::Hour), (&plan.days, Period::Day)] {
        for _ in spans {
            source(ROLLUP_FIGURES, rollup_table(period), "period_start");
        }
    }
    // Summed per version first, then each version's number looked up once.
    format!(
        "SELECT g.*, CAST(COALESCE(v.number, 0) AS BIGINT) AS number FROM (
             SELECT u.version_id,
                 CAST(SUM(u.requests) AS BIGINT) AS requests, CAST(SUM(u.succeeded) AS BIGINT) AS succeeded,
                 CAST(SUM(u.failed) AS BIGINT) AS failed, CAST(SUM(u.client_closed) AS BIGINT) AS client_closed,
                 CAST(SUM(u.fallbacks) AS BIGINT) AS fallbacks,
                 CAST(SUM(u.prompt_tokens) AS BIGINT) AS prompt_tokens,
                 CAST(SUM(u.completion_tokens) AS BIGINT) AS completion_tokens,
                 CAST(SUM(u.latency_sum_us) AS DOUBLE PRECISION) / SUM(u.requests) AS avg_latency_us,
                 CAST(MAX(u.latency_max_us) AS BIGINT) AS max_latency_us,
                 CAST(SUM(u.first_tokens) AS BIGINT) AS first_tokens,
                 CASE WHEN SUM(u.first_tokens) > 0
                      THEN CAST(SUM(u.first_token_sum_us) AS DOUBLE PRECISION) / SUM(u.first_tokens) END
                     AS avg_first_token_us
             FROM ({}) u GROUP BY u.version_id) g
         LEFT JOIN agent_versions v ON v.id = g.version_id
         ORDER BY number, g.version_id",
        sources.join(" UNION ALL ")
    )
}

/// A series read from one rollup table (bound: the agent, the first period start, the end): summed per
/// period and version over the keys and outcomes, each version's number looked up once per row.
fn series_statement(table: &str) -> String {
    format!(
        "SELECT g.*, CAST(COALESCE(v.number, 0) AS BIGINT) AS number FROM (
             SELECT period_start, version_id,
                 CAST(SUM(requests) AS BIGINT) AS requests,
                 CAST(SUM(CASE WHEN outcome IN ('upstream_error', 'timeout') THEN requests ELSE 0 END) AS BIGINT)
                     AS failed,
                 CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens,
                 CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens,
                 CAST(SUM(latency_sum_us) AS BIGINT) AS latency_sum_us,
                 CAST(MAX(latency_max_us) AS BIGINT) AS latency_max_us
             FROM {table} WHERE agent_id = $1 AND period_start >= $2 AND period_start < $3
             GROUP BY period_start, version_id) g
         LEFT JOIN agent_versions v ON v.id = g.version_id
         ORDER BY g.period_start, number, g.version_id"
    )
}
