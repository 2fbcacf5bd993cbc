use serde_json::{Value, json};
use talon_domain::agent::fork::fork_definition;
use talon_domain::agent::lineage::MAX_DEPTH;
use talon_domain::agent::{
    Agent, AgentStatus, Author, DefinitionPatch, ForkOrigin, ForkType, MetadataPatch, Version, slug_from_name,
};
use talon_domain::event::{self, Event};
use talon_domain::time::now;
use talon_domain::{AgentId, ValidationErrors, VersionId};

use super::agents::{agent_event_data, parse_commit_message, version_event_data};
use super::{Caller, RegistryService, ServiceError};

/// A fork request as the request sends it.
#[derive(Debug, Default)]
pub struct ForkInput {
    pub fork_type: Option<Value>,
    /// The version to fork from; the source's current version by default.
    pub version_id: Option<String>,
    pub metadata: MetadataPatch,
    pub definition: DefinitionPatch,
    pub commit_message: Option<Value>,
}

pub struct Fork {
    pub agent: Agent,
    pub version: Version,
    pub parent: Agent,
}

impl RegistryService {
    /// Forks an agent the caller owns, or another account's public agent, into a new agent of the caller's.
    pub async fn fork(&self, caller: &Caller, reference: &str, input: ForkInput) -> Result<Fork, ServiceError> {
        let mut errors = ValidationErrors::new();
        let fork_type = match &input.fork_type {
            None => {
                errors.add("forkType", "Required field missing");
                None
            }
            Some(Value::String(kind)) => match kind.parse::<ForkType>() {
                Ok(kind) => Some(kind),
                Err(message) => {
                    errors.add("forkType", message);
                    None
                }
            },
            Some(_) => {
                errors.add("forkType", "Must be a string");
                None
            }
        };
        let message = parse_commit_message(input.commit_message.as_ref(), &mut errors);
        let Some(fork_type) = fork_type.filter(|_| errors.is_empty()) else {
            return Err(errors.into());
        };

        let source = self.readable(caller, reference).await?;
        let from = match input.version_id.as_deref() {
            Some(v) => self.version_of(&source, v).await?,
            None => self.current_version(&source).await?,
        };
        let definition = fork_definition(fork_type, &from.definition, &input.definition)?;
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

        let at = now();
        let agent_id = AgentId::new();
        let version = Version {
            id: VersionId::new(),
            agent_id,
            number: 1,
            parent_version_id: Some(from.id),
            content_hash: definition.content_hash(),
            definition,
            // Not the source's name: the fork may be made public while its source stays private.
            commit_message: message
                .unwrap_or_else(|| format!("Fork ({}) of version {}", fork_type.as_str(), from.number)),
            fork_type: Some(fork_type),
            created_by: Author { id: caller.account.id, email: caller.account.email.clone() },
            created_at: at,
        };
        let mut agent = Agent {
            id: agent_id,
            owner: caller.account.id,
            slug: slug_from_name(&metadata.name),
            metadata,
            public: false,
            api_access: false,
            status: AgentStatus::Idle,
            current_version_id: version.id,
            deployed_version_id: None,
            deployed_at: None,
            fork_count: 0,
            depth: source.depth + 1,
            fork_origin: Some(ForkOrigin {
                parent_agent_id: Some(source.id),
                parent_version_id: Some(from.id),
                fork_type,
            }),
            created_at: at,
            updated_at: at,
        };
        // The forker hears of its new agent; the source's owner hears that their agent was forked.
        let forked = json!({
            "id": source.id.to_string(),
            "forkId": agent_id.to_string(),
            "forkType": fork_type.as_str(),
            "fromVersionId": from.id.to_string(),
        });
        self.insert_with_free_slug(&mut agent, &version, false, |agent| {
            vec![
                Event::new(agent.owner, event::AGENT_CREATED, agent_event_data(agent)),
                Event::new(agent.owner, event::VERSION_CREATED, version_event_data(&version)),
                Event::new(source.owner, event::AGENT_FORKED, forked.clone()),
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
