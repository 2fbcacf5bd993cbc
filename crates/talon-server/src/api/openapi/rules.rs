//! Rules of the request bodies that `utoipa`'s attributes cannot state, written into the component
//! schemas by name: fields that exclude each other, lists whose items must differ, and model names,
//! which must name a provider this server is configured with.

use serde_json::{Value, json};

/// What the document states that depends on this server's configuration.
pub struct ServerFacts<'a> {
    /// The providers a model name (`<provider>/<model>`) may start with.
    pub providers: &'a [String],
}

/// Fields a body may not both send with a value (`null` counts as leaving one out).
const EXCLUSIVE: [(&str, [&str; 2]); 7] = [
    ("DeployAgentRequest", ["versionId", "version"]),
    ("DeployAgentRequest", ["split", "versionId"]),
    ("DeployAgentRequest", ["split", "version"]),
    ("ForkAgentRequest", ["versionId", "version"]),
    ("RollbackRequest", ["versionId", "version"]),
    ("PromoteRequest", ["versionId", "version"]),
    ("MoveLabelRequest", ["versionId", "version"]),
];

/// Bodies that must give one of these fields a value.
const ONE_REQUIRED: [(&str, [&str; 2]); 3] = [
    ("RollbackRequest", ["versionId", "version"]),
    ("PromoteRequest", ["versionId", "version"]),
    ("MoveLabelRequest", ["versionId", "version"]),
];

/// A field that may only be sent (with a value) when another field has a given value (as JSON).
const ONLY_WITH: [(&str, &str, &str, &str); 2] = [
    ("ChatCompletionRequest", "stream_options", "stream", "true"),
    ("ResolutionRequest", "value", "choice", "\"value\""),
];

/// A fork's kind decides which definition fields it must, may and must not send (`null` is leaving one out):
/// the kind, the fields it needs (all of them, or any one with `any`), and the fields it refuses.
const FORK_KINDS: [(&str, &[&str], bool, &[&str]); 3] = [
    ("exact_clone", &[], false, &["prompt", "tools", "config", "model"]),
    ("prompt_mutation", &["prompt"], false, &["tools", "config"]),
    ("tool_mutation", &["tools", "config"], true, &["prompt"]),
];

/// Capability lists (each entry is trimmed and must keep 1 to 64 characters; at most 50 entries).
const CAPABILITIES: [&str; 3] = [
    "/CreateAgentRequest/properties/capabilities",
    "/UpdateAgentRequest/properties/capabilities",
    "/ForkAgentRequest/properties/capabilities",
];

/// A string with something besides whitespace (the server trims such fields) and no NUL.
const NOT_BLANK: &str = "^[^\\x00]*[^\\s\\x00][^\\x00]*$";

/// Lists that may not hold the same item twice.
const UNIQUE_ITEMS: [(&str, &str); 3] =
    [("CreateWebhookRequest", "events"), ("UpdateWebhookRequest", "events"), ("StartEvaluationRequest", "versions")];

/// Tagged unions whose every member refuses fields it does not name (the server reads them with
/// `deny_unknown_fields`, which utoipa states for structs but not for an enum's members).
const CLOSED_UNIONS: [&str; 1] = ["CheckBody"];

/// Where a request names a model of a configured provider (JSON pointers under the component schemas).
const MODEL_NAMES: [&str; 5] = [
    "/ModelRequest/oneOf/0",
    "/ModelSpecRequest/properties/primary",
    "/ModelSpecRequest/properties/fallback",
    "/AgentChatRequest/properties/model",
    "/BotChatRequest/properties/model",
];

