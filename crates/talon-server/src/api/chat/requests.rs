//! The request bodies of the chat surfaces, and the checks that serde cannot make. OpenAI's request
//! is read leniently: every SDK sends parameters Talon does not use (`top_p`, `presence_penalty`,
//! `seed`, …), so unknown fields are ignored there. The chat API's reference lists its fields, so an
//! unknown one is refused (`invalid_request`).

use serde::Deserialize;
use serde_json::Value;
use talon_domain::ValidationErrors;
use talon_gateway::types::ChatMessage;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::answer::StreamOptions;
use crate::api::error::ApiError;
use crate::api::extract::{Bounded, free_json};
use crate::services::chat::{ChatInput, Role};

const NON_EMPTY: &str = "Must be a non-empty array of messages";

/// `POST /v1/chat/completions`: OpenAI's chat completion request, where `model` names an agent.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"model": "support-bot", "messages": [{"role": "user", "content": "Hello!"}],
    "stream": false, "temperature": 0.7}))]
pub struct ChatCompletionRequest {
    /// The agent's slug, or `slug@N` for its version N.
    #[schema(min_length = 1)]
    pub model: String,
    /// The conversation; the agent's prompt goes before it as the system message.
    #[schema(min_items = 1)]
    pub messages: Vec<ChatCompletionMessage>,
    /// Answer as server-sent events of `chat.completion.chunk`, ending in `data: [DONE]`.
    pub stream: Option<bool>,
    /// Only with `stream: true`.
    pub stream_options: Option<StreamOptionsRequest>,
    /// From 0 to 2; the agent's configured temperature when left out.
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    /// The most tokens to answer with; the agent's configured `maxTokens` when left out.
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub max_tokens: Option<Bounded<0, { i64::MAX }>>,
    /// The newer name of `max_tokens`, read when `max_tokens` is left out.
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub max_completion_tokens: Option<Bounded<0, { i64::MAX }>>,
    /// An identifier of the end user, passed upstream.
    pub user: Option<String>,
    /// How many choices to answer with: only 1 is supported.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1)]
    pub n: Option<Bounded<1, 1>>,
}

/// One message of an OpenAI conversation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatCompletionMessage {
    pub role: Role,
    /// A string, or an array of content parts; null on an assistant message that only calls tools.
    #[serde(default, deserialize_with = "free_json::object")]
    #[schema(value_type = Object)]
    pub content: Value,
    /// The tool calls of an assistant message, as OpenAI writes them.
    #[serde(default, deserialize_with = "free_json::objects")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tool_calls: Option<Value>,
    /// On a `tool` message: the call it answers.
    pub tool_call_id: Option<String>,
    pub name: Option<String>,
}

/// OpenAI's `stream_options`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StreamOptionsRequest {
    /// Send the usage in a last chunk of its own, with `choices: []`.
    pub include_usage: Option<bool>,
}

impl ChatCompletionRequest {
    /// The agent reference, what goes upstream, and how to stream (`None`: one JSON answer).
    pub(super) fn into_parts(self) -> Result<(String, ChatInput, Option<StreamOptions>), ApiError> {
        let mut errors = ValidationErrors::new();
        if self.model.is_empty() {
            errors.add("model", "Required: the agent's slug, e.g. support-bot (or support-bot@7)");
        }
        if self.messages.is_empty() {
            errors.add("messages", NON_EMPTY);
        }
        if self.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            errors.add("temperature", "Must be from 0 to 2");
        }
        let stream = self.stream.unwrap_or(false);
        if self.stream_options.is_some() && !stream {
            errors.add("stream_options", "Only allowed when stream is true");
        }
        let include_usage = self.stream_options.and_then(|o| o.include_usage).unwrap_or(false);
        let messages = self
            .messages
            .into_iter()
            .map(|m| ChatMessage {
                role: m.role.as_str().to_owned(),
                content: m.content,
                tool_calls: m.tool_calls,
                tool_call_id: m.tool_call_id,
                name: m.name,
            })
            .collect();
        let input = ChatInput {
            messages,
            model: None,
            temperature: self.temperature,
            max_tokens: self.max_tokens.or(self.max_completion_tokens).and_then(|n| u64::try_from(n.get()).ok()),
            user: self.user,
        };
        let stream = stream.then_some(StreamOptions { include_usage });
        errors.finish((self.model, input, stream)).map_err(ApiError::validation)
    }
}

/// `POST /api/v1/bot/{botId}/chat`: the chat API's request (chat-api.txt).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"messages": [{"role": "user", "content": "Hello, what can you do?"}],
    "stream": false, "model": "test/echo", "user": "customer-123"}))]
