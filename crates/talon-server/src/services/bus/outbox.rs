//! The frames waiting to go to the other replicas. A frame already waiting is not queued twice, so a
//! burst of the same message (a thousand tasks queued in a second) becomes one send while another is in
//! flight, and one more after it: at most one in flight and one waiting per distinct frame. A batch
//! that could not be sent goes back to wait for the next try.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Frames kept while the transport is down; past this, new ones are dropped (with a warning) rather than
/// let memory grow without end.
const MAX_WAITING: usize = 100_000;

#[derive(Default)]
pub(super) struct Outbox {
    waiting: Mutex<Waiting>,
    ready: Notify,
}

#[derive(Default)]
struct Waiting {
    frames: Vec<String>,
    queued: HashSet<String>,
}

/// What became of a frame handed to the outbox.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Queued {
    /// It waits for the next send.
    New,
    /// The same frame already waits: it goes out with that one.
    Coalesced,
    /// Too many frames wait already.
    Full,
}

impl Outbox {
    pub(super) fn push(&self, frame: String) -> Queued {
        let outcome = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            waiting.add(frame)
        };
        if outcome == Queued::New {
            self.ready.notify_one();
        }
        outcome
    }

    /// Every frame waiting now, in the order they came; the outbox is left empty.
    pub(super) fn take(&self) -> Vec<String> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        waiting.queued.clear();
        std::mem::take(&mut waiting.frames)
    }

    /// Puts back a batch that could not be sent, ahead of what came meanwhile.
    pub(super) fn put_back(&self, batch: Vec<String>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let later = std::mem::take(&mut waiting.frames);
        waiting.queued.clear();
        for frame in batch.into_iter().chain(later) {
            waiting.add(frame);
        }
    }

    /// Waits until a frame is pushed (or returns at once if one was pushed since the last `take`'s wait).
    pub(super) async fn ready(&self) {
        self.ready.notified().await;
    }
}

impl Waiting {
    fn add(&mut self, frame: String) -> Queued {
        if self.queued.contains(&frame) {
            return Queued::Coalesced;
        }
        if self.frames.len() >= MAX_WAITING {
            return Queued::Full;
        }
        self.queued.insert(frame.clone());
        self.frames.push(frame);
        Queued::New
    }
}

#[cfg(test)]
mod tests {
    use super::{Outbox, Queued};

    #[test]
    fn a_burst_of_one_message_is_sent_once_and_once_more_after_the_send_in_flight() {
        let outbox = Outbox::default();
        assert_eq!(outbox.push("r talon_tasks_queued ".into()), Queued::New);
        for _ in 0..999 {
            assert_eq!(outbox.push("r talon_tasks_queued ".into()), Queued::Coalesced);
        }
        let in_flight = outbox.take();
        assert_eq!(in_flight.len(), 1);
        // Rung again while the first send is on its way: one trailing send, however many rings.
        for _ in 0..500 {
            outbox.push("r talon_tasks_queued ".into());
        }
        assert_eq!(outbox.take(), ["r talon_tasks_queued "]);
        assert!(outbox.take().is_empty());
    }

    #[test]
    fn distinct_messages_all_go_in_their_order_and_repeats_once() {
        let outbox = Outbox::default();
        for frame in ["r talon_invalidate key:a", "r talon_invalidate agent:b", "r talon_invalidate key:a"] {
            outbox.push(frame.into());
        }
        outbox.push("r talon_events_written ".into());
        assert_eq!(
            outbox.take(),
            ["r talon_invalidate key:a", "r talon_invalidate agent:b", "r talon_events_written "]
        );
    }

    #[test]
    fn a_batch_that_failed_goes_back_ahead_of_newer_frames_without_duplicates() {
        let outbox = Outbox::default();
        outbox.push("r talon_invalidate key:a".into());
        outbox.push("r talon_tasks_queued ".into());
        let failed = outbox.take();
        outbox.push("r talon_tasks_queued ".into());
        outbox.push("r talon_invalidate key:c".into());
        outbox.put_back(failed);
        assert_eq!(outbox.take(), ["r talon_invalidate key:a", "r talon_tasks_queued ", "r talon_invalidate key:c"]);
        assert!(outbox.take().is_empty());
    }
}
