//! Webhook store rules, on SQLite and PostgreSQL: an attempt's outcome touches only the fields
//! deliveries own, and claims are bounded per webhook and per account and interleave accounts.

use chrono::{Duration, DurationRound, Utc};
use talon_domain::webhook::{Delivery, DeliveryStatus, Webhook};
use talon_domain::{Account, DeliveryId, EventId, UserId, WebhookId};
use talon_store::testing::TestDatabase;
use talon_store::{Backend, ClaimBounds, EndpointOutcome, Store};

on_both_databases!(
    endpoint_outcomes_touch_only_their_fields,
    claims_are_bounded_and_take_turns,
    agent_webhooks_take_their_agents_events_only,
    uploads_are_kept_and_found,
    a_backlog_fans_out_in_batches_once_each,
    retention_keeps_the_newest_deliveries_and_recent_failures,
    retention_removes_only_dispatched_events_older_than_its_cutoff,
);

fn now() -> chrono::DateTime<Utc> {
    Utc::now().duration_trunc(Duration::microseconds(1)).unwrap()
}

async fn account(store: &dyn Store, email: &str) -> UserId {
    let account = Account { id: UserId::new(), email: email.into(), plan: "default".into(), created_at: now() };
    store.create_account(&account, "hash").await.unwrap();
    account.id
}

async fn webhook(store: &dyn Store, owner: UserId, url: &str) -> Webhook {
    let hook = Webhook {
        id: WebhookId::new(),
        owner,
        agent: None,
        signing: talon_domain::webhook::Signing::Talon,
        url: url.into(),
        events: vec!["*".into()],
        description: String::new(),
        active: true,
        disabled_reason: None,
        sealed_secret: "sealed-1".into(),
        previous_secret: None,
        failing_since: None,
        created_at: now(),
        updated_at: now(),
    };
    store.insert_webhook(&hook, &[]).await.unwrap();
    hook
}

async fn due_delivery(store: &dyn Store, hook: &Webhook, at: chrono::DateTime<Utc>) -> DeliveryId {
    let delivery = Delivery::pending(hook, EventId::new(), "ping", "{}".into(), at);
    store.insert_delivery(&delivery).await.unwrap();
    delivery.id
}

fn failed(at: chrono::DateTime<Utc>) -> EndpointOutcome {
    EndpointOutcome::Failed { at, disable_if_failing_since: at - Duration::days(5), reason: "failing".into() }
}

async fn endpoint_outcomes_touch_only_their_fields(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let owner = account(store, "a@example.com").await;
    let claimed = webhook(store, owner, "https://a.example/hook").await;
    let start = now();

    // Changed while an attempt (holding the `claimed` copy) is in flight.
    let mut changed = claimed.clone();
    changed.events = vec!["task.failed".into()];
    changed.description = "edited".into();
    changed.sealed_secret = "sealed-2".into();
    changed.previous_secret = Some(("sealed-1".into(), start + Duration::hours(24)));
    changed.updated_at = start;
    assert!(store.update_webhook(&changed, &[]).await.unwrap());

    store.record_endpoint_outcome(claimed.id, &claimed.url, &failed(start)).await.unwrap();
    let after = store.webhook(claimed.id).await.unwrap().unwrap();
    assert_eq!(after, Webhook { failing_since: Some(start), ..changed.clone() }, "only the streak changed");

    // A later failure keeps the streak's start; success ends it.
    store.record_endpoint_outcome(claimed.id, &claimed.url, &failed(start + Duration::hours(1))).await.unwrap();
    assert_eq!(store.webhook(claimed.id).await.unwrap().unwrap().failing_since, Some(start));
    store.record_endpoint_outcome(claimed.id, &claimed.url, &EndpointOutcome::Delivered).await.unwrap();
    assert_eq!(store.webhook(claimed.id).await.unwrap().unwrap(), changed);

    // Five days of failures switch it off, keeping everything else.
    store.record_endpoint_outcome(claimed.id, &claimed.url, &failed(start)).await.unwrap();
    let later = start + Duration::days(5);
    store.record_endpoint_outcome(claimed.id, &claimed.url, &failed(later)).await.unwrap();
    let off = store.webhook(claimed.id).await.unwrap().unwrap();
    assert!(!off.active);
    assert_eq!(off.disabled_reason.as_deref(), Some("failing"));
    assert_eq!(
        (off.events, off.sealed_secret, off.failing_since),
        (changed.events.clone(), "sealed-2".into(), Some(start))
    );

    // Outcomes of an attempt to a URL the webhook no longer has are not recorded.
    let mut moved = changed.clone();
    moved.url = "https://b.example/hook".into();
    store.update_webhook(&moved, &[]).await.unwrap();
    let gone = EndpointOutcome::Gone { at: later, reason: "410".into() };
    store.record_endpoint_outcome(claimed.id, &claimed.url, &gone).await.unwrap();
    store.record_endpoint_outcome(claimed.id, &claimed.url, &failed(later)).await.unwrap();
    assert_eq!(store.webhook(claimed.id).await.unwrap().unwrap(), moved);
    store.record_endpoint_outcome(claimed.id, &moved.url, &gone).await.unwrap();
    let gone_now = store.webhook(claimed.id).await.unwrap().unwrap();
    assert!(!gone_now.active);
    assert_eq!(gone_now.disabled_reason.as_deref(), Some("410"));
    assert_eq!(gone_now.url, moved.url);
}

