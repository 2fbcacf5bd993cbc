//! Agents, versions, forks and lineage.

use talon_store::{Backend, StoreError, Window};

const FIRST_TEN: Window = Window::Offset { offset: 0, limit: 10 };

use crate::common::agent_fixtures::{agent, event, fork_of};
use crate::common::{account, db, now};

on_both_databases!(
    agents_insert_read_and_list,
    taken_slugs_are_the_numbered_variants_of_one_owner,
    append_version_is_compare_and_swap,
    append_versions_writes_a_whole_chain_or_nothing,
    every_change_a_lineage_shows_moves_its_mark,
    an_agent_is_read_with_the_version_it_serves,
    forks_count_lineage_and_delete,
    root_agents_are_inserted_in_batches_or_not_at_all,
    agents_are_searched_by_name_or_slug_across_the_account,
    version_numbers_are_read_in_one_batch,
);

async fn agents_insert_read_and_list(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v, &[event(&alice)]).await.unwrap();
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap(), a);
    assert_eq!(db.store.agent_by_slug(alice.id, "one").await.unwrap().unwrap().id, a.id);
    assert_eq!(db.store.version(v.id).await.unwrap().unwrap(), v);
    assert_eq!(db.store.version_by_number(a.id, 1).await.unwrap().unwrap().id, v.id);

    let (dup, dup_v) = agent(&alice, "one", None);
    let err = db.store.insert_agent(&dup, &dup_v, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    assert!(db.store.agent(dup.id).await.unwrap().is_none(), "nothing of a failed insert remains");

    let (b, bv) = agent(&alice, "two", None);
    db.store.insert_agent(&b, &bv, &[]).await.unwrap();
    let page = db.store.list_agents(alice.id, Default::default(), FIRST_TEN).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items.iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    let deployed = talon_store::AgentFilter { deployed_only: true, ..Default::default() };
    assert_eq!(db.store.list_agents(alice.id, deployed, FIRST_TEN).await.unwrap().total, 0);
    let only_b = talon_store::AgentFilter { only: Some(b.id), ..Default::default() };
    assert_eq!(db.store.list_agents(alice.id, only_b, FIRST_TEN).await.unwrap().items[0].id, b.id);

    let events = db.store.events_for(alice.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "agent.created");
}

async fn taken_slugs_are_the_numbered_variants_of_one_owner(backend: Backend) {
    let db = db(backend).await;
    let (alice, bob) = (account("alice@example.com"), account("bob@example.com"));
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let long = "a".repeat(64);
    let long_2 = talon_domain::agent::numbered_slug(&long, 2);
    for slug in ["bot", "bot-2", "bot-10", "bots", "robot", "bot-x", long.as_str(), long_2.as_str()] {
        let (a, v) = agent(&alice, slug, None);
        db.store.insert_agent(&a, &v, &[]).await.unwrap();
    }
    let (b, bv) = agent(&bob, "bot-3", None);
    db.store.insert_agent(&b, &bv, &[]).await.unwrap();

    let mut taken = db.store.taken_slugs(alice.id, "bot").await.unwrap();
    taken.sort();
    // `bot-x` matches the pattern but is no numbered variant: harmless, it is simply never chosen.
    assert_eq!(taken, ["bot", "bot-10", "bot-2", "bot-x"]);
    assert!(db.store.taken_slugs(alice.id, "nothing").await.unwrap().is_empty());
    let mut taken = db.store.taken_slugs(alice.id, &long).await.unwrap();
    taken.sort();
    assert_eq!(taken, [long_2, long.clone()]);
}

async fn append_version_is_compare_and_swap(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let next = |parent: &talon_domain::agent::Version, number: i64| {
        let mut v = parent.clone();
        v.id = talon_domain::VersionId::new();
        v.number = number;
        v.parent_version_id = Some(parent.id);
        v
    };
    let v2 = next(&v1, 2);
    assert_eq!(db.store.append_version(&v2, &[event(&alice)]).await.unwrap(), talon_store::AppendOutcome::Appended);
    let stale = next(&v1, 2);
    assert_eq!(db.store.append_version(&stale, &[event(&alice)]).await.unwrap(), talon_store::AppendOutcome::Stale);
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap().current_version_id, v2.id);
    let page = db.store.list_versions(a.id, 0, 10).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items.iter().map(|v| v.number).collect::<Vec<_>>(), [2, 1], "newest first");
    assert_eq!(db.store.events_for(alice.id).await.unwrap().len(), 1, "a stale append records nothing");
}

fn next_version(parent: &talon_domain::agent::Version) -> talon_domain::agent::Version {
    let mut v = parent.clone();
    v.id = talon_domain::VersionId::new();
    v.number = parent.number + 1;
    v.parent_version_id = Some(parent.id);
    v
}

