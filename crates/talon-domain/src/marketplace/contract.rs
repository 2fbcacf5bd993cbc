//! The contract lifecycle as a pure transition function.
//!
//! Statuses are the SDK's (`active`, `delivered`, `approved`, `disputed`, `cancelled`) plus `resolved`
//! for a settled dispute, which the spec leaves out of the enum although `contract.resolved` exists.
//! Funding is not a status: a funded contract stays `active` (the spec says so, and the starter agents
//! deliver on every `active` contract), so the escrow flag travels next to the status in
//! [`ContractState`], together with the revision count the client may still spend.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    Active,
    Delivered,
    Approved,
    Disputed,
    Resolved,
    Cancelled,
}

/// A status string that names no status of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a {kind} status")]
pub struct UnknownStatus {
    pub kind: &'static str,
    pub input: String,
}

/// Gives a status enum its API spelling both ways, matching its serde form.
macro_rules! status_strings {
    ($ty:ident, $kind:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::marketplace::contract::UnknownStatus;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err($crate::marketplace::contract::UnknownStatus { kind: $kind, input: s.chars().take(40).collect() }),
                }
            }
        }
    };
}
pub(crate) use status_strings;

status_strings!(ContractStatus, "contract", {
    Active => "active",
    Delivered => "delivered",
    Approved => "approved",
    Disputed => "disputed",
    Resolved => "resolved",
    Cancelled => "cancelled",
});

impl ContractStatus {
    /// No event leaves these.
    pub const fn is_final(self) -> bool {
        matches!(self, ContractStatus::Approved | ContractStatus::Resolved | ContractStatus::Cancelled)
    }
}

/// What can happen to a contract. Who may cause each event (client, agent, platform) is the service's
/// concern; this module only says whether it may happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractEvent {
    /// The client's money reached the escrow.
    FundEscrow,
    /// The agent handed in the work.
    Deliver,
    /// The client sends the delivery back for another round.
    RequestRevision,
    /// The client accepts the delivery; the escrow is released.
    Approve,
    /// Either party contests the contract; the platform will settle it.
    Dispute,
    /// The platform settles a dispute (release, refund or split of the escrow).
    Resolve,
    /// The contract ends before any money moved.
    Cancel,
    /// The contract ends before delivery and the escrow goes back to the client.
    Refund,
}

impl ContractEvent {
    pub const ALL: &'static [ContractEvent] = &[
        ContractEvent::FundEscrow,
        ContractEvent::Deliver,
        ContractEvent::RequestRevision,
        ContractEvent::Approve,
        ContractEvent::Dispute,
        ContractEvent::Resolve,
        ContractEvent::Cancel,
        ContractEvent::Refund,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ContractEvent::FundEscrow => "fund escrow",
            ContractEvent::Deliver => "deliver",
            ContractEvent::RequestRevision => "request a revision",
            ContractEvent::Approve => "approve",
            ContractEvent::Dispute => "dispute",
            ContractEvent::Resolve => "resolve",
            ContractEvent::Cancel => "cancel",
            ContractEvent::Refund => "refund",
        }
    }
}

/// An event that may not happen in the current state, with the reason when the status alone does
/// not explain it. The message is fit for a 409 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} while the {kind} is {from}{}", reason.map(|r| format!(": {r}")).unwrap_or_default())]
pub struct IllegalTransition {
    pub kind: &'static str,
    pub from: &'static str,
    pub event: &'static str,
    pub reason: Option<&'static str>,
}

/// Everything the contract rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractState {
    pub status: ContractStatus,
    pub escrow_funded: bool,
    pub revisions_used: u32,
    pub max_revisions: u32,
}

impl ContractState {
    /// A contract as created when a proposal is accepted: active, not yet funded.
    pub const fn new(max_revisions: u32) -> Self {
        Self { status: ContractStatus::Active, escrow_funded: false, revisions_used: 0, max_revisions }
    }

    pub const fn revisions_left(&self) -> u32 {
        self.max_revisions.saturating_sub(self.revisions_used)
    }
}

