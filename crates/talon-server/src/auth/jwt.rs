//! Session tokens: HS256 JWTs whose subject is the account id. Each names its session (`sid`), so that
//! logout can end that one, and the account's session generation it was issued in (`gen`), so that
//! "sign out everywhere" ends every session issued before.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use talon_domain::UserId;
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: Uuid,
    #[serde(rename = "gen")]
    generation: i64,
    iat: i64,
    exp: i64,
}

/// What a verified session token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionToken {
    pub user: UserId,
    pub session_id: Uuid,
    pub generation: i64,
    pub expires_at: DateTime<Utc>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    /// Keys the dashboard's CSRF tokens: derived from the signing secret, so replicas agree without
    /// sharing anything more, and distinct from it, so a CSRF token says nothing about the secret.
    csrf_key: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the session token has expired")]
    Expired,
    #[error("the session token is invalid")]
    Invalid,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let csrf_key = mac(secret, b"talon dashboard csrf v1");
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            csrf_key,
        }
    }

    /// How long a session token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The dashboard's anti-forgery token for one session: a page of that session carries it in its
    /// forms and requests, and a cross-site page cannot read it.
    pub fn csrf_token(&self, session_id: Uuid) -> String {
        hex::encode(mac(&self.csrf_key, session_id.as_bytes()))
    }

    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, session_id: Uuid, presented: &str) -> bool {
        let Ok(bytes) = hex::decode(presented) else { return false };
        let mut check = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf_key).expect("HMAC takes any key length");
        check.update(session_id.as_bytes());
        check.verify_slice(&bytes).is_ok()
    }

    /// A token for a new session of `user`, issued in the account's session `generation`.
    pub fn issue(&self, user: UserId, generation: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims =
            Claims { sub: user.to_string(), sid: Uuid::now_v7(), generation, iat: now, exp: now.saturating_add(ttl) };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks the signature and expiry. A token without a session id (from before sessions could be
    /// revoked) is invalid: its holder signs in again.
    pub fn verify(&self, token: &str) -> Result<SessionToken, JwtError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })?;
        let claims = data.claims;
        Ok(SessionToken {
            user: UserId::parse(&claims.sub).map_err(|_| JwtError::Invalid)?,
            session_id: claims.sid,
            generation: claims.generation,
            expires_at: DateTime::from_timestamp(claims.exp, 0).ok_or(JwtError::Invalid)?,
        })
    }
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Parses `JWT_EXPIRES_IN`: a number of seconds (`3600`) or a duration such as `7d`, `12h`, `30m`.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(raw).map_err(|e| format!("`{raw}` is not a duration like 7d, 12h or 3600: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify() {
        let keys = JwtKeys::new(b"secret-secret-secret-secret-32by", Duration::from_secs(60));
        let user = UserId::new();
        let first = keys.verify(&keys.issue(user, 3).unwrap()).unwrap();
        assert_eq!((first.user, first.generation), (user, 3));
        let second = keys.verify(&keys.issue(user, 3).unwrap()).unwrap();
        assert_ne!(first.session_id, second.session_id, "every sign-in is its own session");
    }

    #[test]
    fn tokens_without_a_session_id_are_rejected() {
        #[derive(Serialize)]
        struct Old {
            sub: String,
            iat: i64,
            exp: i64,
        }
        let keys = JwtKeys::new(b"secret-secret-secret-secret-32by", Duration::from_secs(60));
        let old = Old { sub: UserId::new().to_string(), iat: 0, exp: Utc::now().timestamp() + 60 };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &keys.encoding).unwrap();
        assert!(matches!(keys.verify(&token), Err(JwtError::Invalid)));
    }

    #[test]
    fn another_secret_or_garbage_is_rejected() {
        let keys = JwtKeys::new(b"one-secret-one-secret-one-secret", Duration::from_secs(60));
        let other = JwtKeys::new(b"two-secret-two-secret-two-secret", Duration::from_secs(60));
        let token = other.issue(UserId::new(), 0).unwrap();
        assert!(matches!(keys.verify(&token), Err(JwtError::Invalid)));
        assert!(matches!(keys.verify("not.a.jwt"), Err(JwtError::Invalid)));
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let keys = JwtKeys::new(b"secret-secret-secret-secret-32by", Duration::from_secs(0));
        let claims = Claims {
            sub: UserId::new().to_string(),
            sid: Uuid::now_v7(),
            generation: 0,
            iat: 0,
            exp: Utc::now().timestamp() - 60,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(matches!(keys.verify(&token), Err(JwtError::Expired)));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session_and_one_secret() {
        let keys = JwtKeys::new(b"secret-secret-secret-secret-32by", Duration::from_secs(60));
        let other = JwtKeys::new(b"two-secret-two-secret-two-secret", Duration::from_secs(60));
        let (session, another) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.csrf_token(session);
        assert!(keys.csrf_matches(session, &token));
        assert!(!keys.csrf_matches(another, &token), "another session's token");
        assert!(!other.csrf_matches(session, &token), "another server secret");
        assert!(!keys.csrf_matches(session, "not hex"));
        assert!(!keys.csrf_matches(session, &token[..32]), "a truncated token");
    }

    #[test]
    fn ttl_formats() {
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(7 * 86400));
        assert_eq!(parse_ttl("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_ttl("3600").unwrap(), Duration::from_secs(3600));
        assert!(parse_ttl("soon").is_err());
    }
}
