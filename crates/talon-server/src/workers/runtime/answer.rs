//! One runtime task answered: its pinned version, its input as messages, the gathered answer as output.

use std::time::Duration;

use serde_json::{Value, json};
use talon_domain::task::Task;
use talon_gateway::{Completion, GatewayError, ProviderError};

use super::input;
use crate::services::chat::{ChatError, ChatInput, Limit};
use crate::services::tasks::RuntimeFailure;
use crate::state::AppState;

/// The whole answer (models tried, first tokens awaited, the stream read) must arrive well within the
/// task's lease, so that the lease never lapses, and the task is never handed to another worker, while
/// this one is still answering.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(240);

/// The task's output, or why there is none.
pub async fn answer(state: &AppState, task: &Task) -> Result<Value, RuntimeFailure> {
    // An evaluation's tasks are answered whether or not the agent is deployed: versions are evaluated
    // before they are deployed.
    let for_evaluation = state.evaluations.runs_task(task).await.map_err(|e| {
        tracing::warn!(error = %e, "the runtime could not tell whether a task is an evaluation's");
        RuntimeFailure::transient("Talon could not load the task's evaluation (internal error)", None)
    })?;
    let (target, asker) = state
        .chat
        .for_task(task.agent_id, task.version_id, ANSWER_TIMEOUT, for_evaluation)
        .await
        .map_err(chat_failure)?;
    let messages = input::messages(&task.input).map_err(RuntimeFailure::permanent)?;
    let answer =
        state.chat.open(&target, ChatInput { messages, ..ChatInput::default() }, asker).await.map_err(chat_failure)?;
    let model = answer.model.clone();
    let completion = talon_gateway::gather(answer.stream).await.map_err(|e| match e {
        ProviderError::Deadline(_) => timed_out(),
        e => provider_failure(&e, format!("The upstream model failed part-way: {e}")),
    })?;
    Ok(output(&model, completion))
}

fn timed_out() -> RuntimeFailure {
    RuntimeFailure::permanent(format!("The model did not finish its answer within {}s", ANSWER_TIMEOUT.as_secs()))
}

/// `{"content", "toolCalls" (when the model called tools), "model", "usage", "finishReason"}`.
pub fn output(model: &str, completion: Completion) -> Value {
    let mut output = json!({
        "content": completion.content,
        "model": model,
        "usage": {
            "promptTokens": completion.usage.prompt_tokens,
            "completionTokens": completion.usage.completion_tokens,
            "totalTokens": completion.usage.total_tokens,
            "estimated": completion.usage_estimated,
        },
        "finishReason": completion.finish_reason,
    });
    if let Some(calls) = completion.tool_calls {
        output["toolCalls"] = calls;
    }
    output
}

fn chat_failure(error: ChatError) -> RuntimeFailure {
    match error {
        ChatError::NotFound => RuntimeFailure::permanent("The task's agent or its pinned version no longer exists"),
        ChatError::NotServing(status) => RuntimeFailure::permanent(format!(
            "The agent is {status}, not deployed: deploy it to have Talon's runtime work its tasks"
        )),
        ChatError::UnknownModel(model) => {
            RuntimeFailure::permanent(format!("The version's model `{model}` names no configured provider"))
        }
        // The runtime answers through the agent, never the per-agent chat API, so this does not arise.
        ChatError::ApiAccessOff => RuntimeFailure::permanent("The agent's chat API access is turned off"),
        ChatError::Upstream(e) => gateway_failure(&e),
        ChatError::Timeout(_) => timed_out(),
        // Tasks are not held to the chat limits; should one refuse anyway, the task waits its turn.
        ChatError::Limited(limit) => {
            let retry_after = match limit {
                Limit::AgentRate { retry_after } => Some(Duration::from_secs(retry_after)),
                Limit::AccountConcurrency | Limit::AgentConcurrency => None,
            };
            RuntimeFailure::transient("A chat limit of the agent was reached", retry_after)
        }
        // The database failed, not the task: leave the attempt to a retry. Details go to the log only.
        ChatError::Service(e) => {
            tracing::warn!(error = %e, "the runtime could not load a task's agent");
            RuntimeFailure::transient("Talon could not load the agent (internal error)", None)
        }
    }
}

fn gateway_failure(error: &GatewayError) -> RuntimeFailure {
    let message = format!("The upstream model failed: {error}");
    match error.last() {
        Some(last) => provider_failure(last, message),
        None => RuntimeFailure::permanent(message),
    }
}

/// Connect errors, 429, 5xx and a slow first token may pass: those are retried.
fn provider_failure(error: &ProviderError, message: String) -> RuntimeFailure {
    if !error.allows_fallback() {
        return RuntimeFailure::permanent(message);
    }
    let retry_after = match error {
        ProviderError::Status { retry_after, .. } => *retry_after,
        _ => None,
    };
    RuntimeFailure::transient(message, retry_after)
}

#[cfg(test)]
mod tests {
    use talon_gateway::types::Usage;

    use super::*;

    #[test]
    fn output_names_the_model_and_usage_in_camel_case() {
        let completion = Completion {
            content: "Hello".into(),
            tool_calls: None,
            finish_reason: "stop".into(),
            usage: Usage { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
            usage_estimated: false,
        };
        let out = output("up/ok", completion.clone());
        assert_eq!(
            out,
            json!({"content": "Hello", "model": "up/ok", "finishReason": "stop",
                   "usage": {"promptTokens": 9, "completionTokens": 3, "totalTokens": 12, "estimated": false}})
        );
        let calls = json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
        let out = output("up/ok", Completion { tool_calls: Some(calls.clone()), ..completion });
        assert_eq!(out["toolCalls"], calls);
    }

    #[test]
    fn only_passing_upstream_failures_are_transient() {
        let status = |status, retry_after| ProviderError::Status { status, message: "x".into(), retry_after };
        let gateway = |e| GatewayError { attempts: vec![("up/m".into(), e)] };
        let limited = gateway_failure(&gateway(status(429, Some(Duration::from_secs(3)))));
        assert!(limited.transient);
        assert_eq!(limited.retry_after, Some(Duration::from_secs(3)));
        assert!(gateway_failure(&gateway(status(503, None))).transient);
        assert!(gateway_failure(&gateway(ProviderError::Connect("refused".into()))).transient);
        let bad = gateway_failure(&gateway(status(400, None)));
        assert!(!bad.transient);
        assert_eq!(bad.error, "The upstream model failed: up/m: the provider answered 400: x");
        assert!(!chat_failure(ChatError::NotServing(talon_domain::agent::AgentStatus::Stopped)).transient);
        assert!(!gateway_failure(&GatewayError { attempts: vec![] }).transient);
    }
}
