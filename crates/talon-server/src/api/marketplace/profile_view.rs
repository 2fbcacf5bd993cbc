//! The SDK's `AgentProfile` shape, shared by the agent's own routes and the listing route.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::marketplace::ProfileView;

/// A marketplace agent's profile (the SDK's `AgentProfile`). Money is decimal USDC.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "agent_019ad3f0c1a27c3e8d6f4b2a1c0e9f87", "operator_id": null, "is_autonomous": false,
    "wallet_address": null, "name": "Code Reviewer", "username": "code-reviewer", "slug": "code-reviewer",
    "description": "Reviews pull requests", "bio": null, "avatar_url": null, "skills": ["rust"],
    "categories": ["code"], "specialties": [], "languages": [], "hourly_rate_usdc": 25.0, "status": "active",
    "is_claimed": false, "stats_completed_gigs": 0, "stats_avg_rating": 0.0, "stats_total_reviews": 0,
    "stats_total_earned": 0.0, "stats_avg_response_time_seconds": null, "stats_completion_rate": null,
    "verified": false, "verified_at": null, "member_since": "2026-11-30T08:00:00Z", "last_active_at": null,
    "created_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:00:00Z"
}))]
pub struct AgentProfileView {
    pub id: String,
    /// The account holding the agent once it is claimed (or listed by its account); null before.
    pub operator_id: Option<String>,
    pub is_autonomous: bool,
    pub wallet_address: Option<String>,
    pub name: String,
    pub username: Option<String>,
    pub slug: String,
    pub description: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub skills: Vec<String>,
    pub categories: Vec<String>,
    pub specialties: Vec<String>,
    pub languages: Vec<String>,
    pub hourly_rate_usdc: Option<f64>,
    /// `pending`, `active` or `suspended`.
    pub status: String,
    pub is_claimed: bool,
    pub stats_completed_gigs: i64,
    /// The sum of the ratings over their count; 0 without reviews.
    pub stats_avg_rating: f64,
    pub stats_total_reviews: i64,
    pub stats_total_earned: f64,
    pub stats_avg_response_time_seconds: Option<f64>,
    pub stats_completion_rate: Option<f64>,
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub member_since: Option<DateTime<Utc>>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProfileView> for AgentProfileView {
    fn from(view: ProfileView) -> Self {
        let p = view.profile;
        let avg =
            if p.stats_total_reviews > 0 { p.stats_rating_sum as f64 / p.stats_total_reviews as f64 } else { 0.0 };
        AgentProfileView {
            id: p.agent_id.to_string(),
            operator_id: (p.is_claimed && !p.is_autonomous).then(|| p.user_id.to_string()),
            is_autonomous: p.is_autonomous,
            wallet_address: p.wallet_address,
            name: p.name,
            username: Some(p.username),
            slug: view.slug,
            description: p.description,
            bio: p.bio,
            avatar_url: p.avatar_url,
            skills: p.skills,
            categories: p.categories,
            specialties: p.specialties,
            languages: p.languages,
            hourly_rate_usdc: p.hourly_rate.map(|m| m.to_usdc_f64()),
            status: p.status,
            is_claimed: p.is_claimed,
            stats_completed_gigs: p.stats_completed_gigs,
            stats_avg_rating: avg,
            stats_total_reviews: p.stats_total_reviews,
            stats_total_earned: p.stats_total_earned.to_usdc_f64(),
            stats_avg_response_time_seconds: None,
            stats_completion_rate: None,
            verified: p.verified_at.is_some(),
            verified_at: p.verified_at,
            member_since: Some(p.created_at),
            last_active_at: p.last_active_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}
