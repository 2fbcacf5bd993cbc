//! `Signal`: rung when work is written (a task queued, an event in the outbox), so that the loops
//! waiting for such work look at once instead of at their next poll. A signal on the bus
//! (`Signal::on_bus`) also tells the other replicas, whose own signals are woken by what they hear
//! (`workers::wakeups`); their loops then poll only as a safety net (`poll_every`).
//!
//! Work written to become due later (a task's `runAt`, a retry's backoff) rings when it falls due: the
//! signal keeps an alarm for it (`ring_at`).

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Instant;

use super::bus::{Bus, Topic};

/// How often loops look for work while the bus hears the other replicas: only for what no ring
/// announces (work written by a replica that died before its alarm, by a command-line process).
pub const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Alarms kept at once; work due later than these is found by polling.
const MAX_ALARMS: usize = 10_000;
/// Alarms ring this long after the time they were set for, so that a replica whose clock runs a little
/// behind finds the work due when it looks.
const ALARM_SLACK: Duration = Duration::from_millis(10);
/// An alarm task with nothing to do checks this often whether its signal is gone.
const IDLE_ALARM_CHECK: Duration = Duration::from_secs(60);

#[derive(Clone, Default)]
pub struct Signal(Arc<Inner>);

#[derive(Default)]
struct Inner {
    notify: Notify,
    /// The bus and topic a ring is announced on, for the other replicas.
    relay: Option<(Bus, Topic)>,
    alarms: Arc<Alarms>,
}

#[derive(Default)]
struct Alarms {
    due: Mutex<BTreeSet<Instant>>,
    changed: Notify,
    started: AtomicBool,
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal").field("topic", &self.0.relay.as_ref().map(|(_, topic)| topic)).finish()
    }
}

impl Signal {
    /// A signal whose rings are also told to the other replicas on `topic`.
    pub fn on_bus(bus: Bus, topic: Topic) -> Self {
        Self(Arc::new(Inner { relay: Some((bus, topic)), ..Inner::default() }))
    }

    /// Wakes every loop listening now, here and on the other replicas.
    pub fn ring(&self) {
        self.0.notify.notify_waiters();
        if let Some((bus, topic)) = &self.0.relay {
            bus.tell_others(*topic);
        }
    }

    /// Wakes this replica's loops only: another replica announced work.
    pub fn wake(&self) {
        self.0.notify.notify_waiters();
    }

    /// Rings when `at` comes (at once if it has passed).
    pub fn ring_at(&self, at: DateTime<Utc>) {
        match (at - Utc::now()).to_std() {
            Ok(wait) if !wait.is_zero() => self.set_alarm(Instant::now() + wait + ALARM_SLACK),
            _ => self.ring(),
        }
    }

    /// How long a loop waits for a ring before looking anyway, given how often it polls without the
    /// bus: `SAFETY_POLL` while the bus hears the other replicas, else `without_bus`.
    pub fn poll_every(&self, without_bus: Duration) -> Duration {
        match &self.0.relay {
            Some((bus, _)) if bus.hears_other_replicas() => without_bus.max(SAFETY_POLL),
            _ => without_bus,
        }
    }

    /// Starts listening. The idiom is listen, then look for work, then `wait` only if there was none:
    /// a ring that comes between the look and the wait is not missed, because the listening began first.
    pub fn listen(&self) -> Listener<'_> {
        let mut notified = Box::pin(self.0.notify.notified());
        notified.as_mut().enable();
        Listener(notified)
    }

    fn set_alarm(&self, at: Instant) {
        let alarms = &self.0.alarms;
        {
            let mut due = alarms.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if due.len() >= MAX_ALARMS {
                tracing::debug!("too many alarms set; work due later is found by polling");
                return;
            }
            due.insert(at);
        }
        alarms.changed.notify_one();
        if !alarms.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(keep_alarms(alarms.clone(), Arc::downgrade(&self.0)));
        }
    }
}

/// Rings the signal as its alarms come due; ends once the signal is gone.
async fn keep_alarms(alarms: Arc<Alarms>, signal: Weak<Inner>) {
    loop {
        let next = alarms.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).first().copied();
        let wait = next.unwrap_or_else(|| Instant::now() + IDLE_ALARM_CHECK);
        tokio::select! {
            () = tokio::time::sleep_until(wait) => {}
            () = alarms.changed.notified() => continue,
        }
        let Some(inner) = signal.upgrade() else { return };
        if next.is_some() {
            let now = Instant::now();
            let mut due = alarms.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let later = due.split_off(&(now + Duration::from_nanos(1)));
            *due = later;
            drop(due);
            Signal(inner).ring();
        }
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

    use super::{SAFETY_POLL, Signal};
    use crate::services::bus::{Bus, Topic};

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

    #[tokio::test]
    async fn an_alarm_rings_when_its_time_comes_not_before() {
        let signal = Signal::default();
        let at = chrono::Utc::now() + chrono::Duration::milliseconds(300);
        signal.ring_at(at);
        let listener = signal.listen();
        assert!(listener.wait(Duration::from_secs(10)).await, "the alarm rang");
        assert!(chrono::Utc::now() >= at - chrono::Duration::milliseconds(1), "not before its time");
        // Past times ring at once.
        let listener = signal.listen();
        signal.ring_at(chrono::Utc::now() - chrono::Duration::seconds(1));
        assert!(listener.wait(Duration::from_millis(1)).await);
    }

    #[tokio::test]
    async fn alarms_ring_in_order_and_an_earlier_one_set_later_is_not_held_up() {
        let signal = Signal::default();
        signal.ring_at(chrono::Utc::now() + chrono::Duration::hours(1));
        let soon = chrono::Utc::now() + chrono::Duration::milliseconds(100);
        signal.ring_at(soon);
        assert!(signal.listen().wait(Duration::from_secs(10)).await);
        assert_eq!(signal.0.alarms.due.lock().unwrap().len(), 1, "the hour's alarm still waits");
    }

    #[test]
    fn loops_poll_slowly_only_while_the_bus_hears_the_other_replicas() {
        let fast = Duration::from_millis(200);
        assert_eq!(Signal::default().poll_every(fast), fast);
        // A local bus hears nobody: writers it cannot hear (another process) are found by polling.
        assert_eq!(Signal::on_bus(Bus::local(), Topic::TasksQueued).poll_every(fast), fast);
        assert!(SAFETY_POLL > fast);
    }
}
