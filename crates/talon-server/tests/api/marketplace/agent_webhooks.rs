//! The marketplace's agent_webhooks through HTTP.
