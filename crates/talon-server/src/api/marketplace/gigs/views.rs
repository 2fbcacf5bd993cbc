//! The gig and service shapes of the ClawGig SDK (spec section 4), and the bodies and query strings the
//! gig routes take. Amounts are decimal USDC numbers; ids are Talon's prefixed ids.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use talon_domain::marketplace::{Gig, GigDraft, SearchDraft, ServiceDraft};
use talon_store::ListedService;
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{Bounded, Integer};

/// A gig (spec: Gig).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(gig_example()))]
pub struct GigView {
    pub id: String,
    pub client_id: String,
    /// The autonomous agent that posted it through the hiring API.
    pub created_by_agent_id: Option<String>,
    pub title: String,
    pub description: String,
    #[schema(example = "code")]
    pub category: String,
    pub skills_required: Vec<String>,
    /// Decimal USDC.
    pub budget_usdc: f64,
    /// `fixed` or `hourly`.
    pub budget_type: String,
    /// `open`, `in_progress`, `completed`, `cancelled` or `disputed`.
    pub status: String,
    /// `pending`, `approved` or `rejected`.
    pub moderation_status: String,
    pub deadline: Option<DateTime<Utc>>,
    pub deliverables: Option<String>,
    pub max_proposals: i32,
    pub proposal_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn gig_example() -> serde_json::Value {
    serde_json::json!({
        "id": "gig_01a22b6f9e1e74e39c660b5bf22b5e66", "client_id": "user_01a22b6f9d967273957a4b062dd7f4f5",
        "created_by_agent_id": null, "title": "Port a CSV parser to Rust",
        "description": "Port our CSV parser from Python to Rust, keeping every test green and the API identical.",
        "category": "code", "skills_required": ["rust", "python"], "budget_usdc": 120.5, "budget_type": "fixed",
        "status": "open", "moderation_status": "approved", "deadline": "2026-12-31T23:59:59Z", "deliverables": null,
        "max_proposals": 50, "proposal_count": 0,
        "created_at": "2026-11-30T07:51:04.990072Z", "updated_at": "2026-11-30T07:51:04.990072Z"
    })
}

impl From<Gig> for GigView {
    fn from(gig: Gig) -> Self {
        GigView {
            id: gig.id.to_string(),
            client_id: gig.client.to_string(),
            created_by_agent_id: gig.created_by_agent.map(|a| a.to_string()),
            title: gig.title,
            description: gig.description,
            category: gig.category.as_str().to_owned(),
            skills_required: gig.skills_required,
            budget_usdc: gig.budget.to_usdc_f64(),
            budget_type: gig.budget_type.as_str().to_owned(),
            status: gig.status.as_str().to_owned(),
            moderation_status: gig.moderation_status.as_str().to_owned(),
            deadline: gig.deadline,
            deliverables: gig.deliverables,
            max_proposals: gig.max_proposals,
            proposal_count: gig.proposal_count,
            created_at: gig.created_at,
            updated_at: gig.updated_at,
        }
    }
}

/// What posting a gig answers (the hiring `createGig` result).
#[derive(Debug, Serialize, ToSchema)]
pub struct PostedGig {
    pub gig_id: String,
    pub title: String,
    pub status: String,
    pub moderation_status: String,
    pub moderation_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Gig> for PostedGig {
    fn from(gig: Gig) -> Self {
        PostedGig {
            gig_id: gig.id.to_string(),
            title: gig.title,
            status: gig.status.as_str().to_owned(),
            moderation_status: gig.moderation_status.as_str().to_owned(),
            moderation_reason: gig.moderation_reason,
            created_at: gig.created_at,
        }
    }
}

/// A new gig (the hiring `createGig` fields). Gigs are approved as they are posted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Port a CSV parser to Rust",
    "description": "Port our CSV parser from Python to Rust, keeping every test green and the API identical.",
    "category": "code", "skills_required": ["rust", "python"], "budget_usdc": 120.5, "deadline": "2026-12-31T23:59:59Z"}))]
pub struct CreateGigRequest {
    #[schema(min_length = 5, max_length = 120)]
    pub title: String,
    #[schema(min_length = 50, max_length = 10000)]
    pub description: String,
    #[schema(pattern = "^(code|content|data|design|research|translation|other)$")]
    pub category: String,
    /// At most 20, each at most 30 characters.
    #[schema(max_items = 20)]
    pub skills_required: Option<Vec<String>>,
    /// Decimal USDC, more than 0, at most 6 decimals.
    #[schema(exclusive_minimum = 0)]
    pub budget_usdc: f64,
    /// `fixed` (default) or `hourly`.
    #[schema(pattern = "^(fixed|hourly)$")]
    pub budget_type: Option<String>,
    /// RFC 3339, in the future.
    #[schema(format = DateTime)]
    pub deadline: Option<String>,
    #[schema(max_length = 5000)]
    pub deliverables: Option<String>,
    /// 1 to 200 (default 50).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub max_proposals: Option<Integer>,
    /// 0 to 10 (default 2): revision requests the client may make on the contract.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10)]
    pub max_revisions: Option<Integer>,
}

