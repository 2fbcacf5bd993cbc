//! Gigs as clients post them and agents search them: the validated posting (`NewGig`), the stored gig,
//! the search query with its filters and sorts, and the categories and budget types the API names.
//! Validation reports every bad field at once, in words written for API clients.

use chrono::{DateTime, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::contract::status_strings;
use super::listing::GigStatus;
use super::money::Micros;
use crate::validation::ValidationErrors;
use crate::{AgentId, GigId, UserId};

/// What kind of work an agent does or a gig asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Code,
    Content,
    Data,
    Design,
    Research,
    Translation,
    Other,
}

status_strings!(Category, "category", {
    Code => "code",
    Content => "content",
    Data => "data",
    Design => "design",
    Research => "research",
    Translation => "translation",
    Other => "other",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetType {
    Fixed,
    Hourly,
}

status_strings!(BudgetType, "budget type", {
    Fixed => "fixed",
    Hourly => "hourly",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationStatus {
    Pending,
    Approved,
    Rejected,
}

status_strings!(ModerationStatus, "moderation status", {
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
});

pub const TITLE_CHARS: (usize, usize) = (5, 120);
pub const DESCRIPTION_CHARS: (usize, usize) = (50, 10_000);
pub const MAX_SKILLS: usize = 20;
pub const MAX_SKILL_CHARS: usize = 30;
pub const MAX_DELIVERABLES_CHARS: usize = 5_000;
pub const MAX_PROPOSALS: (i64, i64) = (1, 200);
pub const DEFAULT_MAX_PROPOSALS: i64 = 50;
pub const MAX_REVISIONS: (i64, i64) = (0, 10);
pub const DEFAULT_MAX_REVISIONS: i64 = 2;

/// A posting as the client sent it (the hiring `createGig` fields), before any check.
#[derive(Debug, Clone, Default)]
pub struct GigDraft {
    pub title: String,
    pub description: String,
    pub category: String,
    pub skills_required: Option<Vec<String>>,
    pub budget_usdc: f64,
    pub budget_type: Option<String>,
    pub deadline: Option<String>,
    pub deliverables: Option<String>,
    pub max_proposals: Option<i64>,
    pub max_revisions: Option<i64>,
}

/// A posting whose every field passed its check.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGig {
    pub title: String,
    pub description: String,
    pub category: Category,
    pub skills_required: Vec<String>,
    pub budget: Micros,
    pub budget_type: BudgetType,
    pub deadline: Option<DateTime<Utc>>,
    pub deliverables: Option<String>,
    pub max_proposals: i32,
    pub max_revisions: i32,
}

fn chars_between(errors: &mut ValidationErrors, field: &str, value: &str, (min, max): (usize, usize)) {
    let n = value.chars().count();
    if n < min || n > max {
        errors.add(field, format!("Must be {min} to {max} characters"));
    }
}

fn int_between(errors: &mut ValidationErrors, field: &str, value: i64, (min, max): (i64, i64)) -> i32 {
    if value < min || value > max {
        errors.add(field, format!("Must be between {min} and {max}"));
    }
    i32::try_from(value.clamp(min, max)).unwrap_or(0)
}

/// Skills as a list of at most `MAX_SKILLS` names of 1 to `MAX_SKILL_CHARS` characters, trimmed.
pub fn check_skills(errors: &mut ValidationErrors, field: &str, skills: Vec<String>) -> Vec<String> {
    if skills.len() > MAX_SKILLS {
        errors.add(field, format!("At most {MAX_SKILLS} skills"));
    }
    let skills: Vec<String> = skills.into_iter().map(|s| s.trim().to_owned()).collect();
    if skills.iter().any(|s| s.is_empty() || s.chars().count() > MAX_SKILL_CHARS) {
        errors.add(field, format!("Each skill must be 1 to {MAX_SKILL_CHARS} characters"));
    }
    skills
}

impl NewGig {
    /// Checks every field of `draft` against the posting rules, `now` deciding whether a deadline is
    /// in the future.
    pub fn validate(draft: GigDraft, now: DateTime<Utc>) -> Result<NewGig, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = draft.title.trim().to_owned();
        chars_between(&mut errors, "title", &title, TITLE_CHARS);
        let description = draft.description.trim().to_owned();
        chars_between(&mut errors, "description", &description, DESCRIPTION_CHARS);
        let category = draft.category.parse::<Category>().unwrap_or_else(|_| {
            errors.add("category", "Must be one of code, content, data, design, research, translation, other");
            Category::Other
        });
        let skills_required = check_skills(&mut errors, "skills_required", draft.skills_required.unwrap_or_default());
        let budget = match Micros::from_usdc_f64(draft.budget_usdc) {
            Ok(amount) if amount.is_positive() => amount,
            Ok(_) => {
                errors.add("budget_usdc", "Must be greater than 0");
                Micros::ZERO
            }
            Err(e) => {
                errors.add("budget_usdc", e.to_string());
                Micros::ZERO
            }
        };
        let budget_type = match draft.budget_type.as_deref() {
            None => BudgetType::Fixed,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                errors.add("budget_type", "Must be fixed or hourly");
                BudgetType::Fixed
            }),
        };
        let deadline = draft.deadline.as_deref().and_then(|raw| match DateTime::parse_from_rfc3339(raw) {
            // Databases keep microseconds: what is stored is what a read returns.
            Ok(at) if at.with_timezone(&Utc) > now => {
                let at = at.with_timezone(&Utc);
                Some(at.duration_trunc(chrono::TimeDelta::microseconds(1)).unwrap_or(at))
            }
            Ok(_) => {
                errors.add("deadline", "Must be in the future");
                None
            }
            Err(_) => {
                errors.add("deadline", "Must be an RFC 3339 date-time, like 2026-12-31T23:59:59Z");
                None
            }
        });
        let deliverables = draft.deliverables.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if deliverables.as_ref().is_some_and(|d| d.chars().count() > MAX_DELIVERABLES_CHARS) {
            errors.add("deliverables", format!("Must be at most {MAX_DELIVERABLES_CHARS} characters"));
        }
        let max_proposals = int_between(
            &mut errors,
            "max_proposals",
            draft.max_proposals.unwrap_or(DEFAULT_MAX_PROPOSALS),
            MAX_PROPOSALS,
        );
        let max_revisions = int_between(
            &mut errors,
            "max_revisions",
            draft.max_revisions.unwrap_or(DEFAULT_MAX_REVISIONS),
            MAX_REVISIONS,
        );
        errors.finish(NewGig {
            title,
            description,
            category,
            skills_required,
            budget,
            budget_type,
            deadline,
            deliverables,
            max_proposals,
            max_revisions,
        })
    }
}

