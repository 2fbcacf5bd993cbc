//! How a request names an agent or one of its versions, parsed once where the request arrives.

use crate::id::{AgentId, VersionId};

use super::metadata::validate_slug;

/// An agent named by its id (`agent_…` or the bare UUID) or by one of its owner's slugs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentRef {
    Id(AgentId),
    Slug(String),
}

impl AgentRef {
    /// `None` for text that is neither an id nor a well-formed slug: such an agent cannot exist, and no
    /// malformed text (a NUL, say) ever reaches a query.
    pub fn parse(reference: &str) -> Option<Self> {
        match AgentId::parse(reference) {
            Ok(id) => Some(AgentRef::Id(id)),
            Err(_) if validate_slug(reference).is_ok() => Some(AgentRef::Slug(reference.to_owned())),
            Err(_) => None,
        }
    }
}

impl From<AgentId> for AgentRef {
    fn from(id: AgentId) -> Self {
        AgentRef::Id(id)
    }
}

/// A version named by its id (`ver_…` or the bare UUID) or by its number within its agent (`1`, `2`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    Id(VersionId),
    Number(i64),
}

impl VersionRef {
    /// `None` for text that is neither a positive decimal number nor a version id.
    pub fn parse(reference: &str) -> Option<Self> {
        if let Some(number) = version_number(reference) {
            return Some(VersionRef::Number(number));
        }
        VersionId::parse(reference).ok().map(VersionRef::Id)
    }

    /// A number as a JSON body sends one; `None` below 1.
    pub fn number(number: i64) -> Option<Self> {
        (number >= 1).then_some(VersionRef::Number(number))
    }
}

/// A deployed agent as a chat model names it: `support-bot`, or `support-bot@7` to pin its version 7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRef {
    pub agent: AgentRef,
    pub pinned: Option<i64>,
}

impl ServedRef {
    /// `None` for a name that can name no agent, or a pin that is not a version number.
    pub fn parse(name: &str) -> Option<Self> {
        let (agent, pinned) = match name.rsplit_once('@') {
            Some((agent, number)) => (agent, Some(version_number(number)?)),
            None => (name, None),
        };
        Some(ServedRef { agent: AgentRef::parse(agent)?, pinned })
    }
}

/// A version number (`1`, `2`, …): plain decimal digits, from 1.
fn version_number(reference: &str) -> Option<i64> {
    reference.parse::<i64>().ok().filter(|n| *n >= 1 && reference.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers_are_positive_decimal_integers() {
        assert_eq!(VersionRef::parse("1"), Some(VersionRef::Number(1)));
        assert_eq!(VersionRef::parse("42"), Some(VersionRef::Number(42)));
        for not_a_number in ["0", "-1", "+2", " 2", "2.0", "ver_0190", "", "99999999999999999999"] {
            assert_eq!(VersionRef::parse(not_a_number), None, "{not_a_number}");
        }
        let id = VersionId::new();
        assert_eq!(VersionRef::parse(&id.to_string()), Some(VersionRef::Id(id)));
        assert_eq!(VersionRef::parse(&id.as_uuid().to_string()), Some(VersionRef::Id(id)));
        assert_eq!(VersionRef::number(0), None);
    }

    #[test]
    fn a_served_agent_is_a_reference_and_maybe_a_pinned_version() {
        let slug = AgentRef::Slug("support-bot".into());
        assert_eq!(ServedRef::parse("support-bot"), Some(ServedRef { agent: slug.clone(), pinned: None }));
        assert_eq!(ServedRef::parse("support-bot@7"), Some(ServedRef { agent: slug, pinned: Some(7) }));
        for unservable in ["support-bot@", "support-bot@x", "support-bot@0", "@3", "no such thing!"] {
            assert_eq!(ServedRef::parse(unservable), None, "{unservable}");
        }
    }

    #[test]
    fn agents_are_named_by_either_id_form_or_a_slug() {
        let id = AgentId::new();
        assert_eq!(AgentRef::parse(&id.to_string()), Some(AgentRef::Id(id)));
        assert_eq!(AgentRef::parse(&id.as_uuid().to_string()), Some(AgentRef::Id(id)));
        assert_eq!(AgentRef::parse("support-bot"), Some(AgentRef::Slug("support-bot".to_owned())));
        for neither in ["", "Support Bot", "a\0b", "agent_123"] {
            assert_eq!(AgentRef::parse(neither), None, "{neither:?}");
        }
    }
}