impl From<CreateGigRequest> for GigDraft {
    fn from(r: CreateGigRequest) -> Self {
        GigDraft {
            title: r.title,
            description: r.description,
            category: r.category,
            skills_required: r.skills_required,
            budget_usdc: r.budget_usdc,
            budget_type: r.budget_type,
            deadline: r.deadline,
            deliverables: r.deliverables,
            max_proposals: r.max_proposals.map(|n| n.0),
            max_revisions: r.max_revisions.map(|n| n.0),
        }
    }
}

/// Gig search. Only open, approved gigs are listed.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words that must all appear in the title or description (up to 200 characters).
    #[param(max_length = 200, example = "rust parser")]
    pub q: Option<String>,
    /// One category.
    #[param(pattern = "^(code|content|data|design|research|translation|other)$")]
    pub category: Option<String>,
    /// Comma-separated; a gig needing any of them matches (case-insensitive).
    pub skills: Option<String>,
    /// Inclusive, decimal USDC.
    #[param(minimum = 0)]
    pub min_budget: Option<f64>,
    /// Inclusive, decimal USDC; not below `min_budget`.
    #[param(minimum = 0)]
    pub max_budget: Option<f64>,
    /// `newest` (default), `budget_desc`, `budget_asc` or `deadline` (soonest first, none last).
    #[param(pattern = "^(newest|budget_desc|budget_asc|deadline)$")]
    pub sort: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// 0 to 10000.
    #[param(minimum = 0, maximum = 10000)]
    pub offset: Option<i64>,
}

impl From<SearchParams> for SearchDraft {
    fn from(p: SearchParams) -> Self {
        SearchDraft {
            q: p.q,
            category: p.category,
            skills: p.skills,
            min_budget: p.min_budget,
            max_budget: p.max_budget,
            sort: p.sort,
            limit: p.limit,
            offset: p.offset,
        }
    }
}

/// The client's own gigs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientGigsParams {
    /// Only gigs in this status.
    #[param(pattern = "^(open|in_progress|completed|cancelled|disputed)$")]
    pub status: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<Bounded<1, 100>>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4611686018427387903_i64, default = 0)]
    pub offset: Option<Bounded<0, 4611686018427387903>>,
}

/// A service an agent offers (spec: AgentService).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!(service_example()))]
pub struct ServiceView {
    pub id: String,
    pub agent_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    /// Decimal USDC.
    pub starting_price: f64,
    pub delivery_time_days: i32,
    pub revisions: i32,
    pub tags: Vec<String>,
    pub is_active: bool,
    pub orders_completed: i32,
    /// The agent's average review rating, 0 without reviews.
    pub average_rating: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn service_example() -> serde_json::Value {
    serde_json::json!({
        "id": "svc_01a22b6f9e1e74e39c660b5bf22b5e66", "agent_id": "agent_01a22b0bdc6474ea95769740ef285ef0",
        "title": "Code review within a day", "description": "I review one pull request of up to 1,000 lines.",
        "category": "code", "starting_price": 25, "delivery_time_days": 1, "revisions": 1, "tags": ["rust"],
        "is_active": true, "orders_completed": 0, "average_rating": 4.5,
        "created_at": "2026-11-30T07:51:04.990072Z", "updated_at": "2026-11-30T07:51:04.990072Z"
    })
}

impl From<ListedService> for ServiceView {
    fn from(listed: ListedService) -> Self {
        let s = listed.service;
        ServiceView {
            id: s.id.to_string(),
            agent_id: s.agent.to_string(),
            title: s.title,
            description: s.description,
            category: s.category.as_str().to_owned(),
            starting_price: s.starting_price.to_usdc_f64(),
            delivery_time_days: s.delivery_time_days,
            revisions: s.revisions,
            tags: s.tags,
            is_active: s.is_active,
            orders_completed: s.orders_completed,
            average_rating: listed.average_rating,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A new service (a Talon extension: the SDK only reads services).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Code review within a day", "description": "I review one pull request of up to 1,000 lines.",
    "category": "code", "starting_price_usdc": 25, "delivery_time_days": 1, "revisions": 1, "tags": ["rust"]}))]
pub struct CreateServiceRequest {
    #[schema(min_length = 5, max_length = 120)]
    pub title: String,
    #[schema(min_length = 1, max_length = 5000)]
    pub description: String,
    #[schema(pattern = "^(code|content|data|design|research|translation|other)$")]
    pub category: String,
    #[schema(exclusive_minimum = 0)]
    pub starting_price_usdc: f64,
    #[schema(value_type = i64, minimum = 1, maximum = 365)]
    pub delivery_time_days: Integer,
    /// 0 to 10 (default 1).
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10)]
    pub revisions: Option<Integer>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
}

impl From<CreateServiceRequest> for ServiceDraft {
    fn from(r: CreateServiceRequest) -> Self {
        ServiceDraft {
            title: r.title,
            description: r.description,
            category: r.category,
            starting_price_usdc: r.starting_price_usdc,
            delivery_time_days: r.delivery_time_days.0,
            revisions: r.revisions.map(|n| n.0),
            tags: r.tags,
        }
    }
}

/// The services listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServicesParams {
    #[param(pattern = "^(code|content|data|design|research|translation|other)$")]
    pub category: Option<String>,
    /// Text the title or description contains (case-insensitive).
    #[param(max_length = 200, example = "review")]
    pub search: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<Bounded<1, 100>>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 10000, default = 0)]
    pub offset: Option<Bounded<0, 10000>>,
}
