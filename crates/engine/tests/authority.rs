//! Every authorization rule of the engine, through its public methods, on a real
//! SQLite store in a temporary directory and a clock moved by hand: escalation,
//! subtrees, cascades, callers revoked or expired since they authenticated, and the
//! admin token.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::borrow::Cow;
use std::sync::Arc;

/// Where the test's calls come from.
const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

use tessera_core::clock::ManualClock;
use tessera_core::record::{ExpiryRequest, NotBeforeRequest, TokenDraft};
use tessera_core::token::Pepper;
use tessera_core::verify::{Code, Requirement};
use tessera_engine::{Caller, Credential, Engine, EngineConfig, EngineError, Origin};
use tessera_store::SqliteStore;

const START_MS: i64 = 1_800_000_000_000;

struct World {
    engine: Arc<Engine>,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    admin: Caller,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("tessera.db")).expect("a store"));
        let clock = Arc::new(ManualClock::new(START_MS));
        let engine = Engine::open(
            EngineConfig::default(),
            Arc::clone(&store) as Arc<dyn tessera_store::TokenStore>,
            &Pepper::generate(),
            Arc::clone(&clock) as Arc<dyn tessera_core::clock::Clock>,
            None,
        )
        .await
        .expect("an engine");
        let engine = Arc::new(engine);
        let secret = engine
            .create_first_admin()
            .await
            .expect("stored")
            .expect("the first admin");
        let admin = caller(&engine, secret.expose()).await;
        Self {
            engine,
            store,
            clock,
            admin,
            _dir: dir,
        }
    }

    /// A token made by `by` with these scopes, and the caller it authenticates as.
    async fn token(&self, by: &Caller, scopes: &[&str]) -> (String, Caller) {
        self.token_from(by, draft(scopes)).await
    }

    /// A token made by `by` from `draft`, and the caller it authenticates as.
    async fn token_from(&self, by: &Caller, draft: TokenDraft) -> (String, Caller) {
        let (_, secret) = self.engine.create(by, draft).await.expect("created");
        let text = secret.expose().to_owned();
        let caller = caller(&self.engine, &text).await;
        (text, caller)
    }

    /// The code verification gives `secret` now.
    async fn code(&self, secret: &str) -> Code {
        self.engine
            .check(secret, &Requirement::default())
            .await
            .code
    }
}

fn draft(scopes: &[&str]) -> TokenDraft {
    TokenDraft {
        name: Some("t".into()),
        scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
        ..TokenDraft::default()
    }
}

async fn caller(engine: &Engine, secret: &str) -> Caller {
    let credential = Credential {
        secret: Cow::Borrowed(secret),
        key_id: None,
    };
    engine
        .authenticate(&credential, None, LOOPBACK)
        .await
        .expect("a valid token")
}

fn is_invalid(result: Result<impl Sized, EngineError>, code: Code) -> bool {
    matches!(result, Err(EngineError::InvalidToken { code: found }) if found == code)
}

