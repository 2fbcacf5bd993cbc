//! Secrets at rest (webhook secrets, stored idempotent responses): sealed with XChaCha20-Poly1305 under
//! the server's key, so a copy of the database alone does not let anyone forge deliveries or read what
//! a request was answered.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const NONCE_BYTES: usize = 24;

#[derive(Debug, thiserror::Error)]
#[error("a sealed secret could not be opened (wrong TALON_SECRET_KEY, or corrupt data)")]
pub struct SealError;

pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(key.into()) }
    }

    /// `base64(nonce || ciphertext)`.
    pub fn seal(&self, plaintext: &str) -> Result<String, SealError> {
        Ok(BASE64.encode(self.seal_bytes(plaintext.as_bytes(), b"")?))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = BASE64.decode(sealed).map_err(|_| SealError)?;
        String::from_utf8(self.open_bytes(&bytes, b"")?).map_err(|_| SealError)
    }

    /// `nonce || ciphertext` of `plaintext`, bound to `context`: it opens only with the same context, so
    /// a sealed value moved to another row (another owner) in the database does not open there.
    pub fn seal_bytes(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .map_err(|_| SealError)?;
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        Ok(sealed)
    }

    pub fn open_bytes(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_BYTES {
            return Err(SealError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context }).map_err(|_| SealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open() {
        let sealer = SecretBox::new(&[7; 32]);
        let sealed = sealer.seal("whsec_abc").unwrap();
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(sealer.open(&sealed).unwrap(), "whsec_abc");
        assert_ne!(sealer.seal("whsec_abc").unwrap(), sealed, "a fresh nonce each time");
    }

    #[test]
    fn sealed_bytes_open_only_in_their_context() {
        let sealer = SecretBox::new(&[7; 32]);
        let sealed = sealer.seal_bytes(b"{\"key\": \"tln_x\"}", b"key:1 retry-1").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"tln_x"));
        assert_eq!(sealer.open_bytes(&sealed, b"key:1 retry-1").unwrap(), b"{\"key\": \"tln_x\"}");
        assert!(sealer.open_bytes(&sealed, b"key:2 retry-1").is_err());
    }

    #[test]
    fn another_key_or_tampering_fails() {
        let sealed = SecretBox::new(&[7; 32]).seal("whsec_abc").unwrap();
        assert!(SecretBox::new(&[8; 32]).open(&sealed).is_err());
        let mut bytes = BASE64.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(SecretBox::new(&[7; 32]).open(&BASE64.encode(bytes)).is_err());
    }
}
