//! A version's second parent (a merged fork version): written with the version, read back on every
//! version read, listed per agent, and forgotten when the fork is deleted.

use talon_domain::agent::{MergedFrom, Version};
use talon_store::{AppendOutcome, Backend};

use crate::common::agent_fixtures::{agent, event, fork_of};
use crate::common::{account, db};

on_both_databases!(a_merge_records_its_second_parent);

fn next(parent: &Version) -> Version {
    let mut v = parent.clone();
    v.id = talon_domain::VersionId::new();
    v.number = parent.number + 1;
    v.parent_version_id = Some(parent.id);
    v.merged_from = None;
    v
}

async fn a_merge_records_its_second_parent(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let (parent, pv) = agent(&alice, "parent", None);
    db.store.insert_agent(&parent, &pv, &[]).await.unwrap();
    let (fork, fv1) = agent(&alice, "fork", fork_of(&parent));
    db.store.insert_agent(&fork, &fv1, &[]).await.unwrap();
    let fv2 = next(&fv1);
    db.store.append_version(&fv2, &[]).await.unwrap();

    let mut merge = next(&pv);
    let from = MergedFrom { agent_id: fork.id, version_id: fv2.id, number: 2 };
    merge.merged_from = Some(from);
    assert_eq!(db.store.append_version(&merge, &[event(&alice)]).await.unwrap(), AppendOutcome::Appended);

    assert_eq!(db.store.version(merge.id).await.unwrap().unwrap().merged_from, Some(from));
    assert_eq!(db.store.version_by_number(parent.id, 2).await.unwrap().unwrap().merged_from, Some(from));
    let (_, head) = db.store.agent_head(parent.id).await.unwrap().unwrap();
    assert_eq!(head.merged_from, Some(from), "the hot path's join reads it too");
    let listed = db.store.list_versions(parent.id, 0, 10).await.unwrap();
    assert_eq!(listed.items.iter().map(|v| v.merged_from).collect::<Vec<_>>(), [Some(from), None]);

    let merges = db.store.merges_into(&[parent.id, fork.id]).await.unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(
        (merges[0].agent_id, merges[0].version_id, merges[0].number, merges[0].from),
        (parent.id, merge.id, 2, from)
    );
    assert!(db.store.merges_into(&[fork.id]).await.unwrap().is_empty());

    // Deleting the fork forgets where the merge came from, not the merge.
    db.store.delete_agent(fork.id, true, &event(&alice)).await.unwrap();
    let kept = db.store.version(merge.id).await.unwrap().unwrap();
    assert_eq!((kept.number, kept.merged_from), (2, None));
    assert!(db.store.merges_into(&[parent.id]).await.unwrap().is_empty());
}
