//! `Signal`: rung when work is written (a task queued, an event in the outbox), so that the loops
//! waiting for such work look at once instead of at their next poll. Other replicas' loops still find
//! the work by polling.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

#[derive(Debug, Clone, Default)]
pub struct Signal(Arc<Notify>);

impl Signal {
    /// Wakes every loop listening now.
    pub fn ring(&self) {
        self.0.notify_waiters();
    }

    /// Starts listening. The idiom is listen, then look for work, then `wait` only if there was none:
    /// a ring that comes between the look and the wait is not missed, because the listening began first.
    pub fn listen(&self) -> Listener<'_> {
        let mut notified = Box::pin(self.0.notified());
        notified.as_mut().enable();
        Listener(notified)
    }
}

/// A listening begun by `Signal::listen`.
pub struct Listener<'a>(Pin<Box<Notified<'a>>>);

impl Listener<'_> {
    /// Waits for a ring since the listening began, at most `at_most`; true if it rang.
    pub async fn wait(self, at_most: Duration) -> bool {
        tokio::time::timeout(at_most, self.0).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Signal;

    #[tokio::test]
    async fn a_ring_between_looking_and_waiting_is_not_missed() {
        let signal = Signal::default();
        let listener = signal.listen();
        // The work is written, and the signal rung, after the look but before the wait.
        signal.ring();
        assert!(listener.wait(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_ring_before_listening_is_not_kept() {
        let signal = Signal::default();
        signal.ring();
        assert!(!signal.listen().wait(Duration::from_millis(20)).await);
    }
}
