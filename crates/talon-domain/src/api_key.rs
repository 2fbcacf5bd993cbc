//! API keys: their wire format, their rules of use, and the validation of a new key.
//!
//! A key is `tln_` + 32 base62 characters of randomness (~190 bits) + 6 base62 characters of CRC32 over
//! the random part. The checksum lets the server reject a mistyped or truncated key without a database
//! lookup, and lets secret scanners recognise a real key. Only the SHA-256 of a key is stored.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::id::{AgentId, ApiKeyId, UserId};
use crate::scope::Scope;
use crate::validation::ValidationErrors;

pub const KEY_PREFIX: &str = "tln_";
const RANDOM_CHARS: usize = 32;
const CHECKSUM_CHARS: usize = 6;
const KEY_CHARS: usize = KEY_PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
/// How much of a key is kept in clear so its owner can tell keys apart.
const DISPLAY_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NAME_MAX_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key does not start with `tln_`")]
    Prefix,
    #[error("the key has the wrong length")]
    Length,
    #[error("the key contains characters a key never has")]
    Charset,
    #[error("the key's checksum does not match; it was mistyped or truncated")]
    Checksum,
}

/// The plaintext of a key. It exists only while a key is created (to show it once) or presented
/// (to hash it); `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let random: String = (0..RANDOM_CHARS).map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char).collect();
        let checksum = base62_fixed(crc32fast::hash(random.as_bytes()));
        Self(format!("{KEY_PREFIX}{random}{checksum}"))
    }

    /// Checks the shape and checksum of a presented key; touches no storage.
    pub fn parse(presented: &str) -> Result<Self, KeyFormatError> {
        let body = presented.strip_prefix(KEY_PREFIX).ok_or(KeyFormatError::Prefix)?;
        if presented.len() != KEY_CHARS {
            return Err(KeyFormatError::Length);
        }
        if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyFormatError::Charset);
        }
        let (random, checksum) = body.split_at(RANDOM_CHARS);
        if base62_fixed(crc32fast::hash(random.as_bytes())) != checksum {
            return Err(KeyFormatError::Checksum);
        }
        Ok(Self(presented.to_owned()))
    }

    /// Whether a bearer token claims to be an API key (as opposed to a session JWT).
    pub fn looks_like_key(token: &str) -> bool {
        token.starts_with(KEY_PREFIX)
    }

    /// The SHA-256 of the key: the only form that is stored. Keys carry ~190 bits of randomness, so a
    /// fast hash is safe here where a password would need a slow one.
    pub fn hash(&self) -> Vec<u8> {
        self.digest().to_vec()
    }

    /// `hash` as a fixed-size value, for lookups that should not allocate.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    pub fn display_prefix(&self) -> String {
        self.0[..DISPLAY_PREFIX_CHARS].to_owned()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", &self.0[..DISPLAY_PREFIX_CHARS])
    }
}