pub fn state_rules(schemas: &mut Value, facts: &ServerFacts) {
    for (name, [first, second]) in EXCLUSIVE {
        let Some(schema) = schemas.get_mut(name) else { continue };
        let non_null = json!({ "not": { "type": "null" } });
        let both = json!({
            "required": [first, second],
            "properties": { first: non_null, second: non_null },
        });
        // A body with several exclusive pairs refuses any of them: `not` of their `anyOf`.
        schema["not"] = match schema.get_mut("not").map(Value::take) {
            Some(Value::Object(mut earlier)) if earlier.contains_key("anyOf") => {
                if let Some(Value::Array(pairs)) = earlier.get_mut("anyOf") {
                    pairs.push(both);
                }
                Value::Object(earlier)
            }
            Some(earlier @ Value::Object(_)) => json!({ "anyOf": [earlier, both] }),
            _ => both,
        };
        append_description(schema, &format!("Send `{first}` or `{second}`, not both."));
    }
    for (name, [first, second]) in ONE_REQUIRED {
        let Some(schema) = schemas.get_mut(name) else { continue };
        schema["anyOf"] = json!([given(first), given(second)]);
        append_description(schema, &format!("Send `{first}` or `{second}`."));
    }
    for (name, field, other, value) in ONLY_WITH {
        let Some(schema) = schemas.get_mut(name) else { continue };
        let value: Value = serde_json::from_str(value).unwrap_or(Value::Null);
        let other_set = json!({ "required": [other], "properties": { other: { "const": value } } });
        schema["anyOf"] = json!([{ "not": given(field) }, other_set]);
        append_description(schema, &format!("`{field}` only with `{other}: {value}`."));
    }
    if let Some(fork) = schemas.get_mut("ForkAgentRequest") {
        fork["oneOf"] =
            FORK_KINDS.iter().map(|(kind, needs, any, refuses)| fork_kind(kind, needs, *any, refuses)).collect();
    }
    for pointer in CAPABILITIES {
        if let Some(list) = schemas.pointer_mut(pointer) {
            list["maxItems"] = json!(50);
            list["items"] = json!({ "type": "string", "minLength": 1, "maxLength": 64, "pattern": NOT_BLANK });
        }
    }
    for name in CLOSED_UNIONS {
        let members = schemas.get_mut(name).and_then(|s| s.get_mut("oneOf")).and_then(Value::as_array_mut);
        for member in members.into_iter().flatten().filter_map(Value::as_object_mut) {
            member.remove("patternProperties");
            member.insert("additionalProperties".to_owned(), json!(false));
        }
    }
    for (name, property) in UNIQUE_ITEMS {
        if let Some(list) = schemas.pointer_mut(&format!("/{name}/properties/{property}")) {
            list["uniqueItems"] = json!(true);
        }
    }
    let pattern = model_pattern(facts.providers);
    let listed = facts.providers.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
    for pointer in MODEL_NAMES {
        let Some(field) = schemas.pointer_mut(pointer) else { continue };
        field["pattern"] = json!(pattern);
        append_description(field, &format!("`<provider>/<model>`, where this server's providers are {listed}."));
    }
}

/// `field` is sent with a value other than `null`.
fn given(field: &str) -> Value {
    json!({ "required": [field], "properties": { field: { "not": { "type": "null" } } } })
}

/// The fields a fork of `kind` needs and refuses.
fn fork_kind(kind: &str, needs: &[&str], any: bool, refuses: &[&str]) -> Value {
    let mut all_of = vec![json!({ "properties": { "forkType": { "const": kind } } })];
    let needed: Vec<Value> = needs.iter().map(|f| given(f)).collect();
    match (any, needed.is_empty()) {
        (_, true) => {}
        (true, false) => all_of.push(json!({ "anyOf": needed })),
        (false, false) => all_of.extend(needed),
    }
    all_of.extend(refuses.iter().map(|f| json!({ "not": given(f) })));
    json!({ "allOf": all_of })
}

/// `<provider>/<model>` with one of `providers` and a model name without NUL characters.
fn model_pattern(providers: &[String]) -> String {
    let escaped: Vec<String> = providers.iter().map(|p| regex_literal(p)).collect();
    format!("^(?:{})/[^\\x00]+$", escaped.join("|"))
}

fn regex_literal(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c.to_string() } else { format!("\\{c}") })
        .collect()
}

fn append_description(schema: &mut Value, sentence: &str) {
    let Some(object) = schema.as_object_mut() else { return };
    let text = match object.get("description").and_then(Value::as_str) {
        Some(text) if !text.is_empty() => format!("{text} {sentence}"),
        _ => sentence.to_owned(),
    };
    object.insert("description".to_owned(), Value::String(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_must_start_with_a_provider() {
        let pattern = model_pattern(&["test".to_owned(), "my.ai".to_owned()]);
        assert_eq!(pattern, "^(?:test|my\\.ai)/[^\\x00]+$");
    }

    #[test]
    fn exclusive_fields_and_unique_items_are_stated() {
        let mut schemas = json!({
            "DeployAgentRequest": { "type": "object", "properties": {} },
            "CreateWebhookRequest": { "type": "object", "properties": { "events": { "type": "array" } } },
            "ModelSpecRequest": { "type": "object", "properties": { "primary": { "type": "string" } } },
        });
        state_rules(&mut schemas, &ServerFacts { providers: &["test".to_owned()] });
        let pairs = &schemas["DeployAgentRequest"]["not"]["anyOf"];
        assert_eq!(pairs[0]["required"], json!(["versionId", "version"]));
        assert_eq!(pairs[2]["required"], json!(["split", "version"]));
        assert_eq!(schemas["CreateWebhookRequest"]["properties"]["events"]["uniqueItems"], json!(true));
        assert_eq!(schemas["ModelSpecRequest"]["properties"]["primary"]["pattern"], "^(?:test)/[^\\x00]+$");
        assert!(schemas.get("RollbackRequest").is_none(), "only schemas the document has are touched");
    }
}
