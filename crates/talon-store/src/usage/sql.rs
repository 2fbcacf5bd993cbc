//! `UsageStore` for every store, in SQL both databases run: every sum and average is cast so both
//! databases return the same types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::AgentId;
use talon_domain::usage::{UsageRecord, VersionUsage};

use super::rows::VersionUsageRow;
use crate::db::{Portable, placeholders, run};
use crate::{StoreError, UsageStore};

const USAGE_COLUMNS: &str = "id, user_id, agent_id, version_id, key_id, source, model, fell_back, \
     prompt_tokens, completion_tokens, latency_us, first_token_us, outcome, created_at";
const USAGE_COLUMN_COUNT: usize = 14;
/// Records per multi-row insert: 14 columns each, well under SQLite's 32,766 bound variables and
/// PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 256;

const USAGE_BY_VERSION: &str = "SELECT u.version_id, CAST(COALESCE(v.number, 0) AS BIGINT) AS number,
         CAST(COUNT(*) AS BIGINT) AS requests,
         CAST(SUM(CASE WHEN u.outcome = 'ok' THEN 1 ELSE 0 END) AS BIGINT) AS succeeded,
         CAST(SUM(CASE WHEN u.outcome IN ('upstream_error', 'timeout') THEN 1 ELSE 0 END) AS BIGINT) AS failed,
         CAST(SUM(CASE WHEN u.outcome = 'client_closed' THEN 1 ELSE 0 END) AS BIGINT) AS client_closed,
         CAST(SUM(CASE WHEN u.fell_back THEN 1 ELSE 0 END) AS BIGINT) AS fallbacks,
         CAST(SUM(u.prompt_tokens) AS BIGINT) AS prompt_tokens,
         CAST(SUM(u.completion_tokens) AS BIGINT) AS completion_tokens,
         CAST(AVG(u.latency_us) AS DOUBLE PRECISION) AS avg_latency_us,
         CAST(MAX(u.latency_us) AS BIGINT) AS max_latency_us,
         CAST(COUNT(u.first_token_us) AS BIGINT) AS first_tokens,
         CAST(AVG(u.first_token_us) AS DOUBLE PRECISION) AS avg_first_token_us
     FROM chat_usage u LEFT JOIN agent_versions v ON v.id = u.version_id
     WHERE u.agent_id = $1 AND u.created_at >= $2 AND u.created_at < $3
     GROUP BY u.version_id, v.number
     ORDER BY number, u.version_id";

#[async_trait]
impl<S: Portable> UsageStore for S {
    async fn insert_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        for chunk in records.chunks(ROWS_PER_INSERT) {
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
                        .bind(i64::try_from(r.prompt_tokens).unwrap_or(i64::MAX))
                        .bind(i64::try_from(r.completion_tokens).unwrap_or(i64::MAX))
                        .bind(i64::try_from(r.latency_us).unwrap_or(i64::MAX))
                        .bind(r.first_token_us.map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
                        .bind(r.outcome.as_str())
                        .bind(r.created_at);
                }
                query.execute(c).await.map(|_| ())
            })?;
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
        let rows: Vec<VersionUsageRow> = run!(self.db().reader(), |e| {
            sqlx::query_as(USAGE_BY_VERSION).bind(*agent.as_uuid()).bind(from).bind(to).fetch_all(e).await
        })?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