async fn append_versions_writes_a_whole_chain_or_nothing(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let v2 = next_version(&v1);
    let v3 = next_version(&v2);
    let v4 = next_version(&v3);
    let chain = [v2.clone(), v3.clone(), v4.clone()];
    let events = [event(&alice), event(&alice), event(&alice)];
    assert_eq!(db.store.append_versions(&chain, &events).await.unwrap(), talon_store::AppendOutcome::Appended);
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap().current_version_id, v4.id, "the last is current");
    let numbers: Vec<i64> = db.store.list_versions(a.id, 0, 10).await.unwrap().items.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    assert_eq!(db.store.version(v3.id).await.unwrap().unwrap().parent_version_id, Some(v2.id));
    assert_eq!(db.store.events_for(alice.id).await.unwrap().len(), 3);

    // A chain from a version that is no longer current writes nothing.
    let late = next_version(&v2);
    let stale = [late.clone(), next_version(&late)];
    assert_eq!(db.store.append_versions(&stale, &events[..2]).await.unwrap(), talon_store::AppendOutcome::Stale);
    assert!(db.store.version(late.id).await.unwrap().is_none());
    assert_eq!(db.store.events_for(alice.id).await.unwrap().len(), 3);

    // Versions that do not follow one another are refused before anything is written.
    let (v5, other) = (next_version(&v4), next_version(&v4));
    let err = db.store.append_versions(&[v5.clone(), other], &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap().current_version_id, v4.id);
    assert_eq!(db.store.append_versions(&[], &[]).await.unwrap(), talon_store::AppendOutcome::Appended);
}

async fn every_change_a_lineage_shows_moves_its_mark(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (root, rv) = agent(&alice, "root", None);
    db.store.insert_agent(&root, &rv, &[]).await.unwrap();
    let mark = |id| {
        let store = db.store.clone();
        async move { store.lineage_mark(id).await.unwrap().unwrap() }
    };
    let mut last = mark(root.id).await;
    assert_eq!(last.lineage, *root.id.as_uuid(), "a root starts its own lineage");
    let (child, cv) = agent(&alice, "child", fork_of(&root));
    let (other, ov) = agent(&alice, "other", None);
    db.store.insert_agent(&other, &ov, &[]).await.unwrap();
    let unrelated = mark(other.id).await;

    fn moved(last: &mut talon_store::LineageMark, now: talon_store::LineageMark, what: &str) {
        assert_eq!(now.lineage, last.lineage, "{what}: same lineage");
        assert!(now.changes > last.changes, "{what}: {now:?} after {last:?}");
        *last = now;
    }
    db.store.insert_agent(&child, &cv, &[]).await.unwrap();
    moved(&mut last, mark(root.id).await, "a fork");
    assert_eq!(mark(child.id).await, last, "a fork joins its parent's lineage");
    db.store.append_version(&next_version(&cv), &[]).await.unwrap();
    moved(&mut last, mark(root.id).await, "a new version");
    let mut renamed = db.store.agent(child.id).await.unwrap().unwrap();
    renamed.metadata.name = "renamed".into();
    db.store.update_agent_profile(&renamed, &event(&alice)).await.unwrap();
    moved(&mut last, mark(root.id).await, "a rename");
    let (grandchild, gv) = agent(&alice, "grandchild", fork_of(&child));
    db.store.insert_agent(&grandchild, &gv, &[]).await.unwrap();
    moved(&mut last, mark(root.id).await, "a fork of a fork");
    db.store.delete_agent(child.id, true, &event(&alice)).await.unwrap();
    moved(&mut last, mark(root.id).await, "a deletion");
    assert_eq!(mark(grandchild.id).await, last, "a split tree keeps counting with its old lineage");
    assert_eq!(mark(other.id).await, unrelated, "another tree saw none of it");
    assert!(db.store.lineage_mark(child.id).await.unwrap().is_none(), "a deleted agent has no mark");
}

