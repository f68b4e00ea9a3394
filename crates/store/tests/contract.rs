//! The contract every backend keeps, run against SQLite and a real PostgreSQL.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use tessera_core::audit::{Action, Break, ChainWalk, Event};
use tessera_core::record::{RateLimitSetting, ScopeGrant, Settings, Status, TokenRecord};
use tessera_core::resource::ResourceScope;
use tessera_core::scope::Access;
use tessera_core::token::TokenHash;
use tessera_store::{
    AuditQuery, Basis, ListQuery, PostgresStore, SqliteStore, StoreError, TokenStore, UsageUpdate,
};
use tessera_testkit::Postgres;

fn record(id: &str, parent: Option<&str>, resources: Option<Vec<&str>>) -> TokenRecord {
    let mut hash = [0u8; 32];
    hash[..id.len()].copy_from_slice(id.as_bytes());
    TokenRecord {
        id: id.into(),
        hash: TokenHash(hash),
        start: "tsr_abcd".into(),
        is_admin: false,
        settings: Settings {
            name: format!("Name {id}").as_str().try_into().unwrap(),
            description: None,
            scopes: ScopeGrant::Patterns(vec!["repo:read".into()]),
            resources: ResourceScope::parse(
                resources
                    .map(|r| r.into_iter().map(String::from).collect::<Vec<_>>())
                    .as_deref(),
            )
            .unwrap(),
            rate_limit: Some(RateLimitSetting {
                profile: Some("restricted".into()),
                per_minute: 10,
                burst: 5,
            }),
            expires_at: None,
            not_before: Some(1_234),
            owner: Some("alice".try_into().unwrap()),
            meta: serde_json::json!({"k": 1}).as_object().cloned(),
            max_descendants: Some(7),
            allowed_cidrs: tessera_core::network::Networks::parse(&["192.0.2.0/24"]).unwrap(),
            max_uses: Some(1_000),
            credits: Some(tessera_core::usage::Credits {
                remaining: 50,
                refill: Some(tessera_core::usage::Refill {
                    amount: 60,
                    every: tessera_core::usage::Every::Month,
                }),
                set_at: 5,
            }),
        },
        parent_id: parent.map(String::from),
        created_at: 1,
        updated_at: 1,
        revoked_at: None,
        last_used_at: None,
        last_used_ip: None,
        use_count: 0,
        previous_secrets: Vec::new(),
        credits_balance: None,
    }
}

/// An audit entry for a write the test makes (what it says is the audit tests' business).
fn noted() -> Event {
    Event::new(0, Action::TokenCreated)
}

fn ids(records: &[TokenRecord]) -> Vec<&str> {
    records.iter().map(|t| t.id.as_str()).collect()
}

