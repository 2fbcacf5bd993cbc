//! Gig and proposal lifecycles, the pure transition functions beside the contract's.
//!
//! A gig follows its contract: it is `in_progress` once a proposal is accepted, `disputed` while the
//! contract is, and ends `completed` or `cancelled`. A proposal is decided once.

use serde::{Deserialize, Serialize};

use super::contract::{IllegalTransition, status_strings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GigStatus {
    Open,
    InProgress,
    Completed,
    Cancelled,
    Disputed,
}

status_strings!(GigStatus, "gig", {
    Open => "open",
    InProgress => "in_progress",
    Completed => "completed",
    Cancelled => "cancelled",
    Disputed => "disputed",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GigEvent {
    /// The client accepted a proposal; a contract now exists.
    AcceptProposal,
    /// The client withdrew the gig before hiring anyone.
    Cancel,
    ContractApproved,
    ContractDisputed,
    /// The platform settled the dispute; whatever the money outcome, the gig is over.
    ContractResolved,
    /// The contract was cancelled or refunded before delivery; the other proposals are already
    /// rejected, so the gig does not reopen.
    ContractCancelled,
}

impl GigEvent {
    pub const ALL: &'static [GigEvent] = &[
        GigEvent::AcceptProposal,
        GigEvent::Cancel,
        GigEvent::ContractApproved,
        GigEvent::ContractDisputed,
        GigEvent::ContractResolved,
        GigEvent::ContractCancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            GigEvent::AcceptProposal => "accept a proposal for",
            GigEvent::Cancel => "cancel",
            GigEvent::ContractApproved => "complete",
            GigEvent::ContractDisputed => "dispute",
            GigEvent::ContractResolved => "resolve",
            GigEvent::ContractCancelled => "cancel the contract of",
        }
    }
}

/// The gig's status after `event`, or why it may not happen.
pub fn gig_transition(from: GigStatus, event: GigEvent) -> Result<GigStatus, IllegalTransition> {
    use GigEvent as E;
    use GigStatus as S;
    match (from, event) {
        (S::Open, E::AcceptProposal) => Ok(S::InProgress),
        (S::Open, E::Cancel) => Ok(S::Cancelled),
        (S::InProgress, E::ContractApproved) => Ok(S::Completed),
        (S::InProgress, E::ContractDisputed) => Ok(S::Disputed),
        (S::InProgress, E::ContractCancelled) => Ok(S::Cancelled),
        (S::Disputed, E::ContractResolved) => Ok(S::Completed),
        _ => Err(IllegalTransition { kind: "gig", from: from.as_str(), event: event.as_str(), reason: None }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Pending,
    Accepted,
    Rejected,
    Withdrawn,
}

status_strings!(ProposalStatus, "proposal", {
    Pending => "pending",
    Accepted => "accepted",
    Rejected => "rejected",
    Withdrawn => "withdrawn",
});

impl ProposalStatus {
    /// Whether the proposal still counts as the agent's one live bid on the gig.
    pub const fn is_live(self) -> bool {
        matches!(self, ProposalStatus::Pending | ProposalStatus::Accepted)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProposalEvent {
    /// The agent changes its price, hours or cover letter.
    Edit,
    Accept,
    /// The client picked another proposal (or rejected this one).
    Reject,
    Withdraw,
}

impl ProposalEvent {
    pub const ALL: &'static [ProposalEvent] =
        &[ProposalEvent::Edit, ProposalEvent::Accept, ProposalEvent::Reject, ProposalEvent::Withdraw];

    pub const fn as_str(self) -> &'static str {
        match self {
            ProposalEvent::Edit => "edit",
            ProposalEvent::Accept => "accept",
            ProposalEvent::Reject => "reject",
            ProposalEvent::Withdraw => "withdraw",
        }
    }
}

/// The proposal's status after `event`: only a pending proposal changes, and only once (editing keeps
/// it pending).
pub fn proposal_transition(from: ProposalStatus, event: ProposalEvent) -> Result<ProposalStatus, IllegalTransition> {
    use ProposalEvent as E;
    use ProposalStatus as S;
    match (from, event) {
        (S::Pending, E::Edit) => Ok(S::Pending),
        (S::Pending, E::Accept) => Ok(S::Accepted),
        (S::Pending, E::Reject) => Ok(S::Rejected),
        (S::Pending, E::Withdraw) => Ok(S::Withdrawn),
        _ => Err(IllegalTransition { kind: "proposal", from: from.as_str(), event: event.as_str(), reason: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_use_the_api_spelling() {
        for status in GigStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.as_str().parse::<GigStatus>().unwrap(), *status);
        }
        for status in ProposalStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.as_str().parse::<ProposalStatus>().unwrap(), *status);
        }
        assert_eq!(GigStatus::InProgress.as_str(), "in_progress");
        let err = "in-progress".parse::<GigStatus>().unwrap_err();
        assert_eq!(err.to_string(), "`in-progress` is not a gig status");
    }

    #[test]
    fn gig_legal_transitions_are_exactly_these() {
        let legal: Vec<_> = GigStatus::ALL
            .iter()
            .flat_map(|from| GigEvent::ALL.iter().map(move |event| (*from, *event)))
            .filter_map(|(from, event)| gig_transition(from, event).ok().map(|to| (from.as_str(), event, to.as_str())))
            .collect();
        use GigEvent as E;
        assert_eq!(
            legal,
            vec![
                ("open", E::AcceptProposal, "in_progress"),
                ("open", E::Cancel, "cancelled"),
                ("in_progress", E::ContractApproved, "completed"),
                ("in_progress", E::ContractDisputed, "disputed"),
                ("in_progress", E::ContractCancelled, "cancelled"),
                ("disputed", E::ContractResolved, "completed"),
            ]
        );
    }

    #[test]
    fn gig_illegal_transition_says_why() {
        let err = gig_transition(GigStatus::InProgress, GigEvent::Cancel).unwrap_err();
        assert_eq!(err.to_string(), "cannot cancel while the gig is in_progress");
        assert!(gig_transition(GigStatus::Completed, GigEvent::AcceptProposal).is_err());
        assert!(gig_transition(GigStatus::Disputed, GigEvent::ContractApproved).is_err());
    }

    #[test]
    fn proposals_are_decided_once() {
        use ProposalEvent as E;
        use ProposalStatus as S;
        assert_eq!(proposal_transition(S::Pending, E::Edit), Ok(S::Pending));
        assert_eq!(proposal_transition(S::Pending, E::Accept), Ok(S::Accepted));
        assert_eq!(proposal_transition(S::Pending, E::Reject), Ok(S::Rejected));
        assert_eq!(proposal_transition(S::Pending, E::Withdraw), Ok(S::Withdrawn));
        for from in [S::Accepted, S::Rejected, S::Withdrawn] {
            for event in E::ALL {
                let err = proposal_transition(from, *event).unwrap_err();
                assert_eq!((err.kind, err.from), ("proposal", from.as_str()));
            }
        }
        assert_eq!(
            proposal_transition(S::Withdrawn, E::Edit).unwrap_err().to_string(),
            "cannot edit while the proposal is withdrawn"
        );
        assert!(S::Pending.is_live() && S::Accepted.is_live() && !S::Rejected.is_live() && !S::Withdrawn.is_live());
    }
}
