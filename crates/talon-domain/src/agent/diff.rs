//! Structured differences between two definitions: what changed in the config, which tools were added,
//! removed or changed (by name), the model, and a line-based unified diff of the prompt. Identical
//! definitions give an empty diff (`{}`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};

use super::definition::{Definition, ModelSpec, Tool};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub from: Value,
    pub to: Value,
}

/// Keys of a JSON object that changed, appeared or disappeared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObjectDiff {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub changed: BTreeMap<String, Change>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub added: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub removed: BTreeMap<String, Value>,
}

impl ObjectDiff {
    pub fn between(from: &Map<String, Value>, to: &Map<String, Value>) -> Self {
        let mut diff = ObjectDiff::default();
        for (key, old) in from {
            match to.get(key) {
                None => {
                    diff.removed.insert(key.clone(), old.clone());
                }
                Some(new) if new != old => {
                    diff.changed.insert(key.clone(), Change { from: old.clone(), to: new.clone() });
                }
                Some(_) => {}
            }
        }
        for (key, new) in to {
            if !from.contains_key(key) {
                diff.added.insert(key.clone(), new.clone());
            }
        }
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDiff {
    pub added: usize,
    pub removed: usize,
    /// A unified diff (`---`/`+++` headers, `@@` hunks with 3 lines of context).
    pub unified: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ObjectDiff>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolsDiff {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub changed: BTreeMap<String, ToolChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelDiff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Change>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DefinitionDiff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ObjectDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelDiff>,
}

impl DefinitionDiff {
    pub fn is_empty(&self) -> bool {
        self.prompt.is_none() && self.tools.is_none() && self.config.is_none() && self.model.is_none()
    }

    /// The parts that changed, in a fixed order, e.g. `["prompt", "config"]`.
    pub fn changed_parts(&self) -> Vec<&'static str> {
        [
            ("prompt", self.prompt.is_some()),
            ("tools", self.tools.is_some()),
            ("config", self.config.is_some()),
            ("model", self.model.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}

pub fn diff(from: &Definition, to: &Definition) -> DefinitionDiff {
    let config = ObjectDiff::between(&from.config, &to.config);
    let tools = diff_tools(&from.tools, &to.tools);
    let model = diff_model(&from.model, &to.model);
    DefinitionDiff {
        prompt: (from.prompt != to.prompt).then(|| diff_prompt(&from.prompt, &to.prompt)),
        tools: (!(tools.added.is_empty() && tools.removed.is_empty() && tools.changed.is_empty())).then_some(tools),
        config: (!config.is_empty()).then_some(config),
        model: (model.primary.is_some() || model.fallback.is_some()).then_some(model),
    }
}

fn diff_prompt(from: &str, to: &str) -> PromptDiff {
    let text = TextDiff::from_lines(from, to);
    let (mut added, mut removed) = (0, 0);
    for change in text.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let unified = text.unified_diff().context_radius(3).header("from", "to").to_string();
    PromptDiff { added, removed, unified }
}

fn diff_tools(from: &[Tool], to: &[Tool]) -> ToolsDiff {
    let mut diff = ToolsDiff::default();
    for old in from {
        match to.iter().find(|t| t.name == old.name) {
            None => diff.removed.push(old.name.clone()),
            Some(new) if new != old => {
                let description = (old.description != new.description).then(|| Change {
                    from: Value::String(old.description.clone()),
                    to: Value::String(new.description.clone()),
                });
                let empty = Map::new();
                let parameters = ObjectDiff::between(
                    old.parameters.as_object().unwrap_or(&empty),
                    new.parameters.as_object().unwrap_or(&empty),
                );
                let parameters = (!parameters.is_empty()).then_some(parameters);
                diff.changed.insert(old.name.clone(), ToolChange { description, parameters });
            }
            Some(_) => {}
        }
    }
    diff.added = to.iter().filter(|t| !from.iter().any(|o| o.name == t.name)).map(|t| t.name.clone()).collect();
    diff
}

fn diff_model(from: &ModelSpec, to: &ModelSpec) -> ModelDiff {
    let change = |a: Value, b: Value| (a != b).then_some(Change { from: a, to: b });
    ModelDiff {
        primary: change(Value::from(from.primary.clone()), Value::from(to.primary.clone())),
        fallback: change(
            from.fallback.clone().map_or(Value::Null, Value::from),
            to.fallback.clone().map_or(Value::Null, Value::from),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(value: Value) -> Definition {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> Definition {
        def(json!({
            "prompt": "You are helpful.\nBe brief.\n",
            "tools": [
                {"name": "search", "description": "Web search", "parameters": {"q": "string"}},
                {"name": "github_api", "description": "GitHub", "parameters": {"repo": "string"}}
            ],
            "config": {"temperature": 0.7, "maxTokens": 2000, "stop": ["\n"]},
            "model": {"primary": "openai/gpt-4o", "fallback": null}
        }))
    }

    #[test]
    fn identical_definitions_have_an_empty_diff() {
        let d = diff(&base(), &base());
        assert!(d.is_empty());
        assert_eq!(serde_json::to_value(&d).unwrap(), json!({}));
    }

    #[test]
    fn config_changes_are_keyed_as_documented() {
        let mut to = base();
        to.config.insert("temperature".into(), json!(0.5));
        to.config.insert("maxTokens".into(), json!(3000));
        to.config.remove("stop");
        to.config.insert("topP".into(), json!(0.9));
        let d = serde_json::to_value(diff(&base(), &to)).unwrap();
        assert_eq!(
            d,
            json!({"config": {
                "changed": {"temperature": {"from": 0.7, "to": 0.5}, "maxTokens": {"from": 2000, "to": 3000}},
                "added": {"topP": 0.9},
                "removed": {"stop": ["\n"]}
            }})
        );
    }

    #[test]
    fn tools_are_compared_by_name() {
        let mut to = base();
        to.tools.remove(0);
        to.tools[0].description = "GitHub REST".into();
        to.tools[0].parameters = json!({"repo": "string", "pr_number": "number"});
        to.tools.push(Tool { name: "slack".into(), description: String::new(), parameters: json!({}) });
        let d = diff(&base(), &to);
        let tools = d.tools.unwrap();
        assert_eq!(tools.added, ["slack"]);
        assert_eq!(tools.removed, ["search"]);
        let github = &tools.changed["github_api"];
        assert_eq!(github.description.as_ref().unwrap().to, json!("GitHub REST"));
        assert_eq!(github.parameters.as_ref().unwrap().added["pr_number"], json!("number"));
    }

    #[test]
    fn reordering_tools_is_not_a_change() {
        let mut to = base();
        to.tools.reverse();
        assert!(diff(&base(), &to).tools.is_none());
    }

    #[test]
    fn prompt_diff_counts_lines_and_is_unified() {
        let mut to = base();
        to.prompt = "You are helpful.\nBe thorough.\nCite sources.\n".into();
        let prompt = diff(&base(), &to).prompt.unwrap();
        assert_eq!((prompt.added, prompt.removed), (2, 1));
        assert!(prompt.unified.starts_with("--- from\n+++ to\n@@"), "{}", prompt.unified);
        assert!(prompt.unified.contains("-Be brief.\n") && prompt.unified.contains("+Cite sources.\n"));
    }

    #[test]
    fn model_changes() {
        let mut to = base();
        to.model.fallback = Some("openai/gpt-4o-mini".into());
        let d = serde_json::to_value(diff(&base(), &to)).unwrap();
        assert_eq!(d, json!({"model": {"fallback": {"from": null, "to": "openai/gpt-4o-mini"}}}));
    }
}