async fn claims_are_bounded_and_take_turns(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let noisy = account(store, "noisy@example.com").await;
    let quiet = account(store, "quiet@example.com").await;
    let start = now() - Duration::minutes(10);
    let mut noisy_hooks = Vec::new();
    for i in 0..3 {
        let hook = webhook(store, noisy, &format!("https://noisy.example/{i}")).await;
        for j in 0..3 {
            due_delivery(store, &hook, start + Duration::seconds(i * 3 + j)).await;
        }
        noisy_hooks.push(hook);
    }
    // Due after every one of the noisy account's.
    let quiet_hook = webhook(store, quiet, "https://quiet.example/").await;
    due_delivery(store, &quiet_hook, start + Duration::minutes(1)).await;

    let at = now();
    let hold = at + Duration::seconds(30);
    let bounds = ClaimBounds { per_webhook: 1, per_account: 2 };
    let first = store.claim_deliveries(at, 10, hold, bounds).await.unwrap();
    let owners: Vec<UserId> = first.iter().map(|j| j.delivery.owner).collect();
    assert_eq!(owners.iter().filter(|o| **o == noisy).count(), 2, "the noisy account gets its share");
    assert_eq!(owners.iter().filter(|o| **o == quiet).count(), 1, "the quiet account is not starved");
    let mut hooks: Vec<WebhookId> = first.iter().map(|j| j.webhook.id).collect();
    hooks.sort_by_key(|h| h.to_string());
    hooks.dedup();
    assert_eq!(hooks.len(), 3, "one delivery per webhook");
    assert!(store.claim_deliveries(at, 10, hold, bounds).await.unwrap().is_empty(), "everything is at its bound");

    // A finished attempt frees its webhook's and its account's slot.
    let mut done = first.iter().find(|j| j.delivery.owner == noisy).unwrap().delivery.clone();
    done.status = DeliveryStatus::Succeeded;
    store.update_delivery(&done).await.unwrap();
    let next = store.claim_deliveries(at, 10, hold, bounds).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].delivery.owner, noisy);
    let busy: Vec<WebhookId> = first.iter().filter(|j| j.delivery.id != done.id).map(|j| j.webhook.id).collect();
    assert!(!busy.contains(&next[0].webhook.id), "not a webhook with a delivery in flight");

    // Holds that lapsed stop counting, and their deliveries are claimed again.
    let later = hold + Duration::seconds(1);
    let again = store.claim_deliveries(later, 10, later + Duration::seconds(30), bounds).await.unwrap();
    assert_eq!(again.iter().filter(|j| j.delivery.owner == noisy).count(), 2);

    // With room for only two, the accounts alternate rather than the oldest account taking both.
    let fresh = TestDatabase::new(backend).await.unwrap();
    let store = fresh.store.as_ref();
    let noisy = account(store, "noisy@example.com").await;
    let quiet = account(store, "quiet@example.com").await;
    for i in 0..4 {
        let hook = webhook(store, noisy, &format!("https://noisy.example/{i}")).await;
        due_delivery(store, &hook, start + Duration::seconds(i)).await;
    }
    let quiet_hook = webhook(store, quiet, "https://quiet.example/").await;
    due_delivery(store, &quiet_hook, start + Duration::minutes(1)).await;
    let wide = ClaimBounds { per_webhook: 2, per_account: 8 };
    let two = store.claim_deliveries(at, 2, hold, wide).await.unwrap();
    let owners: Vec<UserId> = two.iter().map(|j| j.delivery.owner).collect();
    assert!(owners.contains(&noisy) && owners.contains(&quiet), "{owners:?}");
}

