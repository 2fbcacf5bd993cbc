//! How a request names an agent for a task: its id (either form) or one of the account's slugs.

use std::fmt;

use talon_domain::AgentId;
use talon_domain::agent::validate_slug;

/// An agent reference that has the shape of an id or a slug; whether such an agent exists (and is the
/// caller's) is for the registry to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentReference {
    Id(AgentId),
    Slug(String),
}

impl AgentReference {
    /// `None` when the text can name no agent at all.
    pub fn parse(raw: &str) -> Option<Self> {
        match AgentId::parse(raw) {
            Ok(id) => Some(AgentReference::Id(id)),
            Err(_) if validate_slug(raw).is_ok() => Some(AgentReference::Slug(raw.to_owned())),
            Err(_) => None,
        }
    }
}

impl fmt::Display for AgentReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentReference::Id(id) => id.fmt(f),
            AgentReference::Slug(slug) => f.write_str(slug),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_slugs_are_told_apart() {
        let id = AgentId::new();
        assert_eq!(AgentReference::parse(&id.to_string()), Some(AgentReference::Id(id)));
        assert_eq!(AgentReference::parse("code-reviewer"), Some(AgentReference::Slug("code-reviewer".into())));
        assert_eq!(AgentReference::parse("no such thing!"), None);
    }
}