/// Everything a backend must do alike; `reopen` opens the same store afresh.
async fn keeps_the_contract(
    store: &dyn TokenStore,
    reopen: impl AsyncFnOnce() -> Box<dyn TokenStore>,
) {
    let root = record("root", None, None);
    let child = record("child", Some("root"), Some(vec!["repo:a"]));
    let grandchild = record("grand", Some("child"), Some(vec!["repo:*"]));
    let mut seqs = Vec::new();
    for r in [&root, &child, &grandchild] {
        seqs.push(store.insert(r, Basis::default(), noted()).await.unwrap());
    }
    assert_eq!(seqs, [1, 2, 3], "writes are numbered without gaps");
    assert!(matches!(
        store.insert(&root, Basis::default(), noted()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get("child").await.unwrap().unwrap(), child);

    let all = ListQuery {
        limit: 2,
        ..ListQuery::default()
    };
    let first = store.list(&all).await.unwrap();
    assert_eq!(ids(&first.tokens), ["grand", "child"]);
    let second = store
        .list(&ListQuery {
            after: first.next_cursor,
            ..all.clone()
        })
        .await
        .unwrap();
    assert_eq!(ids(&second.tokens), ["root"]);
    assert_eq!(second.next_cursor, None);
    let subtree = ListQuery {
        descendants_of: Some("root".into()),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(store.list(&subtree).await.unwrap().tokens.len(), 2);
    let by_repo = ListQuery {
        resource: Some("repo:a".into()),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(store.list(&by_repo).await.unwrap().tokens.len(), 2);
    let by_name = ListQuery {
        name: Some("name GR".into()),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(ids(&store.list(&by_name).await.unwrap().tokens), ["grand"]);

    // The feed: everything after a number, oldest first, and where that leaves a reader.
    let feed = store.changes_since(1).await.unwrap();
    assert_eq!(feed.up_to, 3);
    assert_eq!(
        feed.changes
            .iter()
            .map(|c| (c.seq, c.record.id.as_str()))
            .collect::<Vec<_>>(),
        [(2, "child"), (3, "grand")]
    );
    assert_eq!(store.load_all().await.unwrap().changes.len(), 3);

    let mut edited = root.clone();
    edited.settings.scopes = ScopeGrant::Access(Access::Write);
    edited.settings.resources = ResourceScope::parse(Some(&["app:1".into()])).unwrap();
    let edit = Basis {
        token: Some(1),
        ..Basis::default()
    };
    assert_eq!(store.update(&edited, edit, noted()).await.unwrap(), 4);

    // A write decided on an old copy is refused, and changes nothing.
    assert!(matches!(
        store.update(&root, edit, noted()).await,
        Err(StoreError::Stale(_))
    ));
    let old_parent = Basis {
        parent: Some(1),
        ..Basis::default()
    };
    let late = record("late0", Some("root"), None);
    assert!(matches!(
        store.insert(&late, old_parent, noted()).await,
        Err(StoreError::Stale(_))
    ));
    let children_unknown = Basis {
        children_known_up_to: Some(1),
        ..Basis::default()
    };
    assert!(matches!(
        store.update(&edited, children_unknown, noted()).await,
        Err(StoreError::Stale(_))
    ));
    assert!(store.get("late0").await.unwrap().is_none());
    assert_eq!(
        store.get("root").await.unwrap().unwrap().settings,
        edited.settings
    );

    // A revocation walks the subtree the store holds and returns what it revoked.
    let revocation = store.revoke_subtree("child", 5, noted()).await.unwrap();
    let mut revoked: Vec<&str> = revocation.revoked.iter().map(|r| r.id.as_str()).collect();
    revoked.sort();
    assert_eq!(revoked, ["child", "grand"]);
    assert!(revocation.revoked.iter().all(|r| r.revoked_at == Some(5)));
    let again = store.revoke_subtree("child", 6, noted()).await.unwrap();
    assert!(again.revoked.is_empty(), "idempotent");
    let status = ListQuery {
        status: Some(Status::Revoked),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(store.list(&status).await.unwrap().tokens.len(), 2);
    let feed = store.changes_since(4).await.unwrap();
    assert_eq!(feed.up_to, again.seq);
    assert_eq!(feed.changes.len(), 2);
    assert!(
        feed.changes
            .iter()
            .all(|c| c.seq == revocation.seq && c.record.revoked_at == Some(5))
    );
    let up_to = feed.up_to;

    // A revoked token neither changes nor makes children; nothing is written.
    let late_child = record("late", Some("child"), None);
    assert!(matches!(
        store.insert(&late_child, Basis::default(), noted()).await,
        Err(StoreError::Revoked(_))
    ));
    let mut revoked_edit = store.get("child").await.unwrap().unwrap();
    revoked_edit.settings.name = "renamed".try_into().unwrap();
    assert!(matches!(
        store.update(&revoked_edit, Basis::default(), noted()).await,
        Err(StoreError::Revoked(_))
    ));
    assert!(store.get("late").await.unwrap().is_none());
    assert!(store.changes_since(up_to).await.unwrap().changes.is_empty());

    // Usage is not a change.
    store
        .record_usage(&[UsageUpdate {
            id: "root".into(),
            uses: 3,
            last_used_at: 9,
            last_client: Some("2001:db8::7".parse().unwrap()),
            credits: Some(tessera_core::record::CreditsBalance {
                left: 40,
                period: 2,
                of: 5,
            }),
            tally: tessera_store::Tally::default(),
            hour: 0,
        }])
        .await
        .unwrap();
    let root_now = store.get("root").await.unwrap().unwrap();
    assert_eq!((root_now.use_count, root_now.last_used_at), (3, Some(9)));
    assert_eq!(root_now.last_used_ip, Some("2001:db8::7".parse().unwrap()));
    assert_eq!(
        root_now.credits_balance,
        Some(tessera_core::record::CreditsBalance {
            left: 40,
            period: 2,
            of: 5
        })
    );
    assert!(store.changes_since(up_to).await.unwrap().changes.is_empty());

    // The first admin is made once; an admin replacement revokes the old admin in the
    // same write.
    let mut admin = record("admin1", None, None);
    admin.is_admin = true;
    assert!(
        store
            .insert_first_admin(&admin, noted())
            .await
            .unwrap()
            .is_some()
    );
    let mut second_first = record("admin0", None, None);
    second_first.is_admin = true;
    assert_eq!(
        store
            .insert_first_admin(&second_first, noted())
            .await
            .unwrap(),
        None
    );
    assert!(store.get("admin0").await.unwrap().is_none());
    let mut admin2 = record("admin2", None, None);
    admin2.is_admin = true;
    admin2.created_at = 7;
    let replaced = store.replace_admin(&admin2, noted()).await.unwrap();
    assert_eq!(ids(&replaced.revoked), ["admin1"]);
    let seq = replaced.seq;
    let feed = store.changes_since(seq - 1).await.unwrap();
    assert_eq!(feed.changes.len(), 2);
    assert_eq!(
        store.get("admin1").await.unwrap().unwrap().revoked_at,
        Some(7)
    );

    store.check_pepper("aaaa").await.unwrap();
    store.check_pepper("aaaa").await.unwrap();
    assert!(matches!(
        store.check_pepper("bbbb").await,
        Err(StoreError::WrongPepper(_))
    ));
    store.ping().await.unwrap();

    let reopened = reopen().await;
    let loaded = reopened.load_all().await.unwrap();
    assert!(loaded.up_to >= seq);
    assert_eq!(loaded.changes.len(), 5);
    let root_loaded = loaded
        .changes
        .iter()
        .find(|c| c.record.id == "root")
        .unwrap();
    assert_eq!(root_loaded.record.settings, edited.settings);
    assert!(matches!(
        reopened.check_pepper("bbbb").await,
        Err(StoreError::WrongPepper(_))
    ));
}

#[tokio::test]
async fn sqlite_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path).unwrap();
    assert!(
        store.change_signals().is_none(),
        "one process: nothing to follow"
    );
    keeps_the_contract(&store, async || {
        drop(store.clone());
        Box::new(SqliteStore::open(&path).unwrap()) as Box<dyn TokenStore>
    })
    .await;
}

#[tokio::test]
async fn postgres_keeps_the_contract() {
    let url = Postgres::shared().fresh_database();
    let store = PostgresStore::connect(&url).await.unwrap();
    keeps_the_contract(&store, async || {
        Box::new(PostgresStore::connect(&url).await.unwrap()) as Box<dyn TokenStore>
    })
    .await;
}

/// Two nodes writing at once: every write gets its own number, the numbers have no
/// gaps, and each node hears the other's announcements (and not its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_numbers_concurrent_writes_in_order_and_announces_them() {
    let url = Postgres::shared().fresh_database();
    let a = std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap());
    let b = std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap());
    let mut heard = b.change_signals().expect("PostgreSQL announces changes");
    // Wait until b listens (its first epoch).
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        heard.wait_for(|s| s.epoch > 0),
    )
    .await
    .unwrap()
    .unwrap();
    let mut writers = Vec::new();
    for (n, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        writers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..20 {
                let mut r = record(&format!("n{n}t{i}"), None, None);
                r.hash.0[31] = n as u8;
                seqs.push(store.insert(&r, Basis::default(), noted()).await.unwrap());
            }
            seqs
        }));
    }
    let mut all: Vec<i64> = Vec::new();
    let mut newest_of_a = 0;
    for (n, writer) in writers.into_iter().enumerate() {
        let seqs = writer.await.unwrap();
        if n == 0 {
            newest_of_a = seqs.iter().copied().max().unwrap();
        }
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=40).collect::<Vec<_>>());
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        heard.wait_for(|s| s.announced == newest_of_a),
    )
    .await
    .expect("b hears every announcement of a")
    .unwrap();
    // b's own writes are in its index already: its follower is not woken for them.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(heard.borrow().announced, newest_of_a);
    let feed = b.changes_since(0).await.unwrap();
    assert_eq!((feed.up_to, feed.changes.len()), (40, 40));
}

