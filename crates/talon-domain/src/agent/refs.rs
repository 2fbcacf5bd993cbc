//! How a request names an agent or one of its versions, parsed once where the request arrives.

use crate::id::{AgentId, VersionId};

use super::label::validate_label_name;
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

/// A version named by its id (`ver_…` or the bare UUID), by its number within its agent (`1`, `2`, …),
/// or by one of its agent's labels (`production`), which the registry resolves when the request comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    Id(VersionId),
    Number(i64),
    Label(String),
}

impl VersionRef {
    /// `None` for text that is neither a positive decimal number, nor a version id, nor a label name.
    /// The three cannot be confused: a label is never only digits, and never long enough or with the
    /// `_` to be an id.
    pub fn parse(reference: &str) -> Option<Self> {
        if let Some(number) = version_number(reference) {
            return Some(VersionRef::Number(number));
        }
        if let Ok(id) = VersionId::parse(reference) {
            return Some(VersionRef::Id(id));
        }
        validate_label_name(reference).is_ok().then(|| VersionRef::Label(reference.to_owned()))
    }

    /// A number as a JSON body sends one; `None` below 1.
    pub fn number(number: i64) -> Option<Self> {
        (number >= 1).then_some(VersionRef::Number(number))
    }
}

/// A deployed agent as a chat model names it: `support-bot`, `support-bot@7` to pin its version 7, or
/// `support-bot@production` to pin the version its label `production` points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRef {
    pub agent: AgentRef,
    pub pinned: Option<VersionRef>,
}

impl ServedRef {
    /// `None` for a name that can name no agent, or a pin that names no version.
    pub fn parse(name: &str) -> Option<Self> {
        let (agent, pinned) = match name.rsplit_once('@') {
            Some((agent, version)) => (agent, Some(VersionRef::parse(version)?)),
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
        for no_version in ["0", "+2", " 2", "2.0", "ver_0190", "", "99999999999999999999", "Production"] {
            assert_eq!(VersionRef::parse(no_version), None, "{no_version}");
        }
        assert_eq!(VersionRef::parse("production"), Some(VersionRef::Label("production".into())));
        assert_eq!(VersionRef::parse("v-2"), Some(VersionRef::Label("v-2".into())));
        let id = VersionId::new();
        assert_eq!(VersionRef::parse(&id.to_string()), Some(VersionRef::Id(id)));
        assert_eq!(VersionRef::parse(&id.as_uuid().to_string()), Some(VersionRef::Id(id)));
        assert_eq!(VersionRef::number(0), None);
    }

    #[test]
    fn a_served_agent_is_a_reference_and_maybe_a_pinned_version() {
        let slug = AgentRef::Slug("support-bot".into());
        assert_eq!(ServedRef::parse("support-bot"), Some(ServedRef { agent: slug.clone(), pinned: None }));
        assert_eq!(
            ServedRef::parse("support-bot@7"),
            Some(ServedRef { agent: slug.clone(), pinned: Some(VersionRef::Number(7)) })
        );
        assert_eq!(
            ServedRef::parse("support-bot@production"),
            Some(ServedRef { agent: slug, pinned: Some(VersionRef::Label("production".into())) })
        );
        for unservable in ["support-bot@", "support-bot@X", "support-bot@0", "@3", "no such thing!", "a@b_c"] {
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
