//! Argument lists for the shared statements in `sql`, written once for both databases.

/// Binds an `Agent` to `sql::INSERT_AGENT`.
macro_rules! bind_agent {
    ($query:expr, $agent:expr) => {{
        let agent: &talon_domain::agent::Agent = $agent;
        let origin = agent.fork_origin.as_ref();
        $query
            .bind(*agent.id.as_uuid())
            .bind(*agent.owner.as_uuid())
            .bind(agent.slug.clone())
            .bind(agent.metadata.name.clone())
            .bind(agent.metadata.description.clone())
            .bind(serde_json::to_string(&agent.metadata.capabilities).unwrap_or_else(|_| "[]".to_owned()))
            .bind(agent.public)
            .bind(agent.status.as_str())
            .bind(*agent.current_version_id.as_uuid())
            .bind(agent.deployed_version_id.map(|v| *v.as_uuid()))
            .bind(agent.deployed_at)
            .bind(agent.fork_count)
            .bind(agent.depth)
            .bind(origin.and_then(|o| o.parent_agent_id).map(|a| *a.as_uuid()))
            .bind(origin.and_then(|o| o.parent_version_id).map(|v| *v.as_uuid()))
            .bind(origin.map(|o| o.fork_type.as_str()))
            .bind(agent.created_at)
            .bind(agent.updated_at)
            .bind(agent.api_access)
    }};
}

/// Binds a `Version` to `sql::INSERT_VERSION`.
macro_rules! bind_version {
    ($query:expr, $version:expr) => {{
        let version: &talon_domain::agent::Version = $version;
        $query
            .bind(*version.id.as_uuid())
            .bind(*version.agent_id.as_uuid())
            .bind(version.number)
            .bind(version.parent_version_id.map(|v| *v.as_uuid()))
            .bind(serde_json::to_string(&version.definition).unwrap_or_default())
            .bind(version.content_hash.clone())
            .bind(version.commit_message.clone())
            .bind(version.fork_type.map(|f| f.as_str()))
            .bind(*version.created_by.id.as_uuid())
            .bind(version.created_at)
    }};
}

/// Binds an `Event` to `sql::INSERT_EVENT`.
macro_rules! bind_event {
    ($query:expr, $event:expr) => {{
        let event: &talon_domain::event::Event = $event;
        $query
            .bind(*event.id.as_uuid())
            .bind(*event.account.as_uuid())
            .bind(event.kind)
            .bind(event.data.to_string())
            .bind(event.created_at)
    }};
}

/// Binds a `Task` to `sql::INSERT_TASK`.
macro_rules! bind_task {
    ($query:expr, $task:expr) => {{
        let task: &talon_domain::task::Task = $task;
        $query
            .bind(*task.id.as_uuid())
            .bind(*task.owner.as_uuid())
            .bind(*task.agent_id.as_uuid())
            .bind(*task.version_id.as_uuid())
            .bind(task.title.clone())
            .bind(task.description.clone())
            .bind(task.priority.rank())
            .bind(task.status.as_str())
            .bind(task.executor.as_str())
            .bind(task.input.to_string())
            .bind(task.output.as_ref().map(|o| o.to_string()))
            .bind(task.error.clone())
            .bind(task.attempts)
            .bind(task.max_attempts)
            .bind(task.run_at)
            .bind(task.dedupe_key.clone())
            .bind(task.lease.as_ref().map(|l| l.token.clone()))
            .bind(task.lease.as_ref().map(|l| l.expires_at))
            .bind(task.created_at)
            .bind(task.updated_at)
            .bind(task.started_at)
            .bind(task.completed_at)
    }};
}

/// Binds a `Task`'s mutable fields and the expected state to `sql::UPDATE_TASK`.
macro_rules! bind_task_update {
    ($query:expr, $task:expr, $expected:expr, $lease:expr) => {{
        let task: &talon_domain::task::Task = $task;
        let expected: talon_domain::task::TaskStatus = $expected;
        let lease: Option<&str> = $lease;
        $query
            .bind(task.status.as_str())
            .bind(task.output.as_ref().map(|o| o.to_string()))
            .bind(task.error.clone())
            .bind(task.attempts)
            .bind(task.lease.as_ref().map(|l| l.token.clone()))
            .bind(task.lease.as_ref().map(|l| l.expires_at))
            .bind(task.started_at)
            .bind(task.completed_at)
            .bind(task.updated_at)
            .bind(*task.id.as_uuid())
            .bind(expected.as_str())
            .bind(lease.unwrap_or("").to_owned())
            .bind(task.run_at)
    }};
}

/// Binds a `Webhook` to `sql::INSERT_WEBHOOK` (and, in the same order, `sql::UPDATE_WEBHOOK`).
macro_rules! bind_webhook {
    ($query:expr, $webhook:expr) => {{
        let webhook: &talon_domain::webhook::Webhook = $webhook;
        $query
            .bind(*webhook.id.as_uuid())
            .bind(*webhook.owner.as_uuid())
            .bind(webhook.url.clone())
            .bind(serde_json::to_string(&webhook.events).unwrap_or_else(|_| "[]".to_owned()))
            .bind(webhook.description.clone())
            .bind(webhook.active)
            .bind(webhook.disabled_reason.clone())
            .bind(webhook.sealed_secret.clone())
            .bind(webhook.previous_secret.as_ref().map(|(s, _)| s.clone()))
            .bind(webhook.previous_secret.as_ref().map(|(_, until)| *until))
            .bind(webhook.failing_since)
            .bind(webhook.created_at)
            .bind(webhook.updated_at)
    }};
}

/// Binds a `Delivery` to `sql::INSERT_DELIVERY`.
macro_rules! bind_delivery {
    ($query:expr, $delivery:expr) => {{
        let delivery: &talon_domain::webhook::Delivery = $delivery;
        $query
            .bind(*delivery.id.as_uuid())
            .bind(*delivery.webhook_id.as_uuid())
            .bind(*delivery.owner.as_uuid())
            .bind(*delivery.event_id.as_uuid())
            .bind(delivery.event_kind.clone())
            .bind(delivery.payload.clone())
            .bind(delivery.status.as_str())
            .bind(delivery.attempts)
            .bind(delivery.next_attempt_at)
            .bind(delivery.last_status_code)
            .bind(delivery.last_error.clone())
            .bind(delivery.last_latency_ms)
            .bind(delivery.last_response_body.clone())
            .bind(delivery.created_at)
            .bind(delivery.updated_at)
    }};
}

/// Binds a `Delivery`'s outcome to `sql::UPDATE_DELIVERY`.
macro_rules! bind_delivery_update {
    ($query:expr, $delivery:expr) => {{
        let delivery: &talon_domain::webhook::Delivery = $delivery;
        $query
            .bind(*delivery.id.as_uuid())
            .bind(delivery.status.as_str())
            .bind(delivery.attempts)
            .bind(delivery.next_attempt_at)
            .bind(delivery.last_status_code)
            .bind(delivery.last_error.clone())
            .bind(delivery.last_latency_ms)
            .bind(delivery.last_response_body.clone())
            .bind(delivery.updated_at)
    }};
}

pub(crate) use {
    bind_agent, bind_delivery, bind_delivery_update, bind_event, bind_task, bind_task_update, bind_version,
    bind_webhook,
};
