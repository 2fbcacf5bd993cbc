//! Who a message of a conversation is from: one definition for every way a conversation reaches a
//! model. Each surface states which roles it accepts: OpenAI's API and the task runtime take all four,
//! the chat API (chat-api.txt) takes user, assistant and system, since tool results answer tool calls
//! that only the other two make.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    /// Every role: what OpenAI's API and the task runtime accept.
    pub const ALL: [Role; 4] = [Role::System, Role::User, Role::Assistant, Role::Tool];
    /// What the chat API accepts, in its reference's order.
    pub const CHAT_API: [Role; 3] = [Role::User, Role::Assistant, Role::System];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    /// `roles` in words, for a message that says which are allowed: `user, assistant or system`.
    pub fn listed(roles: &[Role]) -> String {
        match roles.split_last() {
            None => String::new(),
            Some((last, [])) => last.as_str().to_owned(),
            Some((last, rest)) => {
                let rest: Vec<&str> = rest.iter().map(|r| r.as_str()).collect();
                format!("{} or {}", rest.join(", "), last.as_str())
            }
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_and_write_as_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert!("wizard".parse::<Role>().is_err());
        assert!("User".parse::<Role>().is_err());
    }

    #[test]
    fn allowed_roles_in_words() {
        assert_eq!(Role::listed(&Role::CHAT_API), "user, assistant or system");
        assert_eq!(Role::listed(&Role::ALL), "system, user, assistant or tool");
        assert_eq!(Role::listed(&[Role::User]), "user");
    }
}