#[tokio::test]
async fn a_manager_cannot_give_more_than_it_has() {
    let world = World::new().await;
    let (_, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:read"])
        .await;
    let wider = world.engine.create(&manager, draft(&["repo:write"])).await;
    assert!(
        matches!(
            wider,
            Err(EngineError::Forbidden {
                code: "escalation",
                ..
            })
        ),
        "{wider:?}"
    );
    let (_, child) = world.token(&manager, &["repo:read"]).await;
    let id = child.id().to_owned();
    let widened = world
        .engine
        .update(&manager, &id, |draft| {
            draft.scopes = Some(vec!["repo:*".into()]);
            Ok(())
        })
        .await;
    assert!(
        matches!(
            widened,
            Err(EngineError::Forbidden {
                code: "escalation",
                ..
            })
        ),
        "{widened:?}"
    );
}

#[tokio::test]
async fn not_before_is_bounded_like_an_expiry() {
    let world = World::new().await;
    let brief = TokenDraft {
        expiry: Some(ExpiryRequest::In(60)),
        ..draft(&["tokens:manage", "repo:*"])
    };
    let (_, manager) = world.token_from(&world.admin, brief).await;
    // Valid only after the manager's own expiry, which it would inherit: never valid.
    let never = TokenDraft {
        not_before: Some(NotBeforeRequest::At("2027-01-15T08:05:00Z".into())),
        ..draft(&["repo:read"])
    };
    let refused = world.engine.create(&manager, never).await;
    assert!(
        matches!(&refused, Err(EngineError::Input(e)) if e.code == "not_before_after_expiry"),
        "{refused:?}"
    );
    // A manager pushed into the future may not leave tokens it made valid before it.
    let (_, child) = world.token(&manager, &["repo:read"]).await;
    let manager_id = manager.id().to_owned();
    let suspended = world
        .engine
        .update(&world.admin, &manager_id, |draft| {
            draft.not_before = Some(NotBeforeRequest::At("2027-01-15T08:00:30Z".into()));
            Ok(())
        })
        .await;
    assert!(
        matches!(
            suspended,
            Err(EngineError::Conflict {
                code: "descendants_exceed",
                ..
            })
        ),
        "{suspended:?}"
    );
    // With no live token made through it, the manager may be pushed back.
    world
        .engine
        .revoke(&world.admin, child.id())
        .await
        .expect("revoked");
    world
        .engine
        .update(&world.admin, &manager_id, |draft| {
            draft.not_before = Some(NotBeforeRequest::At("2027-01-15T08:00:30Z".into()));
            Ok(())
        })
        .await
        .expect("no live descendant left");
}

#[tokio::test]
async fn a_token_without_tokens_manage_changes_nothing() {
    let world = World::new().await;
    let (_, reader) = world.token(&world.admin, &["tokens:read"]).await;
    let (_, other) = world.token(&world.admin, &["repo:read"]).await;
    let needs_manage = |result: &Result<_, EngineError>| {
        matches!(result, Err(EngineError::InsufficientScope { .. }))
    };
    assert!(needs_manage(
        &world
            .engine
            .create(&reader, draft(&["repo:read"]))
            .await
            .map(drop)
    ));
    assert!(needs_manage(
        &world.engine.revoke(&reader, other.id()).await.map(drop)
    ));
    let edit = world.engine.update(&reader, other.id(), |_| Ok(())).await;
    assert!(needs_manage(&edit.map(drop)));
}

#[tokio::test]
async fn a_manager_sees_and_changes_only_its_subtree() {
    let world = World::new().await;
    let (_, alice) = world
        .token(&world.admin, &["tokens:manage", "repo:*"])
        .await;
    let (_, bob) = world
        .token(&world.admin, &["tokens:manage", "repo:*"])
        .await;
    let (bobs_secret, bobs_child) = world.token(&bob, &["repo:read"]).await;
    let id = bobs_child.id().to_owned();
    let not_found =
        |result: Result<(), EngineError>| matches!(result, Err(EngineError::NotFound { .. }));
    assert!(not_found(world.engine.get(&alice, &id).await.map(drop)));
    assert!(not_found(world.engine.revoke(&alice, &id).await.map(drop)));
    assert!(not_found(
        world.engine.update(&alice, &id, |_| Ok(())).await.map(drop)
    ));
    assert_eq!(world.code(&bobs_secret).await, Code::Valid);
    // Its own manager, and the admin, may.
    world.engine.get(&bob, &id).await.expect("bob sees it");
    world
        .engine
        .get(&world.admin, &id)
        .await
        .expect("the admin sees it");
}

#[tokio::test]
async fn revoking_a_token_revokes_everything_made_through_it() {
    let world = World::new().await;
    let (manager_secret, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:*"])
        .await;
    let (child_secret, child) = world.token(&manager, &["tokens:manage", "repo:read"]).await;
    let (grandchild_secret, _) = world.token(&child, &["repo:read"]).await;
    let (sibling_secret, _) = world.token(&world.admin, &["repo:read"]).await;
    let revoked = world
        .engine
        .revoke(&world.admin, manager.id())
        .await
        .expect("revoked");
    assert!(revoked.revoked_at.is_some());
    for secret in [&manager_secret, &child_secret, &grandchild_secret] {
        assert_eq!(world.code(secret).await, Code::Revoked);
    }
    assert_eq!(world.code(&sibling_secret).await, Code::Valid);
    // Again: nothing changes, the same record comes back.
    let again = world
        .engine
        .revoke(&world.admin, manager.id())
        .await
        .expect("idempotent");
    assert_eq!(again.revoked_at, revoked.revoked_at);
}

#[tokio::test]
async fn a_caller_revoked_since_it_authenticated_cannot_act() {
    let world = World::new().await;
    let (_, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:*"])
        .await;
    let (_, child) = world.token(&manager, &["repo:read"]).await;
    world
        .engine
        .revoke(&world.admin, manager.id())
        .await
        .expect("revoked");
    // `manager` authenticated before the revocation; its writes are refused.
    assert!(is_invalid(
        world.engine.create(&manager, draft(&["repo:read"])).await,
        Code::Revoked
    ));
    assert!(is_invalid(
        world.engine.revoke(&manager, child.id()).await,
        Code::Revoked
    ));
    assert!(is_invalid(
        world.engine.update(&manager, child.id(), |_| Ok(())).await,
        Code::Revoked
    ));
}

#[tokio::test]
async fn a_caller_expired_since_it_authenticated_cannot_act() {
    let world = World::new().await;
    let brief = TokenDraft {
        expiry: Some(ExpiryRequest::In(60)),
        ..draft(&["tokens:manage", "repo:*"])
    };
    let (secret, manager) = world.token_from(&world.admin, brief).await;
    let (child_secret, child) = world.token(&manager, &["repo:read"]).await;
    world.clock.advance_ms(61_000);
    assert!(is_invalid(
        world.engine.create(&manager, draft(&["repo:read"])).await,
        Code::Expired
    ));
    assert!(is_invalid(
        world.engine.revoke(&manager, child.id()).await,
        Code::Expired
    ));
    // Its child was bounded by its expiry: it has expired too.
    assert_eq!(world.code(&secret).await, Code::Expired);
    assert_eq!(world.code(&child_secret).await, Code::Expired);
}

#[tokio::test]
async fn a_manager_not_valid_yet_cannot_act_until_it_is() {
    let world = World::new().await;
    let later = TokenDraft {
        not_before: Some(NotBeforeRequest::At("2027-01-15T08:00:30Z".into())),
        ..draft(&["tokens:manage", "repo:*"])
    };
    let (record, secret) = world
        .engine
        .create(&world.admin, later)
        .await
        .expect("created");
    let not_before = record.settings.not_before.expect("stored");
    assert_eq!(world.code(secret.expose()).await, Code::NotYetValid);
    let refused = world
        .engine
        .authenticate(
            &Credential {
                secret: Cow::Borrowed(secret.expose()),
                key_id: None,
            },
            None,
            LOOPBACK,
        )
        .await;
    assert!(is_invalid(refused, Code::NotYetValid));
    world.clock.advance_ms(not_before - START_MS);
    let manager = caller(&world.engine, secret.expose()).await;
    let (child, _) = world
        .engine
        .create(&manager, draft(&["repo:read"]))
        .await
        .expect("valid from its not_before on");
    // A not_before already past binds nothing: the child is valid at once.
    assert_eq!(child.settings.not_before, None);
}

#[tokio::test]
async fn the_admin_manages_everything_but_itself() {
    let world = World::new().await;
    let (_, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:*"])
        .await;
    let (_, child) = world.token(&manager, &["repo:read"]).await;
    let renamed = world
        .engine
        .update(&world.admin, child.id(), |draft| {
            draft.name = Some("renamed by the admin".into());
            Ok(())
        })
        .await
        .expect("the admin edits any token");
    assert_eq!(renamed.settings.name.as_str(), "renamed by the admin");
    let untouchable = |result: Result<(), EngineError>| {
        matches!(
            result,
            Err(EngineError::Conflict {
                code: "admin_token",
                ..
            })
        )
    };
    let admin_id = world.admin.id().to_owned();
    assert!(untouchable(
        world.engine.revoke(&world.admin, &admin_id).await.map(drop)
    ));
    assert!(untouchable(
        world
            .engine
            .update(&world.admin, &admin_id, |_| Ok(()))
            .await
            .map(drop)
    ));
    assert!(untouchable(
        world.engine.revoke_self(&world.admin).await.map(drop)
    ));
    // Replaced offline, the old admin token stops working at once.
    world.engine.create_admin().await.expect("a new admin");
    assert!(is_invalid(
        world
            .engine
            .create(&world.admin, draft(&["repo:read"]))
            .await,
        Code::Revoked
    ));
}

#[tokio::test]
async fn any_token_may_give_itself_up_with_what_it_made() {
    let world = World::new().await;
    let (secret, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:*"])
        .await;
    let (child_secret, _) = world.token(&manager, &["repo:read"]).await;
    let (plain_secret, plain) = world.token(&world.admin, &["repo:read"]).await;
    world
        .engine
        .revoke_self(&plain)
        .await
        .expect("no scope needed");
    assert_eq!(world.code(&plain_secret).await, Code::Revoked);
    world
        .engine
        .revoke_presented(&secret, Origin::default())
        .await
        .expect("RFC 7009");
    assert_eq!(world.code(&secret).await, Code::Revoked);
    assert_eq!(world.code(&child_secret).await, Code::Revoked);
    // A text that names no live token: nothing to do, and no error.
    world
        .engine
        .revoke_presented(&secret, Origin::default())
        .await
        .expect("again");
    world
        .engine
        .revoke_presented("tsr_nothing", Origin::default())
        .await
        .expect("unknown");
}

/// `count` creations through `manager`, all at once.
fn spawn_creations(
    world: &World,
    manager: &Caller,
    count: usize,
) -> Vec<
    tokio::task::JoinHandle<
        Result<
            (
                tessera_core::record::TokenRecord,
                tessera_core::token::SecretToken,
            ),
            EngineError,
        >,
    >,
> {
    (0..count)
        .map(|_| {
            let engine = Arc::clone(&world.engine);
            let manager = manager.clone();
            tokio::spawn(async move { engine.create(&manager, draft(&["repo:read"])).await })
        })
        .collect()
}

/// Writes are decided one at a time but stored together (group commit): creations
/// decided while earlier ones are still being stored count toward the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_stored_together_never_pass_the_quota() {
    let world = World::new().await;
    let (_, manager) = world
        .token_from(
            &world.admin,
            TokenDraft {
                max_descendants: Some(5),
                ..draft(&["tokens:manage", "repo:read"])
            },
        )
        .await;
    let attempts = spawn_creations(&world, &manager, 40);
    let mut made = 0;
    for attempt in attempts {
        match attempt.await.expect("joined") {
            Ok(_) => made += 1,
            Err(EngineError::Forbidden {
                code: "quota_exceeded",
                ..
            }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(made, 5);
    let live = world
        .engine
        .index()
        .live_descendants(manager.id(), START_MS);
    assert_eq!(live, 5);
}

/// A revocation stored in the same group as creations through the revoked token
/// leaves none of them working, whatever their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_racing_creations_leaves_no_child_working() {
    let world = World::new().await;
    let (_, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:read"])
        .await;
    let creations = spawn_creations(&world, &manager, 30);
    tokio::task::yield_now().await;
    world
        .engine
        .revoke(&world.admin, manager.id())
        .await
        .expect("revoked");
    for creation in creations {
        if let Ok((_, secret)) = creation.await.expect("joined") {
            assert_eq!(world.code(secret.expose()).await, Code::Revoked);
        }
    }
}

/// Retention with the default settings (7 days in the index, 90 in the store): a
/// revoked or expired token answers as such until then, `NOT_FOUND` after, and its
/// row goes after 90 days, children before their makers; live tokens stay.
#[tokio::test]
async fn dead_tokens_leave_the_index_then_the_store_after_their_retention() {
    use tessera_store::TokenStore;
    const DAY: i64 = 86_400_000;
    let world = World::new().await;
    let (manager_secret, manager) = world
        .token(&world.admin, &["tokens:manage", "repo:read"])
        .await;
    let (child_secret, child) = world.token(&manager, &["repo:read"]).await;
    let (expiring_secret, _) = world
        .token_from(
            &world.admin,
            TokenDraft {
                expiry: Some(ExpiryRequest::In(86_400)),
                ..draft(&["repo:read"])
            },
        )
        .await;
    let (live_secret, _) = world.token(&world.admin, &["repo:read"]).await;
    world
        .engine
        .revoke(&world.admin, manager.id())
        .await
        .expect("revoked");
    let before = world.engine.index().len();

    world.clock.advance_ms(6 * DAY);
    assert_eq!(world.engine.purge_dead().await.expect("purged").index, 0);
    assert_eq!(world.code(&child_secret).await, Code::Revoked);
    assert_eq!(world.code(&expiring_secret).await, Code::Expired);

    world.clock.advance_ms(2 * DAY + 1000);
    let purged = world.engine.purge_dead().await.expect("purged");
    assert_eq!(
        (purged.index, purged.store),
        (3, 0),
        "the manager, its child, the expired"
    );
    assert_eq!(world.engine.index().len(), before - 3);
    for gone in [&manager_secret, &child_secret, &expiring_secret] {
        assert_eq!(world.code(gone).await, Code::NotFound);
    }
    assert_eq!(world.code(&live_secret).await, Code::Valid);
    assert!(world.engine.index().descendants(manager.id()).is_empty());
    assert!(
        world.store.get(child.id()).await.expect("read").is_some(),
        "still stored"
    );

    world.clock.advance_ms(90 * DAY);
    let purged = world.engine.purge_dead().await.expect("purged");
    assert_eq!(purged.store, 3);
    assert!(world.store.get(child.id()).await.expect("read").is_none());
    assert!(world.store.get(manager.id()).await.expect("read").is_none());
    assert_eq!(world.code(&live_secret).await, Code::Valid);
    assert_eq!(
        world.engine.purge_dead().await.expect("purged"),
        tessera_engine::lifecycle::Purged::default()
    );
}