/// An agent's webhook: one per agent, out of the account's list, found by its agent (whatever account
/// holds it now), and receiving the events meant for its agent that it subscribes to.
async fn agent_webhooks_take_their_agents_events_only(backend: Backend) {
    use talon_domain::event::{CONTRACT_APPROVED, CONTRACT_FUNDED, Event};
    use talon_domain::webhook::Signing;
    use talon_store::DeliveryFilter;

    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let owner_account =
        Account { id: UserId::new(), email: "a@example.com".into(), plan: "default".into(), created_at: now() };
    store.create_account(&owner_account, "hash").await.unwrap();
    let owner = owner_account.id;
    let (agent, version) = crate::common::agent_fixtures::agent(&owner_account, "seller", None);
    store.insert_agent(&agent, &version, &[]).await.unwrap();
    let (other_agent, other_version) = crate::common::agent_fixtures::agent(&owner_account, "other", None);
    store.insert_agent(&other_agent, &other_version, &[]).await.unwrap();

    let account_hook = webhook(store, owner, "https://account.example/hook").await;
    let mut agent_hook = Webhook {
        id: WebhookId::new(),
        agent: Some(agent.id),
        signing: Signing::ClawGig,
        events: vec![CONTRACT_FUNDED.into()],
        url: "https://agent.example/hook".into(),
        ..account_hook.clone()
    };
    store.insert_agent_webhook(&agent_hook).await.unwrap();
    let twin = Webhook { id: WebhookId::new(), ..agent_hook.clone() };
    assert!(matches!(store.insert_agent_webhook(&twin).await, Err(talon_store::StoreError::Conflict(_))));
    assert_eq!(store.list_webhooks(owner).await.unwrap(), vec![account_hook.clone()], "not the account's");
    assert_eq!(store.agent_webhook(agent.id).await.unwrap(), Some(agent_hook.clone()));
    assert!(!store.delete_webhook(owner, agent_hook.id, &[]).await.unwrap(), "not deleted as an account webhook");

    // An update follows the agent to the account holding it now.
    let new_holder =
        Account { id: UserId::new(), email: "b@example.com".into(), plan: "default".into(), created_at: now() };
    store.create_account(&new_holder, "hash").await.unwrap();
    agent_hook.owner = new_holder.id;
    store.update_webhook(&agent_hook, &[]).await.unwrap();
    assert_eq!(store.agent_webhook(agent.id).await.unwrap().unwrap().owner, new_holder.id);

    let funded = Event::for_agent(owner, agent.id, CONTRACT_FUNDED, serde_json::json!({"contract_id": "ctr_1"}));
    let approved = Event::for_agent(owner, agent.id, CONTRACT_APPROVED, serde_json::json!({}));
    let others = Event::for_agent(owner, other_agent.id, CONTRACT_FUNDED, serde_json::json!({}));
    store.record_events(&[funded.clone(), approved, others]).await.unwrap();
    assert_eq!(store.fan_out_events(10, now()).await.unwrap(), 3);
    let to_agent = store.list_deliveries(agent_hook.id, 0, 10).await.unwrap();
    assert_eq!(to_agent.total, 1, "its agent's subscribed event only");
    assert_eq!(to_agent.items[0].event_id, funded.id);
    assert_eq!(store.list_deliveries(account_hook.id, 0, 10).await.unwrap().total, 3, "the account sees all");

    let mut delivered = to_agent.items[0].clone();
    delivered.status = DeliveryStatus::Succeeded;
    store.update_delivery(&delivered).await.unwrap();
    let filtered = |filter: DeliveryFilter| async move {
        store.list_filtered_deliveries(account_hook.id, &filter, 0, 10).await.unwrap().len()
    };
    assert_eq!(filtered(DeliveryFilter::default()).await, 3);
    assert_eq!(filtered(DeliveryFilter { event: Some(CONTRACT_FUNDED.into()), ..Default::default() }).await, 2);
    assert_eq!(filtered(DeliveryFilter { success: Some(false), ..Default::default() }).await, 3);
    assert_eq!(filtered(DeliveryFilter { since: Some(now() + Duration::minutes(1)), ..Default::default() }).await, 0);
    assert_eq!(filtered(DeliveryFilter { since: Some(now() - Duration::minutes(1)), ..Default::default() }).await, 3);
    let succeeded = DeliveryFilter { success: Some(true), ..Default::default() };
    assert_eq!(store.list_filtered_deliveries(agent_hook.id, &succeeded, 0, 10).await.unwrap().len(), 1);

    assert!(store.delete_agent_webhook(agent.id).await.unwrap());
    assert_eq!(store.agent_webhook(agent.id).await.unwrap(), None);
    assert_eq!(store.list_webhooks(owner).await.unwrap().len(), 1);
}

