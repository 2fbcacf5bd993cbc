//! An agent as a folder: `talon.toml` (the agent's profile, model and config), `prompt.md` (the prompt,
//! byte for byte) and `tools/*.json` (one tool per file, in OpenAI's function shape). A folder read back
//! after `write` is the same agent, so a pull followed by a push changes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use talon_domain::agent::{Definition, ModelSpec, Tool};

use crate::api::{Agent, FunctionTool, Version};
use crate::error::CliError;

pub const MANIFEST: &str = "talon.toml";
pub const PROMPT: &str = "prompt.md";
pub const TOOLS: &str = "tools";

/// `talon.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub public: bool,
    #[serde(default, alias = "api_access")]
    pub api_access: bool,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub config: Map<String, Value>,
}

/// What a folder holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFolder {
    pub manifest: Manifest,
    pub prompt: String,
    /// Sorted by name.
    pub tools: Vec<Tool>,
}

/// A tool file: OpenAI's function shape, or the bare `{name, description, parameters}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ToolFile {
    Function {
        #[serde(rename = "type")]
        _kind: String,
        function: Tool,
    },
    Bare(Tool),
}

impl AgentFolder {
    pub fn of(agent: &Agent, version: &Version) -> Self {
        let mut tools = version.tools.clone();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        AgentFolder {
            manifest: Manifest {
                name: agent.name.clone(),
                slug: agent.slug.clone(),
                description: agent.description.clone(),
                capabilities: agent.capabilities.clone(),
                public: agent.public,
                api_access: agent.api_access,
                model: version.model.clone(),
                config: version.config.clone(),
            },
            prompt: version.prompt.clone(),
            tools,
        }
    }

    pub fn definition(&self) -> Definition {
        Definition {
            prompt: self.prompt.clone(),
            tools: self.tools.clone(),
            config: self.manifest.config.clone(),
            model: self.manifest.model.clone(),
        }
    }

    pub fn read(dir: &Path) -> Result<Self, CliError> {
        let manifest_path = dir.join(MANIFEST);
        let text = read_text(&manifest_path)?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| CliError::Local(format!("{}: {e}", manifest_path.display())))?;
        let prompt = read_text(&dir.join(PROMPT))?;
        let mut tools = Vec::new();
        let tools_dir = dir.join(TOOLS);
        if tools_dir.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&tools_dir)
                .map_err(CliError::io(format!("reading {}", tools_dir.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect();
            files.sort();
            for path in files {
                let file: ToolFile = serde_json::from_str(&read_text(&path)?).map_err(|e| {
                    CliError::Local(format!(
                        "{}: not a tool ({{\"type\": \"function\", \"function\": {{…}}}}): {e}",
                        path.display()
                    ))
                })?;
                tools.push(match file {
                    ToolFile::Function { function, .. } => function,
                    ToolFile::Bare(tool) => tool,
                });
            }
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(twice) = tools.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(CliError::Local(format!(
                "{}: two files define the tool `{}`",
                tools_dir.display(),
                twice[0].name
            )));
        }
        Ok(AgentFolder { manifest, prompt, tools })
    }

    /// Writes the folder, replacing its three parts (tool files of tools no longer there are removed).
    pub fn write(&self, dir: &Path) -> Result<(), CliError> {
        let tools_dir = dir.join(TOOLS);
        std::fs::create_dir_all(&tools_dir).map_err(CliError::io(format!("creating {}", tools_dir.display())))?;
        if let Some(path) = first_null(&Value::Object(self.manifest.config.clone()), "config") {
            return Err(CliError::Local(format!("{path} is null, which {MANIFEST} (TOML) cannot hold")));
        }
        let manifest =
            toml::to_string_pretty(&self.manifest).map_err(|e| CliError::Local(format!("{MANIFEST}: {e}")))?;
        write_text(&dir.join(MANIFEST), &manifest)?;
        write_text(&dir.join(PROMPT), &self.prompt)?;
        let wanted: Vec<String> = self.tools.iter().map(|t| tool_file_name(&t.name)).collect();
        for entry in std::fs::read_dir(&tools_dir).map_err(CliError::io(format!("reading {}", tools_dir.display())))? {
            let path = entry.map_err(CliError::io("reading tools"))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name.ends_with(".json") && !wanted.contains(&name) {
                std::fs::remove_file(&path).map_err(CliError::io(format!("removing {}", path.display())))?;
            }
        }
        for (tool, file) in self.tools.iter().zip(&wanted) {
            let json = serde_json::to_string_pretty(&FunctionTool::from(tool)).unwrap_or_default();
            write_text(&tools_dir.join(file), &format!("{json}\n"))?;
        }
        Ok(())
    }
}

