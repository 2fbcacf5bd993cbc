//! An agent's metadata: name, description, capabilities. Changing it does not make a new version.

use crate::validation::ValidationErrors;

const NAME_MAX_CHARS: usize = 100;
const DESCRIPTION_MAX_CHARS: usize = 2000;
const CAPABILITIES_MAX: usize = 50;
const CAPABILITY_MAX_CHARS: usize = 64;
const SLUG_MAX_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentMetadata {
    pub name: String,
    pub description: String,
    pub capabilities: Vec<String>,
}

/// A metadata change as a request states it: absent fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataChange {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub capabilities: Option<Vec<String>>,
}

impl MetadataChange {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.capabilities.is_none()
    }

    pub fn apply(&self, base: &AgentMetadata, errors: &mut ValidationErrors) -> AgentMetadata {
        let mut next = base.clone();
        if let Some(name) = self.name.as_deref().map(str::trim) {
            match name {
                "" => errors.add("name", "Must not be empty"),
                n if n.chars().count() > NAME_MAX_CHARS => errors.add("name", "Must be at most 100 characters"),
                n => next.name = n.to_owned(),
            }
        }
        match &self.description {
            None => {}
            Some(None) => next.description = String::new(),
            Some(Some(d)) if d.chars().count() <= DESCRIPTION_MAX_CHARS => next.description = d.clone(),
            Some(Some(_)) => errors.add("description", "Must be at most 2000 characters"),
        }
        if let Some(capabilities) = &self.capabilities {
            if capabilities.len() > CAPABILITIES_MAX {
                errors.add("capabilities", "Must have at most 50 entries");
            } else {
                let mut parsed: Vec<String> = Vec::with_capacity(capabilities.len());
                for (i, capability) in capabilities.iter().enumerate() {
                    let c = capability.trim();
                    if c.is_empty() || c.chars().count() > CAPABILITY_MAX_CHARS {
                        errors.add(format!("capabilities[{i}]"), "Must be a string of 1 to 64 characters");
                    } else if !parsed.iter().any(|p| p == c) {
                        parsed.push(c.to_owned());
                    }
                }
                next.capabilities = parsed;
            }
        }
        next
    }

    /// Metadata for a new agent: a name is required.
    pub fn into_new(self, errors: &mut ValidationErrors) -> AgentMetadata {
        if self.name.is_none() {
            errors.add("name", "Required field missing");
        }
        self.apply(&AgentMetadata::default(), errors)
    }
}

/// A URL-safe identifier derived from a name: lower-case ASCII letters and digits joined by single
/// dashes, e.g. "Support Bot (EU)" → "support-bot-eu".
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug: String = slug.trim_end_matches('-').chars().take(SLUG_MAX_CHARS).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() { "agent".to_owned() } else { slug }
}

/// The `n`th slug derived from `base`: `base` itself, then `base-2`, `base-3`, … (shortening `base` so
/// that the result stays within 64 characters).
pub fn numbered_slug(base: &str, n: u64) -> String {
    if n <= 1 {
        return base.to_owned();
    }
    let suffix = format!("-{n}");
    let keep = base.len().min(SLUG_MAX_CHARS.saturating_sub(suffix.len()));
    format!("{}{suffix}", base[..keep].trim_end_matches('-'))
}

/// A SQL `LIKE` pattern matching every `numbered_slug(base, n)` (and possibly a few other slugs, which
/// only cost a row each). Slugs hold no `%` or `_`, so nothing needs escaping.
pub fn numbered_slug_pattern(base: &str) -> String {
    // A numbered slug keeps at least this much of `base` (a suffix of up to 20 digits, one dash
    // trimmed): beyond it, variants may differ.
    const SHARED: usize = SLUG_MAX_CHARS - 22;
    if base.len() <= SHARED { format!("{base}-%") } else { format!("{}%", &base[..SHARED]) }
}

