//! The link over a transport this test drives: it can refuse to listen, cut the subscription, hold
//! sends, and echo what is sent (as PostgreSQL and Redis do) or not (a connection dead without a word).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Subscription, Timing, Transport, TransportError};
use crate::services::bus::{Bus, Message, Topic};

type Feed = mpsc::UnboundedSender<Result<String, TransportError>>;

struct Fake {
    refuse: AtomicBool,
    echo: AtomicBool,
    feed: Mutex<Option<Feed>>,
    listens: AtomicUsize,
    sends_started: AtomicUsize,
    /// Sends wait for a permit when `hold` is set.
    hold: AtomicBool,
    gate: Semaphore,
    sent: Mutex<Vec<Vec<String>>>,
}

impl Fake {
    fn new() -> Arc<Self> {
        Arc::new(Fake {
            refuse: AtomicBool::new(false),
            echo: AtomicBool::new(true),
            feed: Mutex::new(None),
            listens: AtomicUsize::new(0),
            sends_started: AtomicUsize::new(0),
            hold: AtomicBool::new(false),
            gate: Semaphore::new(0),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// A frame from another replica.
    fn deliver(&self, frame: &str) {
        if let Some(feed) = self.feed.lock().unwrap().as_ref() {
            let _ = feed.send(Ok(frame.to_owned()));
        }
    }

    /// The connection is lost.
    fn cut(&self) {
        if let Some(feed) = self.feed.lock().unwrap().take() {
            let _ = feed.send(Err(TransportError("cut".into())));
        }
    }

    fn sent(&self) -> Vec<Vec<String>> {
        self.sent.lock().unwrap().clone()
    }
}

struct Shared(Arc<Fake>);

struct FakeSubscription(mpsc::UnboundedReceiver<Result<String, TransportError>>);

#[async_trait]
impl Subscription for FakeSubscription {
    async fn next(&mut self) -> Result<String, TransportError> {
        self.0.recv().await.unwrap_or_else(|| Err(TransportError("closed".into())))
    }
}

#[async_trait]
impl Transport for Shared {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn listen(&self) -> Result<Box<dyn Subscription>, TransportError> {
        self.0.listens.fetch_add(1, Ordering::SeqCst);
        if self.0.refuse.load(Ordering::SeqCst) {
            return Err(TransportError("refused".into()));
        }
        let (feed, frames) = mpsc::unbounded_channel();
        *self.0.feed.lock().unwrap() = Some(feed);
        Ok(Box::new(FakeSubscription(frames)))
    }

    async fn send(&self, frames: &[String]) -> Result<(), TransportError> {
        self.0.sends_started.fetch_add(1, Ordering::SeqCst);
        if self.0.hold.load(Ordering::SeqCst) {
            self.0.gate.acquire().await.map_err(|e| TransportError(e.to_string()))?.forget();
        }
        self.0.sent.lock().unwrap().push(frames.to_vec());
        if self.0.echo.load(Ordering::SeqCst) {
            for frame in frames {
                self.0.deliver(frame);
            }
        }
        Ok(())
    }
}

const QUICK: Timing = Timing {
    retry_first: Duration::from_millis(5),
    retry_max: Duration::from_millis(20),
    heartbeat_every: Duration::from_millis(50),
    heartbeat_lost_after: Duration::from_millis(200),
    send_timeout: Duration::from_secs(5),
};

fn running(fake: &Arc<Fake>) -> (Bus, CancellationToken, tokio::task::JoinHandle<()>) {
    let transport = Shared(fake.clone());
    let bus = Bus::with_transport(|_| Arc::new(transport));
    let stop = CancellationToken::new();
    let task = tokio::spawn(super::run(bus.inner.clone(), bus.inner.transport.clone().unwrap(), stop.clone(), QUICK));
    (bus, stop, task)
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn trust_is_lost_with_the_subscription_and_returns_in_a_new_epoch() {
    let fake = Fake::new();
    let (bus, stop, task) = running(&fake);
    until("the first subscription listens", || bus.trusted()).await;
    assert_eq!(bus.epoch(), 1);
    assert!(bus.hears_other_replicas());

    fake.refuse.store(true, Ordering::SeqCst);
    fake.cut();
    until("the loss is seen", || !bus.trusted()).await;
    // While listening is refused the bus stays untrusted, however many attempts are made.
    let attempts = fake.listens.load(Ordering::SeqCst);
    until("a few attempts were refused", || fake.listens.load(Ordering::SeqCst) >= attempts + 3).await;
    assert!(!bus.trusted() && !bus.hears_other_replicas());
    assert_eq!(bus.epoch(), 1);

    fake.refuse.store(false, Ordering::SeqCst);
    until("a new subscription listens", || bus.trusted()).await;
    assert_eq!(bus.epoch(), 2);
    stop.cancel();
    task.await.unwrap();
    assert!(!bus.trusted(), "a stopped link is not trusted");
}

#[tokio::test]
async fn own_messages_are_heard_once_and_other_replicas_messages_are_delivered() {
    let fake = Fake::new();
    let (bus, stop, task) = running(&fake);
    until("listening", || bus.trusted()).await;
    let mut messages = bus.subscribe();
    bus.publish(Topic::Invalidate, "key:a");
    let first = messages.recv().await.unwrap();
    assert_eq!(first, Message { topic: Topic::Invalidate, payload: "key:a".into() });
    until("the message was sent", || !fake.sent().is_empty()).await;
    assert_eq!(fake.sent()[0], [format!("{} talon_invalidate key:a", bus.replica_id())]);
    // The transport echoed it back before this frame from another replica: only the latter comes.
    fake.deliver("0123456789abcdef talon_invalidate agent:b");
    let second = messages.recv().await.unwrap();
    assert_eq!(second, Message { topic: Topic::Invalidate, payload: "agent:b".into() });
    // Unknown names and what is not a frame are ignored.
    fake.deliver("0123456789abcdef talon_something_new x");
    fake.deliver("not a frame");
    fake.deliver("0123456789abcdef talon_tasks_queued ");
    assert_eq!(messages.recv().await.unwrap(), Message { topic: Topic::TasksQueued, payload: String::new() });
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn wake_ups_go_to_other_replicas_only_and_a_burst_is_one_send_in_flight_and_one_after() {
    let fake = Fake::new();
    fake.hold.store(true, Ordering::SeqCst);
    let (bus, stop, task) = running(&fake);
    until("listening", || bus.trusted()).await;
    let mut messages = bus.subscribe();
    bus.tell_others(Topic::TasksQueued);
    until("the first send is in flight", || fake.sends_started.load(Ordering::SeqCst) == 1).await;
    for _ in 0..1000 {
        bus.tell_others(Topic::TasksQueued);
    }
    fake.gate.add_permits(100);
    until("two sends went", || fake.sent().len() == 2).await;
    let wake = format!("{} talon_tasks_queued ", bus.replica_id());
    assert_eq!(fake.sent(), [vec![wake.clone()], vec![wake]]);
    // This replica's subscribers hear nothing of it: its own loops were woken directly.
    assert!(messages.try_recv().is_err());
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_subscription_that_stops_echoing_is_dropped_as_lost() {
    let fake = Fake::new();
    let (bus, stop, task) = running(&fake);
    until("listening", || bus.trusted()).await;
    // Heartbeats come back while the connection works.
    tokio::time::sleep(QUICK.heartbeat_lost_after * 2).await;
    assert_eq!(bus.epoch(), 1, "heartbeats kept the subscription");
    fake.echo.store(false, Ordering::SeqCst);
    until("a new subscription replaced the silent one", || bus.epoch() >= 2).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn what_could_not_be_sent_is_sent_on_stop() {
    let fake = Fake::new();
    fake.refuse.store(true, Ordering::SeqCst);
    let (bus, stop, task) = running(&fake);
    bus.publish(Topic::Invalidate, "key:z");
    until("sent", || !fake.sent().is_empty()).await;
    bus.inner.outbox.push("left behind".into());
    stop.cancel();
    task.await.unwrap();
    assert_eq!(fake.sent().concat().last().map(String::as_str), Some("left behind"));
}
