//! Where the client keeps its credentials: `$XDG_CONFIG_HOME/talon/config.toml` (else
//! `~/.config/talon/config.toml`), a profile per server, written 0600 in a 0700 folder. `TALON_URL` and
//! `TALON_API_KEY` override the chosen profile's values.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

pub const DEFAULT_PROFILE: &str = "default";
pub const DEFAULT_URL: &str = "http://127.0.0.1:3000";

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, Profile>,
}

/// One server and how to sign in to it.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    /// The account the credential belongs to, for `whoami` without a round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An API key (`tln_…`) or a session token from `talon login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The server and credential a command uses, after the environment's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub profile: String,
    pub url: String,
    pub credential: Option<String>,
}

/// The settings a command runs with: where the file is, which profile, and the overrides.
#[derive(Debug, Clone)]
pub struct Settings {
    pub path: PathBuf,
    pub profile: String,
    pub url_override: Option<String>,
    pub api_key_override: Option<String>,
}

impl Settings {
    /// The config file's place: `$XDG_CONFIG_HOME/talon/config.toml`, else under `$HOME/.config`.
    pub fn default_path() -> Result<PathBuf, CliError> {
        let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => PathBuf::from(home).join(".config"),
                None => return Err(CliError::Local("neither XDG_CONFIG_HOME nor HOME is set".into())),
            },
        };
        Ok(base.join("talon").join("config.toml"))
    }

    pub fn load(&self) -> Result<ConfigFile, CliError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| CliError::Local(format!("{} is not a valid config file: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(e) => Err(CliError::io(format!("reading {}", self.path.display()))(e)),
        }
    }

    /// Writes the file readable by its owner only, replacing it whole.
    pub fn save(&self, config: &ConfigFile) -> Result<(), CliError> {
        let text = toml::to_string_pretty(config).map_err(|e| CliError::Local(format!("config: {e}")))?;
        write_private(&self.path, text.as_bytes())
    }

    /// The profile's server and credential, with `TALON_URL` / `TALON_API_KEY` applied.
    pub fn target(&self) -> Result<Target, CliError> {
        let config = self.load()?;
        let profile = config.profiles.get(&self.profile);
        let url = self
            .url_override
            .clone()
            .or_else(|| profile.map(|p| p.url.clone()))
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let credential = self.api_key_override.clone().or_else(|| profile.and_then(|p| p.credential.clone()));
        Ok(Target { profile: self.profile.clone(), url: url.trim_end_matches('/').to_owned(), credential })
    }
}

/// Creates `path` (and its folder, 0700) with mode 0600 before any byte is written, so a secret is
/// never readable by others, not even for a moment.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let temporary = path.with_extension("toml.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let context = || format!("writing {}", path.display());
    let mut file = options.open(&temporary).map_err(CliError::io(context()))?;
    file.write_all(bytes).map_err(CliError::io(context()))?;
    file.sync_all().map_err(CliError::io(context()))?;
    std::fs::rename(&temporary, path).map_err(CliError::io(context()))
}

fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(CliError::io(format!("creating {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> Settings {
        Settings {
            path: dir.join("talon/config.toml"),
            profile: "work".into(),
            url_override: None,
            api_key_override: None,
        }
    }

    #[test]
    fn a_saved_profile_is_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("talon-config-{}", std::process::id()));
        let settings = settings(&dir);
        let mut config = ConfigFile::default();
        config.profiles.insert(
            "work".into(),
            Profile { url: "https://talon.example.com/".into(), email: None, credential: Some("tln_x".into()) },
        );
        settings.save(&config).unwrap();
        assert_eq!(settings.load().unwrap(), config);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&settings.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let target = settings.target().unwrap();
        assert_eq!(target.url, "https://talon.example.com");
        assert_eq!(target.credential.as_deref(), Some("tln_x"));
        let overridden = Settings { api_key_override: Some("tln_env".into()), ..settings.clone() };
        assert_eq!(overridden.target().unwrap().credential.as_deref(), Some("tln_env"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_means_no_profiles_and_the_local_server() {
        let settings = settings(Path::new("/nonexistent-talon-config"));
        let target = settings.target().unwrap();
        assert_eq!((target.url.as_str(), target.credential), (DEFAULT_URL, None));
    }
}
