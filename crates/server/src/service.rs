//! The token service: every operation on tokens, whatever way it arrives (HTTP API,
//! compatibility adapters, later the web UI and forward-auth).
//!
//! Writes follow one order: validate (pure core), check the caller may do it, write to
//! the store durably, apply to the in-memory index, and only then answer. Writes made
//! through other nodes reach the index through [`Engine::catch_up`], which the change
//! follower (`crate::feed`) calls; each change carries its number in the store's feed,
//! so the two paths can meet in any order.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tessera_core::clock::Clock;
use tessera_core::grant::{self, Escalation, Grant};
use tessera_core::random;
use tessera_core::ratelimit::{RateDecision, RateLimit};
use tessera_core::record::{Omitted, Policy, ScopeGrant, Settings, TokenDraft, TokenRecord};
use tessera_core::resource::Resource;
use tessera_core::scope::{ScopeError, TOKENS_MANAGE, TOKENS_READ};
use tessera_core::token::{Pepper, SecretToken};
use tessera_core::verify::{self, Admission, Code, Requirement, Verdict};
use tessera_store::{Basis, ChangeSeq, ListPage, ListQuery, StoreError, TokenStore, UsageUpdate};

use crate::config::{Config, RedisFailure};
use crate::error::ServiceError;
use crate::index::{Checked, Slot, SlotRef, TokenIndex, Verifier};
use crate::limiter::SharedLimiter;
use crate::metrics::Metrics;

/// A credential as presented: the token's text, and for HTTP Basic the user name,
/// which must then be the token's id if it looks like one (Flashback's key + secret).
pub struct Credential<'a> {
    /// Borrowed from the request where it is sent as it is (a bearer token, an
    /// `X-API-Key`): this is read before every guarded request.
    pub secret: Cow<'a, str>,
    pub key_id: Option<String>,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The token a request was made with, as it was when the request authenticated
/// (see `Engine::current_manager` for the token as it is now).
#[derive(Clone)]
pub struct Caller {
    pub slot: SlotRef,
}

impl Caller {
    pub fn id(&self) -> &str {
        self.slot.id()
    }

    pub fn is_admin(&self) -> bool {
        self.slot.is_admin()
    }
}

/// The outcome of checking a presented token against a requirement.
pub struct CheckOutcome {
    pub code: Code,
    pub checked: Option<Checked>,
}

/// Prefix of token ids; a Basic user name with it is taken as a key id.
const ID_KIND: &str = "tok";

pub struct Engine {
    config: Config,
    verifier: Verifier,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    writes: tokio::sync::Mutex<()>,
    /// Every change up to this number is in the index.
    applied: AtomicI64,
    catching_up: tokio::sync::Mutex<()>,
    /// Held (shared) while a stored count is read and topped up with the pending
    /// uses, and (exclusively) while the usage writer moves pending uses to the store.
    usage: tokio::sync::RwLock<()>,
    metrics: Metrics,
    /// Set when rate limits are shared across nodes (Redis).
    shared_limiter: Option<SharedLimiter>,
}

