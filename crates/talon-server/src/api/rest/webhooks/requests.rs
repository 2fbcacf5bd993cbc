//! What the webhook routes accept: typed bodies that refuse unknown fields.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::extract::Patch;
use crate::services::webhooks::{NewWebhook, WebhookChanges};

// Never built: subscriptions are read as text so that a bad name is reported next to every other bad
// field (with the list of known events); this states the values they accept. A unit test keeps it in
// step with the events the server emits.
/// An event a webhook subscribes to, or `*` for every event.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum WebhookEvent {
    #[schema(rename = "*")]
    All,
    #[schema(rename = "agent.created")]
    AgentCreated,
    #[schema(rename = "agent.updated")]
    AgentUpdated,
    #[schema(rename = "agent.deleted")]
    AgentDeleted,
    #[schema(rename = "agent.forked")]
    AgentForked,
    #[schema(rename = "agent.merged")]
    AgentMerged,
    #[schema(rename = "agent.deployed")]
    AgentDeployed,
    #[schema(rename = "agent.stopped")]
    AgentStopped,
    #[schema(rename = "agent.label_moved")]
    AgentLabelMoved,
    #[schema(rename = "agent.label_deleted")]
    AgentLabelDeleted,
    #[schema(rename = "version.created")]
    VersionCreated,
    #[schema(rename = "dataset.created")]
    DatasetCreated,
    #[schema(rename = "dataset.updated")]
    DatasetUpdated,
    #[schema(rename = "dataset.deleted")]
    DatasetDeleted,
    #[schema(rename = "evaluation.started")]
    EvaluationStarted,
    #[schema(rename = "evaluation.completed")]
    EvaluationCompleted,
    #[schema(rename = "evaluation.cancelled")]
    EvaluationCancelled,
    #[schema(rename = "task.created")]
    TaskCreated,
    #[schema(rename = "task.started")]
    TaskStarted,
    #[schema(rename = "task.completed")]
    TaskCompleted,
    #[schema(rename = "task.failed")]
    TaskFailed,
    #[schema(rename = "task.cancelled")]
    TaskCancelled,
    #[schema(rename = "gig.posted")]
    GigPosted,
    #[schema(rename = "proposal.accepted")]
    ProposalAccepted,
    #[schema(rename = "contract.funded")]
    ContractFunded,
    #[schema(rename = "contract.delivered")]
    ContractDelivered,
    #[schema(rename = "contract.approved")]
    ContractApproved,
    #[schema(rename = "contract.disputed")]
    ContractDisputed,
    #[schema(rename = "contract.resolved")]
    ContractResolved,
    #[schema(rename = "message.received")]
    MessageReceived,
    #[schema(rename = "review.received")]
    ReviewReceived,
}

/// `POST /api/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({
    "url": "https://your-app.com/webhooks/talon", "events": ["task.completed", "task.failed"],
    "description": "Task results"
}))]
pub struct CreateWebhookRequest {
    /// An http(s) URL of at most 2048 characters, without credentials, that names no internal address
    /// (a host that resolves to one is refused too). The pattern states URLs with a host name; the server
    /// also takes a public IP address.
    #[schema(
        max_length = 2048,
        pattern = "^https?://([A-Za-z0-9]+(-+[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(-+[A-Za-z0-9]+)*(:[0-9]{1,4})?([/?#][!-~]*)?$",
        example = "https://your-app.com/webhooks/talon"
    )]
    pub url: String,
    /// The events to deliver, each at most once; `["*"]` for all.
    #[schema(value_type = Vec<WebhookEvent>, min_items = 1)]
    pub events: Vec<String>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Whether deliveries go out; `true` when absent.
    pub active: Option<bool>,
}

impl From<CreateWebhookRequest> for NewWebhook {
    fn from(body: CreateWebhookRequest) -> Self {
        NewWebhook { url: body.url, events: body.events, description: body.description, active: body.active }
    }
}

/// `PATCH /api/webhooks/{id}`: the fields to change; none changes nothing. `description: null` clears the
/// description.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"events": ["*"], "description": null, "active": true}))]
pub struct UpdateWebhookRequest {
    /// A new endpoint, under the same rules as on creation.
    #[schema(
        max_length = 2048,
        pattern = "^https?://([A-Za-z0-9]+(-+[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(-+[A-Za-z0-9]+)*(:[0-9]{1,4})?([/?#][!-~]*)?$",
        example = "https://your-app.com/webhooks/talon"
    )]
    pub url: Option<String>,
    /// The new list of events.
    #[schema(value_type = Option<Vec<WebhookEvent>>, min_items = 1)]
    pub events: Option<Vec<String>>,
    /// A new description (at most 500 characters); `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Patch<String>,
    /// `true` re-activates a webhook the server disabled; `false` pauses deliveries.
    pub active: Option<bool>,
}

impl From<UpdateWebhookRequest> for WebhookChanges {
    fn from(body: UpdateWebhookRequest) -> Self {
        WebhookChanges {
            url: body.url,
            events: body.events,
            description: body.description.into_change(),
            active: body.active,
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;
    use crate::api::extract::json::parse;

    #[test]
    fn the_documented_events_are_the_ones_the_server_emits() {
        let schema = serde_json::to_value(WebhookEvent::schema()).unwrap();
        let documented: Vec<&str> = schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let mut known = vec!["*"];
        known.extend(talon_domain::event::EVENT_TYPES);
        assert_eq!(documented, known);
    }

    #[test]
    fn description_has_three_states() {
        let change = |body: &[u8]| WebhookChanges::from(parse::<UpdateWebhookRequest>(body).unwrap()).description;
        assert_eq!(change(br#"{"active": true}"#), None);
        assert_eq!(change(br#"{"description": null}"#), Some(None));
        assert_eq!(change(br#"{"description": "d"}"#), Some(Some("d".to_owned())));
    }
}