async fn forks_count_lineage_and_delete(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (root, rv) = agent(&alice, "root", None);
    db.store.insert_agent(&root, &rv, &[]).await.unwrap();
    let (child, cv) = agent(&alice, "child", fork_of(&root));
    db.store.insert_agent(&child, &cv, &[]).await.unwrap();
    let (grandchild, gv) = agent(&alice, "grandchild", fork_of(&child));
    db.store.insert_agent(&grandchild, &gv, &[]).await.unwrap();
    assert_eq!(db.store.agent(root.id).await.unwrap().unwrap().fork_count, 1);

    for from in [root.id, child.id, grandchild.id] {
        let mut entries = db.store.lineage(from).await.unwrap();
        entries.sort_by_key(|e| e.id);
        assert_eq!(entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["root", "child", "grandchild"]);
        assert_eq!(entries[2].parent, Some(child.id));
        assert_eq!(entries[1].forked_from_version_id, Some(rv.id));
    }

    let e = event(&alice);
    assert_eq!(db.store.delete_agent(child.id, false, &e).await.unwrap(), talon_store::DeleteOutcome::HasForks(1));
    assert_eq!(db.store.delete_agent(child.id, true, &e).await.unwrap(), talon_store::DeleteOutcome::Deleted);
    assert_eq!(db.store.agent(root.id).await.unwrap().unwrap().fork_count, 0);
    let orphan = db.store.agent(grandchild.id).await.unwrap().unwrap();
    let origin = orphan.fork_origin.unwrap();
    assert_eq!((origin.parent_agent_id, origin.parent_version_id), (None, None), "the fork now stands alone");
    assert!(db.store.version(cv.id).await.unwrap().is_none());
    assert_eq!(db.store.lineage(grandchild.id).await.unwrap().len(), 1);
    assert_eq!(db.store.delete_agent(child.id, true, &e).await.unwrap(), talon_store::DeleteOutcome::NotFound);
}

