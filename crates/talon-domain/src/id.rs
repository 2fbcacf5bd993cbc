//! Type-prefixed, time-sortable identifiers (`user_…`, `key_…`) backed by UUIDv7.
//!
//! The public form is `<prefix>_<32 lowercase hex digits>`: the hex is the UUID without dashes, so the
//! string sorts in creation order. Every parser also accepts the bare UUID, which is how some API
//! surfaces show the same identifier.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {kind} id")]
pub struct IdParseError {
    pub kind: &'static str,
    pub input: String,
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new identifier ordered after every identifier made before it.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Parses the prefixed form or the bare UUID form.
            pub fn parse(input: &str) -> Result<Self, IdParseError> {
                let err = || IdParseError { kind: $prefix, input: input.chars().take(80).collect() };
                let body = match input.strip_prefix(concat!($prefix, "_")) {
                    Some(hex) if hex.len() == 32 => hex,
                    Some(_) => return Err(err()),
                    None => input,
                };
                Uuid::try_parse(body).map(Self).map_err(|_| err())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = std::borrow::Cow::<str>::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(
    /// An account (a user who signs in).
    UserId,
    "user"
);
define_id!(
    /// An API key.
    ApiKeyId,
    "key"
);
define_id!(
    /// An agent in the registry.
    AgentId,
    "agent"
);
define_id!(
    /// One immutable version of an agent's definition.
    VersionId,
    "ver"
);
define_id!(
    /// A unit of work routed to an agent version.
    TaskId,
    "task"
);
define_id!(
    /// A webhook endpoint.
    WebhookId,
    "hook"
);
define_id!(
    /// One event's delivery to one webhook, with its attempts.
    DeliveryId,
    "dlv"
);
define_id!(
    /// One recorded change, kept in the outbox until delivered.
    EventId,
    "evt"
);
define_id!(
    /// One HTTP request, echoed in `X-Request-Id` and in every error body.
    RequestId,
    "req"
);
define_id!(
    /// A marketplace gig: work a client posts for agents to bid on.
    GigId,
    "gig"
);
define_id!(
    /// An agent's bid on a gig.
    ProposalId,
    "prop"
);
define_id!(
    /// The agreement made when a proposal is accepted; it owns one escrow.
    ContractId,
    "ctr"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips_through_parse() {
        let id = UserId::new();
        let text = id.to_string();
        assert!(text.starts_with("user_"));
        assert_eq!(text.len(), 5 + 32);
        assert_eq!(UserId::parse(&text).unwrap(), id);
    }

    #[test]
    fn bare_uuid_form_is_accepted() {
        let id = AgentId::new();
        assert_eq!(AgentId::parse(&id.as_uuid().to_string()).unwrap(), id);
    }

    #[test]
    fn wrong_prefix_and_garbage_are_rejected() {
        let key = ApiKeyId::new().to_string();
        assert!(UserId::parse(&key).is_err());
        assert!(UserId::parse("user_123").is_err());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("user_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz").is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let ids: Vec<String> = (0..50).map(|_| RequestId::new().to_string()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn marketplace_ids_have_their_prefixes() {
        assert!(GigId::new().to_string().starts_with("gig_"));
        assert!(ProposalId::new().to_string().starts_with("prop_"));
        let contract = ContractId::new();
        assert!(contract.to_string().starts_with("ctr_"));
        assert_eq!(ContractId::parse(&contract.to_string()).unwrap(), contract);
        assert!(ContractId::parse(&GigId::new().to_string()).is_err());
    }

    #[test]
    fn serde_uses_the_prefixed_form() {
        let id = UserId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: UserId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<UserId>("\"nope\"").is_err());
    }
}

define_id!(
    /// A message on a contract.
    MessageId,
    "msg"
);

define_id!(
    /// An item of an agent's marketplace portfolio.
    PortfolioItemId,
    "pfi"
);

define_id!(
    /// A service an agent offers on the marketplace.
    ServiceId,
    "svc"
);

define_id!(
    /// A client's review of an agent's work on a contract.
    ReviewId,
    "rev"
);

define_id!(
    /// A file uploaded for a contract.
    UploadId,
    "upl"
);

define_id!(
    /// A request to take money out of a wallet.
    WithdrawalId,
    "wd"
);

define_id!(
    /// One entry of an account's audit log.
    AuditId,
    "aud"
);

define_id!(
    /// A dataset of cases an agent's versions are evaluated on.
    DatasetId,
    "ds"
);

define_id!(
    /// One evaluation: a dataset's cases run against chosen versions of an agent.
    EvaluationId,
    "eval"
);
