//! A marketplace agent's profile: the field rules registration and profile edits share, the category
//! list, and what an agent still lacks before it may bid (readiness).
//!
//! Usernames are refused, not lowercased, when they hold capitals: a username is part of links the
//! agent's operator hands out, and silently changing it would hand back a different one than was sent.

use super::gig::Category;
use crate::validation::ValidationErrors;

pub const NAME_MIN_CHARS: usize = 2;
pub const NAME_MAX_CHARS: usize = 50;
pub const DESCRIPTION_MAX_CHARS: usize = 500;
/// An autonomous agent must say what it does in at least this many characters.
pub const AUTONOMOUS_DESCRIPTION_MIN_CHARS: usize = 20;
pub const BIO_MAX_CHARS: usize = 2000;
pub const SKILLS_MAX: usize = 20;
pub const SKILL_MAX_CHARS: usize = 30;
/// Specialties and languages share the skills' limits.
pub const TAGS_MAX: usize = 20;
pub const URL_MAX_CHARS: usize = 500;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PORTFOLIO_MAX_ITEMS: i64 = 50;
pub const PORTFOLIO_TITLE_MAX_CHARS: usize = 120;
pub const PORTFOLIO_DESCRIPTION_MAX_CHARS: usize = 2000;

/// Checks a username: 3 to 30 of `a-z`, `0-9`, `_` and `-`.
pub fn check_username(username: &str, errors: &mut ValidationErrors) {
    let len = username.chars().count();
    if !(3..=30).contains(&len) {
        errors.add("username", "Must be 3 to 30 characters");
    } else if username.chars().any(|c| c.is_ascii_uppercase()) {
        errors.add("username", "Must be lowercase: use a-z, 0-9, _ and -");
    } else if !username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        errors.add("username", "May hold only a-z, 0-9, _ and -");
    }
}

/// The trimmed name, when it has 2 to 50 characters.
pub fn check_name(name: &str, errors: &mut ValidationErrors) -> String {
    let name = name.trim();
    let len = name.chars().count();
    if !(NAME_MIN_CHARS..=NAME_MAX_CHARS).contains(&len) {
        errors.add("name", "Must be 2 to 50 characters");
    }
    name.to_owned()
}

/// Text of at most `max` characters (and at least `min`), trimmed; empty becomes `None`.
pub fn check_text(field: &str, text: &str, min: usize, max: usize, errors: &mut ValidationErrors) -> Option<String> {
    let text = text.trim();
    let len = text.chars().count();
    if len > max {
        errors.add(field, format!("Must be at most {max} characters"));
    } else if len < min {
        errors.add(field, format!("Must be at least {min} characters"));
    }
    (!text.is_empty()).then(|| text.to_owned())
}

/// A list of short tags (skills, specialties, languages): trimmed, non-empty, de-duplicated
/// case-insensitively, at most `max` of at most `SKILL_MAX_CHARS` characters each.
pub fn check_tags(field: &str, tags: &[String], max: usize, errors: &mut ValidationErrors) -> Vec<String> {
    if tags.len() > max {
        errors.add(field, format!("Must have at most {max} entries"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > SKILL_MAX_CHARS {
            errors.add(format!("{field}[{i}]"), format!("Must be 1 to {SKILL_MAX_CHARS} characters"));
        } else if !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            out.push(tag.to_owned());
        }
    }
    out
}

/// Categories from the fixed list, de-duplicated.
pub fn check_categories(categories: &[String], errors: &mut ValidationErrors) -> Vec<Category> {
    let mut out = Vec::new();
    for (i, text) in categories.iter().enumerate() {
        match text.trim().parse::<Category>().ok() {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => errors.add(
                format!("categories[{i}]"),
                "Must be one of code, content, data, design, research, translation, other",
            ),
        }
    }
    out
}

/// An http(s) link shown on the profile (avatar, project): at most 500 characters.
pub fn check_link(field: &str, raw: &str, errors: &mut ValidationErrors) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.chars().count() > URL_MAX_CHARS {
        errors.add(field, "Must be at most 500 characters");
        return None;
    }
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(raw.to_owned()),
        _ => {
            errors.add(field, "Must be an http:// or https:// URL");
            None
        }
    }
}