async fn an_agent_is_read_with_the_version_it_serves(backend: Backend) {
    use talon_store::{AgentLookup, Deployment};
    let db = db(backend).await;
    let alice = account("alice@example.com");
    let bob = account("bob@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let mut v2 = v1.clone();
    v2.id = talon_domain::VersionId::new();
    v2.number = 2;
    v2.parent_version_id = Some(v1.id);
    assert_eq!(db.store.append_version(&v2, &[]).await.unwrap(), talon_store::AppendOutcome::Appended);
    let by_slug = AgentLookup::Slug { owner: alice.id, slug: "one" };
    let (agent, served) = db.store.agent_serving(by_slug).await.unwrap().unwrap();
    assert_eq!((agent.id, served.id), (a.id, v2.id), "undeployed: the current version");
    assert_eq!(served.created_by.email, "alice@example.com");
    let pinned = Deployment {
        status: talon_domain::agent::AgentStatus::Deployed,
        deployed_version_id: Some(v1.id),
        deployed_at: Some(now()),
    };
    db.store.set_deployment(a.id, pinned, now(), &event(&alice)).await.unwrap();
    let (agent, served) = db.store.agent_serving(AgentLookup::Id(a.id)).await.unwrap().unwrap();
    assert_eq!((agent.deployed_version_id, served.id), (Some(v1.id), v1.id), "deployed: the deployed version");
    assert!(db.store.agent_serving(AgentLookup::Slug { owner: bob.id, slug: "one" }).await.unwrap().is_none());
    assert!(db.store.agent_serving(AgentLookup::Id(talon_domain::AgentId::new())).await.unwrap().is_none());
}

async fn root_agents_are_inserted_in_batches_or_not_at_all(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    // More than one statement's worth of rows, so the chunks meet inside one transaction.
    let batch: Vec<_> = (0..450).map(|i| agent(&alice, &format!("bulk-{i:03}"), None)).collect();
    db.store.insert_root_agents(&batch).await.unwrap();
    db.store.refresh_statistics().await.unwrap();

    let page = db.store.list_agents(alice.id, Default::default(), FIRST_TEN).await.unwrap();
    assert_eq!(page.total, 450, "the counters see every row of the batch");
    let (a, v) = &batch[321];
    assert_eq!(db.store.agent(a.id).await.unwrap().unwrap(), *a);
    assert_eq!(db.store.version_by_number(a.id, 1).await.unwrap().unwrap(), *v);
    let lineage = db.store.lineage(a.id).await.unwrap();
    assert_eq!(lineage.len(), 1, "a root is its own lineage");
    let mark = db.store.lineage_mark(a.id).await.unwrap().unwrap();
    assert_eq!(mark.lineage, *a.id.as_uuid(), "{mark:?}");
    assert_eq!(mark.changes, 1, "{mark:?}");

    // One taken slug at the end of the last chunk: nothing of the batch is written.
    let mut clash: Vec<_> = (0..300).map(|i| agent(&alice, &format!("more-{i:03}"), None)).collect();
    clash.push(agent(&alice, "bulk-007", None));
    let err = db.store.insert_root_agents(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    assert!(db.store.agent(clash[0].0.id).await.unwrap().is_none());
    assert_eq!(db.store.list_agents(alice.id, Default::default(), FIRST_TEN).await.unwrap().total, 450);

    // A fork needs its parent's lineage and count: it takes `insert_agent`.
    let fork = agent(&alice, "fork", fork_of(a));
    let err = db.store.insert_root_agents(&[fork]).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let too_many: Vec<_> = (0..talon_store::MAX_BATCH + 1).map(|i| agent(&alice, &format!("x-{i}"), None)).collect();
    let err = db.store.insert_root_agents(&too_many).await.unwrap_err();
    assert!(matches!(err, StoreError::BatchTooLarge { .. }), "{err:?}");
}

async fn agents_are_searched_by_name_or_slug_across_the_account(backend: Backend) {
    let db = db(backend).await;
    let (alice, bob) = (account("alice@example.com"), account("bob@example.com"));
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let named = |owner, slug: &str, name: &str| {
        let (mut a, v) = agent(owner, slug, None);
        a.metadata.name = name.into();
        (a, v)
    };
    let mut mine = vec![
        named(&alice, "support-bot", "Support Bot"),
        named(&alice, "sales", "Sales Helper"),
        named(&alice, "percent", "100% Done"),
        named(&alice, "under", "a_b"),
        named(&alice, "aab", "aab"),
        named(&alice, "slash", "back\\slash"),
    ];
    mine.extend((0..12).map(|i| named(&alice, &format!("filler-{i}"), &format!("Filler {i}"))));
    for (a, v) in &mine {
        db.store.insert_agent(a, v, &[]).await.unwrap();
    }
    let (b, bv) = named(&bob, "support-bob", "Support");
    db.store.insert_agent(&b, &bv, &[]).await.unwrap();

    let search = |text: &'static str, window: Window| {
        let store = db.store.clone();
        let filter = talon_store::AgentFilter { search: Some(text), ..Default::default() };
        async move { store.list_agents(alice.id, filter, window).await.unwrap() }
    };
    let slugs = |page: &talon_store::Page<talon_domain::agent::Agent>| {
        page.items.iter().map(|a| a.slug.clone()).collect::<Vec<_>>()
    };
    let page = search("SUPPORT", FIRST_TEN).await;
    assert_eq!(slugs(&page), ["support-bot"], "by name, ignoring case, and never another account's");
    assert_eq!(page.total, talon_store::SEARCH_NOT_COUNTED);
    assert_eq!(slugs(&search("helper", FIRST_TEN).await), ["sales"]);
    assert_eq!(slugs(&search("sales", FIRST_TEN).await), ["sales"], "by slug");
    assert_eq!(slugs(&search(" percent ", FIRST_TEN).await), ["percent"], "trimmed");
    assert_eq!(slugs(&search("%", FIRST_TEN).await), ["percent"], "% matches itself only");
    assert_eq!(slugs(&search("_", FIRST_TEN).await), ["under"], "_ matches itself only");
    assert_eq!(slugs(&search("a_b", FIRST_TEN).await), ["under"], "not aab");
    assert_eq!(slugs(&search("\\", FIRST_TEN).await), ["slash"]);
    assert!(search("nothing like it", FIRST_TEN).await.items.is_empty());

    // Matches beyond the first window are reached by cursor, each once, oldest first.
    let first = search("filler", Window::Offset { offset: 0, limit: 5 }).await;
    assert!(first.has_more);
    let mut found = slugs(&first);
    let mut last = first.items.last().unwrap().id;
    loop {
        let page = search("filler", Window::After { id: *last.as_uuid(), limit: 5 }).await;
        found.extend(slugs(&page));
        match page.items.last() {
            Some(a) if page.has_more => last = a.id,
            _ => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("filler-{i}")).collect();
    assert_eq!(found, expected);

    // Blank text is no search: the whole list, counted.
    let all = search("  ", FIRST_TEN).await;
    assert_eq!((all.total, all.items.len(), all.has_more), (18, 10, true));
}

async fn version_numbers_are_read_in_one_batch(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (a, v1) = agent(&alice, "one", None);
    db.store.insert_agent(&a, &v1, &[]).await.unwrap();
    let v2 = next_version(&v1);
    db.store.append_version(&v2, &[]).await.unwrap();
    let (b, bv) = agent(&alice, "two", None);
    db.store.insert_agent(&b, &bv, &[]).await.unwrap();
    let unknown = talon_domain::VersionId::new();
    let numbers: std::collections::HashMap<_, _> =
        db.store.version_numbers(&[v2.id, bv.id, v1.id, unknown]).await.unwrap().into_iter().collect();
    let expected = std::collections::HashMap::from([(v1.id, 1), (bv.id, 1), (v2.id, 2)]);
    assert_eq!(numbers, expected, "an unknown id is left out");
    assert!(db.store.version_numbers(&[]).await.unwrap().is_empty());
}