/// The state after `event`, or why it may not happen.
///
/// Rules beyond the status: work is delivered, disputed or refunded only once the escrow is funded
/// (an agent must never work unpaid-for, and there is nothing to dispute or refund before); an
/// unfunded contract is cancelled instead; a revision spends one of `max_revisions`.
pub fn transition(from: ContractState, event: ContractEvent) -> Result<ContractState, IllegalTransition> {
    use ContractEvent as E;
    use ContractStatus as S;
    let illegal =
        |reason| IllegalTransition { kind: "contract", from: from.status.as_str(), event: event.as_str(), reason };
    let to = |status| Ok(ContractState { status, ..from });
    match (from.status, event) {
        (S::Active, E::FundEscrow) if from.escrow_funded => Err(illegal(Some("the escrow is already funded"))),
        (S::Active, E::FundEscrow) => Ok(ContractState { escrow_funded: true, ..from }),
        (S::Active, E::Deliver | E::Dispute | E::Refund) if !from.escrow_funded => {
            Err(illegal(Some("the escrow is not funded")))
        }
        (S::Active, E::Deliver) => to(S::Delivered),
        (S::Active, E::Refund) => to(S::Cancelled),
        (S::Active, E::Cancel) if from.escrow_funded => Err(illegal(Some("the escrow is funded: refund it instead"))),
        (S::Active, E::Cancel) => to(S::Cancelled),
        (S::Delivered, E::RequestRevision) if from.revisions_used >= from.max_revisions => {
            Err(illegal(Some("no revisions left")))
        }
        (S::Delivered, E::RequestRevision) => {
            Ok(ContractState { status: S::Active, revisions_used: from.revisions_used + 1, ..from })
        }
        (S::Delivered, E::Approve) => to(S::Approved),
        (S::Active | S::Delivered, E::Dispute) => to(S::Disputed),
        (S::Disputed, E::Resolve) => to(S::Resolved),
        _ => Err(illegal(None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContractEvent as E;
    use ContractStatus as S;

    fn funded(max_revisions: u32) -> ContractState {
        transition(ContractState::new(max_revisions), E::FundEscrow).unwrap()
    }

    fn run(start: ContractState, events: &[ContractEvent]) -> Result<ContractState, IllegalTransition> {
        events.iter().try_fold(start, |state, event| transition(state, *event))
    }

    #[test]
    fn statuses_use_the_api_spelling() {
        for status in S::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.as_str().parse::<S>().unwrap(), *status);
        }
        assert_eq!(S::Active.as_str(), "active");
        assert!("funded".parse::<S>().is_err());
        assert!(serde_json::from_str::<S>("\"Active\"").is_err());
    }

    #[test]
    fn happy_path_funds_delivers_and_approves() {
        let state = ContractState::new(2);
        let state = transition(state, E::FundEscrow).unwrap();
        assert_eq!((state.status, state.escrow_funded), (S::Active, true));
        let state = transition(state, E::Deliver).unwrap();
        assert_eq!(state.status, S::Delivered);
        assert_eq!(transition(state, E::Approve).unwrap().status, S::Approved);
    }

    #[test]
    fn revisions_go_back_to_active_until_spent() {
        let state = run(funded(2), &[E::Deliver, E::RequestRevision]).unwrap();
        assert_eq!((state.status, state.revisions_used, state.revisions_left()), (S::Active, 1, 1));
        let state = run(state, &[E::Deliver, E::RequestRevision, E::Deliver]).unwrap();
        assert_eq!(state.revisions_used, 2);
        let err = transition(state, E::RequestRevision).unwrap_err();
        assert_eq!(err.reason, Some("no revisions left"));
        assert_eq!(err.to_string(), "cannot request a revision while the contract is delivered: no revisions left");
        assert!(transition(funded(0), E::Deliver).and_then(|s| transition(s, E::RequestRevision)).is_err());
    }

    #[test]
    fn unfunded_contracts_cancel_and_cannot_start() {
        let fresh = ContractState::new(1);
        assert_eq!(transition(fresh, E::Cancel).unwrap().status, S::Cancelled);
        for event in [E::Deliver, E::Dispute, E::Refund] {
            assert_eq!(transition(fresh, event).unwrap_err().reason, Some("the escrow is not funded"), "{event:?}");
        }
        for event in [E::Approve, E::RequestRevision, E::Resolve] {
            assert_eq!(transition(fresh, event).unwrap_err().reason, None, "{event:?}");
        }
    }

    #[test]
    fn funded_contracts_refund_instead_of_cancelling_and_fund_once() {
        assert_eq!(
            transition(funded(1), E::Cancel).unwrap_err().reason,
            Some("the escrow is funded: refund it instead")
        );
        assert_eq!(transition(funded(1), E::FundEscrow).unwrap_err().reason, Some("the escrow is already funded"));
        assert_eq!(transition(funded(1), E::Refund).unwrap().status, S::Cancelled);
        assert!(run(funded(1), &[E::Deliver, E::Refund]).is_err());
    }

    #[test]
    fn disputes_come_from_active_or_delivered_and_resolve_once() {
        for path in [&[E::Dispute][..], &[E::Deliver, E::Dispute]] {
            let disputed = run(funded(1), path).unwrap();
            assert_eq!(disputed.status, S::Disputed);
            for event in [E::Approve, E::Deliver, E::Cancel, E::Refund, E::Dispute, E::RequestRevision] {
                assert!(transition(disputed, event).is_err(), "{event:?}");
            }
            let resolved = transition(disputed, E::Resolve).unwrap();
            assert_eq!(resolved.status, S::Resolved);
        }
    }

    #[test]
    fn final_statuses_accept_no_event() {
        for status in S::ALL.iter().filter(|s| s.is_final()) {
            for funded in [false, true] {
                let state =
                    ContractState { status: *status, escrow_funded: funded, revisions_used: 0, max_revisions: 5 };
                for event in E::ALL {
                    let err = transition(state, *event).unwrap_err();
                    assert_eq!((err.from, err.reason), (status.as_str(), None));
                }
            }
        }
    }

    #[test]
    fn only_the_listed_pairs_are_legal() {
        let mut legal = Vec::new();
        for status in S::ALL {
            for escrow_funded in [false, true] {
                let state = ContractState { status: *status, escrow_funded, revisions_used: 0, max_revisions: 1 };
                for event in E::ALL {
                    if let Ok(next) = transition(state, *event) {
                        legal.push((status.as_str(), escrow_funded, event.as_str(), next.status.as_str()));
                    }
                }
            }
        }
        assert_eq!(
            legal,
            vec![
                ("active", false, "fund escrow", "active"),
                ("active", false, "cancel", "cancelled"),
                ("active", true, "deliver", "delivered"),
                ("active", true, "dispute", "disputed"),
                ("active", true, "refund", "cancelled"),
                ("delivered", false, "request a revision", "active"),
                ("delivered", false, "approve", "approved"),
                ("delivered", false, "dispute", "disputed"),
                ("delivered", true, "request a revision", "active"),
                ("delivered", true, "approve", "approved"),
                ("delivered", true, "dispute", "disputed"),
                ("disputed", false, "resolve", "resolved"),
                ("disputed", true, "resolve", "resolved"),
            ]
        );
    }

    fn event() -> impl proptest::strategy::Strategy<Value = ContractEvent> {
        proptest::sample::select(E::ALL)
    }

    proptest::proptest! {
        /// Whatever the clients, agents and platform try, money rules hold: nothing is delivered,
        /// approved or disputed without a funded escrow, revisions stay within the limit, the escrow
        /// is resolved (approved, resolved, refunded) at most once, and an end is final.
        #[test]
        fn random_events_respect_the_rules(max in 0..4_u32, events in proptest::collection::vec(event(), 0..40)) {
            let mut state = ContractState::new(max);
            let mut settlements = 0;
            for event in events {
                let Ok(next) = transition(state, event) else { continue };
                proptest::prop_assert!(!state.status.is_final());
                if matches!(next.status, S::Delivered | S::Approved | S::Disputed | S::Resolved) {
                    proptest::prop_assert!(next.escrow_funded);
                }
                proptest::prop_assert!(next.revisions_used <= next.max_revisions);
                if matches!(event, E::Approve | E::Resolve | E::Refund) {
                    settlements += 1;
                }
                state = next;
            }
            proptest::prop_assert!(settlements <= 1);
        }
    }
}
