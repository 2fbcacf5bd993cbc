//! Merging a fork back: a three-way merge of two definitions made from a common base (ours: the parent's
//! head; theirs: a version of the fork). Each part merges on its own: the prompt line by line, the config
//! per top-level key, the tools per name, the model as a whole. A part changed on one side only takes
//! that side; changed alike on both, the change; changed differently, it is a conflict, which the merged
//! definition holds as ours until a resolution says otherwise (`resolve`).

mod prompt;
mod resolve;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::definition::{Definition, ModelSpec, Tool};
pub use prompt::PromptHunk;
use prompt::{PromptConflict, Segment};
pub use resolve::{Choice, Resolution, validated};

/// One conflict, as a client sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// What conflicts: `prompt` (or `prompt[0]`, `prompt[1]`, … when several hunks of the prompt do),
    /// `config.<key>`, `tools.<name>` or `model`. A resolution names it.
    pub field: String,
    /// Each side's value: the hunk's lines for the prompt, the key's value, the tool, the model; null
    /// where the side has no such key or tool.
    pub base: Value,
    pub ours: Value,
    pub theirs: Value,
    /// For the prompt: where the hunk is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hunk: Option<PromptHunk>,
}

/// Each side of a conflict, as the merge holds it to apply a choice.
#[derive(Debug, Clone, PartialEq)]
enum Sides {
    /// The prompt's conflicting hunk `index`.
    Prompt {
        index: usize,
    },
    Config {
        key: String,
        ours: Option<Value>,
        theirs: Option<Value>,
    },
    Tool {
        name: String,
        ours: Option<Tool>,
        theirs: Option<Tool>,
    },
    Model {
        ours: ModelSpec,
        theirs: ModelSpec,
    },
}

/// A merge: the definition with every clean change of both sides (each conflict as ours) and the
/// conflicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub definition: Definition,
    pub conflicts: Vec<Conflict>,
    sides: Vec<Sides>,
    prompt_segments: Vec<Segment>,
    prompt_conflicts: Vec<PromptConflict>,
}

impl Merge {
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Merges `ours` and `theirs`, both made from `base`.
pub fn merge(base: &Definition, ours: &Definition, theirs: &Definition) -> Merge {
    let mut conflicts = Vec::new();
    let mut sides = Vec::new();

    let (prompt_segments, prompt_conflicts) = prompt::merge(&base.prompt, &ours.prompt, &theirs.prompt);
    let several = prompt_conflicts.len() > 1;
    for (index, c) in prompt_conflicts.iter().enumerate() {
        let field = if several { format!("prompt[{index}]") } else { "prompt".to_owned() };
        conflicts.push(Conflict {
            field,
            base: Value::from(c.base.clone()),
            ours: Value::from(c.ours.clone()),
            theirs: Value::from(c.theirs.clone()),
            hunk: Some(c.hunk.clone()),
        });
        sides.push(Sides::Prompt { index });
    }

    let mut config = Map::new();
    let keys: BTreeSet<&String> = base.config.keys().chain(ours.config.keys()).chain(theirs.config.keys()).collect();
    for key in keys {
        let (b, o, t) = (base.config.get(key), ours.config.get(key), theirs.config.get(key));
        match pick(b, o, t) {
            Some(value) => {
                if let Some(value) = value {
                    config.insert(key.clone(), value.clone());
                }
            }
            None => {
                if let Some(value) = o {
                    config.insert(key.clone(), value.clone());
                }
                conflicts.push(Conflict {
                    field: format!("config.{key}"),
                    base: b.cloned().unwrap_or(Value::Null),
                    ours: o.cloned().unwrap_or(Value::Null),
                    theirs: t.cloned().unwrap_or(Value::Null),
                    hunk: None,
                });
                sides.push(Sides::Config { key: key.clone(), ours: o.cloned(), theirs: t.cloned() });
            }
        }
    }

    let tools = merge_tools(base, ours, theirs, &mut conflicts, &mut sides);

    let model = match pick(Some(&base.model), Some(&ours.model), Some(&theirs.model)) {
        Some(Some(model)) => model.clone(),
        _ => {
            conflicts.push(Conflict {
                field: "model".to_owned(),
                base: to_json(&base.model),
                ours: to_json(&ours.model),
                theirs: to_json(&theirs.model),
                hunk: None,
            });
            sides.push(Sides::Model { ours: ours.model.clone(), theirs: theirs.model.clone() });
            ours.model.clone()
        }
    };

    let prompt = render_prompt(&prompt_segments, |i| prompt_conflicts[i].ours.clone());
    Merge {
        definition: Definition { prompt, tools, config, model },
        conflicts,
        sides,
        prompt_segments,
        prompt_conflicts,
    }
}

/// Tools by name, in ours' order, then those only theirs added, in theirs' order.
fn merge_tools(
    base: &Definition,
    ours: &Definition,
    theirs: &Definition,
    conflicts: &mut Vec<Conflict>,
    sides: &mut Vec<Sides>,
) -> Vec<Tool> {
    let find = |tools: &[Tool], name: &str| tools.iter().position(|t| t.name == name);
    let mut names: Vec<&str> = ours.tools.iter().map(|t| t.name.as_str()).collect();
    for tool in theirs.tools.iter().chain(&base.tools) {
        if !names.contains(&tool.name.as_str()) {
            names.push(&tool.name);
        }
    }
    let mut merged = Vec::new();
    for name in names {
        let (b, o, t) = (
            find(&base.tools, name).map(|i| &base.tools[i]),
            find(&ours.tools, name).map(|i| &ours.tools[i]),
            find(&theirs.tools, name).map(|i| &theirs.tools[i]),
        );
        match pick(b, o, t) {
            Some(tool) => merged.extend(tool.cloned()),
            None => {
                merged.extend(o.cloned());
                conflicts.push(Conflict {
                    field: format!("tools.{name}"),
                    base: b.map_or(Value::Null, to_json),
                    ours: o.map_or(Value::Null, to_json),
                    theirs: t.map_or(Value::Null, to_json),
                    hunk: None,
                });
                sides.push(Sides::Tool { name: name.to_owned(), ours: o.cloned(), theirs: t.cloned() });
            }
        }
    }
    merged
}

/// The three-way rule for one value (`None`: absent on that side): the same on both sides, or changed on
/// one side only, gives `Some(value)`; changed differently on both is a conflict (`None`).
fn pick<'a, T: PartialEq>(base: Option<&'a T>, ours: Option<&'a T>, theirs: Option<&'a T>) -> Option<Option<&'a T>> {
    if ours == theirs || theirs == base {
        Some(ours)
    } else if ours == base {
        Some(theirs)
    } else {
        None
    }
}

