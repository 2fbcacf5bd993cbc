//! An agent's definition: what one version holds. Versions are immutable, so a definition is validated
//! once, when the version is made, and identified by the hash of its canonical JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::validation::ValidationErrors;

pub const PROMPT_MAX_BYTES: usize = 100 * 1024;
pub const TOOLS_MAX: usize = 128;
const TOOL_DESCRIPTION_MAX_CHARS: usize = 2048;
const MODEL_MAX_CHARS: usize = 200;
const MAX_TOKENS_LIMIT: i64 = 200_000;
/// The model a definition uses when it names none: the built-in deterministic test provider.
pub const DEFAULT_MODEL: &str = "test/echo";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// A JSON-schema-like object describing the tool's arguments.
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub primary: String,
    pub fallback: Option<String>,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec { primary: DEFAULT_MODEL.to_owned(), fallback: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub prompt: String,
    pub tools: Vec<Tool>,
    pub config: Map<String, Value>,
    pub model: ModelSpec,
}

impl Definition {
    /// SHA-256 (hex) of the canonical JSON: object keys sorted, no whitespace.
    pub fn content_hash(&self) -> String {
        // serde_json's Map is ordered by key unless `preserve_order` is on, which this crate never enables.
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

/// Any subset of a definition's parts, as a request sends them, not yet validated. A part that is
/// present replaces the same part of the definition it is applied to; absent parts carry over.
#[derive(Debug, Clone, Default)]
pub struct DefinitionPatch {
    pub prompt: Option<Value>,
    pub tools: Option<Value>,
    pub config: Option<Value>,
    pub model: Option<Value>,
}

impl DefinitionPatch {
    /// Moves `prompt`, `tools`, `config` and `model` out of a request body.
    pub fn take_from(body: &mut Map<String, Value>) -> Self {
        DefinitionPatch {
            prompt: body.remove("prompt"),
            tools: body.remove("tools"),
            config: body.remove("config"),
            model: body.remove("model"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.prompt.is_none() && self.tools.is_none() && self.config.is_none() && self.model.is_none()
    }

    /// Where this request names the primary model: `model` itself when it sent a plain string.
    pub fn primary_model_field(&self) -> &'static str {
        if matches!(self.model, Some(Value::String(_))) { "model" } else { "model.primary" }
    }

    /// The definition with every present part validated and applied over `base`.
    pub fn apply(&self, base: &Definition) -> Result<Definition, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut next = base.clone();
        if let Some(prompt) = self.prompt.as_ref().and_then(|p| parse_prompt(p, &mut errors)) {
            next.prompt = prompt;
        }
        if let Some(tools) = &self.tools {
            next.tools = parse_tools(tools, &mut errors);
        }
        if let Some(config) = &self.config {
            next.config = parse_config(config, &mut errors);
        }
        if let Some(model) = &self.model {
            next.model = parse_model(model, &mut errors);
        }
        errors.finish(next)
    }

    /// A complete first definition: the prompt is required, the rest defaults to empty.
    pub fn into_new_definition(self) -> Result<Definition, ValidationErrors> {
        if self.prompt.is_none() {
            let mut errors = ValidationErrors::single("prompt", "Required field missing");
            // Report the other parts' problems too, in one response.
            if let Err(more) = self.apply(&empty()) {
                for e in more.into_fields() {
                    errors.add(e.field, e.message);
                }
            }
            return Err(errors);
        }
        self.apply(&empty())
    }
}

fn empty() -> Definition {
    Definition { prompt: String::new(), tools: Vec::new(), config: Map::new(), model: ModelSpec::default() }
}

fn parse_prompt(value: &Value, errors: &mut ValidationErrors) -> Option<String> {
    match value {
        Value::String(s) if s.trim().is_empty() => errors.add("prompt", "Must not be empty"),
        Value::String(s) if s.len() > PROMPT_MAX_BYTES => errors.add("prompt", "Must be at most 100 KB"),
        Value::String(s) => return Some(s.clone()),
        _ => errors.add("prompt", "Must be a string"),
    }
    None
}

fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Tools come in two shapes, both stored as the native one so that the content hash does not depend on
/// which was sent: native `{name, description, parameters}`, and OpenAI's
/// `{"type": "function", "function": {name, description, parameters}}`.
fn parse_tools(value: &Value, errors: &mut ValidationErrors) -> Vec<Tool> {
    let Value::Array(items) = value else {
        errors.add("tools", "Must be an array of tools");
        return Vec::new();
    };
    if items.len() > TOOLS_MAX {
        errors.add("tools", format!("Must have at most {TOOLS_MAX} tools"));
        return Vec::new();
    }
    let mut tools: Vec<Tool> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some((fields, path)) = tool_fields(item, &format!("tools[{i}]"), errors) else {
            continue;
        };
        let Some(tool) = parse_tool(fields, &path, errors) else {
            continue;
        };
        if tools.iter().any(|t| t.name == tool.name) {
            errors.add(format!("{path}.name"), format!("Duplicate tool name `{}`", tool.name));
            continue;
        }
        tools.push(tool);
    }
    tools
}

/// The object holding a tool's name, description and parameters, with its field path: the item itself
/// (native shape) or its `function` member (OpenAI shape, recognised by `type` or `function`).
fn tool_fields<'a>(
    item: &'a Value,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<(&'a Map<String, Value>, String)> {
    let Value::Object(fields) = item else {
        errors.add(path, "Must be an object: {name, description, parameters} or {type: \"function\", function: {…}}");
        return None;
    };
    if !fields.contains_key("type") && !fields.contains_key("function") {
        return Some((fields, path.to_owned()));
    }
    let mut well_formed = true;
    match fields.get("type") {
        Some(Value::String(kind)) if kind == "function" => {}
        Some(_) => {
            errors.add(format!("{path}.type"), "Must be \"function\"");
            well_formed = false;
        }
        None => {
            errors.add(format!("{path}.type"), "Required field missing (\"function\")");
            well_formed = false;
        }
    }
    match fields.get("function") {
        Some(Value::Object(function)) if well_formed => Some((function, format!("{path}.function"))),
        Some(Value::Object(_)) => None,
        Some(_) => {
            errors.add(format!("{path}.function"), "Must be an object with name, description and parameters");
            None
        }
        None => {
            errors.add(format!("{path}.function"), "Required field missing");
            None
        }
    }
}

