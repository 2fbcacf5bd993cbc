//! A change to an agent's definition as a request states it: typed, not yet validated. A part that is
//! present replaces the same part of the definition it is applied to; absent parts carry over. Every
//! rule a part breaks is reported, with the field path the request used, in one `ValidationErrors`.

use serde_json::{Map, Value};

use super::definition::{
    DEFAULT_MODEL, Definition, MAX_TOKENS_LIMIT, MODEL_MAX_CHARS, ModelSpec, PROMPT_MAX_BYTES,
    TOOL_DESCRIPTION_MAX_CHARS, TOOLS_MAX, Tool,
};
use crate::validation::ValidationErrors;

/// A model as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelInput {
    /// `"provider/model"`: a primary model without fallback.
    Name(String),
    /// `{primary, fallback}`; the primary is required.
    Spec { primary: Option<String>, fallback: Option<String> },
}

/// A tool's own fields, in either shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolFields {
    pub name: Option<String>,
    pub description: Option<String>,
    /// A JSON-schema-like object; anything else is refused.
    pub parameters: Option<Value>,
}

/// A tool in one of the two shapes accepted. Both are stored as the native one, so that the content
/// hash does not depend on which was sent.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolInput {
    /// `{name, description, parameters}`.
    Native(ToolFields),
    /// OpenAI's `{"type": "function", "function": {name, description, parameters}}`.
    OpenAi { kind: Option<String>, function: Option<ToolFields> },
}

impl ToolInput {
    pub fn native(name: &str) -> Self {
        ToolInput::Native(ToolFields { name: Some(name.to_owned()), ..ToolFields::default() })
    }
}

/// Any subset of a definition's parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefinitionChange {
    pub prompt: Option<String>,
    pub tools: Option<Vec<ToolInput>>,
    /// Free JSON, with `temperature` and `maxTokens` checked when present.
    pub config: Option<Map<String, Value>>,
    pub model: Option<ModelInput>,
}

impl DefinitionChange {
    pub fn is_empty(&self) -> bool {
        self.prompt.is_none() && self.tools.is_none() && self.config.is_none() && self.model.is_none()
    }

    /// Where this request names the primary model: `model` itself when it sent a plain string.
    pub fn primary_model_field(&self) -> &'static str {
        if matches!(self.model, Some(ModelInput::Name(_))) { "model" } else { "model.primary" }
    }

    /// The definition with every present part validated and applied over `base`.
    pub fn apply(&self, base: &Definition) -> Result<Definition, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut next = base.clone();
        if let Some(prompt) = self.prompt.as_deref().and_then(|p| check_prompt(p, &mut errors)) {
            next.prompt = prompt;
        }
        if let Some(tools) = &self.tools {
            next.tools = check_tools(tools, &mut errors);
        }
        if let Some(config) = &self.config {
            check_config(config, &mut errors);
            next.config = config.clone();
        }
        if let Some(model) = &self.model {
            next.model = check_model(model, &mut errors);
        }
        errors.finish(next)
    }

    /// A complete first definition: the prompt is required, the rest defaults to empty.
    pub fn into_new_definition(self) -> Result<Definition, ValidationErrors> {
        if self.prompt.is_none() {
            let mut errors = ValidationErrors::single("prompt", "Required field missing");
            // Report the other parts' problems too, in one response.
            if let Err(more) = self.apply(&Definition::default()) {
                for e in more.into_fields() {
                    errors.add(e.field, e.message);
                }
            }
            return Err(errors);
        }
        self.apply(&Definition::default())
    }
}

fn check_prompt(prompt: &str, errors: &mut ValidationErrors) -> Option<String> {
    if prompt.trim().is_empty() {
        errors.add("prompt", "Must not be empty");
    } else if prompt.len() > PROMPT_MAX_BYTES {
        errors.add("prompt", "Must be at most 100 KB");
    } else {
        return Some(prompt.to_owned());
    }
    None
}

