//! `MarketplaceAgentStore` for every store, in SQL both databases run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::{AgentId, PortfolioItemId, UserId};

use super::rows::{
    EmailCodeRow, PORTFOLIO_COLUMNS, PROFILE_COLUMNS, PortfolioRow, ProfileRow, SAVE_PROFILE, bind_profile,
};
use super::{EmailCode, MarketProfile, MarketplaceAgentStore, PortfolioItem, Registration};
use crate::StoreError;
use crate::agents::rows::{bind_agent, bind_version};
use crate::agents::sql::{INSERT_AGENT, INSERT_VERSION, count_lineage_change_of};
use crate::api_keys::rows::encode_scopes;
use crate::db::{Portable, outbox, run};

const INSERT_ACCOUNT: &str =
    "INSERT INTO users (id, email, password_hash, plan, created_at) VALUES ($1, $2, $3, $4, $5)";

const INSERT_KEY: &str = "INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, scopes, agent_id, \
     expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

const CLAIMABLE: &str = "SELECT agent_id FROM marketplace_profiles WHERE claim_token_hash = $1";
const MOVE_AGENT: &str = "UPDATE agents SET user_id = $1, updated_at = $2 WHERE id = $3";
const MOVE_PROFILE: &str = "UPDATE marketplace_profiles SET user_id = $1, is_claimed = TRUE, \
     claim_token_hash = NULL, updated_at = $2 WHERE agent_id = $3";
const MOVE_KEYS: &str = "UPDATE api_keys SET user_id = $1 WHERE agent_id = $2";
/// The agent's own webhook follows it, so its deliveries count against the account now holding it.
const MOVE_WEBHOOK: &str = "UPDATE webhooks SET user_id = $1 WHERE agent_id = $2";

const EMAIL_CODE: &str = "SELECT email_code_hash, email_code_address, email_code_expires_at, email_code_attempts \
     FROM marketplace_profiles WHERE agent_id = $1";
const SET_EMAIL_CODE: &str = "UPDATE marketplace_profiles SET email_code_hash = $1, email_code_address = $2, \
     email_code_expires_at = $3, email_code_attempts = 0 WHERE agent_id = $4";
const EMAIL_CODE_FAILED: &str = "UPDATE marketplace_profiles SET email_code_attempts = email_code_attempts + 1 \
     WHERE agent_id = $1 RETURNING email_code_attempts";
const EMAIL_VERIFIED: &str = "UPDATE marketplace_profiles SET contact_email = $1, verified_at = $2, updated_at = $2, \
     email_code_hash = NULL, email_code_address = NULL, email_code_expires_at = NULL, email_code_attempts = 0 \
     WHERE agent_id = $3";

const COUNT_ITEMS: &str = "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MAX(display_order) + 1, 0) AS BIGINT) \
     FROM portfolio_items WHERE agent_id = $1";
const INSERT_ITEM: &str = "INSERT INTO portfolio_items (id, agent_id, title, description, project_url, \
     display_order, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const UPDATE_ITEM: &str = "UPDATE portfolio_items SET title = $1, description = $2, project_url = $3, \
     updated_at = $4 WHERE id = $5 AND agent_id = $6";
const DELETE_ITEM: &str = "DELETE FROM portfolio_items WHERE id = $1 AND agent_id = $2";

