use serde_json::json;
use talon_domain::agent::fork::{fork_definition, unchanged};
use talon_domain::agent::lineage::MAX_DEPTH;
use talon_domain::agent::{
    Agent, AgentRef, DefinitionChange, ForkType, MetadataChange, Version, VersionRef, commit_message, slug_from_name,
};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{AgentId, ValidationErrors};

use super::agents::{agent_event_data, version_event_data};
use super::{Caller, RegistryService, ServiceError};

/// A fork: of which version, with what kind of change, and the change itself.
#[derive(Debug)]
pub struct ForkRequest {
    pub fork_type: ForkType,
    /// The version to fork from; the source's current version by default.
    pub version: Option<VersionRef>,
    /// Left-out metadata is the source's; the name defaults to "<source name> (fork)".
    pub metadata: MetadataChange,
    pub definition: DefinitionChange,
    pub commit_message: Option<String>,
}

pub struct Fork {
    pub agent: Agent,
    pub version: Version,
    pub parent: Agent,
}

impl RegistryService {
    /// Forks an agent the caller owns, or another account's public agent, into a new agent of the caller's.
    pub async fn fork(&self, caller: &Caller, reference: &AgentRef, input: ForkRequest) -> Result<Fork, ServiceError> {
        let mut errors = ValidationErrors::new();
        let message = commit_message(input.commit_message.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let fork_type = input.fork_type;

        let source = self.readable(caller, reference).await?;
        let from = match input.version {
            Some(v) => self.version_of(&source, &v).await?,
            None => self.current_version(&source).await?,
        };
        let definition = fork_definition(fork_type, &from.definition, &input.definition)?;
        if let Some(why) = unchanged(fork_type, &from.definition, &definition) {
            return Err(ServiceError::Conflict(why.into()));
        }
        self.check_models(&definition, input.definition.primary_model_field())?;
        let mut metadata_errors = ValidationErrors::new();
        let mut metadata = input.metadata.apply(&source.metadata, &mut metadata_errors);
        if !metadata_errors.is_empty() {
            return Err(metadata_errors.into());
        }
        if input.metadata.name.is_none() {
            metadata.name = fork_name(&source.metadata.name);
        }
        if source.depth + 1 > MAX_DEPTH {
            return Err(ServiceError::Conflict(format!("This lineage is already {MAX_DEPTH} forks deep")));
        }

        // Not the source's name: the fork may be made public while its source stays private.
        let message = message.unwrap_or_else(|| format!("Fork ({}) of version {}", fork_type.as_str(), from.number));
        let version =
            Version::forked(AgentId::new(), &from, fork_type, definition, message, Self::author(caller), now());
        let agent_id = version.agent_id;
        let slug = slug_from_name(&metadata.name);
        let mut agent = Agent::fork_of(&source, caller.account.id, slug, metadata, &version);
        // The forker hears of its new agent; the source's owner hears that their agent was forked.
        let forked = json!({
            "id": source.id.to_string(),
            "forkId": agent_id.to_string(),
            "forkType": fork_type.as_str(),
            "fromVersionId": from.id.to_string(),
        });
        self.insert_with_free_slug(&mut agent, &version, false, |agent| {
            vec![
                Event::new(agent.owner, event::AGENT_CREATED, agent_event_data(agent)).by(&caller.actor),
                Event::new(agent.owner, event::VERSION_CREATED, version_event_data(&version)).by(&caller.actor),
                Event::new(source.owner, event::AGENT_FORKED, forked.clone()).by(&caller.actor),
            ]
        })
        .await?;
        let parent = Agent { fork_count: source.fork_count + 1, ..source };
        Ok(Fork { agent, version, parent })
    }
}

fn fork_name(source: &str) -> String {
    let name = format!("{source} (fork)");
    if name.chars().count() <= 100 { name } else { source.to_owned() }
}
