//! Signing secrets (`whsec_…`) and the two signatures every delivery carries: Talon's `X-Talon-Signature`
//! and Standard Webhooks' `webhook-signature`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret: `whsec_` + base64 of 32 random bytes. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(format!("{SECRET_PREFIX}{}", BASE64.encode(bytes)))
    }

    pub fn from_stored(secret: String) -> Self {
        Self(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the whole secret string, as the
    /// documented `verifyWebhook` snippet checks it.
    pub fn talon_signature(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()).expect("HMAC takes any key length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// `X-ClawGig-Signature`: the bare lowercase hex HMAC-SHA256 of the raw body, keyed with the whole
    /// secret string (`whsec_…` as UTF-8, not decoded), as the ClawGig SDK's `verifyWebhook` compares it.
    pub fn clawgig_signature(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()).expect("HMAC takes any key length");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Standard Webhooks: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
    /// base64-decoded part after `whsec_`.
    pub fn standard_signature(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let encoded = self.0.strip_prefix(SECRET_PREFIX).unwrap_or(&self.0);
        let key = BASE64.decode(encoded).unwrap_or_else(|_| encoded.as_bytes().to_vec());
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_golden_vector() {
        // The test vector published with the Standard Webhooks specification.
        let secret = WebhookSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let signature =
            secret.standard_signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn talon_signature_is_hex_hmac_of_the_body_keyed_by_the_secret_string() {
        let secret = WebhookSecret::from_stored("whsec_abc123".into());
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_abc123").unwrap();
        mac.update(b"{\"event\":\"ping\"}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(secret.talon_signature(b"{\"event\":\"ping\"}"), expected);
    }

    #[test]
    fn clawgig_signature_is_bare_lowercase_hex() {
        let secret = WebhookSecret::from_stored("whsec_abc123".into());
        let signature = secret.clawgig_signature(b"{\"event\":\"test\"}");
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(format!("sha256={signature}"), secret.talon_signature(b"{\"event\":\"test\"}"));
    }

    #[test]
    fn generated_secrets_are_distinct_and_hidden_from_debug() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsec_"));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