fn render_prompt(segments: &[Segment], conflict: impl Fn(usize) -> String) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Text(text) => text.clone(),
            Segment::Conflict(i) => conflict(*i),
        })
        .collect()
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(super) fn def(value: Value) -> Definition {
        let mut full =
            json!({"prompt": "", "tools": [], "config": {}, "model": {"primary": "test/echo", "fallback": null}});
        for (k, v) in value.as_object().unwrap() {
            full[k] = v.clone();
        }
        serde_json::from_value(full).unwrap()
    }

    pub(super) fn tool(name: &str, description: &str) -> Value {
        json!({"name": name, "description": description, "parameters": {}})
    }

    #[test]
    fn config_keys_merge_one_by_one() {
        let base = def(json!({"config": {"temperature": 0.7, "maxTokens": 100, "stop": ["x"], "same": 1}}));
        let ours = def(json!({"config": {"temperature": 0.2, "maxTokens": 100, "same": 2, "topP": 0.9}}));
        let theirs =
            def(json!({"config": {"temperature": 0.7, "maxTokens": 300, "stop": ["x"], "same": 2, "seed": 4}}));
        let merge = merge(&base, &ours, &theirs);
        assert!(merge.is_clean(), "{:?}", merge.conflicts);
        assert_eq!(
            Value::Object(merge.definition.config),
            json!({"temperature": 0.2, "maxTokens": 300, "same": 2, "topP": 0.9, "seed": 4}),
            "ours' change, theirs' change, the same change, ours' removal, each side's addition"
        );
    }

    #[test]
    fn a_config_key_changed_differently_conflicts() {
        let base = def(json!({"config": {"temperature": 0.7, "maxTokens": 100}}));
        let ours = def(json!({"config": {"temperature": 0.2, "maxTokens": 100}}));
        let theirs = def(json!({"config": {"temperature": 1.0}}));
        let merge = merge(&base, &ours, &theirs);
        assert_eq!(merge.conflicts.len(), 1);
        let c = &merge.conflicts[0];
        assert_eq!(
            (c.field.as_str(), &c.base, &c.ours, &c.theirs),
            ("config.temperature", &json!(0.7), &json!(0.2), &json!(1.0))
        );
        assert_eq!(Value::Object(merge.definition.config), json!({"temperature": 0.2}), "theirs' removal of maxTokens");
        // Removed on one side, changed on the other: a conflict too, with null for the missing side.
        let removed = def(json!({"config": {"maxTokens": 100}}));
        let conflict = &super::merge(&base, &ours, &removed).conflicts[0];
        assert_eq!((&conflict.field[..], &conflict.theirs), ("config.temperature", &Value::Null));
    }

    #[test]
    fn tools_merge_by_name() {
        let base = def(json!({"tools": [tool("search", "s"), tool("old", "o"), tool("edit", "e")]}));
        let ours = def(json!({"tools": [tool("edit", "e2"), tool("search", "s"), tool("mine", "m")]}));
        let theirs = def(json!({"tools": [tool("search", "s3"), tool("edit", "e"), tool("theirs", "t")]}));
        let merge = merge(&base, &ours, &theirs);
        assert!(merge.is_clean(), "{:?}", merge.conflicts);
        let tools: Vec<(&str, &str)> =
            merge.definition.tools.iter().map(|t| (t.name.as_str(), t.description.as_str())).collect();
        // `old` was removed by both; ours' order first, then what only theirs added.
        assert_eq!(tools, [("edit", "e2"), ("search", "s3"), ("mine", "m"), ("theirs", "t")]);
    }

    #[test]
    fn a_tool_changed_differently_or_removed_against_a_change_conflicts() {
        let base = def(json!({"tools": [tool("search", "s"), tool("edit", "e")]}));
        let ours = def(json!({"tools": [tool("search", "ours")]}));
        let theirs = def(json!({"tools": [tool("search", "theirs"), tool("edit", "e2")]}));
        let merge = merge(&base, &ours, &theirs);
        let fields: Vec<&str> = merge.conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["tools.search", "tools.edit"]);
        assert_eq!(merge.conflicts[0].theirs["description"], "theirs");
        assert_eq!(merge.conflicts[1].ours, Value::Null, "ours removed it");
        assert_eq!(merge.definition.tools.len(), 1, "unresolved, ours stands");
        // Both added a tool of the same name, differently.
        let added = super::merge(
            &def(json!({})),
            &def(json!({"tools": [tool("x", "a")]})),
            &def(json!({"tools": [tool("x", "b")]})),
        );
        assert_eq!((added.conflicts[0].field.as_str(), &added.conflicts[0].base), ("tools.x", &Value::Null));
    }

    #[test]
    fn the_model_merges_as_a_whole() {
        let base = def(json!({}));
        let gpt = def(json!({"model": {"primary": "openai/gpt-4o", "fallback": null}}));
        let claude = def(json!({"model": {"primary": "anthropic/claude", "fallback": null}}));
        assert_eq!(merge(&base, &base, &gpt).definition.model.primary, "openai/gpt-4o");
        assert_eq!(merge(&base, &gpt, &base).definition.model.primary, "openai/gpt-4o");
        assert!(merge(&base, &gpt, &gpt).is_clean());
        let conflicted = merge(&base, &gpt, &claude);
        assert_eq!(conflicted.conflicts[0].field, "model");
        assert_eq!(conflicted.conflicts[0].theirs, json!({"primary": "anthropic/claude", "fallback": null}));
        assert_eq!(conflicted.definition.model.primary, "openai/gpt-4o");
    }

    #[test]
    fn prompt_conflicts_are_named_by_hunk_when_several() {
        let base = def(json!({"prompt": "a\nb\nc\nd\n"}));
        let one = merge(&base, &def(json!({"prompt": "A\nb\nc\nd\n"})), &def(json!({"prompt": "a1\nb\nc\nd\n"})));
        assert_eq!(one.conflicts[0].field, "prompt");
        assert_eq!(one.conflicts[0].hunk.as_ref().map(|h| h.base_start), Some(1));
        let two = merge(&base, &def(json!({"prompt": "A\nb\nc\nD\n"})), &def(json!({"prompt": "a1\nb\nc\nd1\n"})));
        let fields: Vec<&str> = two.conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["prompt[0]", "prompt[1]"]);
    }

    #[test]
    fn a_clean_merge_of_every_part() {
        let base = def(json!({"prompt": "Be kind.\nBe brief.\nAnswer in English.\n", "config": {"temperature": 0.7}}));
        let ours = def(json!({"prompt": "Be kind.\nBe brief.\nAnswer in French.\n", "config": {"temperature": 0.7}}));
        let theirs = def(json!({
            "prompt": "Be very kind.\nBe brief.\nAnswer in English.\n",
            "config": {"temperature": 0.3},
            "tools": [tool("search", "s")]
        }));
        let merge = merge(&base, &ours, &theirs);
        assert!(merge.is_clean());
        assert_eq!(merge.definition.prompt, "Be very kind.\nBe brief.\nAnswer in French.\n");
        assert_eq!(merge.definition.config["temperature"], json!(0.3));
        assert_eq!(merge.definition.tools.len(), 1);
    }
}