/// A gig as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Gig {
    pub id: GigId,
    /// The account that posted it and pays for it.
    pub client: UserId,
    /// The autonomous agent that posted it through the hiring API.
    pub created_by_agent: Option<AgentId>,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub skills_required: Vec<String>,
    pub budget: Micros,
    pub budget_type: BudgetType,
    pub status: GigStatus,
    pub moderation_status: ModerationStatus,
    pub moderation_reason: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub deliverables: Option<String>,
    pub max_proposals: i32,
    pub max_revisions: i32,
    pub proposal_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Gig {
    /// A new open gig. There is no moderation queue yet: a posting is approved as it is posted.
    pub fn post(new: NewGig, client: UserId, created_by_agent: Option<AgentId>, now: DateTime<Utc>) -> Gig {
        Gig {
            id: GigId::new(),
            client,
            created_by_agent,
            title: new.title,
            description: new.description,
            category: new.category,
            skills_required: new.skills_required,
            budget: new.budget,
            budget_type: new.budget_type,
            status: GigStatus::Open,
            moderation_status: ModerationStatus::Approved,
            moderation_reason: None,
            deadline: new.deadline,
            deliverables: new.deliverables,
            max_proposals: new.max_proposals,
            max_revisions: new.max_revisions,
            proposal_count: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether search shows it (and so any marketplace reader may see it).
    pub fn is_listed(&self) -> bool {
        self.status == GigStatus::Open && self.moderation_status == ModerationStatus::Approved
    }

    /// Whether an agent with these categories and skills is told about the gig (`gig.posted`): it
    /// works in the gig's category, or has one of its skills (case-insensitive).
    pub fn matches_agent(&self, categories: &[String], skills: &[String]) -> bool {
        if categories.iter().any(|c| c == self.category.as_str()) {
            return true;
        }
        let wanted: Vec<String> = self.skills_required.iter().map(|s| s.to_lowercase()).collect();
        skills.iter().any(|s| wanted.contains(&s.to_lowercase()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GigSort {
    /// Most recently posted first.
    #[default]
    Newest,
    BudgetDesc,
    BudgetAsc,
    /// Soonest deadline first, gigs without one last.
    Deadline,
}

status_strings!(GigSort, "sort", {
    Newest => "newest",
    BudgetDesc => "budget_desc",
    BudgetAsc => "budget_asc",
    Deadline => "deadline",
});

pub const MAX_QUERY_CHARS: usize = 200;
pub const SEARCH_LIMIT: (i64, i64) = (1, 100);
pub const DEFAULT_SEARCH_LIMIT: i64 = 20;
pub const MAX_SEARCH_OFFSET: i64 = 10_000;

/// The search parameters as the query string carried them.
#[derive(Debug, Clone, Default)]
pub struct SearchDraft {
    pub q: Option<String>,
    pub category: Option<String>,
    /// A comma-separated list.
    pub skills: Option<String>,
    pub min_budget: Option<f64>,
    pub max_budget: Option<f64>,
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A checked search over listed gigs. Every word of `words` must appear in the title or description;
/// `skills` (lower case) match any of the gig's; budgets are inclusive. Ties in the sort are broken by
/// id, newest first, so the order is total and pages neither repeat nor skip.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchQuery {
    pub words: Vec<String>,
    pub category: Option<Category>,
    pub skills: Vec<String>,
    pub min_budget: Option<Micros>,
    pub max_budget: Option<Micros>,
    pub sort: GigSort,
    pub limit: i64,
    pub offset: i64,
    /// Only gigs whose id is at most this one: a page walk's snapshot, so gigs posted while a client
    /// pages through (which sort first under `newest`) do not shift later pages.
    pub up_to: Option<GigId>,
}

/// The words of a text query: letters and digits, lower case, as both full-text indexes split them.
pub fn query_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

impl SearchQuery {
    pub fn validate(draft: SearchDraft) -> Result<SearchQuery, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let q = draft.q.unwrap_or_default();
        if q.chars().count() > MAX_QUERY_CHARS {
            errors.add("q", format!("Must be at most {MAX_QUERY_CHARS} characters"));
        }
        let category = draft
            .category
            .filter(|c| !c.is_empty())
            .and_then(|raw| raw.parse::<Category>().map_err(|_| errors.add("category", "Not a category")).ok());
        let skills: Vec<String> = draft
            .skills
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if skills.len() > MAX_SKILLS {
            errors.add("skills", format!("At most {MAX_SKILLS} skills"));
        }
        let mut budget = |field: &str, value: Option<f64>| {
            value.and_then(|v| Micros::from_usdc_f64(v).map_err(|e| errors.add(field, e.to_string())).ok())
        };
        let min_budget = budget("min_budget", draft.min_budget);
        let max_budget = budget("max_budget", draft.max_budget);
        if let (Some(min), Some(max)) = (min_budget, max_budget)
            && min > max
        {
            errors.add("min_budget", "Must not be greater than max_budget");
        }
        let sort = match draft.sort.as_deref() {
            None | Some("") => GigSort::Newest,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                errors.add("sort", "Must be newest, budget_desc, budget_asc or deadline");
                GigSort::Newest
            }),
        };
        let limit = draft.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(SEARCH_LIMIT.0..=SEARCH_LIMIT.1).contains(&limit) {
            errors.add("limit", format!("Must be between {} and {}", SEARCH_LIMIT.0, SEARCH_LIMIT.1));
        }
        let offset = draft.offset.unwrap_or(0);
        if !(0..=MAX_SEARCH_OFFSET).contains(&offset) {
            errors.add("offset", format!("Must be between 0 and {MAX_SEARCH_OFFSET}"));
        }
        let mut words: Vec<String> = Vec::new();
        for word in query_words(&q) {
            if !words.contains(&word) {
                words.push(word);
            }
        }
        errors.finish(SearchQuery { words, category, skills, min_budget, max_budget, sort, limit, offset, up_to: None })
    }

    /// What identifies one walk through the pages of a search: every filter and the sort, not the
    /// page's position or size.
    pub fn walk_key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            self.words,
            self.category.map(Category::as_str),
            self.skills,
            self.min_budget.map(Micros::as_micros),
            self.max_budget.map(Micros::as_micros),
            self.sort.as_str()
        )
    }
}

#[cfg(test)]
#[path = "gig_tests.rs"]
mod tests;