/// Nodes starting together on a new database make one admin token between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_makes_one_admin_token_for_nodes_starting_together() {
    let url = Postgres::shared().fresh_database();
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(std::sync::Arc::new(
            PostgresStore::connect(&url).await.unwrap(),
        ));
    }
    let starts = stores.iter().enumerate().map(|(n, store)| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut admin = record(&format!("admin{n}"), None, None);
            admin.is_admin = true;
            store.insert_first_admin(&admin, noted()).await.unwrap()
        })
    });
    let made: Vec<Option<i64>> = futures_util::future::join_all(starts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(made.iter().flatten().count(), 1, "{made:?}");
    let feed = stores[0].changes_since(0).await.unwrap();
    assert_eq!(feed.changes.len(), 1);
}

/// A revocation through one node and creations under the revoked subtree through
/// another, at the same moment: whatever lands, nothing under the revoked token is
/// left live, however deep it was made while the revocation ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cascades_reach_tokens_made_during_the_revocation() {
    cascades_reach_tokens_made_during_the_revocation(false).await;
}

/// The same, with the revocation in a group that also creates elsewhere: such a
/// group locks its parents and its subtrees in one pass, then its subtrees again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cascades_reach_tokens_made_during_a_mixed_groups_revocation() {
    cascades_reach_tokens_made_during_the_revocation(true).await;
}