#[async_trait]
impl<S: Portable> MarketplaceAgentStore for S {
    async fn register_marketplace_agent(&self, r: &Registration<'_>) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| {
            sqlx::query(INSERT_ACCOUNT)
                .bind(*r.account.id.as_uuid())
                .bind(&r.account.email)
                .bind(r.password_hash)
                .bind(&r.account.plan)
                .bind(r.account.created_at)
                .execute(c)
                .await
                .map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "username"))?;
        run!(tx.conn(), |c| bind_agent(sqlx::query(INSERT_AGENT), r.agent).execute(c).await.map(|_| ()))
            .map_err(|e| StoreError::unique(e, "slug"))?;
        run!(tx.conn(), |c| bind_version(sqlx::query(INSERT_VERSION), r.version).execute(c).await.map(|_| ()))?;
        run!(tx.conn(), |c| {
            bind_profile(sqlx::query(SAVE_PROFILE), r.profile, r.claim_token_hash).execute(c).await.map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "username"))?;
        let key = r.key;
        run!(tx.conn(), |c| {
            sqlx::query(INSERT_KEY)
                .bind(*key.id.as_uuid())
                .bind(*key.user_id.as_uuid())
                .bind(&key.name)
                .bind(&key.key_prefix)
                .bind(r.key_hash)
                .bind(encode_scopes(&key.scopes))
                .bind(key.agent_id.map(|a| *a.as_uuid()))
                .bind(key.expires_at)
                .bind(key.created_at)
                .execute(c)
                .await
                .map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "api key"))?;
        outbox::record(&mut tx, r.events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_market_profile(&self, profile: &MarketProfile) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            bind_profile(sqlx::query(SAVE_PROFILE), profile, None).execute(e).await.map(|_| ())
        })
        .map_err(|e| StoreError::unique(e, "username"))
    }

    async fn market_profile(&self, agent: AgentId) -> Result<Option<MarketProfile>, StoreError> {
        let statement = format!("SELECT {PROFILE_COLUMNS} FROM marketplace_profiles WHERE agent_id = $1");
        let row: Option<ProfileRow> = run!(self.db().writer(), |e| {
            sqlx::query_as(&statement).bind(*agent.as_uuid()).fetch_optional(e).await
        })?;
        row.map(TryInto::try_into).transpose()
    }

    async fn claim_market_agent(
        &self,
        token_hash: &[u8],
        owner: UserId,
        at: DateTime<Utc>,
    ) -> Result<Option<AgentId>, StoreError> {
        let mut tx = self.db().begin().await?;
        let agent: Option<uuid::Uuid> =
            run!(tx.conn(), |c| sqlx::query_scalar(CLAIMABLE).bind(token_hash).fetch_optional(c).await)?;
        let Some(agent) = agent else { return Ok(None) };
        let owner = *owner.as_uuid();
        run!(tx.conn(), |c| sqlx::query(MOVE_AGENT).bind(owner).bind(at).bind(agent).execute(c).await.map(|_| ()))
            .map_err(|e| StoreError::unique(e, "slug"))?;
        run!(tx.conn(), |c| sqlx::query(MOVE_PROFILE).bind(owner).bind(at).bind(agent).execute(c).await.map(|_| ()))?;
        run!(tx.conn(), |c| sqlx::query(MOVE_KEYS).bind(owner).bind(agent).execute(c).await.map(|_| ()))?;
        run!(tx.conn(), |c| sqlx::query(MOVE_WEBHOOK).bind(owner).bind(agent).execute(c).await.map(|_| ()))?;
        // Who owns an agent decides who sees it in its lineage.
        count_lineage_change_of(&mut tx, AgentId::from_uuid(agent)).await?;
        tx.commit().await?;
        Ok(Some(AgentId::from_uuid(agent)))
    }

    async fn email_code(&self, agent: AgentId) -> Result<Option<EmailCode>, StoreError> {
        let row: Option<EmailCodeRow> = run!(self.db().writer(), |e| {
            sqlx::query_as(EMAIL_CODE).bind(*agent.as_uuid()).fetch_optional(e).await
        })?;
        Ok(row.and_then(EmailCodeRow::into_code))
    }

    async fn set_email_code(&self, agent: AgentId, code: Option<&EmailCode>) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query(SET_EMAIL_CODE)
                .bind(code.map(|c| c.hash.clone()))
                .bind(code.map(|c| c.address.clone()))
                .bind(code.map(|c| c.expires_at))
                .bind(*agent.as_uuid())
                .execute(e)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    async fn email_code_failed(&self, agent: AgentId) -> Result<i64, StoreError> {
        let attempts: Option<i32> = run!(self.db().writer(), |e| {
            sqlx::query_scalar(EMAIL_CODE_FAILED).bind(*agent.as_uuid()).fetch_optional(e).await
        })?;
        Ok(attempts.map_or(0, i64::from))
    }

    async fn email_verified(&self, agent: AgentId, address: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            sqlx::query(EMAIL_VERIFIED).bind(address).bind(at).bind(*agent.as_uuid()).execute(e).await.map(|_| ())
        })?;
        Ok(())
    }

    async fn portfolio_items(&self, agent: AgentId) -> Result<Vec<PortfolioItem>, StoreError> {
        let statement =
            format!("SELECT {PORTFOLIO_COLUMNS} FROM portfolio_items WHERE agent_id = $1 ORDER BY display_order, id");
        let rows: Vec<PortfolioRow> =
            run!(self.db().writer(), |e| sqlx::query_as(&statement).bind(*agent.as_uuid()).fetch_all(e).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn portfolio_item(&self, agent: AgentId, id: PortfolioItemId) -> Result<Option<PortfolioItem>, StoreError> {
        let statement = format!("SELECT {PORTFOLIO_COLUMNS} FROM portfolio_items WHERE id = $1 AND agent_id = $2");
        let row: Option<PortfolioRow> = run!(self.db().writer(), |e| {
            sqlx::query_as(&statement).bind(*id.as_uuid()).bind(*agent.as_uuid()).fetch_optional(e).await
        })?;
        Ok(row.map(Into::into))
    }

    async fn insert_portfolio_item(&self, item: &PortfolioItem, max: i64) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let agent = *item.agent_id.as_uuid();
        // Two inserts racing past the count may both land; the cap is a courtesy limit, not an invariant.
        let (count, next): (i64, i64) =
            run!(tx.conn(), |c| sqlx::query_as(COUNT_ITEMS).bind(agent).fetch_one(c).await)?;
        if count >= max {
            return Ok(false);
        }
        let order = i32::try_from(next).map_err(|_| StoreError::Corrupt("portfolio display order".into()))?;
        run!(tx.conn(), |c| {
            sqlx::query(INSERT_ITEM)
                .bind(*item.id.as_uuid())
                .bind(agent)
                .bind(&item.title)
                .bind(&item.description)
                .bind(&item.project_url)
                .bind(order)
                .bind(item.created_at)
                .bind(item.updated_at)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(true)
    }

    async fn update_portfolio_item(&self, item: &PortfolioItem) -> Result<bool, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query(UPDATE_ITEM)
                .bind(&item.title)
                .bind(&item.description)
                .bind(&item.project_url)
                .bind(item.updated_at)
                .bind(*item.id.as_uuid())
                .bind(*item.agent_id.as_uuid())
                .execute(e)
                .await
                .map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }

    async fn delete_portfolio_item(&self, agent: AgentId, id: PortfolioItemId) -> Result<bool, StoreError> {
        let done = run!(self.db().writer(), |e| {
            sqlx::query(DELETE_ITEM)
                .bind(*id.as_uuid())
                .bind(*agent.as_uuid())
                .execute(e)
                .await
                .map(|d| d.rows_affected())
        })?;
        Ok(done == 1)
    }
}
