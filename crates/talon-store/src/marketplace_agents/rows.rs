//! Profile and portfolio rows, their conversion into store types, and the profile's argument list.

use chrono::{DateTime, Utc};
use talon_domain::marketplace::Micros;
use talon_domain::{AgentId, PortfolioItemId, UserId};
use uuid::Uuid;

use super::{EmailCode, MarketProfile, PortfolioItem};
use crate::StoreError;
use crate::db::Bind;

pub(crate) const PROFILE_COLUMNS: &str = "agent_id, user_id, username, name, description, bio, avatar_url, skills, \
     categories, specialties, languages, hourly_rate_micros, status, is_autonomous, wallet_address, is_claimed, \
     contact_email, verified_at, auto_work, stats_completed_gigs, stats_rating_sum, stats_total_reviews, \
     stats_total_earned_micros, last_active_at, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ProfileRow {
    pub agent_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    pub description: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub skills: String,
    pub categories: String,
    pub specialties: String,
    pub languages: String,
    pub hourly_rate_micros: Option<i64>,
    pub status: String,
    pub is_autonomous: bool,
    pub wallet_address: Option<String>,
    pub is_claimed: bool,
    pub contact_email: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub auto_work: bool,
    pub stats_completed_gigs: i32,
    pub stats_rating_sum: i32,
    pub stats_total_reviews: i32,
    pub stats_total_earned_micros: i64,
    pub last_active_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn list(column: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("marketplace profile {column}: {e}")))
}

pub(crate) fn encode_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

impl TryFrom<ProfileRow> for MarketProfile {
    type Error = StoreError;
    fn try_from(row: ProfileRow) -> Result<Self, StoreError> {
        Ok(MarketProfile {
            agent_id: AgentId::from_uuid(row.agent_id),
            user_id: UserId::from_uuid(row.user_id),
            username: row.username,
            name: row.name,
            description: row.description,
            bio: row.bio,
            avatar_url: row.avatar_url,
            skills: list("skills", &row.skills)?,
            categories: list("categories", &row.categories)?,
            specialties: list("specialties", &row.specialties)?,
            languages: list("languages", &row.languages)?,
            hourly_rate: row.hourly_rate_micros.map(Micros::from_micros),
            status: row.status,
            is_autonomous: row.is_autonomous,
            wallet_address: row.wallet_address,
            is_claimed: row.is_claimed,
            contact_email: row.contact_email,
            verified_at: row.verified_at,
            auto_work: row.auto_work,
            stats_completed_gigs: i64::from(row.stats_completed_gigs),
            stats_rating_sum: i64::from(row.stats_rating_sum),
            stats_total_reviews: i64::from(row.stats_total_reviews),
            stats_total_earned: Micros::from_micros(row.stats_total_earned_micros),
            last_active_at: row.last_active_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Creates a profile, or updates the fields its owner edits (a changed contact address is verified anew).
pub(crate) const SAVE_PROFILE: &str = "INSERT INTO marketplace_profiles (agent_id, user_id, username, name, \
     description, bio, avatar_url, skills, categories, specialties, languages, hourly_rate_micros, status, \
     is_autonomous, wallet_address, is_claimed, contact_email, auto_work, created_at, updated_at, claim_token_hash, \
     verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
     $21, $22) \
     ON CONFLICT (agent_id) DO UPDATE SET username = excluded.username, name = excluded.name, \
     description = excluded.description, bio = excluded.bio, avatar_url = excluded.avatar_url, \
     skills = excluded.skills, categories = excluded.categories, specialties = excluded.specialties, \
     languages = excluded.languages, hourly_rate_micros = excluded.hourly_rate_micros, \
     wallet_address = excluded.wallet_address, contact_email = excluded.contact_email, \
     auto_work = excluded.auto_work, verified_at = excluded.verified_at, updated_at = excluded.updated_at";

/// Binds `SAVE_PROFILE`'s arguments.
pub(crate) fn bind_profile<'q, Q: Bind<'q>>(query: Q, p: &MarketProfile, claim_token_hash: Option<&[u8]>) -> Q {
    query
        .bind(*p.agent_id.as_uuid())
        .bind(*p.user_id.as_uuid())
        .bind(p.username.clone())
        .bind(p.name.clone())
        .bind(p.description.clone())
        .bind(p.bio.clone())
        .bind(p.avatar_url.clone())
        .bind(encode_list(&p.skills))
        .bind(encode_list(&p.categories))
        .bind(encode_list(&p.specialties))
        .bind(encode_list(&p.languages))
        .bind(p.hourly_rate.map(Micros::as_micros))
        .bind(p.status.clone())
        .bind(p.is_autonomous)
        .bind(p.wallet_address.clone())
        .bind(p.is_claimed)
        .bind(p.contact_email.clone())
        .bind(p.auto_work)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(claim_token_hash.map(<[u8]>::to_vec))
        .bind(p.verified_at)
}

#[derive(sqlx::FromRow)]
pub(crate) struct EmailCodeRow {
    pub email_code_hash: Option<Vec<u8>>,
    pub email_code_address: Option<String>,
    pub email_code_expires_at: Option<DateTime<Utc>>,
    pub email_code_attempts: i32,
}

impl EmailCodeRow {
    pub fn into_code(self) -> Option<EmailCode> {
        Some(EmailCode {
            hash: self.email_code_hash?,
            address: self.email_code_address?,
            expires_at: self.email_code_expires_at?,
            attempts: i64::from(self.email_code_attempts),
        })
    }
}

pub(crate) const PORTFOLIO_COLUMNS: &str =
    "id, agent_id, title, description, project_url, display_order, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct PortfolioRow {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub project_url: Option<String>,
    pub display_order: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PortfolioRow> for PortfolioItem {
    fn from(row: PortfolioRow) -> Self {
        PortfolioItem {
            id: PortfolioItemId::from_uuid(row.id),
            agent_id: AgentId::from_uuid(row.agent_id),
            title: row.title,
            description: row.description,
            project_url: row.project_url,
            display_order: i64::from(row.display_order),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
