//! How the marketplace sends mail (email verification codes). There is no mail transport in Talon yet:
//! the default sender writes the message to the log at `info`, where an operator (or a test) reads it.

use async_trait::async_trait;

#[async_trait]
pub trait MailSender: Send + Sync {
    /// Sends one message; an error is reported to the caller as a server error.
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String>;
}

/// Logs each message (`marketplace mail` at `info`, with `to`, `subject` and `body` fields).
pub struct LogMailSender;

#[async_trait]
impl MailSender for LogMailSender {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        tracing::info!(to, subject, body, "marketplace mail");
        Ok(())
    }
}