fn base62_fixed(mut value: u32) -> String {
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub key_prefix: String,
    pub scopes: Vec<Scope>,
    /// When set, the key reaches only this agent.
    pub agent_id: Option<AgentId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyUnusable {
    #[error("the API key has been revoked")]
    Revoked,
    #[error("the API key has expired")]
    Expired,
}

impl ApiKey {
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), KeyUnusable> {
        if self.revoked_at.is_some() {
            return Err(KeyUnusable::Revoked);
        }
        match self.expires_at {
            Some(expiry) if expiry <= now => Err(KeyUnusable::Expired),
            _ => Ok(()),
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// A validated request for a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub agent_id: Option<AgentId>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiKey {
    pub fn parse(
        name: Option<&str>,
        scopes: Option<&[String]>,
        agent_id: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = name.map(str::trim).unwrap_or_default();
        if name.is_empty() {
            errors.add("name", "Required field missing");
        } else if name.chars().count() > NAME_MAX_CHARS {
            errors.add("name", "Must be at most 100 characters");
        }

        let mut parsed_scopes = Vec::new();
        match scopes {
            None => errors.add("scopes", "Required field missing"),
            Some([]) => errors.add("scopes", "Must list at least one scope"),
            Some(raw) => {
                for (i, scope) in raw.iter().enumerate() {
                    match scope.parse::<Scope>() {
                        Ok(scope) if !parsed_scopes.contains(&scope) => parsed_scopes.push(scope),
                        Ok(_) => {}
                        Err(e) => errors.add(format!("scopes[{i}]"), e.to_string()),
                    }
                }
            }
        }

        let agent_id = match agent_id.map(AgentId::parse).transpose() {
            Ok(id) => id,
            Err(e) => {
                errors.add("agentId", e.to_string());
                None
            }
        };

        if expires_at.is_some_and(|at| at <= now) {
            errors.add("expiresAt", "Must be in the future");
        }

        errors.finish(NewApiKey { name: name.to_owned(), scopes: parsed_scopes, agent_id, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn generated_keys_parse_and_are_distinct() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), KEY_CHARS);
        assert_eq!(ApiKeySecret::parse(a.expose()).unwrap(), a);
        assert!(a.display_prefix().starts_with("tln_"));
        assert!(a.expose().starts_with(&a.display_prefix()));
    }

    #[test]
    fn a_single_typo_fails_the_checksum() {
        let key = ApiKeySecret::generate();
        let mut chars: Vec<char> = key.expose().chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(ApiKeySecret::parse(&typo), Err(KeyFormatError::Checksum));
    }

    #[test]
    fn malformed_keys_are_classified() {
        let key = ApiKeySecret::generate();
        assert_eq!(ApiKeySecret::parse("sk_live_abc"), Err(KeyFormatError::Prefix));
        assert_eq!(ApiKeySecret::parse(&key.expose()[..20]), Err(KeyFormatError::Length));
        let bad_char = format!("{}!{}", &key.expose()[..10], &key.expose()[11..]);
        assert_eq!(ApiKeySecret::parse(&bad_char), Err(KeyFormatError::Charset));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKeySecret::generate();
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn hash_is_sha256_of_the_whole_key() {
        let key = ApiKeySecret::generate();
        assert_eq!(key.hash(), Sha256::digest(key.expose().as_bytes()).to_vec());
    }

    fn stored(now: DateTime<Utc>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::new(),
            user_id: UserId::new(),
            name: "k".into(),
            key_prefix: "tln_12345678".into(),
            scopes: vec![Scope::AgentsRead],
            agent_id: None,
            expires_at: None,
            last_used_at: None,
            created_at: now,
            revoked_at: None,
        }
    }

    #[test]
    fn revoked_and_expired_keys_are_unusable() {
        let now = Utc::now();
        let mut key = stored(now);
        assert!(key.check_usable(now).is_ok());
        key.expires_at = Some(now);
        assert_eq!(key.check_usable(now), Err(KeyUnusable::Expired));
        key.expires_at = None;
        key.revoked_at = Some(now);
        assert_eq!(key.check_usable(now), Err(KeyUnusable::Revoked));
    }

    #[test]
    fn new_key_validation_reports_each_field() {
        let now = Utc::now();
        let scopes = vec!["agents:read".to_owned(), "bogus".to_owned()];
        let errors =
            NewApiKey::parse(Some(" "), Some(&scopes), Some("nope"), Some(now - Duration::hours(1)), now).unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "scopes[1]", "agentId", "expiresAt"]);
    }

    #[test]
    fn duplicate_scopes_collapse() {
        let now = Utc::now();
        let scopes = vec!["chat".to_owned(), "chat".to_owned()];
        let key = NewApiKey::parse(Some("k"), Some(&scopes), None, None, now).unwrap();
        assert_eq!(key.scopes, vec![Scope::Chat]);
    }

    #[test]
    fn empty_scope_list_is_rejected() {
        let errors = NewApiKey::parse(Some("k"), Some(&[]), None, None, Utc::now()).unwrap_err();
        assert_eq!(errors.fields()[0].field, "scopes");
    }
}