fn parse_tool(fields: &Map<String, Value>, path: &str, errors: &mut ValidationErrors) -> Option<Tool> {
    let name = match fields.get("name") {
        Some(Value::String(name)) if valid_tool_name(name) => name.clone(),
        Some(Value::String(_)) => {
            errors.add(format!("{path}.name"), "Must match ^[a-zA-Z0-9_-]{1,64}$");
            return None;
        }
        None => {
            errors.add(format!("{path}.name"), "Required field missing");
            return None;
        }
        Some(_) => {
            errors.add(format!("{path}.name"), "Must be a string");
            return None;
        }
    };
    let description = match fields.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(d)) if d.chars().count() <= TOOL_DESCRIPTION_MAX_CHARS => d.clone(),
        Some(Value::String(_)) => {
            errors.add(format!("{path}.description"), "Must be at most 2048 characters");
            return None;
        }
        Some(_) => {
            errors.add(format!("{path}.description"), "Must be a string");
            return None;
        }
    };
    let parameters = match fields.get("parameters") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => {
            errors.add(format!("{path}.parameters"), "Must be a JSON-schema-like object");
            return None;
        }
    };
    Some(Tool { name, description, parameters })
}

fn parse_config(value: &Value, errors: &mut ValidationErrors) -> Map<String, Value> {
    let Value::Object(config) = value else {
        errors.add("config", "Must be an object");
        return Map::new();
    };
    match config.get("temperature") {
        None | Some(Value::Null) => {}
        Some(Value::Number(t)) if t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t)) => {}
        Some(_) => errors.add("config.temperature", "Must be a number from 0 to 2"),
    }
    match config.get("maxTokens") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_i64().is_some_and(|n| (1..=MAX_TOKENS_LIMIT).contains(&n)) => {}
        Some(_) => errors.add("config.maxTokens", "Must be an integer from 1 to 200000"),
    }
    config.clone()
}

fn parse_model_name(value: Option<&Value>, field: &str, errors: &mut ValidationErrors) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if !m.trim().is_empty() && m.chars().count() <= MODEL_MAX_CHARS => Some(m.clone()),
        Some(_) => {
            errors.add(field, "Must be a model name such as provider/model (at most 200 characters)");
            None
        }
    }
}

