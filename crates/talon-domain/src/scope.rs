//! Permission scopes carried by API keys. A session token (JWT) holds every scope.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    AgentsRead,
    AgentsWrite,
    TasksRead,
    TasksWrite,
    WebhooksRead,
    WebhooksWrite,
    Chat,
    MarketplaceRead,
    MarketplaceWrite,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::TasksRead,
        Scope::TasksWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::Chat,
        Scope::MarketplaceRead,
        Scope::MarketplaceWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::AgentsRead => "agents:read",
            Scope::AgentsWrite => "agents:write",
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::Chat => "chat",
            Scope::MarketplaceRead => "marketplace:read",
            Scope::MarketplaceWrite => "marketplace:write",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.chars().take(64).collect()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<str>::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
        }
    }

    #[test]
    fn unknown_scope_is_rejected() {
        assert!("agents:delete".parse::<Scope>().is_err());
        assert!("".parse::<Scope>().is_err());
    }
}