fn valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_tools(items: &[ToolInput], errors: &mut ValidationErrors) -> Vec<Tool> {
    if items.len() > TOOLS_MAX {
        errors.add("tools", format!("Must have at most {TOOLS_MAX} tools"));
        return Vec::new();
    }
    let mut tools: Vec<Tool> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some((fields, path)) = tool_fields(item, &format!("tools[{i}]"), errors) else {
            continue;
        };
        let Some(tool) = check_tool(fields, &path, errors) else {
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

/// The fields holding a tool's name, description and parameters, with their path: the item itself
/// (native shape) or its `function` member (OpenAI shape).
fn tool_fields<'a>(item: &'a ToolInput, path: &str, errors: &mut ValidationErrors) -> Option<(&'a ToolFields, String)> {
    let (kind, function) = match item {
        ToolInput::Native(fields) => return Some((fields, path.to_owned())),
        ToolInput::OpenAi { kind, function } => (kind, function),
    };
    let well_formed = match kind.as_deref() {
        Some("function") => true,
        Some(_) => {
            errors.add(format!("{path}.type"), "Must be \"function\"");
            false
        }
        None => {
            errors.add(format!("{path}.type"), "Required field missing (\"function\")");
            false
        }
    };
    match function {
        Some(function) if well_formed => Some((function, format!("{path}.function"))),
        Some(_) => None,
        None => {
            errors.add(format!("{path}.function"), "Required field missing");
            None
        }
    }
}

fn check_tool(fields: &ToolFields, path: &str, errors: &mut ValidationErrors) -> Option<Tool> {
    let name = match fields.name.as_deref() {
        Some(name) if valid_tool_name(name) => name.to_owned(),
        Some(_) => {
            errors.add(format!("{path}.name"), "Must match ^[a-zA-Z0-9_-]{1,64}$");
            return None;
        }
        None => {
            errors.add(format!("{path}.name"), "Required field missing");
            return None;
        }
    };
    let description = match fields.description.as_deref() {
        None => String::new(),
        Some(d) if d.chars().count() <= TOOL_DESCRIPTION_MAX_CHARS => d.to_owned(),
        Some(_) => {
            errors.add(format!("{path}.description"), "Must be at most 2048 characters");
            return None;
        }
    };
    let parameters = match &fields.parameters {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => {
            errors.add(format!("{path}.parameters"), "Must be a JSON-schema-like object");
            return None;
        }
    };
    Some(Tool { name, description, parameters })
}

fn check_config(config: &Map<String, Value>, errors: &mut ValidationErrors) {
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
}

fn check_model_name(name: &str, field: &str, errors: &mut ValidationErrors) -> Option<String> {
    if !name.trim().is_empty() && name.chars().count() <= MODEL_MAX_CHARS {
        return Some(name.to_owned());
    }
    errors.add(field, "Must be a model name such as provider/model (at most 200 characters)");
    None
}

/// Both forms are stored as `{primary, fallback}`.
fn check_model(model: &ModelInput, errors: &mut ValidationErrors) -> ModelSpec {
    let (primary, fallback) = match model {
        ModelInput::Name(name) => (check_model_name(name, "model", errors), None),
        ModelInput::Spec { primary, fallback } => {
            let checked = match primary {
                Some(primary) => check_model_name(primary, "model.primary", errors),
                None => {
                    errors.add("model.primary", "Required field missing");
                    None
                }
            };
            (checked, fallback.as_deref().and_then(|f| check_model_name(f, "model.fallback", errors)))
        }
    };
    ModelSpec { primary: primary.unwrap_or_else(|| DEFAULT_MODEL.to_owned()), fallback }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn prompt(text: &str) -> DefinitionChange {
        DefinitionChange { prompt: Some(text.to_owned()), ..DefinitionChange::default() }
    }

    fn tool(name: &str, parameters: Option<Value>) -> ToolFields {
        ToolFields { name: Some(name.to_owned()), description: None, parameters }
    }

    fn openai(kind: Option<&str>, function: Option<ToolFields>) -> ToolInput {
        ToolInput::OpenAi { kind: kind.map(str::to_owned), function }
    }

    fn fields_of(errors: &ValidationErrors) -> Vec<&str> {
        errors.fields().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_new_definition_needs_a_prompt() {
        let change = DefinitionChange {
            config: Some(json!({"temperature": 9}).as_object().cloned().unwrap()),
            ..Default::default()
        };
        let errors = change.into_new_definition().unwrap_err();
        assert_eq!(fields_of(&errors), ["prompt", "config.temperature"]);
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let def = prompt("hi").into_new_definition().unwrap();
        assert_eq!(def.model.primary, DEFAULT_MODEL);
        assert!(def.tools.is_empty() && def.config.is_empty());
    }

    #[test]
    fn absent_parts_carry_over_and_present_parts_replace() {
        let base = DefinitionChange {
            config: json!({"temperature": 0.7, "maxTokens": 2000}).as_object().cloned(),
            ..prompt("a")
        }
        .into_new_definition()
        .unwrap();
        let next = prompt("b").apply(&base).unwrap();
        assert_eq!(next.prompt, "b");
        assert_eq!(next.config, base.config);
        assert_eq!(next.model, base.model);
        let cleared = DefinitionChange { config: Some(Map::new()), ..Default::default() }.apply(&base).unwrap();
        assert!(cleared.config.is_empty());
        assert_eq!(cleared.prompt, "a");
    }

    #[test]
    fn every_invalid_part_is_reported() {
        let errors = DefinitionChange {
            prompt: Some("  ".into()),
            tools: Some(vec![
                ToolInput::native("ok"),
                ToolInput::native("ok"),
                ToolInput::native("bad name!"),
                ToolInput::Native(tool("p", Some(json!(1)))),
                ToolInput::Native(ToolFields::default()),
            ]),
            config: json!({"temperature": 3, "maxTokens": 0}).as_object().cloned(),
            model: Some(ModelInput::Spec { primary: None, fallback: Some(String::new()) }),
        }
        .into_new_definition()
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "prompt",
                "tools[1].name",
                "tools[2].name",
                "tools[3].parameters",
                "tools[4].name",
                "config.temperature",
                "config.maxTokens",
                "model.primary",
                "model.fallback"
            ]
        );
    }

    #[test]
    fn prompt_size_limit_is_100_kb() {
        assert!(prompt(&"x".repeat(PROMPT_MAX_BYTES)).into_new_definition().is_ok());
        assert!(prompt(&"x".repeat(PROMPT_MAX_BYTES + 1)).into_new_definition().is_err());
    }

    #[test]
    fn at_most_128_tools() {
        let tools = (0..=TOOLS_MAX).map(|i| ToolInput::native(&format!("t{i}"))).collect::<Vec<_>>();
        let errors = DefinitionChange { tools: Some(tools), ..prompt("p") }.into_new_definition().unwrap_err();
        assert_eq!(fields_of(&errors), ["tools"]);
    }

    #[test]
    fn openai_shaped_tools_are_stored_in_the_native_shape() {
        let params = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        let search = ToolFields { description: Some("d".into()), ..tool("search", Some(params)) };
        let native = DefinitionChange { tools: Some(vec![ToolInput::Native(search.clone())]), ..prompt("p") }
            .into_new_definition()
            .unwrap();
        let openai = DefinitionChange { tools: Some(vec![openai(Some("function"), Some(search))]), ..prompt("p") }
            .into_new_definition()
            .unwrap();
        assert_eq!(native, openai);
        assert_eq!(native.content_hash(), openai.content_hash());
    }

    #[test]
    fn both_tool_shapes_mix_and_share_one_namespace() {
        let tools = vec![ToolInput::native("a"), openai(Some("function"), Some(tool("a", None)))];
        let errors = DefinitionChange { tools: Some(tools), ..prompt("p") }.into_new_definition().unwrap_err();
        assert_eq!(errors.fields()[0].field, "tools[1].function.name");
    }

    #[test]
    fn malformed_openai_tools_name_the_field() {
        let tools = vec![
            openai(Some("retrieval"), Some(tool("a", None))),
            openai(Some("function"), None),
            openai(Some("function"), Some(ToolFields { description: Some("no name".into()), ..Default::default() })),
            openai(Some("function"), Some(tool("b", Some(json!([]))))),
            openai(None, Some(tool("c", None))),
        ];
        let errors = DefinitionChange { tools: Some(tools), ..prompt("p") }.into_new_definition().unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "tools[0].type",
                "tools[1].function",
                "tools[2].function.name",
                "tools[3].function.parameters",
                "tools[4].type"
            ]
        );
    }

    #[test]
    fn a_model_string_is_a_primary_without_fallback() {
        let with = |model| DefinitionChange { model: Some(model), ..prompt("p") };
        let short = with(ModelInput::Name("local/llama3".into())).into_new_definition().unwrap();
        let long = with(ModelInput::Spec { primary: Some("local/llama3".into()), fallback: None })
            .into_new_definition()
            .unwrap();
        assert_eq!(short.model, ModelSpec { primary: "local/llama3".into(), fallback: None });
        assert_eq!(short.content_hash(), long.content_hash());
        assert_eq!(with(ModelInput::Name("a/b".into())).primary_model_field(), "model");
        assert_eq!(with(ModelInput::Spec { primary: None, fallback: None }).primary_model_field(), "model.primary");
        for bad in ["", "  ", &"m".repeat(201)] {
            let errors = with(ModelInput::Name(bad.to_owned())).into_new_definition().unwrap_err();
            assert_eq!(fields_of(&errors), ["model"]);
        }
    }

    #[test]
    fn content_hash_ignores_key_order_but_not_content() {
        let with_config =
            |text: &str, config: &str| DefinitionChange { config: serde_json::from_str(config).ok(), ..prompt(text) };
        let a = with_config("p", r#"{"a": 1, "b": 2}"#).into_new_definition().unwrap();
        let b = with_config("p", r#"{"b": 2, "a": 1}"#).into_new_definition().unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        let c = with_config("p2", r#"{"a": 1, "b": 2}"#).into_new_definition().unwrap();
        assert_ne!(a.content_hash(), c.content_hash());
    }
}
