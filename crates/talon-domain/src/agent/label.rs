//! Labels: named, movable pointers to one of an agent's versions (`production`, `staging`, …), so that
//! `support-bot@production` names whichever version the label points at.

use chrono::{DateTime, Utc};

use crate::evaluation::Gate;
use crate::id::{AgentId, UserId, VersionId};

const LABEL_MAX_CHARS: usize = 32;

/// A label of an agent and the version it points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub agent_id: AgentId,
    pub name: String,
    pub version_id: VersionId,
    /// The number of the version it points at (within its agent).
    pub version_number: i64,
    pub updated_at: DateTime<Utc>,
    /// The account that last moved it.
    pub moved_by: UserId,
    /// What a version must pass before the label moves to it (see `evaluation::Gate`), if anything.
    pub required_evaluation: Option<Gate>,
}

/// A label's name: 1 to 32 of `a-z`, `0-9` and `-`, and not only digits (`slug@3` names version 3).
pub fn validate_label_name(name: &str) -> Result<(), &'static str> {
    let well_formed = !name.is_empty()
        && name.len() <= LABEL_MAX_CHARS
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err("Must be 1 to 32 characters of a-z, 0-9 and -");
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Must not be only digits: a number names a version");
    }
    if uuid::Uuid::try_parse(name).is_ok() {
        return Err("Must not be a version id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_short_lowercase_words_and_never_numbers() {
        for good in ["production", "staging", "canary-2", "v2", "a", "-", &"x".repeat(32)] {
            assert_eq!(validate_label_name(good), Ok(()), "{good}");
        }
        for bad in ["", "Production", "prod_1", "prod.1", "ünï", "a b", &"x".repeat(33), "a\0"] {
            assert!(validate_label_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(validate_label_name("3"), Err("Must not be only digits: a number names a version"));
        assert!(validate_label_name("007").is_err());
        assert_eq!(validate_label_name("0193a4c1e5d27c3e8f1a2b3c4d5e6f70"), Err("Must not be a version id"));
    }
}
