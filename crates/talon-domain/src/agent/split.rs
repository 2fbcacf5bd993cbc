//! Canary splits: a deployment that shares an agent's traffic between versions by weight, each end user
//! staying on one arm (a stable hash of the agent and the user, never a per-process random seed).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::{AgentId, VersionId};
use crate::validation::ValidationErrors;

/// The weights of a split's arms add up to this.
pub const TOTAL_WEIGHT: u32 = 100;
/// The most arms a split has (each needs a weight of at least 1).
pub const MAX_ARMS: usize = 10;

/// One version of a split and its share of the traffic, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitArm {
    pub version_id: VersionId,
    pub weight: u32,
}

/// A deployment's split: two or more distinct versions of one agent whose weights add up to 100, and
/// the version served before the split began (where aborting it goes back to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Split {
    pub arms: Vec<SplitArm>,
    pub previous_version_id: VersionId,
}

impl Split {
    /// A split of `arms` (versions already resolved, in the order the request sent them, weights as
    /// sent); every rule broken is reported against `split` or `split[i].…`.
    pub fn new(arms: &[(VersionId, i64)], previous_version_id: VersionId) -> Result<Split, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if arms.len() < 2 || arms.len() > MAX_ARMS {
            errors.add("split", format!("Must hold 2 to {MAX_ARMS} arms"));
        }
        let mut checked = Vec::with_capacity(arms.len());
        for (index, (version_id, weight)) in arms.iter().enumerate() {
            if arms[..index].iter().any(|(earlier, _)| earlier == version_id) {
                errors.add(format!("split[{index}].versionId"), "Must name a version no other arm names");
            }
            match u32::try_from(*weight).ok().filter(|w| (1..=TOTAL_WEIGHT).contains(w)) {
                Some(weight) => checked.push(SplitArm { version_id: *version_id, weight }),
                None => errors.add(format!("split[{index}].weight"), "Must be an integer from 1 to 100"),
            }
        }
        if errors.is_empty() && checked.iter().map(|a| a.weight).sum::<u32>() != TOTAL_WEIGHT {
            errors.add("split", "The weights must add up to 100");
        }
        errors.finish(Split { arms: checked, previous_version_id })
    }

    /// The arm that `sticky_key` (the end user, else the caller's credential) is served by.
    pub fn choose(&self, agent: AgentId, sticky_key: &str) -> VersionId {
        let point = split_point(agent, sticky_key);
        let mut cumulative = 0;
        for arm in &self.arms {
            cumulative += arm.weight;
            if point < cumulative {
                return arm.version_id;
            }
        }
        // Unreachable for a split `new` made (the weights add up to 100); the last arm otherwise.
        self.arms.last().map_or(self.previous_version_id, |arm| arm.version_id)
    }

    /// The arm with the most weight (the first of those tied): the version a split deployment names as
    /// its deployed one.
    pub fn main_version(&self) -> VersionId {
        let mut main = self.arms.first().map_or(self.previous_version_id, |a| a.version_id);
        let mut most = 0;
        for arm in &self.arms {
            if arm.weight > most {
                (main, most) = (arm.version_id, arm.weight);
            }
        }
        main
    }
}

/// Where `sticky_key` falls on `[0, 100)` for `agent`: the first 8 bytes of SHA-256 over the agent's id
/// and the key, scaled (not reduced modulo 100, which would favour low points). The same on every
/// replica and across restarts, and independent between agents.
pub fn split_point(agent: AgentId, sticky_key: &str) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(agent.as_uuid().as_bytes());
    hasher.update(sticky_key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let point = (u128::from(u64::from_be_bytes(first)) * u128::from(TOTAL_WEIGHT)) >> 64;
    point as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ninety_ten() -> (Split, VersionId, VersionId) {
        let (main, canary) = (VersionId::new(), VersionId::new());
        (Split::new(&[(main, 90), (canary, 10)], main).unwrap(), main, canary)
    }

    #[test]
    fn a_split_holds_two_or_more_distinct_versions_weighing_100_in_all() {
        let (a, b, c) = (VersionId::new(), VersionId::new(), VersionId::new());
        assert!(Split::new(&[(a, 50), (b, 30), (c, 20)], a).is_ok());
        let field = |arms: &[(VersionId, i64)]| Split::new(arms, a).unwrap_err().fields()[0].field.clone();
        assert_eq!(field(&[(a, 100)]), "split");
        assert_eq!(field(&[(a, 60), (b, 30)]), "split");
        assert_eq!(field(&[(a, 50), (a, 50)]), "split[1].versionId");
        assert_eq!(field(&[(a, 0), (b, 100)]), "split[0].weight");
        assert_eq!(field(&[(a, 101), (b, -1)]), "split[0].weight");
        let eleven: Vec<_> = (0..11).map(|_| (VersionId::new(), 1)).collect();
        assert_eq!(field(&eleven), "split");
    }

    #[test]
    fn the_same_user_always_lands_on_the_same_arm() {
        let (split, _, _) = ninety_ten();
        let agent = AgentId::new();
        for user in ["alice", "bob", "", "user-12345"] {
            let first = split.choose(agent, user);
            assert!((0..100).all(|_| split.choose(agent, user) == first));
        }
        // A fixed hash, not a per-process seed: these points are the same in every process, for ever.
        let fixed = AgentId::parse("agent_0193a4c1e5d27c3e8f1a2b3c4d5e6f70").unwrap();
        let points: Vec<u32> = ["alice", "bob", "carol"].iter().map(|u| split_point(fixed, u)).collect();
        assert_eq!(points, vec![12, 76, 36]);
    }

    #[test]
    fn users_spread_over_the_arms_by_weight() {
        let (split, main, canary) = ninety_ten();
        let agent = AgentId::new();
        let users = 100_000;
        let on_canary = (0..users).filter(|i| split.choose(agent, &format!("user-{i}")) == canary).count();
        let share = on_canary as f64 * 100.0 / users as f64;
        assert!((share - 10.0).abs() < 0.5, "canary share {share}");
        assert_eq!(split.main_version(), main);
        // Every point of [0, 100) is reached, each about as often.
        let mut counts = [0u32; 100];
        for i in 0..users {
            counts[split_point(agent, &i.to_string()) as usize] += 1;
        }
        assert!(counts.iter().all(|&n| (800..1200).contains(&n)), "{counts:?}");
    }
}