/// The free numbered variant of `base` to try: the first one not in `taken`, or with `skip > 0`, the
/// one `skip` places further (so that writers racing for the same name spread over different slugs).
pub fn free_slug(base: &str, taken: &std::collections::HashSet<String>, skip: usize) -> String {
    let mut free_seen = 0;
    (1..)
        .map(|n| numbered_slug(base, n))
        .find(|slug| {
            if taken.contains(slug) {
                return false;
            }
            free_seen += 1;
            free_seen > skip
        })
        .unwrap_or_else(|| base.to_owned())
}

pub fn validate_slug(slug: &str) -> Result<(), &'static str> {
    let valid = !slug.is_empty()
        && slug.len() <= SLUG_MAX_CHARS
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if valid { Ok(()) } else { Err("Must be 1-64 lower-case letters, digits and single dashes, e.g. support-bot") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_slugs_stay_valid_and_match_their_pattern() {
        let long = "a".repeat(64);
        for base in ["support-bot", long.as_str(), &format!("{}-b", "a".repeat(61))] {
            let pattern = numbered_slug_pattern(base);
            let prefix = pattern.trim_end_matches('%');
            for n in [2, 9, 10, 12_345, u64::MAX] {
                let slug = numbered_slug(base, n);
                assert!(validate_slug(&slug).is_ok(), "{slug}");
                assert!(slug.starts_with(prefix), "{slug} vs {pattern}");
                assert!(slug.ends_with(&format!("-{n}")));
            }
        }
        assert_eq!(numbered_slug("bot", 1), "bot");
        assert_eq!(numbered_slug("bot", 3), "bot-3");
    }

    #[test]
    fn the_free_slug_is_the_first_gap_or_further_on_request() {
        let taken: std::collections::HashSet<String> =
            ["bot", "bot-2", "bot-4"].into_iter().map(String::from).collect();
        assert_eq!(free_slug("bot", &taken, 0), "bot-3");
        assert_eq!(free_slug("bot", &taken, 1), "bot-5");
        assert_eq!(free_slug("bot", &taken, 2), "bot-6");
        assert_eq!(free_slug("new", &taken, 0), "new");
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(slug_from_name("Support Bot (EU)"), "support-bot-eu");
        assert_eq!(slug_from_name("  Ünïcode -- agent!! "), "n-code-agent");
        assert_eq!(slug_from_name("!!!"), "agent");
        assert_eq!(slug_from_name(&"a ".repeat(100)).len(), 63);
        for name in ["Support Bot (EU)", "x", "A-B_C"] {
            assert!(validate_slug(&slug_from_name(name)).is_ok());
        }
    }

    #[test]
    fn slug_rules() {
        assert!(validate_slug("support-bot").is_ok());
        for bad in ["", "Support", "a--b", "-a", "a-", "a_b", &"a".repeat(65)] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_validation_reports_each_field() {
        let change = MetadataChange {
            name: Some(" ".into()),
            description: Some(Some("d".repeat(2001))),
            capabilities: Some(vec!["ok".into(), "c".repeat(65), "".into(), " ok ".into()]),
        };
        let mut errors = ValidationErrors::new();
        let next = change.apply(&AgentMetadata::default(), &mut errors);
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "description", "capabilities[1]", "capabilities[2]"]);
        assert_eq!(next.capabilities, ["ok"], "trimmed and deduplicated");
    }

    #[test]
    fn a_description_is_kept_cleared_or_set() {
        let base = AgentMetadata { name: "n".into(), description: "old".into(), capabilities: vec![] };
        let mut errors = ValidationErrors::new();
        let apply = |description, errors: &mut ValidationErrors| {
            MetadataChange { description, ..Default::default() }.apply(&base, errors).description
        };
        assert_eq!(apply(None, &mut errors), "old");
        assert_eq!(apply(Some(None), &mut errors), "");
        assert_eq!(apply(Some(Some("new".into())), &mut errors), "new");
        assert!(errors.is_empty());
    }

    #[test]
    fn a_new_agent_needs_a_name() {
        let mut errors = ValidationErrors::new();
        MetadataChange::default().into_new(&mut errors);
        assert_eq!(errors.fields()[0].field, "name");
    }
}