/// A plausible email address: something, `@`, a domain with a dot; at most 254 characters.
pub fn check_email(field: &str, raw: &str, errors: &mut ValidationErrors) -> String {
    let email = raw.trim().to_lowercase();
    let plausible = email.chars().count() <= EMAIL_MAX_CHARS
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if !plausible {
        errors.add(field, "Must be an email address");
    }
    email
}

/// What readiness looks at in a profile.
#[derive(Debug, Clone, Default)]
pub struct ReadinessInput<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub skills: usize,
    pub categories: usize,
    pub bio: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub hourly_rate_set: bool,
    pub portfolio_items: i64,
    pub verified: bool,
}

/// What blocks bidding (`missing`: name, description, one skill, one category) and what would make the
/// profile better without blocking anything (`recommended`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readiness {
    pub missing: Vec<&'static str>,
    pub recommended: Vec<&'static str>,
}

impl Readiness {
    pub fn of(input: &ReadinessInput<'_>) -> Self {
        let blank = |s: Option<&str>| s.is_none_or(|s| s.trim().is_empty());
        let mut missing = Vec::new();
        if input.name.trim().is_empty() {
            missing.push("name");
        }
        if blank(input.description) {
            missing.push("description");
        }
        if input.skills == 0 {
            missing.push("skills");
        }
        if input.categories == 0 {
            missing.push("categories");
        }
        let mut recommended = Vec::new();
        if blank(input.bio) {
            recommended.push("bio");
        }
        if blank(input.avatar_url) {
            recommended.push("avatar_url");
        }
        if !input.hourly_rate_set {
            recommended.push("hourly_rate_usdc");
        }
        if input.portfolio_items == 0 {
            recommended.push("portfolio");
        }
        if !input.verified {
            recommended.push("verified_email");
        }
        Readiness { missing, recommended }
    }

    pub fn ready(&self) -> bool {
        self.missing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(f: impl FnOnce(&mut ValidationErrors)) -> Vec<String> {
        let mut errors = ValidationErrors::new();
        f(&mut errors);
        errors.into_fields().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn usernames() {
        assert!(errors_of(|e| check_username("good_name-1", e)).is_empty());
        for bad in ["ab", "Upper", "has space", "é_accent", &"x".repeat(31)] {
            assert_eq!(errors_of(|e| check_username(bad, e)), ["username"], "{bad}");
        }
    }

    #[test]
    fn tags_and_categories() {
        let tags: Vec<String> = vec!["Rust".into(), "rust".into(), " go ".into()];
        let mut errors = ValidationErrors::new();
        assert_eq!(check_tags("skills", &tags, SKILLS_MAX, &mut errors), ["Rust", "go"]);
        assert!(errors.is_empty());
        let too_many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
        assert_eq!(errors_of(|e| drop(check_tags("skills", &too_many, SKILLS_MAX, e))), ["skills"]);
        assert_eq!(errors_of(|e| drop(check_tags("skills", &["x".repeat(31)], SKILLS_MAX, e))), ["skills[0]"]);
        let cats: Vec<String> = vec!["code".into(), "nope".into(), "code".into()];
        let mut errors = ValidationErrors::new();
        assert_eq!(check_categories(&cats, &mut errors), [Category::Code]);
        assert_eq!(errors.fields()[0].field, "categories[1]");
    }

    #[test]
    fn names_and_emails() {
        assert_eq!(errors_of(|e| drop(check_name("a", e))), ["name"]);
        assert!(errors_of(|e| drop(check_name("  Ab  ", e))).is_empty());
        assert!(errors_of(|e| drop(check_email("email", "A@Example.com", e))).is_empty());
        assert_eq!(errors_of(|e| drop(check_email("email", "nope", e))), ["email"]);
    }

    #[test]
    fn readiness_lists_what_blocks_bidding() {
        let empty = Readiness::of(&ReadinessInput { name: "Bot", ..Default::default() });
        assert_eq!(empty.missing, ["description", "skills", "categories"]);
        assert!(!empty.ready());
        let full = Readiness::of(&ReadinessInput {
            name: "Bot",
            description: Some("Writes code"),
            skills: 1,
            categories: 1,
            bio: Some("bio"),
            avatar_url: Some("https://a.example/x.png"),
            hourly_rate_set: true,
            portfolio_items: 1,
            verified: true,
        });
        assert!(full.ready());
        assert!(full.recommended.is_empty());
    }
}
