use std::fmt;
use std::str::FromStr;

/// Deployment state. `idle` until first deployed; `error` is set by the runtime when serving fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentStatus {
    Idle,
    Deployed,
    Stopped,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} an agent that is {from}")]
pub struct IllegalTransition {
    pub from: AgentStatus,
    pub action: &'static str,
}

impl AgentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Idle => "idle",
            AgentStatus::Deployed => "deployed",
            AgentStatus::Stopped => "stopped",
            AgentStatus::Error => "error",
        }
    }

    /// Deploying is allowed from any state (a deployed agent is redeployed, e.g. to pin another version).
    pub fn deploy(self) -> Result<AgentStatus, IllegalTransition> {
        Ok(AgentStatus::Deployed)
    }

    /// Only a running (or failing) agent can be stopped.
    pub fn stop(self) -> Result<AgentStatus, IllegalTransition> {
        match self {
            AgentStatus::Deployed | AgentStatus::Error => Ok(AgentStatus::Stopped),
            from => Err(IllegalTransition { from, action: "stop" }),
        }
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "idle" => Ok(AgentStatus::Idle),
            "deployed" => Ok(AgentStatus::Deployed),
            "stopped" => Ok(AgentStatus::Stopped),
            "error" => Ok(AgentStatus::Error),
            other => Err(format!("unknown agent status `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        for from in [AgentStatus::Idle, AgentStatus::Deployed, AgentStatus::Stopped, AgentStatus::Error] {
            assert_eq!(from.deploy(), Ok(AgentStatus::Deployed));
            assert_eq!(from.as_str().parse::<AgentStatus>().unwrap(), from);
        }
        assert_eq!(AgentStatus::Deployed.stop(), Ok(AgentStatus::Stopped));
        assert_eq!(AgentStatus::Error.stop(), Ok(AgentStatus::Stopped));
        assert!(AgentStatus::Idle.stop().is_err());
        assert!(AgentStatus::Stopped.stop().is_err());
    }
}
