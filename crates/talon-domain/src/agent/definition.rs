//! An agent's definition: what one version holds. Versions are immutable, so a definition is validated
//! once, when the version is made, and identified by the hash of its canonical JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const PROMPT_MAX_BYTES: usize = 100 * 1024;
pub const TOOLS_MAX: usize = 128;
pub(super) const TOOL_DESCRIPTION_MAX_CHARS: usize = 2048;
pub(super) const MODEL_MAX_CHARS: usize = 200;
pub(super) const MAX_TOKENS_LIMIT: i64 = 200_000;
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

impl Default for Definition {
    /// An empty prompt, no tools, no config, the default model: what a first version's change applies to.
    fn default() -> Self {
        Definition { prompt: String::new(), tools: Vec::new(), config: Map::new(), model: ModelSpec::default() }
    }
}