/// See the two tests above; `mixed`: creations are sent through the revoking node
/// with the revocation.
async fn cascades_reach_tokens_made_during_the_revocation(mixed: bool) {
    let url = Postgres::shared().fresh_database();
    let a = std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap());
    let b = std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap());
    a.insert(&record("other", None, None), Basis::default(), noted())
        .await
        .unwrap();
    for round in 0..15 {
        let root = format!("r{round}");
        a.insert(&record(&root, None, None), Basis::default(), noted())
            .await
            .unwrap();
        // Two makers on node a, each adding a chain under the root (each token
        // made under the one made before), until the store refuses.
        let makers = (0..2).map(|maker| {
            let (a, root) = (a.clone(), root.clone());
            tokio::spawn(async move {
                let mut parent = root;
                for depth in 0..40 {
                    let id = format!("r{round}m{maker}d{depth}");
                    let made = a
                        .insert(&record(&id, Some(&parent), None), Basis::default(), noted())
                        .await;
                    match made {
                        Ok(_) => parent = id,
                        Err(StoreError::Revoked(_)) => return,
                        Err(error) => panic!("{error}"),
                    }
                }
            })
        });
        let makers: Vec<_> = makers.collect();
        tokio::time::sleep(std::time::Duration::from_millis(round % 5)).await;
        // Sent at once with the revocation, they go in its group (or the next).
        let others: Vec<_> = (0..4)
            .filter(|_| mixed)
            .map(|n| {
                let b = b.clone();
                let id = format!("r{round}o{n}");
                tokio::spawn(async move {
                    b.insert(&record(&id, Some("other"), None), Basis::default(), noted())
                        .await
                        .unwrap();
                })
            })
            .collect();
        b.revoke_subtree(&root, 2, noted()).await.unwrap();
        for task in makers.into_iter().chain(others) {
            task.await.unwrap();
        }
        let tokens: std::collections::HashMap<String, TokenRecord> = b
            .changes_since(0)
            .await
            .unwrap()
            .changes
            .into_iter()
            .map(|change| (change.record.id.clone(), change.record))
            .collect();
        for token in tokens.values() {
            let mut ancestor = token.parent_id.clone();
            while let Some(id) = ancestor {
                if id == root {
                    assert!(
                        token.revoked_at.is_some(),
                        "round {round}: {} is live under the revoked {root}",
                        token.id
                    );
                }
                ancestor = tokens[&id].parent_id.clone();
            }
        }
    }
}

