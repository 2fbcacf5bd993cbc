//! Gig and service rows, their conversion into domain types, and the argument lists that write them.

use chrono::{DateTime, Utc};
use talon_domain::marketplace::{AgentService, Gig, Micros};
use talon_domain::{AgentId, GigId, ServiceId, UserId};
use uuid::Uuid;

use super::ListedService;
use crate::StoreError;
use crate::db::Bind;

pub(crate) const GIG_COLUMNS: &str = "id, client_id, created_by_agent_id, title, description, category, \
     skills_required, budget_micros, budget_type, status, moderation_status, moderation_reason, deadline, \
     deliverables, max_proposals, max_revisions, proposal_count, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct GigRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub created_by_agent_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub category: String,
    pub skills_required: String,
    pub budget_micros: i64,
    pub budget_type: String,
    pub status: String,
    pub moderation_status: String,
    pub moderation_reason: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub deliverables: Option<String>,
    pub max_proposals: i32,
    pub max_revisions: i32,
    pub proposal_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn strings(raw: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl TryFrom<GigRow> for Gig {
    type Error = StoreError;
    fn try_from(row: GigRow) -> Result<Self, StoreError> {
        Ok(Gig {
            id: GigId::from_uuid(row.id),
            client: UserId::from_uuid(row.client_id),
            created_by_agent: row.created_by_agent_id.map(AgentId::from_uuid),
            title: row.title,
            description: row.description,
            category: row.category.parse().map_err(corrupt("gig category"))?,
            skills_required: strings(&row.skills_required, "gig skills")?,
            budget: Micros::from_micros(row.budget_micros),
            budget_type: row.budget_type.parse().map_err(corrupt("gig budget type"))?,
            status: row.status.parse().map_err(corrupt("gig status"))?,
            moderation_status: row.moderation_status.parse().map_err(corrupt("gig moderation status"))?,
            moderation_reason: row.moderation_reason,
            deadline: row.deadline,
            deliverables: row.deliverables,
            max_proposals: row.max_proposals,
            max_revisions: row.max_revisions,
            proposal_count: row.proposal_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Binds a `Gig` to `sql::INSERT_GIG`.
pub(crate) fn bind_gig<'q, Q: Bind<'q>>(query: Q, gig: &Gig) -> Q {
    query
        .bind(*gig.id.as_uuid())
        .bind(*gig.client.as_uuid())
        .bind(gig.created_by_agent.map(|a| *a.as_uuid()))
        .bind(gig.title.clone())
        .bind(gig.description.clone())
        .bind(gig.category.as_str())
        .bind(serde_json::to_string(&gig.skills_required).unwrap_or_else(|_| "[]".to_owned()))
        .bind(gig.budget.as_micros())
        .bind(gig.budget_type.as_str())
        .bind(gig.status.as_str())
        .bind(gig.moderation_status.as_str())
        .bind(gig.moderation_reason.clone())
        .bind(gig.deadline)
        .bind(gig.deliverables.clone())
        .bind(gig.max_proposals)
        .bind(gig.max_revisions)
        .bind(gig.proposal_count)
        .bind(gig.created_at)
        .bind(gig.updated_at)
}

/// A profile as `gig.posted` matching reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct ProfileMatchRow {
    pub agent_id: Uuid,
    pub user_id: Uuid,
    pub skills: String,
    pub categories: String,
}

impl ProfileMatchRow {
    /// The profile's categories and skills; a row whose lists do not parse matches nothing.
    pub fn lists(&self) -> (Vec<String>, Vec<String>) {
        (
            serde_json::from_str(&self.categories).unwrap_or_default(),
            serde_json::from_str(&self.skills).unwrap_or_default(),
        )
    }
}

pub(crate) const SERVICE_COLUMNS: &str = "s.id, s.agent_id, s.title, s.description, s.category, \
     s.starting_price_micros, s.delivery_time_days, s.revisions, s.tags, s.is_active, s.orders_completed, \
     s.created_at, s.updated_at, CAST(COALESCE(p.stats_rating_sum, 0) AS BIGINT) AS rating_sum, \
     CAST(COALESCE(p.stats_total_reviews, 0) AS BIGINT) AS total_reviews";

#[derive(sqlx::FromRow)]
pub(crate) struct ServiceRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub starting_price_micros: i64,
    pub delivery_time_days: i32,
    pub revisions: i32,
    pub tags: String,
    pub is_active: bool,
    pub orders_completed: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub rating_sum: i64,
    pub total_reviews: i64,
}

impl TryFrom<ServiceRow> for ListedService {
    type Error = StoreError;
    fn try_from(row: ServiceRow) -> Result<Self, StoreError> {
        #[allow(clippy::cast_precision_loss)] // review counts and rating sums stay far below 2^52
        let average_rating = if row.total_reviews > 0 { row.rating_sum as f64 / row.total_reviews as f64 } else { 0.0 };
        Ok(ListedService {
            service: AgentService {
                id: ServiceId::from_uuid(row.id),
                agent: AgentId::from_uuid(row.agent_id),
                title: row.title,
                description: row.description,
                category: row.category.parse().map_err(corrupt("service category"))?,
                starting_price: Micros::from_micros(row.starting_price_micros),
                delivery_time_days: row.delivery_time_days,
                revisions: row.revisions,
                tags: strings(&row.tags, "service tags")?,
                is_active: row.is_active,
                orders_completed: row.orders_completed,
                created_at: row.created_at,
                updated_at: row.updated_at,
            },
            average_rating: (average_rating * 100.0).round() / 100.0,
        })
    }
}

/// Binds an `AgentService` to `sql::INSERT_SERVICE`.
pub(crate) fn bind_service<'q, Q: Bind<'q>>(query: Q, service: &AgentService) -> Q {
    query
        .bind(*service.id.as_uuid())
        .bind(*service.agent.as_uuid())
        .bind(service.title.clone())
        .bind(service.description.clone())
        .bind(service.category.as_str())
        .bind(service.starting_price.as_micros())
        .bind(service.delivery_time_days)
        .bind(service.revisions)
        .bind(serde_json::to_string(&service.tags).unwrap_or_else(|_| "[]".to_owned()))
        .bind(service.is_active)
        .bind(service.orders_completed)
        .bind(service.created_at)
        .bind(service.updated_at)
}