async fn uploads_are_kept_and_found(backend: Backend) {
    use talon_domain::UploadId;
    use talon_domain::marketplace::Upload;

    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let owner = account(store, "a@example.com").await;
    let id = UploadId::new();
    let upload = Upload {
        id,
        owner,
        agent: None,
        bucket: "attachments".into(),
        file_name: "report.pdf".into(),
        content_type: "application/pdf".into(),
        size_bytes: 1234,
        storage_key: id.to_string(),
        created_at: now(),
    };
    store.insert_upload(&upload).await.unwrap();
    assert_eq!(store.upload(id).await.unwrap(), Some(upload));
    assert_eq!(store.upload(UploadId::new()).await.unwrap(), None);
}

/// A backlog of events goes out a batch at a time, each event once (the batch is marked dispatched in
/// one statement), and a webhook made after an event never receives it.
async fn a_backlog_fans_out_in_batches_once_each(backend: Backend) {
    use talon_domain::event::Event;

    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let owner = account(store, "backlog@example.com").await;
    let early = Event::new(owner, "task.created", serde_json::json!({"n": 0}));
    store.record_events(std::slice::from_ref(&early)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let hook = webhook(store, owner, "https://backlog.example/hook").await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let later: Vec<Event> = (1..=70).map(|n| Event::new(owner, "task.created", serde_json::json!({"n": n}))).collect();
    store.record_events(&later).await.unwrap();

    let mut fanned = Vec::new();
    loop {
        let n = store.fan_out_events(32, now()).await.unwrap();
        if n == 0 {
            break;
        }
        fanned.push(n);
    }
    assert_eq!(fanned, [32, 32, 7], "every event once, a batch at a time");
    let deliveries = store.list_deliveries(hook.id, 0, 100).await.unwrap();
    assert_eq!(deliveries.total, 70, "the events after the webhook, not the one before it");
    assert!(deliveries.items.iter().all(|d| d.event_id != early.id));
}

/// Delivery retention keeps each webhook's newest deliveries whatever their outcome, failures younger
/// than the cutoff beyond those, and anything not finished; other webhooks are not touched.
async fn retention_keeps_the_newest_deliveries_and_recent_failures(backend: Backend) {
    use talon_store::DeliveryRetention;

    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let owner = account(store, "retention@example.com").await;
    let (hook, other) =
        (webhook(store, owner, "https://a.example/hook").await, webhook(store, owner, "https://b.example/hook").await);
    let t0 = now();
    let mut made = Vec::new();
    // Oldest first: 4 succeeded, 2 failed, 1 pending, then 3 succeeded (the newest).
    for status in [DeliveryStatus::Succeeded; 4]
        .into_iter()
        .chain([DeliveryStatus::Failed; 2])
        .chain([DeliveryStatus::Pending])
        .chain([DeliveryStatus::Succeeded; 3])
    {
        let mut delivery = Delivery::pending(&hook, EventId::new(), "ping", "{}".into(), t0);
        delivery.status = status;
        store.insert_delivery(&delivery).await.unwrap();
        made.push(delivery.id);
    }
    for _ in 0..3 {
        due_delivery(store, &other, t0).await;
    }
    assert_eq!(store.webhooks_over(3).await.unwrap(), vec![hook.id], "only the webhook holding more than 3");
    let keep_failures = DeliveryRetention { keep_per_webhook: 3, keep_failed_since: t0 - Duration::hours(1) };
    assert_eq!(store.purge_deliveries_of(hook.id, keep_failures, 2).await.unwrap(), 2, "a batch at a time");
    assert_eq!(store.purge_deliveries_of(hook.id, keep_failures, 2).await.unwrap(), 2);
    assert_eq!(store.purge_deliveries_of(hook.id, keep_failures, 2).await.unwrap(), 0);
    let left: Vec<DeliveryId> =
        store.list_deliveries(hook.id, 0, 100).await.unwrap().items.iter().map(|d| d.id).collect();
    let mut expected = made[4..].to_vec();
    expected.reverse();
    assert_eq!(left, expected, "the failures, the pending one and the newest three");
    let drop_failures = DeliveryRetention { keep_per_webhook: 3, keep_failed_since: t0 + Duration::hours(1) };
    assert_eq!(store.purge_deliveries_of(hook.id, drop_failures, 100).await.unwrap(), 2);
    assert_eq!(store.list_deliveries(hook.id, 0, 100).await.unwrap().total, 4, "pending and the newest three");
    assert_eq!(store.list_deliveries(other.id, 0, 100).await.unwrap().total, 3, "the other webhook untouched");
}

/// Event retention removes events the fan-out handled before the cutoff, never one still to handle.
async fn retention_removes_only_dispatched_events_older_than_its_cutoff(backend: Backend) {
    use talon_domain::event::Event;

    let db = TestDatabase::new(backend).await.unwrap();
    let store = db.store.as_ref();
    let owner = account(store, "events@example.com").await;
    let handled: Vec<Event> = (0..5).map(|n| Event::new(owner, "task.created", serde_json::json!({"n": n}))).collect();
    store.record_events(&handled).await.unwrap();
    while store.fan_out_events(100, now()).await.unwrap() > 0 {}
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let waiting = Event::new(owner, "task.created", serde_json::json!({"n": "late"}));
    store.record_events(std::slice::from_ref(&waiting)).await.unwrap();
    assert_eq!(store.purge_dispatched_events(cutoff, 3).await.unwrap(), 3);
    assert_eq!(store.purge_dispatched_events(cutoff, 3).await.unwrap(), 2);
    assert_eq!(
        store.purge_dispatched_events(Utc::now() + Duration::hours(1), 100).await.unwrap(),
        0,
        "not handled yet"
    );
    let left: Vec<EventId> = store.events_for(owner).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(left, vec![waiting.id]);
}