/// `"provider/model"` (no fallback) or `{primary, fallback}`; both are stored as the object.
fn parse_model(value: &Value, errors: &mut ValidationErrors) -> ModelSpec {
    if let Value::String(_) = value {
        let primary = parse_model_name(Some(value), "model", errors);
        return ModelSpec { primary: primary.unwrap_or_else(|| DEFAULT_MODEL.to_owned()), fallback: None };
    }
    let Value::Object(model) = value else {
        errors.add("model", "Must be a model name (provider/model) or an object with primary and fallback");
        return ModelSpec::default();
    };
    let primary = parse_model_name(model.get("primary"), "model.primary", errors);
    if model.get("primary").is_none_or(Value::is_null) {
        errors.add("model.primary", "Required field missing");
    }
    let fallback = parse_model_name(model.get("fallback"), "model.fallback", errors);
    ModelSpec { primary: primary.unwrap_or_else(|| DEFAULT_MODEL.to_owned()), fallback }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(value: Value) -> DefinitionPatch {
        DefinitionPatch::take_from(&mut value.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn a_new_definition_needs_a_prompt() {
        let errors = patch(json!({"tools": "nope"})).into_new_definition().unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["prompt", "tools"]);
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let def = patch(json!({"prompt": "hi"})).into_new_definition().unwrap();
        assert_eq!(def.model.primary, DEFAULT_MODEL);
        assert!(def.tools.is_empty() && def.config.is_empty());
    }

    #[test]
    fn absent_parts_carry_over_and_present_parts_replace() {
        let base = patch(json!({"prompt": "a", "config": {"temperature": 0.7, "maxTokens": 2000}}))
            .into_new_definition()
            .unwrap();
        let next = patch(json!({"config": {"temperature": 0.5}})).apply(&base).unwrap();
        assert_eq!(next.prompt, "a");
        assert_eq!(Value::Object(next.config), json!({"temperature": 0.5}));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = patch(json!({
            "prompt": 5,
            "tools": [{"name": "ok"}, {"name": "ok"}, {"name": "bad name!"}, {"name": "p", "parameters": 1}, 7],
            "config": {"temperature": 3, "maxTokens": 0},
            "model": {"fallback": ""}
        }))
        .into_new_definition()
        .unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "prompt",
                "tools[1].name",
                "tools[2].name",
                "tools[3].parameters",
                "tools[4]",
                "config.temperature",
                "config.maxTokens",
                "model.primary",
                "model.fallback"
            ]
        );
    }

    #[test]
    fn prompt_size_limit_is_100_kb() {
        let ok = "x".repeat(PROMPT_MAX_BYTES);
        assert!(patch(json!({"prompt": ok})).into_new_definition().is_ok());
        let too_big = "x".repeat(PROMPT_MAX_BYTES + 1);
        assert!(patch(json!({"prompt": too_big})).into_new_definition().is_err());
    }

    #[test]
    fn openai_shaped_tools_are_stored_in_the_native_shape() {
        let params = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        let native =
            patch(json!({"prompt": "p", "tools": [{"name": "search", "description": "d", "parameters": params}]}))
                .into_new_definition()
                .unwrap();
        let openai = patch(json!({"prompt": "p", "tools": [
            {"type": "function", "function": {"name": "search", "description": "d", "parameters": params}}
        ]}))
        .into_new_definition()
        .unwrap();
        assert_eq!(native, openai);
        assert_eq!(native.content_hash(), openai.content_hash());
    }

    #[test]
    fn both_tool_shapes_mix_and_share_one_namespace() {
        let errors = patch(json!({"prompt": "p", "tools": [
            {"name": "a"},
            {"type": "function", "function": {"name": "a"}}
        ]}))
        .into_new_definition()
        .unwrap_err();
        assert_eq!(errors.fields()[0].field, "tools[1].function.name");
    }

    #[test]
    fn malformed_openai_tools_name_the_field() {
        let errors = patch(json!({"prompt": "p", "tools": [
            {"type": "retrieval", "function": {"name": "a"}},
            {"type": "function"},
            {"type": "function", "function": "search"},
            {"type": "function", "function": {"description": "no name"}},
            {"type": "function", "function": {"name": "b", "parameters": []}},
            {"function": {"name": "c"}}
        ]}))
        .into_new_definition()
        .unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "tools[0].type",
                "tools[1].function",
                "tools[2].function",
                "tools[3].function.name",
                "tools[4].function.parameters",
                "tools[5].type"
            ]
        );
    }

    #[test]
    fn a_model_string_is_a_primary_without_fallback() {
        let short = patch(json!({"prompt": "p", "model": "local/llama3"})).into_new_definition().unwrap();
        let long = patch(json!({"prompt": "p", "model": {"primary": "local/llama3"}})).into_new_definition().unwrap();
        assert_eq!(short.model, ModelSpec { primary: "local/llama3".into(), fallback: None });
        assert_eq!(short.content_hash(), long.content_hash());
        assert_eq!(patch(json!({"model": "a/b"})).primary_model_field(), "model");
        assert_eq!(patch(json!({"model": {"primary": "a/b"}})).primary_model_field(), "model.primary");
        for bad in [json!(""), json!(7), json!(["a/b"])] {
            let errors = patch(json!({"prompt": "p", "model": bad})).into_new_definition().unwrap_err();
            assert_eq!(errors.fields()[0].field, "model");
        }
    }

    #[test]
    fn content_hash_ignores_key_order_but_not_content() {
        let a = patch(json!({"prompt": "p", "config": {"a": 1, "b": 2}})).into_new_definition().unwrap();
        let b = patch(serde_json::from_str(r#"{"prompt": "p", "config": {"b": 2, "a": 1}}"#).unwrap())
            .into_new_definition()
            .unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        let c = patch(json!({"prompt": "p2", "config": {"a": 1, "b": 2}})).into_new_definition().unwrap();
        assert_ne!(a.content_hash(), c.content_hash());
    }
}
