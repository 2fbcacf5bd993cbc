//! What a task's `input` says to the model. The version's prompt goes first as the system message (the
//! chat service adds it); the input becomes the messages after it:
//!
//! 1. `{"messages": [{"role", "content"}, …]}`: those messages, as they are (roles `system`, `user`,
//!    `assistant`, `tool`);
//! 2. else `{"prompt": "…"}`, else `{"message": "…"}`: that string, as one user message;
//! 3. else a JSON string: that string, as one user message;
//! 4. else the input serialised as JSON, as one user message (the model reads structured input as text).

use serde_json::Value;
use talon_gateway::types::ChatMessage;

use crate::services::chat::Role;

/// The messages `input` maps to, or why it cannot be sent (a `messages` field that is not a non-empty
/// array of messages).
pub fn messages(input: &Value) -> Result<Vec<ChatMessage>, String> {
    if let Some(messages) = input.get("messages") {
        return listed(messages);
    }
    let text = ["prompt", "message"].iter().find_map(|field| input.get(field).and_then(Value::as_str));
    let text = match (text, input) {
        (Some(text), _) => text.to_owned(),
        (None, Value::String(text)) => text.clone(),
        (None, other) => other.to_string(),
    };
    Ok(vec![ChatMessage::text(Role::User.as_str(), &text)])
}

fn listed(messages: &Value) -> Result<Vec<ChatMessage>, String> {
    let items = match messages {
        Value::Array(items) if !items.is_empty() => items,
        _ => return Err("input.messages must be a non-empty array of {role, content} messages".into()),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match serde_json::from_value::<ChatMessage>(item.clone()) {
            // The runtime takes every role, as OpenAI's API does.
            Ok(m) if m.role.parse::<Role>().is_ok() => Ok(m),
            Ok(_) => Err(format!("input.messages[{i}].role must be {}", Role::listed(&Role::ALL))),
            Err(e) => Err(format!("input.messages[{i}] is not a message: {e}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn texts(input: Value) -> Vec<(String, String)> {
        messages(&input).unwrap().into_iter().map(|m| (m.role.clone(), m.text_content())).collect()
    }

    fn user(text: &str) -> Vec<(String, String)> {
        vec![("user".into(), text.into())]
    }

    #[test]
    fn messages_are_used_as_they_are() {
        let input = json!({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                                        {"role": "user", "content": "Review PR #42"}], "prompt": "ignored"});
        let got = texts(input);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], ("assistant".into(), "Hello".into()));
        assert_eq!(got[2], ("user".into(), "Review PR #42".into()));
    }

    #[test]
    fn a_prompt_or_message_string_is_one_user_message() {
        assert_eq!(texts(json!({"prompt": "Summarise this", "message": "not this"})), user("Summarise this"));
        assert_eq!(texts(json!({"message": "Hello", "pr": 42})), user("Hello"));
        assert_eq!(texts(json!("Just text")), user("Just text"));
    }

    #[test]
    fn anything_else_is_sent_as_json() {
        assert_eq!(texts(json!({"pr_number": 42})), user(r#"{"pr_number":42}"#));
        assert_eq!(texts(json!({"prompt": 7})), user(r#"{"prompt":7}"#));
        assert_eq!(texts(json!([1, 2])), user("[1,2]"));
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert!(messages(&json!({"messages": []})).unwrap_err().contains("non-empty"));
        assert!(messages(&json!({"messages": "hi"})).is_err());
        let wrong_role = messages(&json!({"messages": [{"role": "wizard", "content": "x"}]})).unwrap_err();
        assert_eq!(wrong_role, "input.messages[0].role must be system, user, assistant or tool");
        assert!(messages(&json!({"messages": [42]})).unwrap_err().starts_with("input.messages[0] is not a message"));
    }
}
