//! The parts of the API's answers the client reads, typed. Listings that are only printed stay JSON,
//! so `--json` shows exactly what the server said.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use talon_domain::agent::{Definition, ModelSpec, Tool};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub status: String,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub api_access: bool,
    pub current_version_id: String,
    pub current_version: Option<Version>,
    pub deployed_version_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub id: String,
    pub version_number: i64,
    pub prompt: String,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub commit_message: String,
    pub created_at: String,
    pub created_by: Author,
}

impl Version {
    pub fn definition(&self) -> Definition {
        Definition {
            prompt: self.prompt.clone(),
            tools: self.tools.clone(),
            config: self.config.clone(),
            model: self.model.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Author {
    #[serde(default)]
    pub email: Option<String>,
}

/// A tool as the API takes it, in OpenAI's function shape.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: &'a Tool,
}

impl<'a> From<&'a Tool> for FunctionTool<'a> {
    fn from(tool: &'a Tool) -> Self {
        FunctionTool { kind: "function", function: tool }
    }
}