pub struct BotChatRequest {
    /// A non-empty conversation.
    #[schema(min_items = 1)]
    pub messages: Vec<ChatApiMessage>,
    /// Answer as server-sent events, ending in `data: [DONE]`. Defaults to false.
    pub stream: Option<bool>,
    /// Replaces the agent's model (`provider/model`) for this request.
    pub model: Option<String>,
    /// An identifier of the end user, passed upstream.
    pub user: Option<String>,
}

/// `POST /api/v1/chat`: the chat API's request, with the agent named in the body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agent": "support-bot", "messages": [{"role": "user", "content": "Hello!"}]}))]
pub struct AgentChatRequest {
    /// The agent's slug or id.
    #[schema(min_length = 1)]
    pub agent: String,
    /// A non-empty conversation.
    #[schema(min_items = 1)]
    pub messages: Vec<ChatApiMessage>,
    /// Answer as server-sent events, ending in `data: [DONE]`. Defaults to false.
    pub stream: Option<bool>,
    /// Replaces the agent's model (`provider/model`) for this request.
    pub model: Option<String>,
    /// An identifier of the end user, passed upstream.
    pub user: Option<String>,
}

/// One message of a chat API conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatApiMessage {
    /// `user`, `assistant` or `system`.
    #[schema(schema_with = chat_api_roles)]
    pub role: Role,
    pub content: String,
}

fn chat_api_roles() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(Role::CHAT_API.map(Role::as_str)))
}

impl BotChatRequest {
    /// What goes upstream, and whether to stream.
    pub fn into_input(self) -> Result<(ChatInput, bool), ApiError> {
        chat_api_input(self.messages, self.model, self.user, self.stream)
    }
}

impl AgentChatRequest {
    /// The agent reference, what goes upstream, and whether to stream.
    pub fn into_parts(self) -> Result<(String, ChatInput, bool), ApiError> {
        let (input, stream) = chat_api_input(self.messages, self.model, self.user, self.stream)?;
        Ok((self.agent, input, stream))
    }
}

fn chat_api_input(
    messages: Vec<ChatApiMessage>,
    model: Option<String>,
    user: Option<String>,
    stream: Option<bool>,
) -> Result<(ChatInput, bool), ApiError> {
    let mut errors = ValidationErrors::new();
    if messages.is_empty() {
        errors.add("messages", NON_EMPTY);
    }
    for (i, message) in messages.iter().enumerate() {
        if !Role::CHAT_API.contains(&message.role) {
            errors.add(format!("messages[{i}].role"), format!("Must be {}", Role::listed(&Role::CHAT_API)));
        }
    }
    let messages = messages.iter().map(|m| ChatMessage::text(m.role.as_str(), &m.content)).collect();
    let input = ChatInput { messages, model, temperature: None, max_tokens: None, user };
    errors.finish((input, stream.unwrap_or(false))).map_err(ApiError::validation)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::error::ErrorCode;
    use crate::api::extract::json::parse;

    fn fields(error: ApiError) -> Vec<String> {
        assert_eq!(error.code(), ErrorCode::ValidationError);
        error.details().iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn openai_ignores_what_it_does_not_use() {
        let body = json!({"model": "bot", "messages": [{"role": "tool", "content": "42", "tool_call_id": "c1"}],
            "top_p": 0.9, "presence_penalty": 0, "seed": 7, "max_completion_tokens": 50});
        let request: ChatCompletionRequest = parse(body.to_string().as_bytes()).unwrap();
        let (model, input, stream) = request.into_parts().unwrap();
        assert_eq!((model.as_str(), input.max_tokens, stream.is_none()), ("bot", Some(50), true));
        assert_eq!(input.messages[0].role, "tool");
    }

    #[test]
    fn openai_checks_are_reported_together() {
        let body = json!({"model": "", "messages": [], "temperature": 3, "stream_options": {}});
        let request: ChatCompletionRequest = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(fields(request.into_parts().unwrap_err()), ["model", "messages", "temperature", "stream_options"]);
        let several = json!({"model": "bot", "messages": [], "n": 2});
        assert_eq!(fields(parse::<ChatCompletionRequest>(several.to_string().as_bytes()).unwrap_err()), ["n"]);
    }

    #[test]
    fn the_chat_api_takes_its_documented_fields_and_roles_only() {
        let unknown = json!({"messages": [{"role": "user", "content": "x", "name": "a"}], "temperature": 1});
        let error = parse::<BotChatRequest>(unknown.to_string().as_bytes()).unwrap_err();
        let mut got = fields(error);
        got.sort();
        assert_eq!(got, ["messages[0].name", "temperature"]);
        let tool = json!({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}]});
        let request: BotChatRequest = parse(tool.to_string().as_bytes()).unwrap();
        let error = request.into_input().unwrap_err();
        assert_eq!(error.details()[0].field, "messages[1].role");
        assert_eq!(error.details()[0].message, "Must be user, assistant or system");
    }
}