impl Engine {
    /// Checks the store belongs to this pepper and loads every token into the index.
    /// With `shared_limiter`, rate limits are spent from buckets every node shares.
    pub async fn open(
        config: Config,
        store: Arc<dyn TokenStore>,
        pepper: &Pepper,
        clock: Arc<dyn Clock>,
        shared_limiter: Option<SharedLimiter>,
    ) -> Result<Self, StoreError> {
        store.check_pepper(&pepper.fingerprint()).await?;
        let snapshot = store.load_all().await?;
        let index = TokenIndex::new(config.catalogue.clone(), snapshot.changes);
        Ok(Self {
            verifier: Verifier::new(config.token_prefix.clone(), pepper, index),
            config,
            store,
            clock,
            writes: tokio::sync::Mutex::new(()),
            applied: AtomicI64::new(snapshot.up_to),
            catching_up: tokio::sync::Mutex::new(()),
            usage: tokio::sync::RwLock::new(()),
            metrics: Metrics::default(),
            shared_limiter,
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// The newest change number up to which the index holds every write.
    pub fn applied_seq(&self) -> ChangeSeq {
        self.applied.load(Ordering::Acquire)
    }

    /// Brings into the index every write the store numbered after [`Engine::applied_seq`]
    /// (other nodes' writes, and any of ours it already holds, which change nothing).
    /// Returns how many tokens changed.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let _one_at_a_time = self.catching_up.lock().await;
        let feed = self.store.changes_since(self.applied_seq()).await?;
        let count = feed.changes.len();
        for change in feed.changes {
            self.index().apply(change.seq, change.record);
        }
        self.applied.fetch_max(feed.up_to, Ordering::AcqRel);
        Ok(count)
    }

    /// Runs a store write. One refused as decided on an old copy (another node changed
    /// a token it depends on a moment ago) first brings the index up to date, so that
    /// the caller's retry is decided on the current state.
    async fn stored<T>(
        &self,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, ServiceError> {
        match write.await {
            Err(StoreError::Stale(detail)) => {
                if let Err(error) = self.catch_up().await {
                    tracing::warn!(%error, "cannot catch up after a concurrent change");
                }
                Err(StoreError::Stale(detail).into())
            }
            done => Ok(done?),
        }
    }

    /// Brings the tokens a revocation numbered `seq` revoked into the index, as the
    /// store returned them.
    fn apply_revocation(&self, seq: ChangeSeq, revoked: Vec<TokenRecord>) {
        for record in revoked {
            self.index().apply(seq, record);
        }
    }

    /// Records that this node's own write `seq` is in the index: when every earlier
    /// write is too, the feed need not be read for it.
    fn applied_own(&self, seq: ChangeSeq) {
        let _ = self
            .applied
            .compare_exchange(seq - 1, seq, Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn index(&self) -> &TokenIndex {
        self.verifier.index()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// True when the store holds an admin token that still works.
    pub fn has_active_admin(&self) -> bool {
        self.index()
            .root_slots()
            .iter()
            .any(|slot| slot.is_admin() && !slot.is_revoked())
    }

    /// What a request needs, from scope names and a resource as a client writes them.
    pub fn requirement(
        &self,
        scopes: Option<&[impl AsRef<str>]>,
        resource: Option<&str>,
    ) -> Result<Requirement, ServiceError> {
        let catalogue = self.index().catalogue();
        let scopes = match scopes {
            None => None,
            Some(list) => Some(catalogue.compile_required(list).map_err(|error| {
                let detail = match error {
                    ScopeError::Unknown { scope } => format!(
                        "unknown scope {scope:?}; valid scopes: {}",
                        catalogue.names().join(", ")
                    ),
                    ScopeError::Malformed { scope } => {
                        format!("scope {scope:?} must be category:action (no wildcards in a requirement)")
                    }
                };
                ServiceError::BadRequest { code: "invalid_scope", detail }
            })?),
        };
        let resource =
            resource
                .map(Resource::parse)
                .transpose()
                .map_err(|e| ServiceError::BadRequest {
                    code: "invalid_resource",
                    detail: e.to_string(),
                })?;
        Ok(Requirement { scopes, resource })
    }

    /// Checks a presented token. Malformed text and a bad checksum are `NOT_FOUND`
    /// without a lookup. Only an allowed request spends rate-limit budget.
    pub async fn check(&self, secret: &str, need: &Requirement) -> CheckOutcome {
        self.check_presented(secret, None, need).await
    }

    /// [`Engine::check`], where a key id presented beside the secret (HTTP Basic
    /// `key:secret`) must name the same token; checked before any budget is spent.
    async fn check_presented(
        &self,
        secret: &str,
        key_id: Option<&str>,
        need: &Requirement,
    ) -> CheckOutcome {
        match self.lookup(secret, key_id) {
            None => CheckOutcome {
                code: Code::NotFound,
                checked: None,
            },
            Some(slot) => {
                let checked = self.check_slot(slot, need).await;
                CheckOutcome {
                    code: checked.verdict.code,
                    checked: Some(checked),
                }
            }
        }
    }

    /// The token a credential names, if it exists. Malformed text and a bad checksum
    /// find nothing without a lookup.
    pub(crate) fn lookup(&self, secret: &str, key_id: Option<&str>) -> Option<SlotRef> {
        let slot = self.verifier.find(secret)?;
        if let Some(key) = key_id.filter(|k| {
            k.strip_prefix(ID_KIND)
                .is_some_and(|rest| rest.starts_with('_'))
        }) && key != slot.id()
        {
            return None;
        }
        Some(slot)
    }

    /// Decides a request for a token already looked up; only an allowed request
    /// spends rate-limit budget, from the node's own bucket or, in a cluster with
    /// Redis, from the bucket every node shares.
    pub(crate) async fn check_slot(&self, slot: SlotRef, need: &Requirement) -> Checked {
        let now = self.clock.now_ms();
        let admission = verify::admit(slot.powers(), slot.is_revoked(), need, now);
        // Only a request admitted under a rate limit spends budget, and only a shared
        // bucket needs the network.
        let (Some(shared), Admission::Limited(limit)) = (&self.shared_limiter, admission) else {
            return self.index().check_admitted(slot, admission, now);
        };
        // Boxed: inline, the Redis call's state made every check's future 2,336 bytes
        // instead of 48 (and forward-auth's 5,400 instead of 824), copied as each
        // future starts, though the index answers nearly every check without waiting.
        Box::pin(self.check_shared(shared, slot, admission, limit, now)).await
    }

    /// [`Engine::check_slot`] from the bucket every node shares; when Redis fails,
    /// `redis_failure` says whether the node's own bucket decides or the request is
    /// refused.
    async fn check_shared(
        &self,
        shared: &SharedLimiter,
        slot: SlotRef,
        admission: Admission,
        limit: RateLimit,
        now: i64,
    ) -> Checked {
        match shared.check(slot.id(), &limit).await {
            Ok(decision) => self
                .index()
                .settle(slot, Verdict::rated(decision, None), now),
            Err(_) => {
                self.metrics.rate_limiter_failures.increment();
                match self.config.redis_failure {
                    RedisFailure::Open => self.index().check_admitted(slot, admission, now),
                    RedisFailure::Closed => {
                        let wait_ms =
                            u64::try_from(crate::limiter::RETRY_AFTER_FAILURE.as_millis())
                                .unwrap_or(1000);
                        let refused = RateDecision {
                            allowed: false,
                            limit: limit.burst,
                            remaining: 0,
                            reset_ms: wait_ms,
                            retry_after_ms: wait_ms,
                        };
                        self.index()
                            .settle(slot, Verdict::rated(refused, None), now)
                    }
                }
            }
        }
    }

    /// Authenticates a call to tessera's own API, which needs `scope` (or none).
    pub async fn authenticate(
        &self,
        credential: &Credential<'_>,
        scope: Option<&'static str>,
    ) -> Result<Caller, ServiceError> {
        let need = Requirement {
            scopes: scope.map(|s| self.index().catalogue().own(s)),
            resource: None,
        };
        let outcome = self
            .check_presented(&credential.secret, credential.key_id.as_deref(), &need)
            .await;
        let checked = match (outcome.code, outcome.checked) {
            (Code::Valid, Some(checked)) => checked,
            (Code::Forbidden, _) => {
                return Err(ServiceError::needs_scope(scope.unwrap_or_default()));
            }
            (
                Code::RateLimited,
                Some(Checked {
                    verdict:
                        Verdict {
                            rate: Some(rate), ..
                        },
                    ..
                }),
            ) => {
                return Err(ServiceError::rate_limited(&rate));
            }
            (code, _) => return Err(ServiceError::InvalidToken { code }),
        };
        Ok(Caller { slot: checked.slot })
    }

    fn policy(&self) -> Policy<'_> {
        Policy {
            catalogue: self.index().catalogue(),
            now_ms: self.clock.now_ms(),
            max_lifetime_ms: self.config.max_token_lifetime_ms,
            default_rate_limit: self.config.default_rate_limit.as_ref(),
            extra_profiles: &self.config.extra_profiles,
        }
    }

    /// The caller as it is *now*, read under the write lock: still valid and still a
    /// manager. A caller revoked, expired or narrowed since it authenticated cannot act
    /// with its old powers (and a revocation, which walks only the descendants that
    /// exist, cannot miss a token it was still creating).
    fn current_manager(&self, caller: &Caller) -> Result<SlotRef, ServiceError> {
        let slot = self.index().current(&caller.slot);
        let standing = verify::standing(slot.powers(), slot.is_revoked(), self.clock.now_ms());
        if standing != Code::Valid {
            return Err(ServiceError::InvalidToken { code: standing });
        }
        if !self.holds(&slot, TOKENS_MANAGE) {
            return Err(ServiceError::needs_scope(TOKENS_MANAGE));
        }
        Ok(slot)
    }

    /// Bounds a token's settings by its parent (the token that created it, as it is
    /// now): open bounds are filled from the parent, anything beyond it is refused. The
    /// parent lies within its own ancestors, so this bounds the whole chain, whoever
    /// edits the token.
    fn bound_by_parent(
        &self,
        parent: &Slot,
        settings: &mut Settings,
        rate_limit_given: bool,
    ) -> Result<(), ServiceError> {
        let escalation = |e: Escalation| ServiceError::Forbidden {
            code: "escalation",
            detail: e.detail,
        };
        let parent_powers = parent.powers();
        Grant::inherit_bounds(settings, parent_powers, rate_limit_given);
        if !parent.is_admin() {
            grant::inherit_owner(&mut settings.owner, parent.owner()).map_err(escalation)?;
        }
        Grant::of(settings, self.index().catalogue())
            .powers()
            .ensure_within(parent_powers, self.index().catalogue())
            .map_err(escalation)
    }

    /// Refuses to narrow a token below what the live tokens created through it have:
    /// their holders would keep powers their parent no longer has.
    fn ensure_covers_descendants(&self, id: &str, narrowed: &Grant) -> Result<(), ServiceError> {
        let catalogue = self.index().catalogue();
        let exceeding = self
            .index()
            .descendants(id)
            .iter()
            .filter(|slot| !slot.is_revoked())
            .filter(|slot| {
                slot.powers()
                    .ensure_within(narrowed.powers(), catalogue)
                    .is_err()
            })
            .count();
        if exceeding == 0 {
            return Ok(());
        }
        Err(ServiceError::Conflict {
            code: "descendants_exceed",
            detail: format!(
                "{exceeding} live token(s) created through this one have more than the change would leave it; \
                 narrow or revoke them first"
            ),
        })
    }

    /// Creates a token on behalf of `caller`, within the caller's own powers.
    pub async fn create(
        self: &Arc<Self>,
        caller: &Caller,
        draft: TokenDraft,
    ) -> Result<(TokenRecord, SecretToken), ServiceError> {
        let rate_limit_given = draft.rate_limit.is_some();
        let mut settings = Settings::validate(draft, &self.policy(), Omitted::Create)?;
        let engine = Arc::clone(self);
        let caller = caller.clone();
        to_completion(async move {
            let _order = engine.writes.lock().await;
            let manager = engine.current_manager(&caller)?;
            engine.bound_by_parent(&manager, &mut settings, rate_limit_given)?;
            let (record, secret) = engine.new_record(settings, Some(caller.id().to_owned()), false);
            let basis = Basis {
                parent: Some(manager.seq()),
                ..Basis::default()
            };
            let seq = engine.stored(engine.store.insert(&record, basis)).await?;
            engine.index().apply(seq, record.clone());
            engine.applied_own(seq);
            Ok((record, secret))
        })
        .await
    }

    fn new_record(
        &self,
        settings: Settings,
        parent_id: Option<String>,
        is_admin: bool,
    ) -> (TokenRecord, SecretToken) {
        let secret = SecretToken::generate(&self.config.token_prefix);
        let now = self.clock.now_ms();
        let record = TokenRecord {
            id: random::identifier(ID_KIND),
            hash: self.verifier.hasher().hash(&secret),
            start: secret.start(),
            is_admin,
            settings,
            parent_id,
            created_at: now,
            updated_at: now,
            revoked_at: None,
            last_used_at: None,
            use_count: 0,
        };
        (record, secret)
    }

    /// Makes the deployment's first admin token, unless one exists (in a cluster,
    /// another node starting at the same moment may have made it): then `None`.
    pub async fn create_first_admin(self: &Arc<Self>) -> Result<Option<SecretToken>, ServiceError> {
        let (record, secret) = self.new_record(admin_settings(), None, true);
        let engine = Arc::clone(self);
        to_completion(async move {
            let _order = engine.writes.lock().await;
            match engine.store.insert_first_admin(&record).await? {
                Some(seq) => {
                    engine.index().apply(seq, record);
                    engine.applied_own(seq);
                    Ok(Some(secret))
                }
                None => {
                    engine.catch_up().await?;
                    Ok(None)
                }
            }
        })
        .await
    }

    /// Makes a new admin token and revokes any earlier one (`tessera admin reset-token`).
    pub async fn create_admin(self: &Arc<Self>) -> Result<SecretToken, ServiceError> {
        let (record, secret) = self.new_record(admin_settings(), None, true);
        let engine = Arc::clone(self);
        to_completion(async move {
            let _order = engine.writes.lock().await;
            let revocation = engine.store.replace_admin(&record).await?;
            engine.apply_revocation(revocation.seq, revocation.revoked);
            engine.index().apply(revocation.seq, record);
            engine.applied_own(revocation.seq);
            Ok(())
        })
        .await?;
        Ok(secret)
    }

    /// The token `id` if the caller may see it: the admin sees all, a manager its subtree.
    fn visible(&self, caller: &Caller, id: &str) -> Result<SlotRef, ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: format!("token {id:?}"),
        };
        let slot = self.index().by_id(id).ok_or_else(not_found)?;
        if caller.is_admin() || self.index().descends_from(id, caller.id()) {
            Ok(slot)
        } else {
            // Same answer as for a token that does not exist: ids do not leak.
            Err(not_found())
        }
    }

    pub async fn get(&self, caller: &Caller, id: &str) -> Result<TokenRecord, ServiceError> {
        let slot = self.visible(caller, id)?;
        self.record(&slot).await
    }

    /// A token's whole record: the store's (the index keeps only what verification
    /// needs), with this node's live usage counts.
    pub async fn record(&self, slot: &Slot) -> Result<TokenRecord, ServiceError> {
        let _settled = self.usage.read().await;
        let mut record =
            self.store
                .get(slot.id())
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: format!("token {:?}", slot.id()),
                })?;
        slot.overlay_usage(&mut record);
        Ok(record)
    }

    /// Finds a token by its text, for adapters whose API names tokens that way.
    pub async fn find_by_secret(
        &self,
        caller: &Caller,
        secret: &str,
    ) -> Result<TokenRecord, ServiceError> {
        let slot = self.find_visible_by_secret(caller, secret)?;
        self.record(&slot).await
    }

    /// The token whose text is `secret`, if the caller may see it.
    pub fn find_visible_by_secret(
        &self,
        caller: &Caller,
        secret: &str,
    ) -> Result<SlotRef, ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: "token".into(),
        };
        let slot = self.lookup(secret, None).ok_or_else(not_found)?;
        self.visible(caller, slot.id()).map_err(|_| not_found())
    }

    /// Changes a token's settings: `change` edits the current settings as a draft,
    /// which is then validated whole, bounded by the token's parent, and refused if
    /// tokens created through it would then have more than it.
    pub async fn update(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        change: impl FnOnce(&mut TokenDraft) -> Result<(), ServiceError> + Send + 'static,
    ) -> Result<TokenRecord, ServiceError> {
        let engine = Arc::clone(self);
        let caller = caller.clone();
        let id = id.to_owned();
        to_completion(async move {
            let _order = engine.writes.lock().await;
            if !caller.is_admin() {
                engine.current_manager(&caller)?;
            }
            let slot = engine.visible(&caller, &id)?;
            // The whole record is in the store only. If it is newer than `slot`, the
            // write below names `slot.seq()` and is refused as stale (409).
            let mut record = engine.record(&slot).await?;
            if record.revoked_at.is_some() || slot.is_revoked() {
                return Err(ServiceError::Conflict {
                    code: "token_revoked",
                    detail: "this token is revoked and cannot be changed; create a new one".into(),
                });
            }
            let parent_slot = match &record.parent_id {
                Some(parent_id) if !record.is_admin => engine.index().by_id(parent_id),
                _ => None,
            };
            let Some(parent) = parent_slot.as_deref() else {
                return Err(admin_untouchable());
            };
            let mut draft = record.settings.to_draft();
            change(&mut draft)?;
            let mut settings = Settings::validate(draft, &engine.policy(), Omitted::Complete)?;
            engine.bound_by_parent(parent, &mut settings, true)?;
            engine.ensure_covers_descendants(
                &id,
                &Grant::of(&settings, engine.index().catalogue()),
            )?;
            record.settings = settings;
            record.updated_at = engine.clock.now_ms();
            let basis = Basis {
                token: Some(slot.seq()),
                parent: Some(parent.seq()),
                children_known_up_to: Some(engine.applied_seq()),
            };
            let seq = engine.stored(engine.store.update(&record, basis)).await?;
            engine.index().apply(seq, record.clone());
            engine.applied_own(seq);
            Ok(record)
        })
        .await
    }

    /// Revokes a token and every token created through it, at once. Idempotent.
    pub async fn revoke(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
    ) -> Result<TokenRecord, ServiceError> {
        let slot = self.visible(caller, id)?;
        self.revoke_subtree(slot).await
    }

    /// RFC 7009: revokes the token whose text is presented, and its descendants.
    /// A text that names no live token is not an error; there is nothing to do.
    pub async fn revoke_presented(self: &Arc<Self>, secret: &str) -> Result<(), ServiceError> {
        match self.lookup(secret, None) {
            Some(slot) if !slot.is_revoked() => self.revoke_subtree(slot).await.map(drop),
            _ => Ok(()),
        }
    }

    /// RFC 7662: the token whose text is presented, if it may be used now (a
    /// rate-limited token is still active). Spends no rate-limit budget.
    pub fn introspect(&self, secret: &str) -> Option<Caller> {
        self.live_caller(self.lookup(secret, None)?).ok()
    }

    /// The token in `slot` as a caller, if it may be used now (neither revoked nor
    /// expired); otherwise why not.
    fn live_caller(&self, slot: SlotRef) -> Result<Caller, Code> {
        match tessera_core::verify::standing(slot.powers(), slot.is_revoked(), self.clock.now_ms())
        {
            Code::Valid => Ok(Caller { slot }),
            standing => Err(standing),
        }
    }

    /// The token a web UI session was opened with, as it is now: a session acts
    /// only while its token is valid and may still read or manage tokens.
    pub fn session_caller(&self, token_id: &str) -> Result<Caller, ServiceError> {
        let slot = self
            .index()
            .by_id(token_id)
            .ok_or(ServiceError::InvalidToken {
                code: Code::NotFound,
            })?;
        let caller = self
            .live_caller(slot)
            .map_err(|code| ServiceError::InvalidToken { code })?;
        if !self.may_read_tokens(&caller) {
            return Err(ServiceError::needs_scope(TOKENS_READ));
        }
        Ok(caller)
    }

    /// Whether `caller` holds `tokens:manage`.
    pub fn may_manage_tokens(&self, caller: &Caller) -> bool {
        self.holds(&caller.slot, TOKENS_MANAGE)
    }

    /// Whether `caller` may see tokens: `tokens:read`, or `tokens:manage`.
    pub fn may_read_tokens(&self, caller: &Caller) -> bool {
        self.holds(&caller.slot, TOKENS_READ) || self.holds(&caller.slot, TOKENS_MANAGE)
    }

    /// Whether a token holds one of tessera's own scopes.
    fn holds(&self, slot: &Slot, scope: &str) -> bool {
        slot.powers()
            .scopes
            .contains_all(&self.index().catalogue().own(scope))
    }

    /// A token revokes itself (the end of a sandbox session).
    pub async fn revoke_self(
        self: &Arc<Self>,
        caller: &Caller,
    ) -> Result<TokenRecord, ServiceError> {
        self.revoke_subtree(SlotRef::clone(&caller.slot)).await
    }

    async fn revoke_subtree(self: &Arc<Self>, slot: SlotRef) -> Result<TokenRecord, ServiceError> {
        let engine = Arc::clone(self);
        to_completion(async move {
            let _order = engine.writes.lock().await;
            if slot.is_admin() {
                return Err(admin_untouchable());
            }
            let now = engine.clock.now_ms();
            // The store walks the descendants it holds, those made through other
            // nodes and not yet followed here included.
            let settled = engine.usage.read().await;
            let revocation = engine.store.revoke_subtree(slot.id(), now).await?;
            let answer = revocation
                .revoked
                .iter()
                .find(|record| record.id == slot.id())
                .cloned();
            let answer = answer.map(|mut record| {
                slot.overlay_usage(&mut record);
                record
            });
            drop(settled);
            engine.apply_revocation(revocation.seq, revocation.revoked);
            engine.applied_own(revocation.seq);
            match answer {
                Some(record) => Ok(record),
                // Revoked before: nothing changed, the stored record says when.
                None => engine.record(&slot).await,
            }
        })
        .await
    }

    /// Lists the tokens the caller may see, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        mut query: ListQuery,
    ) -> Result<ListPage, ServiceError> {
        if !caller.is_admin() {
            query.descendants_of = Some(caller.id().to_owned());
        }
        query.now_ms = self.clock.now_ms();
        let _settled = self.usage.read().await;
        let mut page = self.store.list(&query).await?;
        for record in &mut page.tokens {
            if let Some(slot) = self.index().by_id(&record.id) {
                slot.overlay_usage(record);
            }
        }
        Ok(page)
    }

    /// Writes usage counted since the last flush; on failure they are kept for the next.
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        // Readers of stored counts wait for a flush to finish, so that no use is
        // counted both in the store and as pending, nor in neither.
        let _flushing = self.usage.write().await;
        let mut updates = Vec::new();
        let mut taken = Vec::new();
        // A slot queued twice is written once (by address: the slots outlive this).
        let mut seen = std::collections::HashSet::new();
        for slot in self.index().take_dirty() {
            let (uses, last_used_at) = slot.pending();
            if uses > 0 && seen.insert(SlotRef::as_ptr(&slot).addr()) {
                updates.push(UsageUpdate {
                    id: slot.id().to_owned(),
                    uses,
                    last_used_at,
                });
                taken.push((slot, uses));
            }
        }
        if updates.is_empty() {
            return Ok(());
        }
        let written = self.store.record_usage(&updates).await;
        for (slot, uses) in taken {
            // Uses not written, or made meanwhile, wait for the next flush.
            if written.is_err() || slot.mark_written(uses) > 0 {
                self.index().requeue(slot);
            }
        }
        written
    }
}

/// Runs a write to its end even if the request that asked for it goes away: a handler
/// dropped between the store's commit and the index update would leave the two
/// disagreeing (a revoked token still verifying) until the next restart.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, ServiceError>> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ServiceError::Internal(format!("a write task failed: {e}")))?
}

fn admin_settings() -> Settings {
    Settings {
        name: "admin".into(),
        description: Some("The deployment's admin token: may do everything.".into()),
        scopes: ScopeGrant::Patterns(vec!["*".into()]),
        resources: None,
        rate_limit: None,
        expires_at: None,
        owner: None,
        meta: None,
    }
}

fn admin_untouchable() -> ServiceError {
    ServiceError::Conflict {
        code: "admin_token",
        detail: "the admin token cannot be changed or revoked through the API; \
                 replace it offline with `tessera admin reset-token`"
            .into(),
    }
}
