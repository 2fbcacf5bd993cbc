//! Services an agent offers on the marketplace (a fixed offer with a starting price), which agents
//! list through Talon's own route and anyone on the marketplace browses.

use chrono::{DateTime, Utc};

use super::gig::{Category, check_skills};
use super::money::Micros;
use crate::validation::ValidationErrors;
use crate::{AgentId, ServiceId};

pub const SERVICE_TITLE_CHARS: (usize, usize) = (5, 120);
pub const SERVICE_DESCRIPTION_CHARS: (usize, usize) = (1, 5_000);
pub const DELIVERY_DAYS: (i64, i64) = (1, 365);
pub const SERVICE_REVISIONS: (i64, i64) = (0, 10);
pub const DEFAULT_SERVICE_REVISIONS: i64 = 1;

/// A service as the agent sent it.
#[derive(Debug, Clone, Default)]
pub struct ServiceDraft {
    pub title: String,
    pub description: String,
    pub category: String,
    pub starting_price_usdc: f64,
    pub delivery_time_days: i64,
    pub revisions: Option<i64>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentService {
    pub id: ServiceId,
    pub agent: AgentId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub starting_price: Micros,
    pub delivery_time_days: i32,
    pub revisions: i32,
    pub tags: Vec<String>,
    pub is_active: bool,
    pub orders_completed: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn range(errors: &mut ValidationErrors, field: &str, value: i64, (min, max): (i64, i64)) -> i32 {
    if !(min..=max).contains(&value) {
        errors.add(field, format!("Must be between {min} and {max}"));
    }
    i32::try_from(value.clamp(min, max)).unwrap_or(0)
}

impl AgentService {
    /// A new active service of `agent`, once every field of `draft` passed its check.
    pub fn offer(agent: AgentId, draft: ServiceDraft, now: DateTime<Utc>) -> Result<AgentService, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = draft.title.trim().to_owned();
        let n = title.chars().count();
        if n < SERVICE_TITLE_CHARS.0 || n > SERVICE_TITLE_CHARS.1 {
            errors.add("title", format!("Must be {} to {} characters", SERVICE_TITLE_CHARS.0, SERVICE_TITLE_CHARS.1));
        }
        let description = draft.description.trim().to_owned();
        let n = description.chars().count();
        if n < SERVICE_DESCRIPTION_CHARS.0 || n > SERVICE_DESCRIPTION_CHARS.1 {
            errors.add(
                "description",
                format!("Must be {} to {} characters", SERVICE_DESCRIPTION_CHARS.0, SERVICE_DESCRIPTION_CHARS.1),
            );
        }
        let category = draft.category.parse::<Category>().unwrap_or_else(|_| {
            errors.add("category", "Must be one of code, content, data, design, research, translation, other");
            Category::Other
        });
        let starting_price = match Micros::from_usdc_f64(draft.starting_price_usdc) {
            Ok(amount) if amount.is_positive() => amount,
            Ok(_) => {
                errors.add("starting_price_usdc", "Must be greater than 0");
                Micros::ZERO
            }
            Err(e) => {
                errors.add("starting_price_usdc", e.to_string());
                Micros::ZERO
            }
        };
        let delivery_time_days = range(&mut errors, "delivery_time_days", draft.delivery_time_days, DELIVERY_DAYS);
        let revisions =
            range(&mut errors, "revisions", draft.revisions.unwrap_or(DEFAULT_SERVICE_REVISIONS), SERVICE_REVISIONS);
        let tags = check_skills(&mut errors, "tags", draft.tags.unwrap_or_default());
        errors.finish(AgentService {
            id: ServiceId::new(),
            agent,
            title,
            description,
            category,
            starting_price,
            delivery_time_days,
            revisions,
            tags,
            is_active: true,
            orders_completed: 0,
            created_at: now,
            updated_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_checked_field_by_field() {
        let draft = ServiceDraft {
            title: "Code review".into(),
            description: "I review your pull request.".into(),
            category: "code".into(),
            starting_price_usdc: 25.0,
            delivery_time_days: 2,
            ..ServiceDraft::default()
        };
        let service = AgentService::offer(AgentId::new(), draft.clone(), Utc::now()).unwrap();
        assert_eq!((service.revisions, service.starting_price), (1, Micros::from_micros(25_000_000)));
        let bad = ServiceDraft {
            title: "x".into(),
            category: "food".into(),
            starting_price_usdc: 0.0,
            delivery_time_days: 0,
            revisions: Some(11),
            tags: Some(vec![String::new()]),
            ..draft
        };
        let errors = AgentService::offer(AgentId::new(), bad, Utc::now()).unwrap_err();
        let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "category", "starting_price_usdc", "delivery_time_days", "revisions", "tags"]);
    }
}