/// Writes sent at once share a transaction (group commit): a refused write fails
/// alone and the others are stored, numbered without gaps, resources included; a
/// revocation stored with creations under the revoked token leaves none live.
async fn groups_refuse_writes_alone(store: std::sync::Arc<dyn TokenStore>) {
    let parent_seq = store
        .insert(&record("parent", None, None), Basis::default(), noted())
        .await
        .unwrap();
    let under_parent = |seq| Basis {
        parent: Some(seq),
        ..Basis::default()
    };
    let mut creations = Vec::new();
    for i in 0..30 {
        let store = std::sync::Arc::clone(&store);
        // The 8th was decided on a copy of the parent that never was.
        let basis = under_parent(if i == 7 { parent_seq + 100 } else { parent_seq });
        creations.push(tokio::spawn(async move {
            let child = record(&format!("c{i}"), Some("parent"), Some(vec!["repo:a"]));
            store.insert(&child, basis, noted()).await
        }));
    }
    for (i, creation) in creations.into_iter().enumerate() {
        match creation.await.unwrap() {
            Ok(_) => assert_ne!(i, 7),
            Err(StoreError::Stale(_)) if i == 7 => {}
            other => panic!("creation {i}: {other:?}"),
        }
    }
    let feed = store.changes_since(0).await.unwrap();
    assert_eq!((feed.up_to, feed.changes.len()), (30, 30));
    let listed = store
        .list(&ListQuery {
            resource: Some("repo:a".into()),
            limit: 100,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed.tokens.len(),
        29,
        "every stored child has its resource"
    );

    let mut creations = Vec::new();
    for i in 0..20 {
        let store = std::sync::Arc::clone(&store);
        creations.push(tokio::spawn(async move {
            let child = record(&format!("d{i}"), Some("parent"), None);
            store
                .insert(&child, under_parent(parent_seq), noted())
                .await
        }));
    }
    let revocation = store.revoke_subtree("parent", 5, noted()).await.unwrap();
    assert!(revocation.revoked.len() >= 30);
    for (i, creation) in creations.into_iter().enumerate() {
        let id = format!("d{i}");
        match creation.await.unwrap() {
            Ok(_) => {
                let stored = store.get(&id).await.unwrap().unwrap();
                assert_eq!(
                    stored.revoked_at,
                    Some(5),
                    "{id} stored live under a revoked parent"
                );
            }
            // Decided on the parent as it is: refused only because the revocation
            // came first, maybe earlier in the same group's transaction.
            Err(StoreError::Revoked(_)) => {
                assert!(store.get(&id).await.unwrap().is_none());
            }
            Err(other) => panic!("{id}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_groups_refuse_writes_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    groups_refuse_writes_alone(std::sync::Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_groups_refuse_writes_alone() {
    let url = Postgres::shared().fresh_database();
    let store = PostgresStore::connect(&url).await.unwrap();
    groups_refuse_writes_alone(std::sync::Arc::new(store)).await;
}

/// A rotation is an edit that changes the token's hash and remembers the one it
/// had: the store keeps both, the old hash no longer finds the token's row, and the
/// feed carries the whole history to other nodes.
async fn keeps_rotations(store: &dyn TokenStore) {
    let token = record("rotated", None, None);
    assert_eq!(
        store
            .insert(&token, Basis::default(), noted())
            .await
            .unwrap(),
        1
    );
    let rotated = token.rotated(TokenHash([9; 32]), "tsr_new".into(), 60_000, 1_000);
    let twice = rotated.rotated(TokenHash([10; 32]), "tsr_newer".into(), 0, 2_000);
    let edit = |seq| Basis {
        token: Some(seq),
        ..Basis::default()
    };
    assert_eq!(store.update(&rotated, edit(1), noted()).await.unwrap(), 2);
    assert_eq!(store.update(&twice, edit(2), noted()).await.unwrap(), 3);
    let stored = store.get("rotated").await.unwrap().unwrap();
    assert_eq!(stored, twice);
    assert_eq!(stored.hash, TokenHash([10; 32]));
    let history: Vec<(TokenHash, i64)> = stored
        .previous_secrets
        .iter()
        .map(|p| (p.hash, p.valid_until))
        .collect();
    assert_eq!(history, [(TokenHash([9; 32]), 2_000), (token.hash, 61_000)]);
    let feed = store.changes_since(2).await.unwrap();
    assert_eq!(feed.changes.len(), 1);
    assert_eq!(feed.changes[0].record, twice);
}

#[tokio::test]
async fn sqlite_keeps_rotations() {
    let dir = tempfile::tempdir().unwrap();
    keeps_rotations(&SqliteStore::open(&dir.path().join("t.db")).unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_rotations() {
    let url = Postgres::shared().fresh_database();
    keeps_rotations(&PostgresStore::connect(&url).await.unwrap()).await;
}

/// `purge_dead` deletes what died before the cutoff, leaves first (a maker waits
/// for its tokens), with their resources; never the living, the recently dead, or
/// an admin token.
async fn purges_the_long_dead(store: &dyn TokenStore) {
    let maker = record("maker", None, Some(vec!["repo:a"]));
    let made = record("made", Some("maker"), Some(vec!["repo:a"]));
    let mut expired = record("expired", None, None);
    expired.settings.expires_at = Some(150);
    let mut recent = record("recent", None, None);
    recent.revoked_at = Some(5_000);
    let live = record("live", None, None);
    let mut old_admin = record("old-admin", None, None);
    old_admin.is_admin = true;
    old_admin.revoked_at = Some(100);
    for token in [&maker, &made, &expired, &recent, &live, &old_admin] {
        store
            .insert(token, Basis::default(), noted())
            .await
            .unwrap();
    }
    store.revoke_subtree("maker", 100, noted()).await.unwrap();
    let expired_notice = || Event::new(150, Action::TokenExpired);
    assert!(
        store
            .record_notice("expired", "expired", expired_notice())
            .await
            .unwrap()
    );
    assert_eq!(store.purge_dead(1_000, 10).await.unwrap(), 2, "the leaves");
    assert!(
        store
            .record_notice("expired", "expired", expired_notice())
            .await
            .unwrap(),
        "its notices went with it"
    );
    assert!(store.get("made").await.unwrap().is_none());
    assert!(store.get("expired").await.unwrap().is_none());
    assert!(
        store.get("maker").await.unwrap().is_some(),
        "its token went only now"
    );
    assert_eq!(store.purge_dead(1_000, 10).await.unwrap(), 1);
    assert_eq!(store.purge_dead(1_000, 10).await.unwrap(), 0);
    for kept in ["recent", "live", "old-admin"] {
        assert!(store.get(kept).await.unwrap().is_some(), "{kept}");
    }
    let listed = store
        .list(&ListQuery {
            resource: Some("repo:a".into()),
            limit: 10,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert!(listed.tokens.is_empty(), "their resources went with them");
}

#[tokio::test]
async fn sqlite_purges_the_long_dead() {
    let dir = tempfile::tempdir().unwrap();
    purges_the_long_dead(&SqliteStore::open(&dir.path().join("t.db")).unwrap()).await;
}

#[tokio::test]
async fn postgres_purges_the_long_dead() {
    let url = Postgres::shared().fresh_database();
    purges_the_long_dead(&PostgresStore::connect(&url).await.unwrap()).await;
}

/// Hourly usage adds up per token and hour (two nodes' flushes into one row), reads
/// back in order within a range, and goes after its 90 days.
async fn adds_up_hourly_usage(store: &dyn TokenStore) {
    use tessera_store::Tally;
    let update = |id: &str, hour: i64, valid: u64, forbidden: u64| UsageUpdate {
        id: id.into(),
        uses: valid,
        last_used_at: hour * 3_600_000,
        last_client: None,
        credits: None,
        tally: Tally {
            valid,
            forbidden,
            ..Tally::default()
        },
        hour,
    };
    store
        .insert(&record("counted", None, None), Basis::default(), noted())
        .await
        .unwrap();
    store
        .record_usage(&[update("counted", 10, 2, 1), update("counted", 12, 0, 4)])
        .await
        .unwrap();
    store
        .record_usage(&[update("counted", 10, 3, 0)])
        .await
        .unwrap();
    let hours = store.usage("counted", 10, 13).await.unwrap();
    let counts: Vec<(i64, u64, u64)> = hours
        .iter()
        .map(|(h, t)| (*h, t.valid, t.forbidden))
        .collect();
    assert_eq!(counts, [(10, 5, 1), (12, 0, 4)]);
    assert!(store.usage("counted", 11, 12).await.unwrap().is_empty());
    assert_eq!(
        store.get("counted").await.unwrap().unwrap().use_count,
        5,
        "refusals are no uses"
    );
    assert_eq!(store.purge_usage(11).await.unwrap(), 1);
    assert_eq!(store.usage("counted", 0, 100).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_adds_up_hourly_usage() {
    let dir = tempfile::tempdir().unwrap();
    adds_up_hourly_usage(&SqliteStore::open(&dir.path().join("t.db")).unwrap()).await;
}

#[tokio::test]
async fn postgres_adds_up_hourly_usage() {
    let url = Postgres::shared().fresh_database();
    adds_up_hourly_usage(&PostgresStore::connect(&url).await.unwrap()).await;
}

// The audit log: entries written with their changes, chained, listed by filter and
// page, and every tampering named where it happened.

/// An entry by `actor` about `target`, whose lineage is `lineage`.
fn entry(action: Action, actor: &str, target: &str, lineage: &[&str]) -> Event {
    Event {
        actor_id: Some(actor.into()),
        actor_name: Some(format!("Name {actor}")),
        target_id: Some(target.into()),
        lineage: lineage.iter().map(|id| (*id).to_owned()).collect(),
        client_ip: Some("192.0.2.7".into()),
        request_id: Some("req_test".into()),
        ..Event::new(1_000, action)
    }
}

/// Writes root, child, an edit, a revocation (and a second one that changes
/// nothing) and a sign-in: five entries.
async fn write_audited(store: &dyn TokenStore) {
    let root = record("root", None, None);
    let child = record("child", Some("root"), None);
    let created =
        |target: &str, lineage: &[&str]| entry(Action::TokenCreated, "boss", target, lineage);
    store
        .insert(&root, Basis::default(), created("root", &["root"]))
        .await
        .unwrap();
    store
        .insert(
            &child,
            Basis::default(),
            created("child", &["root", "child"]),
        )
        .await
        .unwrap();
    let mut edited = child.clone();
    edited.settings.owner = Some("someone".try_into().unwrap());
    let edit = entry(Action::TokenUpdated, "root", "child", &["root", "child"]);
    store.update(&edited, Basis::default(), edit).await.unwrap();
    let revoke = || entry(Action::TokenRevoked, "boss", "root", &["root"]);
    store.revoke_subtree("root", 5, revoke()).await.unwrap();
    store.revoke_subtree("root", 6, revoke()).await.unwrap();
    let signed_in = entry(Action::SessionSignedIn, "boss", "boss", &["boss"]);
    assert_eq!(store.append_audit(signed_in).await.unwrap(), 5);
}

/// Walks the whole chain as `tessera audit verify` does.
async fn walk(store: &dyn TokenStore) -> Result<i64, Break> {
    let head = store.audit_head().await.unwrap();
    let all = store
        .audit(&AuditQuery {
            oldest_first: true,
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let mut walk = ChainWalk::default();
    for entry in &all.entries {
        walk.step(entry)?;
    }
    walk.finish(head).map(|head| head.seq)
}

async fn keeps_an_audit_chain(store: &dyn TokenStore) {
    write_audited(store).await;
    assert_eq!(walk(store).await, Ok(5));
    let newest = |limit, after| AuditQuery {
        limit,
        after,
        ..AuditQuery::default()
    };
    let page = store.audit(&newest(2, None)).await.unwrap();
    let seqs =
        |page: &tessera_store::AuditPage| page.entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!((seqs(&page), page.next_cursor), (vec![5, 4], Some(4)));
    let page = store.audit(&newest(2, Some(4))).await.unwrap();
    assert_eq!((seqs(&page), page.next_cursor), (vec![3, 2], Some(2)));
    let page = store.audit(&newest(2, Some(2))).await.unwrap();
    assert_eq!((seqs(&page), page.next_cursor), (vec![1], None));

    let all = store.audit(&newest(10, None)).await.unwrap().entries;
    let revocation = &all[1].event;
    assert_eq!(revocation.action, "token.revoked");
    assert_eq!(
        revocation.cascade,
        vec!["child".to_owned()],
        "the cascade, the target left out"
    );
    assert_eq!(revocation.change_seq, Some(4));
    assert_eq!(all[0].event.change_seq, None, "a sign-in changes no token");
    assert_eq!(all[0].event.client_ip.as_deref(), Some("192.0.2.7"));

    let only = |query: AuditQuery| async move {
        let page = store
            .audit(&AuditQuery { limit: 10, ..query })
            .await
            .unwrap();
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>()
    };
    assert_eq!(
        only(AuditQuery {
            action: Some("token.revoked".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![4]
    );
    assert_eq!(
        only(AuditQuery {
            actor: Some("root".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        only(AuditQuery {
            target: Some("child".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![3, 2]
    );
    assert_eq!(
        only(AuditQuery {
            within: Some("child".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![3, 2]
    );
    assert_eq!(
        only(AuditQuery {
            within: Some("root".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![4, 3, 2, 1]
    );
    assert_eq!(
        only(AuditQuery {
            within: Some("chil".into()),
            ..AuditQuery::default()
        })
        .await,
        Vec::<i64>::new(),
        "whole ids only"
    );
    assert_eq!(
        only(AuditQuery {
            from_ms: Some(1_001),
            ..AuditQuery::default()
        })
        .await,
        Vec::<i64>::new()
    );
}

/// Each way of tampering, made directly in the database, and what the walk names.
const TAMPERING: [(&str, Break); 4] = [
    (
        "UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 2",
        Break::Edited { seq: 2 },
    ),
    (
        "DELETE FROM audit_log WHERE seq = 3",
        Break::Missing { seq: 3 },
    ),
    (
        "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; \
         UPDATE audit_log SET seq = 3 WHERE seq = -2",
        Break::Unlinked { seq: 2 },
    ),
    (
        "DELETE FROM audit_log WHERE seq = 5",
        Break::Truncated { last: 4, head: 5 },
    ),
];

#[tokio::test]
async fn sqlite_keeps_an_audit_chain_and_names_tampering() {
    let dir = tempfile::tempdir().unwrap();
    keeps_an_audit_chain(&SqliteStore::open(&dir.path().join("t.db")).unwrap()).await;
    for (n, (sql, named)) in TAMPERING.into_iter().enumerate() {
        let path = dir.path().join(format!("tampered{n}.db"));
        let store = SqliteStore::open(&path).unwrap();
        write_audited(&store).await;
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        assert_eq!(walk(&store).await, Err(named), "{sql}");
    }
}

#[tokio::test]
async fn postgres_keeps_an_audit_chain_and_names_tampering() {
    let url = Postgres::shared().fresh_database();
    keeps_an_audit_chain(&PostgresStore::connect(&url).await.unwrap()).await;
    for (sql, named) in TAMPERING {
        let url = Postgres::shared().fresh_database();
        let store = PostgresStore::connect(&url).await.unwrap();
        write_audited(&store).await;
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let running = tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = running.await;
        assert_eq!(walk(&store).await, Err(named), "{sql}");
    }
}

// Webhooks: endpoints written with their audit entries, deliveries made once
// from the audit log (the cursor moves only from where it was read), claimed
// under a lease, their attempts recorded, and notices recorded once.

fn delivery(seq: i64, endpoint: &str) -> tessera_store::Delivery {
    tessera_store::Delivery {
        seq,
        id: format!("msg_{seq}"),
        endpoint_id: endpoint.into(),
        audit_seq: seq,
        event_type: "token.created".into(),
        payload: "{}".into(),
        status: tessera_store::DeliveryStatus::Pending,
        attempts: 0,
        first_attempt_at: None,
        next_attempt_at: 10,
        last_status: None,
        last_error: None,
        created_at: 10,
        delivered_at: None,
    }
}

async fn keeps_webhooks(store: &dyn TokenStore) {
    use tessera_store::{Attempt, DeliveryStatus, Endpoint};
    let endpoint = Endpoint {
        id: "whe_1".into(),
        url: "http://127.0.0.1:9/hook".into(),
        events: "*".into(),
        secret: "whsec_AAAA".into(),
        description: None,
        disabled: false,
        since_seq: 0,
        created_at: 1,
        updated_at: 1,
    };
    let since = store
        .create_endpoint(
            &endpoint,
            entry(Action::WebhookCreated, "boss", "whe_1", &[]),
        )
        .await
        .unwrap();
    assert_eq!(since, 1, "its creation's entry");
    let changed = Endpoint {
        url: "http://127.0.0.1:9/other".into(),
        secret: "whsec_ignored".into(),
        updated_at: 2,
        ..endpoint.clone()
    };
    assert!(
        store
            .update_endpoint(
                &changed,
                entry(Action::WebhookUpdated, "boss", "whe_1", &[]),
            )
            .await
            .unwrap()
    );
    let gone = Endpoint {
        id: "whe_gone".into(),
        ..changed.clone()
    };
    assert!(
        !store
            .update_endpoint(
                &gone,
                entry(Action::WebhookUpdated, "boss", "whe_gone", &[])
            )
            .await
            .unwrap(),
        "an update brings nothing back"
    );
    let stored = store.endpoints().await.unwrap();
    assert_eq!(stored[0].since_seq, 1);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].url.as_str(), stored[0].secret.as_str()),
        ("http://127.0.0.1:9/other", "whsec_AAAA"),
        "the secret stays"
    );
    assert_eq!(
        store.audit_head().await.unwrap().seq,
        2,
        "each change audited"
    );

    assert_eq!(store.fanned_out().await.unwrap(), 0);
    assert!(
        store
            .enqueue(0, 2, &[delivery(1, "whe_1"), delivery(2, "whe_1")])
            .await
            .unwrap()
    );
    assert!(
        !store.enqueue(0, 2, &[delivery(3, "whe_1")]).await.unwrap(),
        "another node was first"
    );
    assert_eq!(store.fanned_out().await.unwrap(), 2);

    let claimed = store.claim_deliveries(10, 70, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|d| d.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(
        store.claim_deliveries(20, 80, 10).await.unwrap().is_empty(),
        "leased"
    );
    let delivered = Attempt {
        id: "msg_1".into(),
        leased_until: 70,
        status: DeliveryStatus::Delivered,
        attempts: 1,
        first_attempt_at: 20,
        next_attempt_at: 20,
        last_status: Some(204),
        last_error: None,
        delivered_at: Some(20),
    };
    let late = Attempt {
        leased_until: 999,
        status: DeliveryStatus::Pending,
        ..delivered.clone()
    };
    assert!(
        !store.record_attempt(&late).await.unwrap(),
        "not under its lease"
    );
    assert!(store.record_attempt(&delivered).await.unwrap());
    assert!(
        !store.record_attempt(&delivered).await.unwrap(),
        "delivered: nothing more to record"
    );
    let again = store.claim_deliveries(100, 160, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| d.seq).collect::<Vec<_>>(),
        [2],
        "the lease ran out; the delivered one stays"
    );

    let paused = Endpoint {
        disabled: true,
        ..changed.clone()
    };
    store
        .update_endpoint(&paused, entry(Action::WebhookUpdated, "boss", "whe_1", &[]))
        .await
        .unwrap();
    assert!(
        store
            .claim_deliveries(500, 560, 10)
            .await
            .unwrap()
            .is_empty(),
        "a disabled endpoint's deliveries wait"
    );
    let page = store.deliveries("whe_1", None, 1).await.unwrap();
    assert_eq!((page.deliveries[0].seq, page.next_cursor), (2, Some(2)));
    let page = store.deliveries("whe_1", Some(2), 1).await.unwrap();
    assert_eq!(page.deliveries[0].last_status, Some(204));
    assert_eq!(page.next_cursor, None);

    let notice = || entry(Action::TokenExpired, "boss", "tok_x", &["tok_x"]);
    assert!(
        store
            .record_notice("tok_x", "expired", notice())
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_notice("tok_x", "expired", notice())
            .await
            .unwrap(),
        "once"
    );
    assert_eq!(store.audit_head().await.unwrap().seq, 4);

    assert!(
        store
            .delete_endpoint("whe_1", entry(Action::WebhookDeleted, "boss", "whe_1", &[]))
            .await
            .unwrap()
    );
    assert!(
        store
            .deliveries("whe_1", None, 10)
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    assert!(
        !store
            .delete_endpoint("whe_1", entry(Action::WebhookDeleted, "boss", "whe_1", &[]))
            .await
            .unwrap()
    );
    assert_eq!(walk(store).await, Ok(5));
}

#[tokio::test]
async fn sqlite_keeps_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    keeps_webhooks(&SqliteStore::open(&dir.path().join("t.db")).unwrap()).await;
}

#[tokio::test]
async fn postgres_keeps_webhooks() {
    let url = Postgres::shared().fresh_database();
    keeps_webhooks(&PostgresStore::connect(&url).await.unwrap()).await;
}
