//! Forks: a new agent whose first version starts from another agent's version, with a declared kind of
//! change. The kind is checked against what the fork actually changes.

use std::fmt;
use std::str::FromStr;

use super::change::DefinitionChange;
use super::definition::Definition;
use crate::validation::ValidationErrors;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForkType {
    /// The same definition, under a new agent.
    ExactClone,
    /// A different prompt.
    PromptMutation,
    /// Different tools and/or config.
    ToolMutation,
}

impl ForkType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ForkType::ExactClone => "exact_clone",
            ForkType::PromptMutation => "prompt_mutation",
            ForkType::ToolMutation => "tool_mutation",
        }
    }
}

impl fmt::Display for ForkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ForkType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exact_clone" => Ok(ForkType::ExactClone),
            "prompt_mutation" => Ok(ForkType::PromptMutation),
            "tool_mutation" => Ok(ForkType::ToolMutation),
            _ => Err("Must be one of exact_clone, prompt_mutation, tool_mutation".to_owned()),
        }
    }
}

/// The fork's first definition: `source` with `patch` applied, if the patch fits the fork type.
pub fn fork_definition(
    fork_type: ForkType,
    source: &Definition,
    patch: &DefinitionChange,
) -> Result<Definition, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let refuse = |errors: &mut ValidationErrors, field: &str, present: bool| {
        if present {
            errors.add(field, format!("Not allowed with forkType {fork_type}"));
        }
    };
    match fork_type {
        ForkType::ExactClone => {
            refuse(&mut errors, "prompt", patch.prompt.is_some());
            refuse(&mut errors, "tools", patch.tools.is_some());
            refuse(&mut errors, "config", patch.config.is_some());
            refuse(&mut errors, "model", patch.model.is_some());
        }
        ForkType::PromptMutation => {
            refuse(&mut errors, "tools", patch.tools.is_some());
            refuse(&mut errors, "config", patch.config.is_some());
            if patch.prompt.is_none() {
                errors.add("prompt", "Required field missing for forkType prompt_mutation");
            }
        }
        ForkType::ToolMutation => {
            refuse(&mut errors, "prompt", patch.prompt.is_some());
            if patch.tools.is_none() && patch.config.is_none() {
                errors.add("tools", "forkType tool_mutation needs tools or config");
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    patch.apply(source)
}

/// Why `forked` is not the change a fork of `fork_type` from `source` names, when it is not: a prompt
/// mutation must change the prompt, a tool mutation the tools or config. Whether it does depends on the
/// version being forked, so it is a conflict with that version rather than a malformed request.
pub fn unchanged(fork_type: ForkType, source: &Definition, forked: &Definition) -> Option<&'static str> {
    match fork_type {
        ForkType::PromptMutation if forked.prompt == source.prompt => {
            Some("The prompt must differ from the prompt of the version being forked")
        }
        ForkType::ToolMutation if forked.tools == source.tools && forked.config == source.config => {
            Some("Tools or config must differ from the version being forked")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::agent::ToolInput;

    fn source() -> Definition {
        serde_json::from_value(json!({
            "prompt": "You are a support assistant.",
            "tools": [],
            "config": {"temperature": 0.7},
            "model": {"primary": "test/echo", "fallback": null}
        }))
        .unwrap()
    }

    /// The change a request body states (only the parts these tests use).
    fn patch(value: Value) -> DefinitionChange {
        DefinitionChange {
            prompt: value.get("prompt").and_then(Value::as_str).map(str::to_owned),
            tools: value
                .get("tools")
                .and_then(Value::as_array)
                .map(|tools| tools.iter().filter_map(|t| t["name"].as_str()).map(ToolInput::native).collect()),
            config: value.get("config").and_then(Value::as_object).cloned(),
            model: None,
        }
    }

    #[test]
    fn exact_clone_copies_and_takes_no_content() {
        assert_eq!(fork_definition(ForkType::ExactClone, &source(), &patch(json!({}))).unwrap(), source());
        let errors = fork_definition(ForkType::ExactClone, &source(), &patch(json!({"prompt": "x"}))).unwrap_err();
        assert_eq!(errors.fields()[0].field, "prompt");
    }

    #[test]
    fn prompt_mutation_needs_a_different_prompt() {
        let forked =
            fork_definition(ForkType::PromptMutation, &source(), &patch(json!({"prompt": "Eres un asistente."})))
                .unwrap();
        assert_eq!(forked.prompt, "Eres un asistente.");
        assert!(fork_definition(ForkType::PromptMutation, &source(), &patch(json!({}))).is_err());
        let same = patch(json!({"prompt": "You are a support assistant."}));
        let forked = fork_definition(ForkType::PromptMutation, &source(), &same).unwrap();
        assert!(unchanged(ForkType::PromptMutation, &source(), &forked).is_some());
        let tools = patch(json!({"prompt": "x", "tools": []}));
        assert_eq!(
            fork_definition(ForkType::PromptMutation, &source(), &tools).unwrap_err().fields()[0].field,
            "tools"
        );
    }

    #[test]
    fn tool_mutation_needs_different_tools_or_config() {
        let tools = patch(json!({"tools": [{"name": "search", "description": "Search", "parameters": {}}]}));
        assert_eq!(fork_definition(ForkType::ToolMutation, &source(), &tools).unwrap().tools.len(), 1);
        let config = patch(json!({"config": {"temperature": 0.2}}));
        assert!(fork_definition(ForkType::ToolMutation, &source(), &config).is_ok());
        let same = patch(json!({"config": {"temperature": 0.7}, "tools": []}));
        let forked = fork_definition(ForkType::ToolMutation, &source(), &same).unwrap();
        assert!(unchanged(ForkType::ToolMutation, &source(), &forked).is_some());
        let changed = fork_definition(ForkType::ToolMutation, &source(), &config).unwrap();
        assert_eq!(unchanged(ForkType::ToolMutation, &source(), &changed), None);
        assert!(fork_definition(ForkType::ToolMutation, &source(), &patch(json!({}))).is_err());
        assert!(
            fork_definition(ForkType::ToolMutation, &source(), &patch(json!({"prompt": "x", "tools": []}))).is_err()
        );
    }

    #[test]
    fn fork_type_names() {
        for t in [ForkType::ExactClone, ForkType::PromptMutation, ForkType::ToolMutation] {
            assert_eq!(t.as_str().parse::<ForkType>().unwrap(), t);
        }
        assert!("clone".parse::<ForkType>().is_err());
    }
}