/// A tool's file name: its name with anything but letters, digits, `-` and `_` replaced.
fn tool_file_name(name: &str) -> String {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{safe}.json")
}

/// The path of the first null in `value` (TOML has no null), e.g. `config.retry.max`.
fn first_null(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Null => Some(path.to_owned()),
        Value::Object(map) => map.iter().find_map(|(k, v)| first_null(v, &format!("{path}.{k}"))),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| first_null(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CliError::Local(format!(
            "{} is missing: is {} an agent folder? (`talon init` makes one)",
            path.display(),
            path.parent().map(|p| p.display().to_string()).unwrap_or_default()
        )),
        _ => CliError::io(format!("reading {}", path.display()))(e),
    })
}

fn write_text(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(CliError::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn folder() -> AgentFolder {
        let config = json!({"temperature": 0.3, "maxTokens": 4000, "style": {"tone": "warm", "emoji": false}});
        AgentFolder {
            manifest: Manifest {
                name: "Support bot".into(),
                slug: "support-bot".into(),
                description: "Answers".into(),
                capabilities: vec!["support".into()],
                public: false,
                api_access: true,
                model: ModelSpec { primary: "openai/gpt-4o-mini".into(), fallback: Some("test/echo".into()) },
                config: config.as_object().unwrap().clone(),
            },
            prompt: "You help.\n\nBe brief.\n".into(),
            tools: vec![
                Tool { name: "lookup".into(), description: "Finds".into(), parameters: json!({"type": "object"}) },
                Tool {
                    name: "refund".into(),
                    description: "Refunds".into(),
                    parameters: json!({"type": "object", "properties": {"amount": {"type": "number"}}}),
                },
            ],
        }
    }

    #[test]
    fn a_written_folder_reads_back_the_same() {
        let dir = std::env::temp_dir().join(format!("talon-folder-{}", std::process::id()));
        let original = folder();
        original.write(&dir).unwrap();
        std::fs::write(dir.join("tools/stale.json"), "{}").unwrap();
        original.write(&dir).unwrap();
        assert!(!dir.join("tools/stale.json").exists(), "tools no longer there are removed");
        assert_eq!(AgentFolder::read(&dir).unwrap(), original);
        assert_eq!(AgentFolder::read(&dir).unwrap().definition().content_hash(), original.definition().content_hash());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_folders_are_named() {
        let dir = std::env::temp_dir().join(format!("talon-folder-bad-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tools")).unwrap();
        let err = AgentFolder::read(&dir).unwrap_err().to_string();
        assert!(err.contains("talon.toml is missing"), "{err}");
        std::fs::write(dir.join(MANIFEST), "name = \"x\"\nslug = \"x\"\ncolour = 1\n").unwrap();
        std::fs::write(dir.join(PROMPT), "p").unwrap();
        let err = AgentFolder::read(&dir).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        std::fs::write(dir.join(MANIFEST), "name = \"x\"\nslug = \"x\"\n").unwrap();
        std::fs::write(dir.join("tools/a.json"), r#"{"name": "t", "description": "", "parameters": {}}"#).unwrap();
        std::fs::write(
            dir.join("tools/b.json"),
            r#"{"type": "function", "function": {"name": "t", "description": "", "parameters": {}}}"#,
        )
        .unwrap();
        let err = AgentFolder::read(&dir).unwrap_err().to_string();
        assert!(err.contains("two files define the tool `t`"), "{err}");
        let mut with_null = folder();
        with_null.manifest.config.insert("x".into(), Value::Null);
        let err = with_null.write(&dir).unwrap_err().to_string();
        assert!(err.contains("config.x is null"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
