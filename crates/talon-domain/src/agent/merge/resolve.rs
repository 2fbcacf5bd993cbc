//! Resolving a merge's conflicts: one choice per conflict (ours, theirs, or a value given in full). A
//! resolution that names no conflict, a conflict resolved twice or left unresolved, and a value of the
//! wrong shape are each reported by the resolution's position; the result is validated as any new
//! definition is.

use std::collections::HashMap;

use serde_json::Value;

use super::{Merge, Sides, render_prompt};
use crate::agent::change::{DefinitionChange, ModelInput, ToolFields, ToolInput};
use crate::agent::definition::{Definition, ModelSpec, Tool};
use crate::validation::ValidationErrors;

#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Ours,
    Theirs,
    /// For the prompt, the hunk's replacement text; for a config key, its value; for a tool, the tool
    /// (`{name, description, parameters}`, or null for none); for the model, `provider/model` or
    /// `{primary, fallback}`.
    Value(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// A conflict's `field`.
    pub field: String,
    pub choice: Choice,
}

impl Merge {
    /// The definition once every conflict is resolved by `resolutions`. Errors name the resolution at
    /// fault (`resolutions[2].field`, `resolutions[0].value`), or `resolutions` for a conflict none resolves.
    pub fn resolve(&self, resolutions: &[Resolution]) -> Result<Definition, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let by_field: HashMap<&str, usize> =
            self.conflicts.iter().enumerate().map(|(i, c)| (c.field.as_str(), i)).collect();
        let mut chosen: Vec<Option<(usize, &Choice)>> = vec![None; self.conflicts.len()];
        for (position, resolution) in resolutions.iter().enumerate() {
            match by_field.get(resolution.field.as_str()) {
                None => errors.add(
                    format!("resolutions[{position}].field"),
                    format!("`{}` names no conflict of this merge", resolution.field),
                ),
                Some(&i) if chosen[i].is_some() => errors.add(
                    format!("resolutions[{position}].field"),
                    format!("`{}` is resolved more than once", resolution.field),
                ),
                Some(&i) => chosen[i] = Some((position, &resolution.choice)),
            }
        }
        for (conflict, choice) in self.conflicts.iter().zip(&chosen) {
            if choice.is_none() {
                errors.add("resolutions", format!("The conflict at `{}` has no resolution", conflict.field));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut definition = self.definition.clone();
        let mut prompt_texts: Vec<String> = self.prompt_conflicts.iter().map(|c| c.ours.clone()).collect();
        for (sides, choice) in self.sides.iter().zip(chosen.into_iter().flatten()) {
            let (position, choice) = choice;
            let value_field = format!("resolutions[{position}].value");
            match sides {
                Sides::Prompt { index } => {
                    let conflict = &self.prompt_conflicts[*index];
                    prompt_texts[*index] = match choice {
                        Choice::Ours => conflict.ours.clone(),
                        Choice::Theirs => conflict.theirs.clone(),
                        Choice::Value(Value::String(text)) => {
                            let ends_lines = [&conflict.base, &conflict.ours, &conflict.theirs]
                                .iter()
                                .any(|side| side.ends_with('\n'));
                            if ends_lines && !text.is_empty() && !text.ends_with('\n') {
                                format!("{text}\n")
                            } else {
                                text.clone()
                            }
                        }
                        Choice::Value(_) => {
                            errors.add(value_field, "Must be the hunk's replacement text (a string)");
                            continue;
                        }
                    };
                }
                Sides::Config { key, ours, theirs } => {
                    let value = match choice {
                        Choice::Ours => ours.clone(),
                        Choice::Theirs => theirs.clone(),
                        Choice::Value(value) => Some(value.clone()),
                    };
                    match value {
                        Some(value) => definition.config.insert(key.clone(), value),
                        None => definition.config.remove(key),
                    };
                }
                Sides::Tool { name, ours, theirs } => {
                    let tool = match choice {
                        Choice::Ours => ours.clone(),
                        Choice::Theirs => theirs.clone(),
                        Choice::Value(Value::Null) => None,
                        Choice::Value(value) => match serde_json::from_value::<Tool>(value.clone()) {
                            Ok(tool) if tool.name == *name => Some(tool),
                            Ok(_) => {
                                errors.add(value_field, format!("Must be the tool named `{name}`"));
                                continue;
                            }
                            Err(_) => {
                                errors.add(value_field, "Must be a tool {name, description, parameters}, or null");
                                continue;
                            }
                        },
                    };
                    let at = definition.tools.iter().position(|t| t.name == *name);
                    match (at, tool) {
                        (Some(at), Some(tool)) => definition.tools[at] = tool,
                        (Some(at), None) => {
                            definition.tools.remove(at);
                        }
                        (None, Some(tool)) => definition.tools.push(tool),
                        (None, None) => {}
                    }
                }
                Sides::Model { ours, theirs } => {
                    definition.model = match choice {
                        Choice::Ours => ours.clone(),
                        Choice::Theirs => theirs.clone(),
                        Choice::Value(Value::String(primary)) => ModelSpec { primary: primary.clone(), fallback: None },
                        Choice::Value(value) => match serde_json::from_value::<ModelSpec>(value.clone()) {
                            Ok(model) => model,
                            Err(_) => {
                                errors.add(value_field, "Must be a model name (provider/model) or {primary, fallback}");
                                continue;
                            }
                        },
                    };
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        definition.prompt = render_prompt(&self.prompt_segments, |i| prompt_texts[i].clone());
        validated(&definition)
    }
}

/// `definition` checked by the rules every new version's definition meets (prompt, tools, config, model).
pub fn validated(definition: &Definition) -> Result<Definition, ValidationErrors> {
    let change = DefinitionChange {
        prompt: Some(definition.prompt.clone()),
        tools: Some(
            definition
                .tools
                .iter()
                .map(|t| {
                    ToolInput::Native(ToolFields {
                        name: Some(t.name.clone()),
                        description: Some(t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                    })
                })
                .collect(),
        ),
        config: Some(definition.config.clone()),
        model: Some(ModelInput::Spec {
            primary: Some(definition.model.primary.clone()),
            fallback: definition.model.fallback.clone(),
        }),
    };
    change.apply(&Definition::default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::merge;
    use super::super::tests::{def, tool};
    use super::*;

    fn resolution(field: &str, choice: Choice) -> Resolution {
        Resolution { field: field.into(), choice }
    }

    /// Both sides change line 2 of the prompt, `temperature`, the tool `search` and the model.
    fn conflicted() -> Merge {
        let base = def(json!({"prompt": "a\nb\nc\n", "config": {"temperature": 0.7}, "tools": [tool("search", "s")]}));
        let ours = def(json!({
            "prompt": "a\nours\nc\n", "config": {"temperature": 0.2}, "tools": [tool("search", "o")],
            "model": {"primary": "local/one", "fallback": null}
        }));
        let theirs = def(json!({
            "prompt": "a\ntheirs\nc\nd\n", "config": {"temperature": 1.0}, "tools": [tool("search", "t")],
            "model": {"primary": "local/two", "fallback": null}
        }));
        merge(&base, &ours, &theirs)
    }

    #[test]
    fn choices_give_the_final_definition() {
        let merge = conflicted();
        let fields: Vec<&str> = merge.conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["prompt", "config.temperature", "tools.search", "model"]);
        let resolved = merge
            .resolve(&[
                resolution("prompt", Choice::Theirs),
                resolution("config.temperature", Choice::Value(json!(0.5))),
                resolution("tools.search", Choice::Ours),
                resolution("model", Choice::Value(json!("local/three"))),
            ])
            .unwrap();
        assert_eq!(resolved.prompt, "a\ntheirs\nc\nd\n", "theirs' clean addition of d stays");
        assert_eq!(resolved.config["temperature"], json!(0.5));
        assert_eq!(resolved.tools[0].description, "o");
        assert_eq!(resolved.model.primary, "local/three");

        let replaced = merge
            .resolve(&[
                resolution("prompt", Choice::Value(json!("both"))),
                resolution("config.temperature", Choice::Theirs),
                resolution("tools.search", Choice::Value(Value::Null)),
                resolution("model", Choice::Value(json!({"primary": "local/x", "fallback": "local/y"}))),
            ])
            .unwrap();
        assert_eq!(replaced.prompt, "a\nboth\nc\nd\n", "the line end is kept");
        assert_eq!(replaced.config["temperature"], json!(1.0));
        assert!(replaced.tools.is_empty());
        assert_eq!(replaced.model.fallback.as_deref(), Some("local/y"));
    }

    #[test]
    fn unknown_duplicate_and_missing_resolutions_are_named() {
        let merge = conflicted();
        let errors = merge
            .resolve(&[
                resolution("prompt", Choice::Ours),
                resolution("prompt", Choice::Theirs),
                resolution("config.topP", Choice::Ours),
            ])
            .unwrap_err();
        let fields: Vec<(&str, &str)> =
            errors.fields().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(fields[0], ("resolutions[1].field", "`prompt` is resolved more than once"));
        assert_eq!(fields[1], ("resolutions[2].field", "`config.topP` names no conflict of this merge"));
        let missing: Vec<&str> = fields[2..].iter().map(|(_, m)| *m).collect();
        assert_eq!(
            missing,
            [
                "The conflict at `config.temperature` has no resolution",
                "The conflict at `tools.search` has no resolution",
                "The conflict at `model` has no resolution"
            ]
        );
    }

    #[test]
    fn values_of_the_wrong_shape_or_breaking_the_rules_are_refused() {
        let merge = conflicted();
        let all = |prompt: Value, temperature: Value, tool: Value| {
            merge.resolve(&[
                resolution("prompt", Choice::Value(prompt)),
                resolution("config.temperature", Choice::Value(temperature)),
                resolution("tools.search", Choice::Value(tool)),
                resolution("model", Choice::Ours),
            ])
        };
        let errors =
            all(json!(3), json!(0.1), json!({"name": "other", "description": "", "parameters": {}})).unwrap_err();
        let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["resolutions[0].value", "resolutions[2].value"]);
        let errors = all(json!("x"), json!(5), Value::Null).unwrap_err();
        assert_eq!(errors.fields()[0].field, "config.temperature", "checked as any new definition");
    }

    #[test]
    fn a_clean_merge_takes_no_resolutions() {
        let base = def(json!({"prompt": "a\n"}));
        let merge = merge(&base, &base, &def(json!({"prompt": "b\n"})));
        assert_eq!(merge.resolve(&[]).unwrap().prompt, "b\n");
        let errors = merge.resolve(&[resolution("prompt", Choice::Ours)]).unwrap_err();
        assert_eq!(errors.fields()[0].field, "resolutions[0].field");
    }
}
